"""Argument checks: messages name the argument, the expectation and what was given."""

import numpy as np
import pytest
import torch

from course_pkg import validation as v


def test_shape_message_names_argument_expected_and_given():
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 3\) \(input\), got \(5, 2, 4\)"):
        v.require_shape("x", np.zeros((5, 2, 4)), ("T", "B", 3), "input")
    v.require_shape("x", torch.zeros(5, 2, 3), ("T", "B", 3))  # wildcards accept any size


def test_ndim_dtype_and_type():
    with pytest.raises(ValueError, match=r"h0: expected a 2-D array, got 3-D with shape \(1, 2, 3\)"):
        v.require_ndim("h0", np.zeros((1, 2, 3)), 2)
    with pytest.raises(TypeError, match="x: expected a floating-point dtype, got int64"):
        v.require_floating("x", np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="x: expected a floating-point dtype, got torch.int64"):
        v.require_floating("x", torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="x: expected a numpy array or torch tensor, got list"):
        v.require_floating("x", [1.0])


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)])
def test_positive_int(bad, error):
    with pytest.raises(error, match="hidden_size: expected a positive int"):
        v.require_positive_int("hidden_size", bad)


def test_range_refuses_nan_and_out_of_range():
    with pytest.raises(ValueError, match=r"p: expected a number in \[0, 1\], got nan"):
        v.require_in_range("p", float("nan"), 0, 1)
    with pytest.raises(ValueError, match="got 1.5"):
        v.require_in_range("p", 1.5, 0, 1)
    with pytest.raises(ValueError, match=r"mode: expected one of \['a', 'b'\], got 'c'"):
        v.require_choice("mode", "c", ["a", "b"])


def test_seeds_become_a_list_and_bad_ones_are_named():
    assert v.require_seeds(range(3)) == [0, 1, 2]
    with pytest.raises(ValueError, match="seeds: expected at least one seed, got none"):
        v.require_seeds(())
    for bad in (-1, 1.0, True):
        with pytest.raises(ValueError, match=f"seeds: expected ints >= 0, got {bad!r}"):
            v.require_seeds([0, bad])


def test_lengths_are_checked_against_the_batch_and_the_padded_length():
    assert v.require_lengths([3, 1], batch=2, steps=3).tolist() == [3, 1]
    with pytest.raises(ValueError, match=r"lengths: expected 2 integer lengths \(B,\), got shape \(3,\)"):
        v.require_lengths([3, 1, 1], batch=2, steps=3)
    with pytest.raises(ValueError, match="lengths: expected 2 integer lengths"):
        v.require_lengths([3.0, 1.0], batch=2, steps=3)
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 3\], got \[4, 1\]"):
        v.require_lengths([4, 1], batch=2, steps=3)


def test_word_ids_become_time_major_and_bad_ones_are_named():
    require_word_ids = v.require_word_ids
    assert require_word_ids("words", [3, 0, 2], 4).tolist() == [[3], [0], [2]]   # (T,) -> (T, 1)
    assert require_word_ids("words", torch.zeros(5, 2, dtype=torch.int64), 4).shape == (5, 2)
    with pytest.raises(TypeError, match="ids: expected integer word ids, got torch.float32"):
        require_word_ids("ids", torch.zeros(3), 4)
    with pytest.raises(ValueError, match=r"words: expected ids in \[0, 3\], got values in \[0, 4\]"):
        require_word_ids("words", [0, 4], 4)
    with pytest.raises(ValueError, match="words"):
        require_word_ids("words", torch.zeros(2, 2, 2, dtype=torch.int64), 4)


def test_int64_tokens_are_two_dimensional_int64():
    v.require_int64_tokens("src", torch.zeros(4, 2, dtype=torch.int64), "(S, B) ids")
    with pytest.raises(TypeError, match="src: expected int64 token ids, got torch.int32"):
        v.require_int64_tokens("src", torch.zeros(4, 2, dtype=torch.int32), "(S, B) ids")
    with pytest.raises(ValueError, match=r"tgt_in: expected .*\(T, B\) ids"):
        v.require_int64_tokens("tgt_in", torch.zeros(4, dtype=torch.int64), "(T, B) ids")
