"""course_pkg.data.digit_glyphs: shapes, value range, the glyph really drawn (checked against the
bitmap strings read here), determinism per seed, distinct classes, bad input."""

import numpy as np
import pytest
import torch

from course_pkg.data.digit_glyphs import (
    GLYPHS, digit_images, digit_sequences, glyph_bitmap, two_digit_images,
)


def bitmap_from_strings(digit):
    return np.array([[1.0 if ch == "#" else 0.0 for ch in row] for row in GLYPHS[digit]])


def test_glyphs_are_7_by_5_and_all_different():
    assert sorted(GLYPHS) == list(range(10))
    patterns = set()
    for digit in range(10):
        bitmap = glyph_bitmap(digit)
        assert bitmap.shape == (7, 5) and bitmap.dtype == np.float32
        np.testing.assert_array_equal(bitmap, bitmap_from_strings(digit))
        patterns.add(bitmap.tobytes())
    assert len(patterns) == 10


def test_images_shape_range_and_the_glyph_is_drawn_somewhere_inside():
    labels = list(range(10)) * 3
    images = digit_images(labels, frame_size=12, noise=0.0, seed=3)
    assert images.shape == (30, 1, 12, 12) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    for image, digit in zip(images[:, 0].numpy(), labels):
        ink = image > 0
        expected = bitmap_from_strings(digit) > 0
        found = any(
            np.array_equal(ink[r:r + 7, c:c + 5], expected) and ink.sum() == expected.sum()
            for r in range(12 - 7 + 1) for c in range(12 - 5 + 1))
        assert found, f"digit {digit} not drawn as its bitmap"
        assert 0.7 - 1e-6 <= image.max() <= 1.0


def test_noise_stays_in_range_and_changes_the_background():
    images = digit_images([8] * 50, noise=0.3, seed=0)
    assert images.min() >= 0 and images.max() <= 1
    assert (images > 0).float().mean() > 0.9        # background pixels are no longer all 0


def test_same_seed_same_pictures_other_seed_other_pictures():
    a_frames, a_digits = digit_sequences(4, 6, seed=7)
    b_frames, b_digits = digit_sequences(4, 6, seed=7)
    c_frames, c_digits = digit_sequences(4, 6, seed=8)
    assert torch.equal(a_frames, b_frames) and torch.equal(a_digits, b_digits)
    assert not torch.equal(a_frames, c_frames)
    assert a_frames.shape == (6, 4, 1, 8, 8) and a_digits.shape == (6, 4)
    assert a_digits.dtype == torch.int64 and 0 <= a_digits.min() and a_digits.max() <= 9


def test_class_means_are_distinct():
    means = torch.stack([digit_images([d] * 40, seed=d).mean(dim=0) for d in range(10)])
    distances = torch.cdist(means.flatten(1), means.flatten(1))    # (10, 10)
    off_diagonal = distances[~torch.eye(10, dtype=torch.bool)]
    assert off_diagonal.min() > 0.3


def test_bad_input():
    with pytest.raises(ValueError, match="digit"):
        glyph_bitmap(10)
    with pytest.raises(ValueError, match="labels"):
        digit_images([1, 12])
    with pytest.raises(ValueError, match="labels"):
        digit_images([])
    with pytest.raises(ValueError, match="frame_size"):
        digit_images([1], frame_size=6)
    with pytest.raises(ValueError, match="noise"):
        digit_images([1], noise=1.5)
    with pytest.raises(ValueError, match="seed"):
        digit_images([1], seed=-1)
    with pytest.raises(ValueError, match="num_sequences"):
        digit_sequences(0, 5)
    with pytest.raises(TypeError, match="length"):
        digit_sequences(2, 2.5)


def test_two_digit_images_show_tens_left_and_ones_right():
    images, digits = two_digit_images(12, noise=0.0, seed=5)
    assert images.shape == (12, 1, 16, 16) and digits.shape == (2, 12)
    assert digits.dtype == torch.int64 and 0 <= digits.min() and digits.max() <= 9
    assert images.min() >= 0 and images.max() <= 1
    assert images[:, :, :4].abs().max() == 0 and images[:, :, 12:].abs().max() == 0
    for n in range(12):
        for half, digit in ((images[n, 0, 4:12, :8], digits[0, n]),
                            (images[n, 0, 4:12, 8:], digits[1, n])):
            ink = half.numpy() > 0
            expected = bitmap_from_strings(int(digit)) > 0
            assert any(np.array_equal(ink[r:r + 7, c:c + 5], expected)
                       and ink.sum() == expected.sum() for r in range(2) for c in range(4))
    again, same_digits = two_digit_images(12, noise=0.0, seed=5)
    assert torch.equal(images, again) and torch.equal(digits, same_digits)
    with pytest.raises(ValueError, match="num_images"):
        two_digit_images(0)
