"""Small noisy pictures of the ten digits, drawn from bitmaps written for this course (chapter 17).

scikit-learn's ``load_digits`` is not available here, so the chapter on CNN + LSTM hybrids makes
its own digit images. Each digit 0-9 is a 5-wide, 7-tall bitmap (``GLYPHS``, one string per row,
``#`` = ink). A picture places the bitmap in a ``frame_size x frame_size`` black frame at a random
offset, scales its ink by a random brightness, and adds uniform pixel noise::

    X[r + i, c + j] = brightness * glyph[i, j] + noise[r + i, c + j],   clipped to [0, 1]
    (r, c) ~ uniform offsets that keep the glyph inside the frame
    brightness ~ U[0.7, 1],   noise ~ U[0, noise]   per pixel

so no two pictures of the same digit are alike, yet the digit stays readable to a small CNN.

`digit_images` draws one picture per given label, (N, 1, S, S); `digit_sequences` draws
sequences of random digits as time-major frames (T, B, 1, S, S) with their labels (T, B), the
input of `course_pkg.models.image_sequence.FrameSequenceClassifier`; `two_digit_images` draws
pictures of two-digit numbers, (N, 1, 2S, 2S), whose "caption" is the pair of digits, for
`course_pkg.models.image_sequence.ImageCaptioner`. The same ``seed`` gives the same pictures.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from course_pkg.validation import require_in_range, require_positive_int

__all__ = ["GLYPHS", "GLYPH_HEIGHT", "GLYPH_WIDTH", "glyph_bitmap", "digit_images",
           "digit_sequences", "two_digit_images"]

GLYPH_HEIGHT, GLYPH_WIDTH = 7, 5
GLYPHS = {
    0: (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    1: ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    2: (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    3: ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    4: ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    5: ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    6: ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    7: ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    8: (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    9: (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
}


def glyph_bitmap(digit: int) -> np.ndarray:
    """The (7, 5) float32 bitmap of ``digit`` (1 = ink, 0 = background)."""
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or digit not in GLYPHS:
        raise ValueError(f"digit: expected an int in [0, 9], got {digit!r}")
    rows = GLYPHS[int(digit)]
    return np.array([[ch == "#" for ch in row] for row in rows], dtype=np.float32)


_BITMAPS = np.stack([glyph_bitmap(d) for d in range(10)])          # (10, 7, 5)


def _check_common(frame_size: int, noise: float, seed: int) -> None:
    require_positive_int("frame_size", frame_size)
    if frame_size < GLYPH_HEIGHT:
        raise ValueError(f"frame_size: expected at least {GLYPH_HEIGHT} (the glyphs are "
                         f"{GLYPH_HEIGHT} x {GLYPH_WIDTH}), got {frame_size}")
    require_in_range("noise", noise, 0.0, 1.0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed!r}")


def _draw(labels: np.ndarray, frame_size: int, noise: float,
          rng: np.random.Generator) -> np.ndarray:
    """Pictures (N, S, S) float32 of the digits in ``labels`` (N,)."""
    count = len(labels)
    images = rng.uniform(0.0, noise, size=(count, frame_size, frame_size)).astype(np.float32)
    rows = rng.integers(0, frame_size - GLYPH_HEIGHT + 1, size=count)   # top edge of the glyph
    cols = rng.integers(0, frame_size - GLYPH_WIDTH + 1, size=count)    # left edge
    brightness = rng.uniform(0.7, 1.0, size=count).astype(np.float32)
    for n in range(count):
        r, c = rows[n], cols[n]
        images[n, r:r + GLYPH_HEIGHT, c:c + GLYPH_WIDTH] += brightness[n] * _BITMAPS[labels[n]]
    return np.clip(images, 0.0, 1.0)


def digit_images(labels, frame_size: int = 8, noise: float = 0.25, seed: int = 0) -> Tensor:
    """One noisy picture per digit in ``labels`` (a sequence or 1-D tensor of ints in [0, 9]):
    float32 tensor (N, 1, frame_size, frame_size) with values in [0, 1]."""
    _check_common(frame_size, noise, seed)
    labels = np.asarray(labels.tolist() if isinstance(labels, Tensor) else labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected a non-empty 1-D sequence of ints in [0, 9], got "
                         f"shape {labels.shape} dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"labels: expected digits in [0, 9], got values in "
                         f"[{labels.min()}, {labels.max()}]")
    rng = np.random.default_rng(seed)
    return torch.from_numpy(_draw(labels, frame_size, noise, rng)).unsqueeze(1)   # (N, 1, S, S)


def digit_sequences(num_sequences: int, length: int, frame_size: int = 8, noise: float = 0.25,
                    seed: int = 0) -> tuple[Tensor, Tensor]:
    """Sequences of random digits, each shown as a fresh noisy picture.

    Returns ``(frames, digits)``: frames (T, B, 1, S, S) float32 in [0, 1] and digits (T, B)
    int64, with T = ``length`` and B = ``num_sequences``.
    """
    require_positive_int("num_sequences", num_sequences)
    require_positive_int("length", length)
    _check_common(frame_size, noise, seed)
    rng = np.random.default_rng(seed)
    digits = rng.integers(0, 10, size=(length, num_sequences))                     # (T, B)
    pictures = _draw(digits.reshape(-1), frame_size, noise, rng)                    # (T*B, S, S)
    frames = torch.from_numpy(pictures).view(length, num_sequences, 1, frame_size, frame_size)
    return frames, torch.from_numpy(digits).to(torch.int64)


def two_digit_images(num_images: int, frame_size: int = 8, noise: float = 0.25,
                     seed: int = 0) -> tuple[Tensor, Tensor]:
    """Pictures of random two-digit numbers ("07" included) and their digits.

    Two single-digit pictures side by side, (S, 2S), centred in a (2S, 2S) black frame so that
    it stays square. Returns ``(images, digits)``: images (N, 1, 2S, 2S) float32 in [0, 1] and
    digits (2, N) int64, the tens digit first (a caption read left to right).
    """
    require_positive_int("num_images", num_images)
    _check_common(frame_size, noise, seed)
    rng = np.random.default_rng(seed)
    digits = rng.integers(0, 10, size=(2, num_images))                            # (2, N)
    halves = _draw(digits.reshape(-1), frame_size, noise, rng)                     # (2N, S, S)
    halves = halves.reshape(2, num_images, frame_size, frame_size)
    images = np.zeros((num_images, 2 * frame_size, 2 * frame_size), dtype=np.float32)
    top = frame_size // 2
    images[:, top:top + frame_size, :frame_size] = halves[0]                       # tens
    images[:, top:top + frame_size, frame_size:] = halves[1]                       # ones
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(digits).to(torch.int64)
