"""Algorithmic tasks for the attention and memory chapters (10, 11 and 13).

Every generator draws from ``numpy.random.default_rng(seed)``: the same seed gives the same data.
Sequences are time-major, ``(T, B, ...)``, like the rest of ``course_pkg.data``.

**Digit strings** (chapter 10): reverse (or copy) a string of decimal digits. Token ids::

    0 <pad>   1 <s> (start)   2 </s> (end)   3..12 the digits 0..9      (DIGIT_VOCABULARY)

For a source ``x_1..x_L`` with target ``y_1..y_L`` (``y = x`` reversed, or ``x`` itself)::

    src      x_1 .. x_L                  (L, B)       padded with 0 after each length
    tgt_in   <s> y_1 .. y_L              (L+1, B)     what the decoder reads (teacher forcing)
    tgt_out  y_1 .. y_L </s>             (L+1, B)     what it must predict at each step

**Number sorting** (chapter 11, Vinyals, Fortunato & Jaitly 2015, *Pointer networks*): N numbers
in, the target at output step i is the *input position* of the i-th smallest number, i.e. the
argsort; a pointer network predicts a distribution over the N input positions at every step.

**NTM copy task** (chapter 13, Graves, Wayne & Danihelka 2014, *Neural Turing machines*, 4.1):
``L`` random binary vectors of ``bits`` bits, then one step with a delimiter flag, then ``L`` blank
steps during which the network must write the vectors back out, in order. With ``bits + 1`` input
channels (the last one is the delimiter) and ``T = 2L + 1`` steps::

    step:      0 .. L-1        | L              | L+1 .. 2L
    input:     bits, flag 0    | zeros, flag 1  | zeros
    target:    zeros           | zeros          | the L vectors again
    loss mask: False           | False          | True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from course_pkg.data.padding import PAD
from course_pkg.validation import require_choice, require_positive_int

__all__ = [
    "PAD",
    "START",
    "END",
    "DIGIT_VOCABULARY",
    "DigitBatch",
    "digit_strings",
    "decode_digits",
    "sort_numbers",
    "ntm_copy_task",
]

START, END = 1, 2   # PAD (0) is course_pkg.data.padding.PAD
FIRST_DIGIT = 3  # the digit d has id d + 3
#: How each id is written: ``DIGIT_VOCABULARY[i]`` is the text of token i.
DIGIT_VOCABULARY = ("<pad>", "<s>", "</s>") + tuple("0123456789")


class DigitBatch(NamedTuple):
    """A batch of the digit-string task (layout in the module doc)."""

    src: torch.Tensor  # (L, B) int64 source digits, 0-padded
    src_lengths: torch.Tensor  # (B,) int64 number of digits of each source
    tgt_in: torch.Tensor  # (L+1, B) int64 <s> then the target digits, 0-padded
    tgt_out: torch.Tensor  # (L+1, B) int64 the target digits then </s>, 0-padded
    tgt_mask: torch.Tensor  # (L+1, B) bool, True at the real steps of tgt_in / tgt_out


def _check_length_range(min_length: int, max_length: int | None) -> int:
    require_positive_int("min_length", min_length)
    if max_length is None:
        return min_length
    require_positive_int("max_length", max_length)
    if max_length < min_length:
        raise ValueError(f"max_length: expected >= min_length = {min_length}, got {max_length}")
    return max_length


def digit_strings(
    n: int,
    min_length: int,
    max_length: int | None = None,  # None: every string has min_length digits
    task: str = "reverse",  # or "copy"
    seed: int = 0,
) -> DigitBatch:
    """``n`` random digit strings of ``min_length..max_length`` digits, to reverse or copy.

    Lengths are uniform on ``[min_length, max_length]``, digits uniform on 0..9. See the module
    doc for the token ids and the three sequences; padding (id 0) follows each sequence.
    """
    require_positive_int("n", n)
    max_length = _check_length_range(min_length, max_length)
    require_choice("task", task, ("reverse", "copy"))
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=n)  # (B,)
    digits = rng.integers(0, 10, size=(max_length, n)) + FIRST_DIGIT  # (L, B) ids 3..12

    src = np.full((max_length, n), PAD, dtype=np.int64)  # (L, B)
    tgt_in = np.full((max_length + 1, n), PAD, dtype=np.int64)  # (L+1, B)
    tgt_out = np.full((max_length + 1, n), PAD, dtype=np.int64)  # (L+1, B)
    for b, length in enumerate(lengths):
        source = digits[:length, b]
        target = source[::-1] if task == "reverse" else source
        src[:length, b] = source
        tgt_in[0, b] = START
        tgt_in[1 : length + 1, b] = target
        tgt_out[:length, b] = target
        tgt_out[length, b] = END
    steps = np.arange(max_length + 1)[:, None]  # (L+1, 1)
    tgt_mask = steps <= lengths[None, :]  # (L+1, B): L_b digits plus </s>
    return DigitBatch(
        src=torch.from_numpy(src),
        src_lengths=torch.from_numpy(lengths.astype(np.int64)),
        tgt_in=torch.from_numpy(tgt_in),
        tgt_out=torch.from_numpy(tgt_out),
        tgt_mask=torch.from_numpy(tgt_mask),
    )


def decode_digits(ids) -> str:
    """Write token ids as text, stopping at ``</s>`` and skipping padding and ``<s>``: "3071"."""
    text = []
    for token in torch.as_tensor(ids).flatten().tolist():
        if token == END:
            break
        if token >= FIRST_DIGIT:
            text.append(DIGIT_VOCABULARY[token])
    return "".join(text)


def sort_numbers(
    n: int,
    length: int,
    integers: bool = False,  # False: floats U[0, 1); True: distinct integers in [0, high)
    high: int = 100,  # integers only: the range [0, high), needs high >= length
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of ``length`` numbers and the order that sorts each one (ascending).

    Integers are drawn without replacement, so there are no ties and the answer is unique.

    Returns:
        inputs: (N, n, 1) the numbers as one feature per step (integers as their float values);
        targets: (N, n) int64, ``targets[i, b]`` = the position in ``inputs[:, b]`` of the i-th
        smallest number, so ``inputs[targets[:, b], b]`` is sorted.
    """
    require_positive_int("n", n)
    require_positive_int("length", length)
    rng = np.random.default_rng(seed)
    if integers:
        require_positive_int("high", high)
        if high < length:
            raise ValueError(f"high: expected >= length = {length} (distinct integers), got {high}")
        numbers = np.stack([rng.choice(high, size=length, replace=False) for _ in range(n)], axis=1)
    else:
        numbers = rng.random((length, n))  # (N, n)
    order = np.argsort(numbers, axis=0, kind="stable")  # (N, n)
    inputs = torch.as_tensor(numbers, dtype=dtype).unsqueeze(2)  # (N, n, 1)
    return inputs, torch.from_numpy(order.astype(np.int64))


