"""Digit strings, number sorting and the NTM copy task (course_pkg.data.algorithmic)."""

import pytest
import torch

from course_pkg.data.algorithmic import (
    DIGIT_VOCABULARY,
    END,
    PAD,
    START,
    decode_digits,
    digit_strings,
    ntm_copy_task,
    sort_numbers,
)


# ----------------------------------------------------------------------------------------------
# digit strings
# ----------------------------------------------------------------------------------------------
def test_vocabulary_layout():
    assert (PAD, START, END) == (0, 1, 2)
    assert DIGIT_VOCABULARY[3:] == tuple("0123456789")


@pytest.mark.parametrize("task", ["reverse", "copy"])
def test_digit_strings_layout(task):
    batch = digit_strings(50, 2, 7, task=task, seed=0)
    assert batch.src.shape == (7, 50) and batch.tgt_in.shape == (8, 50)
    assert batch.tgt_out.shape == (8, 50) and batch.tgt_mask.shape == (8, 50)
    assert batch.src.dtype == torch.int64 and batch.tgt_mask.dtype == torch.bool
    assert set(batch.src_lengths.tolist()) == set(range(2, 8))  # every length in [2, 7] drawn
    for b in range(50):
        length = int(batch.src_lengths[b])
        source = batch.src[:, b].tolist()
        digits = source[:length]
        assert all(3 <= t <= 12 for t in digits) and source[length:] == [PAD] * (7 - length)
        target = digits[::-1] if task == "reverse" else digits
        assert batch.tgt_in[:, b].tolist() == [START] + target + [PAD] * (7 - length)
        assert batch.tgt_out[:, b].tolist() == target + [END] + [PAD] * (7 - length)
        assert batch.tgt_mask[:, b].tolist() == [True] * (length + 1) + [False] * (7 - length)


def test_digit_strings_fixed_length_text_and_seeds():
    batch = digit_strings(4, 5, seed=3)
    assert batch.src_lengths.tolist() == [5] * 4
    text = decode_digits(batch.src[:, 0])
    assert len(text) == 5 and text.isdigit()
    assert decode_digits(batch.tgt_out[:, 0]) == text[::-1]
    assert decode_digits([START, 3, 12, END, 5]) == "09"  # stops at </s>
    again, other = digit_strings(4, 5, seed=3), digit_strings(4, 5, seed=4)
    assert torch.equal(again.src, batch.src) and not torch.equal(other.src, batch.src)


def test_digit_strings_bad_arguments():
    with pytest.raises(ValueError, match="min_length"):
        digit_strings(3, 0)
    with pytest.raises(ValueError, match="max_length"):
        digit_strings(3, 5, 4)
    with pytest.raises(ValueError, match="task"):
        digit_strings(3, 5, task="sort")
    with pytest.raises(TypeError, match="^n: "):
        digit_strings(2.0, 5)


# ----------------------------------------------------------------------------------------------
# sorting
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("integers", [False, True])
def test_sort_numbers_targets_sort_the_inputs(integers):
    inputs, targets = sort_numbers(20, 6, integers=integers, high=10, seed=0)
    assert inputs.shape == (6, 20, 1) and targets.shape == (6, 20)
    assert targets.dtype == torch.int64
    for b in range(20):
        numbers = inputs[:, b, 0].tolist()
        order = targets[:, b].tolist()
        assert sorted(order) == list(range(6))  # a permutation of the positions
        assert [numbers[i] for i in order] == sorted(numbers)
        if integers:
            assert all(x == int(x) and 0 <= x < 10 for x in numbers)
            assert len(set(numbers)) == 6  # distinct: the answer is unique
        else:
            assert all(0.0 <= x < 1.0 for x in numbers)


def test_sort_numbers_hand_example_and_seeds():
    inputs, targets = sort_numbers(1, 3, seed=5)
    a, b, c = inputs[:, 0, 0].tolist()
    by_hand = sorted(range(3), key=lambda i: (a, b, c)[i])
    assert targets[:, 0].tolist() == by_hand
    again, _ = sort_numbers(1, 3, seed=5)
    assert torch.equal(again, inputs)


def test_sort_numbers_bad_arguments():
    with pytest.raises(ValueError, match="high"):
        sort_numbers(2, 5, integers=True, high=4)
    with pytest.raises(ValueError, match="length"):
        sort_numbers(2, 0)


# ----------------------------------------------------------------------------------------------
# NTM copy task
# ----------------------------------------------------------------------------------------------
def test_ntm_copy_task_layout():
    inputs, targets, mask = ntm_copy_task(6, 4, bits=5, seed=0)
    assert inputs.shape == (9, 6, 6) and targets.shape == (9, 6, 5) and mask.shape == (9, 6)
    vectors = inputs[:4, :, :5]
    assert set(vectors.unique().tolist()) == {0.0, 1.0}
    assert torch.all(inputs[:4, :, 5] == 0)  # no delimiter while the bits come in
    assert torch.all(inputs[4, :, :5] == 0) and torch.all(inputs[4, :, 5] == 1)  # delimiter
    assert torch.all(inputs[5:] == 0)  # blanks while the copy is written
    assert torch.equal(targets[5:], vectors)  # the copy, in order
    assert torch.all(targets[:5] == 0)
    assert mask.tolist() == [[False] * 6] * 5 + [[True] * 6] * 4


def test_ntm_copy_task_seeds_and_bad_arguments():
    a, _, _ = ntm_copy_task(3, 2, seed=1)
    b, _, _ = ntm_copy_task(3, 2, seed=1)
    c, _, _ = ntm_copy_task(3, 2, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert ntm_copy_task(2, 3, dtype=torch.float64)[0].dtype == torch.float64
    with pytest.raises(ValueError, match="bits"):
        ntm_copy_task(2, 3, bits=0)
    with pytest.raises(TypeError, match="length"):
        ntm_copy_task(2, 1.5)
