"""Minibatch streams whose sequence length changes from batch to batch.

The algorithmic tasks (copying for the NTM, sorting for the pointer network, reversing digit
strings for the encoder-decoder) train on a range of lengths. One minibatch holds sequences of
one length, so that it needs no padding; call k of the stream draws, from one generator seeded
with ``seed``,

    L_k    ~ uniform on {min_length, ..., max_length}
    seed_k ~ uniform on {0, ..., seed_bound - 1}

and returns ``make_batch(batch_size, L_k, seed_k)``. The same seed gives the same batches, so two
models trained from one seed see the same data in the same order.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np

from course_pkg.validation import require_positive_int

__all__ = ["varied_length_batches"]

Batch = TypeVar("Batch")


def varied_length_batches(make_batch: Callable[[int, int, int], Batch], batch_size: int,
                          min_length: int, max_length: int, seed: int = 0,
                          seed_bound: int = 2**31 - 1) -> Callable[[], Batch]:
    """A function returning a fresh minibatch at each call: ``make_batch(batch_size, length,
    seed)`` with the length and the seed drawn as the module doc says (``seed_bound``: the
    exclusive upper bound of each batch's seed)."""
    require_positive_int("batch_size", batch_size)
    require_positive_int("min_length", min_length)
    require_positive_int("max_length", max_length)
    require_positive_int("seed_bound", seed_bound)
    if max_length < min_length:
        raise ValueError(f"max_length: expected >= min_length = {min_length}, got {max_length}")
    rng = np.random.default_rng(seed)

    def next_batch() -> Batch:
        length = int(rng.integers(min_length, max_length + 1))
        return make_batch(batch_size, length, int(rng.integers(seed_bound)))

    return next_batch
