"""Moving shapes: small synthetic videos for next-frame prediction (chapter 14, ConvLSTM).

Each sequence shows ``num_shapes`` small binary shapes (3x3 squares and crosses) moving in
straight lines over a ``size x size`` black grid and bouncing off its walls, in the spirit of the
moving-MNIST benchmark of Srivastava et al. (2015) that Shi et al. (2015) use, scaled down for a
CPU. Every shape gets a random position and a random velocity (each coordinate a non-zero
integer in [-max_speed, max_speed]); at every frame it moves by its velocity, and a coordinate
that would leave the grid is reflected off the wall and its velocity component flips sign::

    p <- p + v;   if p < 0: p = -p, v = -v;   if p > L: p = 2L - p, v = -v      (L = size - 3)

Frames are rendered by drawing every shape at its position (pixel value 1 where any shape covers
it, 0 elsewhere). The next frame is a deterministic function of the current positions and
velocities, but the velocity is not visible in one frame: a model has to read at least two
frames, and to remember a shape's direction while it crosses another.

`moving_shapes` returns float32 frames (T, B, 1, H, W) in {0, 1} (or (B, T, 1, H, W) with
``batch_first``); the same ``seed`` gives the same videos.
"""

from __future__ import annotations

import numpy as np
import torch

from course_pkg.validation import require_positive_int

__all__ = ["SHAPES", "SHAPE_SIZE", "moving_shapes"]

SHAPE_SIZE = 3
SHAPES = {
    "square": np.ones((3, 3), dtype=np.float32),
    "cross": np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.float32),
}


def _bounce(position: np.ndarray, velocity: np.ndarray, limit: int) -> None:
    """Move in place by one step, reflecting off the walls 0 and ``limit`` (|velocity| <= limit)."""
    position += velocity
    below, above = position < 0, position > limit
    position[below] = -position[below]
    position[above] = 2 * limit - position[above]
    velocity[below | above] *= -1


def moving_shapes(
    num_sequences: int,
    num_frames: int,
    size: int = 16,  # frames are size x size
    num_shapes: int = 2,  # shapes per video
    shapes: tuple[str, ...] = ("square", "cross"),  # kinds drawn from, uniformly
    max_speed: int = 1,  # largest |velocity| per coordinate, in pixels per frame
    seed: int = 0,
    batch_first: bool = False,
    return_positions: bool = False,
):
    """Videos of bouncing shapes: frames (T, B, 1, size, size) float32 in {0, 1}.

    With ``return_positions=True`` returns ``(frames, positions)``, positions (T, B, num_shapes, 2)
    int64 (row, column) of each shape's top-left corner, always in [0, size - 3].
    """
    require_positive_int("num_sequences", num_sequences)
    require_positive_int("num_frames", num_frames)
    require_positive_int("size", size)
    require_positive_int("num_shapes", num_shapes)
    require_positive_int("max_speed", max_speed)
    if size < SHAPE_SIZE + 1:
        raise ValueError(f"size: expected at least {SHAPE_SIZE + 1} (shapes are "
                         f"{SHAPE_SIZE}x{SHAPE_SIZE} and must be able to move), got {size}")
    limit = size - SHAPE_SIZE                                       # largest top-left coordinate
    if max_speed > limit:
        raise ValueError(f"max_speed: expected at most size - {SHAPE_SIZE} = {limit} (one bounce "
                         f"per step), got {max_speed}")
    if isinstance(shapes, str) or not shapes or any(s not in SHAPES for s in shapes):
        raise ValueError(f"shapes: expected a non-empty tuple of names from {sorted(SHAPES)}, "
                         f"got {shapes!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed!r}")

    rng = np.random.default_rng(seed)
    B, S, T = num_sequences, num_shapes, num_frames
    kinds = rng.integers(len(shapes), size=(B, S))                  # which shape each one is
    position = rng.integers(0, limit + 1, size=(B, S, 2))           # (B, S, 2) row, column
    speed = rng.integers(1, max_speed + 1, size=(B, S, 2))
    velocity = speed * rng.choice([-1, 1], size=(B, S, 2))          # never 0

    frames = np.zeros((T, B, 1, size, size), dtype=np.float32)
    positions = np.zeros((T, B, S, 2), dtype=np.int64)
    for t in range(T):
        if t > 0:
            _bounce(position, velocity, limit)
        positions[t] = position
        for b in range(B):
            for s in range(S):
                row, col = position[b, s]
                patch = frames[t, b, 0, row:row + SHAPE_SIZE, col:col + SHAPE_SIZE]
                np.maximum(patch, SHAPES[shapes[kinds[b, s]]], out=patch)   # overlap: union

    frames_t, positions_t = torch.from_numpy(frames), torch.from_numpy(positions)
    if batch_first:
        frames_t, positions_t = frames_t.transpose(0, 1), positions_t.transpose(0, 1)
    return (frames_t, positions_t) if return_positions else frames_t
