"""course_pkg.data.length_batches: the lengths and seeds of a varied-length stream."""

import numpy as np
import pytest

from course_pkg.data.length_batches import varied_length_batches


def record(batch_size, length, seed):
    return (batch_size, length, seed)


def test_each_call_draws_a_length_then_a_seed_from_one_generator():
    stream = varied_length_batches(record, 4, min_length=3, max_length=7, seed=11)
    rng = np.random.default_rng(11)  # the draws, written out: a length, then a seed, per call
    expected = []
    for _ in range(50):
        length = int(rng.integers(3, 8))
        expected.append((4, length, int(rng.integers(0, 2**31 - 1))))
    assert [stream() for _ in range(50)] == expected
    assert {length for _, length, _ in expected} == {3, 4, 5, 6, 7}  # both ends reached


def test_the_same_seed_gives_the_same_stream_and_another_seed_another():
    first = varied_length_batches(record, 2, 1, 9, seed=5)
    again = varied_length_batches(record, 2, 1, 9, seed=5)
    other = varied_length_batches(record, 2, 1, 9, seed=6)
    a, b, c = ([s() for _ in range(10)] for s in (first, again, other))
    assert a == b and a != c


def test_seed_bound_limits_the_batch_seeds():
    stream = varied_length_batches(record, 1, 2, 2, seed=0, seed_bound=3)
    seeds = {stream()[2] for _ in range(100)}
    assert seeds == {0, 1, 2}


def test_bad_lengths_are_named():
    with pytest.raises(ValueError, match="max_length: expected >= min_length = 5, got 3"):
        varied_length_batches(record, 2, 5, 3)
    with pytest.raises(ValueError, match="batch_size"):
        varied_length_batches(record, 0, 1, 3)
