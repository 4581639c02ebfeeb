"""SRU against the LSTM: arithmetic per step and measured time (chapter 16).

Lei, Zhang, Wang, Dai & Artzi (2018), *Simple Recurrent Units for Highly Parallelizable
Recurrence*, claim that taking the previous state out of the matrix products makes a recurrent
layer much faster while keeping it as accurate. This module gives the chapter two measurements:

- :func:`sequential_flops`: floating-point operations per step and per sequence that must wait
  for the previous step (the serial part) and those that can be done for all steps at once, for
  an LSTM layer (the ``W_hh h_{t-1}`` product is serial: ``8 H^2``) and an SRU layer (only
  element-wise work is serial: a few ``H``);
- :func:`time_forward_backward`: measured seconds of one forward + backward pass of
  ``course_pkg.nn.SRU``, ``course_pkg.nn.LSTM`` and ``torch.nn.LSTM``, taking turns in an order
  shuffled for every repeat (as ``benchmarks/sru_speed.py`` does), reported as medians.

The accuracy comparison needs no code of its own: the chapter trains ``SequenceRegressor("sru")``
and ``SequenceRegressor("lstm")`` with `course_pkg.tasks.adding.fit_adding`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from course_pkg.timing import median_pass_ratios, median_pass_seconds
from course_pkg.nn.recurrent import LSTM
from course_pkg.nn.sru import SRU
from course_pkg.validation import require_choice, require_positive_int

__all__ = ["TIMED_NAMES", "sequential_flops", "time_forward_backward"]

TIMED_NAMES = ("course SRU", "course LSTM", "torch.nn.LSTM")


# ----------------------------------------------------------------------------------------------
# counting
# ----------------------------------------------------------------------------------------------
def sequential_flops(input_size: int, hidden_size: int) -> dict[str, dict[str, int]]:
    """FLOPs per step and per example of one layer, split into serial and parallel work.

    A multiply-add counts as 2 FLOPs, an element-wise sigmoid or tanh as 1. With D = input_size
    and H = hidden_size:

    LSTM (chapter 5): serial ``W_hh h_{t-1}`` (4H x H) = 8 H^2, plus the cell's element-wise work,
    which also waits for the previous step: 4H gate nonlinearities, ``f c + i g`` 3H,
    ``tanh(c)`` H, ``o tanh(c)`` H = 9H. Parallel: ``W_ih x_t`` = 8 H D, bias adds 4H.

    SRU: serial only ``sigmoid(f_pre + v_f c_{t-1})`` (2H + H) and ``c_t = x~ + f (c - x~)`` 3H
    = 6H. Parallel: ``U = W x_t`` with 3 (D = H) or 4 blocks = 2 k H D, ``b_f`` H, the reset
    gate 2H + H + H (bias), the highway output 3H and ``alpha x`` H.

    Returns ``{"lstm": {"serial": .., "parallel": ..}, "sru": {...}}``.
    """
    require_positive_int("input_size", input_size)
    require_positive_int("hidden_size", hidden_size)
    D, H = input_size, hidden_size
    blocks = 3 if D == H else 4
    lstm = {"serial": 8 * H * H + 9 * H, "parallel": 8 * H * D + 4 * H}
    sru = {"serial": 6 * H, "parallel": 2 * blocks * H * D + H + 4 * H + 4 * H}
    return {"lstm": lstm, "sru": sru}


# ----------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------
def time_forward_backward(lengths: Sequence[int] = (256,), batch_size: int = 8,
                          hidden_size: int = 64, repeats: int = 7, warmup: int = 1,
                          seed: int = 0, relative_to: str | None = None
                          ) -> dict[int, dict[str, float]]:
    """Median seconds of one forward + backward pass, per sequence length and implementation.

    For each T in ``lengths``: a one-layer ``course_pkg.nn.SRU``, ``course_pkg.nn.LSTM`` and
    ``torch.nn.LSTM`` (D = H = ``hidden_size``, float32) read the same input x (T, B, H); the
    backward pass starts from a fixed random upstream gradient and gives gradients for x and
    every weight. The three take turns, in an order shuffled afresh (seeded) for every repeat
    by ``course_pkg.timing``, so a change in the machine's load hits all alike.
    Returns ``{T: {name: median seconds}}`` with the names of ``TIMED_NAMES``; with
    ``relative_to`` (one of those names), ``{T: {name: median of t_name / t_relative_to}}``,
    each ratio taken within one round (`course_pkg.timing.median_pass_ratios`).
    """
    lengths = list(lengths)
    if not lengths:
        raise ValueError("lengths: expected at least one sequence length, got none")
    for T in lengths:
        require_positive_int("lengths", T)
    for name, value in (("batch_size", batch_size), ("hidden_size", hidden_size),
                        ("repeats", repeats)):
        require_positive_int(name, value)
    if relative_to is not None:
        require_choice("relative_to", relative_to, TIMED_NAMES)
    torch.manual_seed(seed)
    H = hidden_size
    course_lstm = LSTM(H, H)
    course_lstm.fused = False        # the step-by-step path, autograd backward, like the SRU's
    modules = dict(zip(TIMED_NAMES, (SRU(H, H), course_lstm, nn.LSTM(H, H))))
    results = {}
    for T in lengths:
        x = torch.randn(T, batch_size, H, requires_grad=True)        # (T, B, H)
        upstream = torch.randn(T, batch_size, H)                      # dL/d output, (T, B, H)
        if relative_to is None:
            results[T] = median_pass_seconds(modules, x, upstream, repeats, warmup)
        else:
            results[T] = median_pass_ratios(modules, x, upstream, relative_to, repeats, warmup)
    return results
