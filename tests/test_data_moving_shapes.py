"""course_pkg.data.moving_shapes: shapes, values, determinism, bouncing, rendering, bad input."""

import numpy as np
import pytest
import torch

from course_pkg.data.moving_shapes import SHAPE_SIZE, SHAPES, moving_shapes


def test_shapes_dtype_and_values():
    frames = moving_shapes(5, 7, size=16)
    assert frames.shape == (7, 5, 1, 16, 16) and frames.dtype == torch.float32
    assert set(frames.unique().tolist()) == {0.0, 1.0}
    assert moving_shapes(5, 7, batch_first=True).shape == (5, 7, 1, 16, 16)
    torch.testing.assert_close(moving_shapes(5, 7, batch_first=True), frames.transpose(0, 1))


def test_same_seed_same_videos_other_seed_other_videos():
    a, b = moving_shapes(4, 6, seed=3), moving_shapes(4, 6, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, moving_shapes(4, 6, seed=4))


def test_on_a_4x4_grid_every_coordinate_bounces_between_0_and_1():
    """L = 4 - 3 = 1 and speed 1: each coordinate alternates 0, 1, 0, 1, ..."""
    _, positions = moving_shapes(3, 6, size=4, num_shapes=1, return_positions=True)
    p = positions[:, :, 0].numpy()                            # (T, B, 2)
    assert np.all((p == 0) | (p == 1))
    assert np.all(p[1:] == 1 - p[:-1])


def test_constant_velocity_except_at_the_walls():
    max_speed, size = 2, 12
    limit = size - SHAPE_SIZE
    _, positions = moving_shapes(20, 30, size=size, max_speed=max_speed, seed=1,
                                 return_positions=True)
    p = positions.numpy()                                     # (T, B, S, 2)
    assert p.min() >= 0 and p.max() <= limit
    step = np.diff(p, axis=0)                                 # (T-1, B, S, 2)
    assert np.all(np.abs(step) <= max_speed) and np.any(step != 0)
    changed = step[1:] != step[:-1]                           # the velocity changed at t+1
    near_wall = (p[1:-1] < max_speed) | (p[1:-1] > limit - max_speed)
    assert np.all(near_wall[changed])
    assert changed.any()                                      # some bounces happened


def test_frames_are_the_union_of_the_shapes_at_their_positions():
    frames, positions = moving_shapes(6, 5, size=10, num_shapes=3, seed=2, return_positions=True)
    for t in range(5):
        for b in range(6):
            frame = frames[t, b, 0].numpy()
            covered = np.zeros_like(frame, dtype=bool)
            for row, col in positions[t, b].tolist():
                assert frame[row + 1, col + 1] == 1.0         # both shapes fill their centre
                covered[row:row + 3, col:col + 3] = True
            assert np.all(frame[~covered] == 0.0)
            # every shape is a square (9 pixels) or a cross (5) inside its box
            single = moving_shapes(1, 1, size=10, num_shapes=1, seed=t * 6 + b)[0, 0, 0].numpy()
            assert single.sum() in (SHAPES["square"].sum(), SHAPES["cross"].sum())


def test_one_kind_of_shape():
    frames = moving_shapes(4, 3, size=8, num_shapes=1, shapes=("cross",))
    assert torch.all(frames.sum(dim=(2, 3, 4)) == 5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="size: expected at least 4"):
        moving_shapes(2, 3, size=3)
    with pytest.raises(ValueError, match="max_speed: expected at most"):
        moving_shapes(2, 3, size=5, max_speed=3)
    with pytest.raises(ValueError, match="shapes: expected"):
        moving_shapes(2, 3, shapes=("circle",))
    with pytest.raises(ValueError, match="shapes: expected"):
        moving_shapes(2, 3, shapes="square")
    with pytest.raises(ValueError, match="num_frames"):
        moving_shapes(2, 0)
    with pytest.raises(TypeError, match="num_sequences"):
        moving_shapes(2.0, 3)
    with pytest.raises(ValueError, match="seed"):
        moving_shapes(2, 3, seed=-1)