def ntm_copy_task(
    n: int,
    length: int,
    bits: int = 8,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` copy-task sequences of ``length`` random ``bits``-bit vectors (Graves et al. 2014).

    Each bit is 0 or 1 with probability 1/2. See the module doc for the layout.

    Returns:
        inputs: (2L+1, n, bits+1), the last channel is the delimiter flag;
        targets: (2L+1, n, bits), zero except in the last L steps;
        loss_mask: (2L+1, n) bool, True at the last L steps (where the copy is scored).
    """
    require_positive_int("n", n)
    require_positive_int("length", length)
    require_positive_int("bits", bits)
    rng = np.random.default_rng(seed)
    vectors = torch.as_tensor(rng.integers(0, 2, size=(length, n, bits)), dtype=dtype)
    total = 2 * length + 1
    inputs = torch.zeros(total, n, bits + 1, dtype=dtype)  # (2L+1, n, bits+1)
    targets = torch.zeros(total, n, bits, dtype=dtype)  # (2L+1, n, bits)
    inputs[:length, :, :bits] = vectors
    inputs[length, :, bits] = 1.0  # the delimiter: "now write it back"
    targets[length + 1 :] = vectors
    loss_mask = torch.zeros(total, n, dtype=torch.bool)  # (2L+1, n)
    loss_mask[length + 1 :] = True
    return inputs, targets, loss_mask
