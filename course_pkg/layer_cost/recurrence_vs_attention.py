"""Where recurrence runs out: the cost of a recurrent layer against self-attention, measured
(chapter 18).

:func:`time_recurrence_vs_attention` returns the seconds of one forward + backward pass against
the sequence length T for a recurrent layer (`course_pkg.nn.LSTM`, a Python loop over steps;
``torch.nn.LSTM``, the loop in compiled code) and for one self-attention block
(`course_pkg.models.self_attention.SelfAttentionBlock`, Vaswani et al. 2017, section 3.2), with
the number of operations that must run one after the other: T for the recurrence (h_t needs
h_{t-1}), one per layer for attention (every step of a layer at once). Attention pays for that
with a (T, T) score matrix per head: compute and memory grow like T^2.
:func:`crossover_length` reads from such a measurement the length from which attention is the
slower one.

The chapter's training experiments (short sequences, the learning-rate sweep, self-attention
against the LSTM on the adding problem) are assembled on its page from chapter 5's parts
(`course_pkg.tasks.adding.fit_adding`, `course_pkg.training.train`) and the models
`course_pkg.models.sequence_regressor.SequenceRegressor` and
`course_pkg.models.last_step_attention.LastStepAttentionRegressor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from course_pkg.timing import median_pass_seconds
from course_pkg.models.self_attention import SelfAttentionBlock
from course_pkg.nn.recurrent import LSTM
from course_pkg.validation import require_choice, require_positive_int

__all__ = ["TIMED_MODELS", "TimingResult", "time_recurrence_vs_attention", "crossover_length"]

TIMED_MODELS = ("course LSTM", "torch.nn.LSTM", "self-attention")


def _require_lengths(name: str, values, minimum: int = 1) -> list[int]:
    values = list(values)
    if not values:
        raise ValueError(f"{name}: expected at least one value, got none")
    for value in values:
        require_positive_int(name, value)
        if value < minimum:
            raise ValueError(f"{name}: expected lengths >= {minimum}, got {value}")
    return values


@dataclass
class TimingResult:
    """Median seconds of one forward + backward pass per length and model."""

    lengths: list[int]
    seconds: dict[int, dict[str, float]]        # {T: {model name: median seconds}}
    sequential_steps: dict[int, dict[str, int]]  # {T: {model name: operations in a chain}}
    score_entries: dict[int, int]                # {T: B * heads * T * T}, attention's matrix
    batch_size: int
    width: int
    num_heads: int

    def ratio(self, T: int, model: str, reference: str = "self-attention") -> float:
        """How many times slower ``model`` is than ``reference`` at length T."""
        return self.seconds[T][model] / self.seconds[T][reference]


def time_recurrence_vs_attention(lengths: Sequence[int] = (16, 32, 64, 128, 256, 512),
                                 batch_size: int = 8, width: int = 64, num_heads: int = 4,
                                 repeats: int = 5, warmup: int = 1,
                                 seed: int = 0) -> TimingResult:
    """Median seconds of one forward + backward pass of each model in `TIMED_MODELS`.

    Models (one layer each, input size = hidden size = ``width``, float32): the course's LSTM of
    chapter 5, ``torch.nn.LSTM``, and one self-attention block (attention + a feed-forward
    network of ``width`` units, no mask; it returns ``(output, weights)`` as a recurrent layer
    returns ``(output, state)``, so all three are called alike). For every T all read the same
    input x (T, B, width); the backward pass starts from a fixed random upstream gradient of the
    output (T, B, width).
    The models take turns, in an order shuffled afresh for every repeat, after ``warmup`` untimed
    rounds, so a change in the machine's load hits all alike (as in chapter 16's timing).

    Also counted: the sequential steps (the LSTM must make T state updates one after another;
    the attention block computes every position at once, one layer deep) and the number of
    attention scores, B * heads * T^2, the term that grows quadratically.
    """
    lengths = _require_lengths("lengths", lengths)
    for name, value in (("batch_size", batch_size), ("width", width),
                        ("num_heads", num_heads), ("repeats", repeats)):
        require_positive_int(name, value)
    if width % num_heads:
        raise ValueError(f"num_heads: expected a divisor of width = {width}, got {num_heads}")
    torch.manual_seed(seed)
    course_lstm = LSTM(width, width)
    course_lstm.fused = False        # the step-by-step path of chapter 5, autograd backward
    modules = dict(zip(TIMED_MODELS, (course_lstm, nn.LSTM(width, width),
                                      SelfAttentionBlock(width, num_heads, ff_size=width))))
    seconds, steps, scores = {}, {}, {}
    for T in lengths:
        x = torch.randn(T, batch_size, width, requires_grad=True)    # (T, B, d)
        upstream = torch.randn(T, batch_size, width)                  # dL/d output, (T, B, d)
        seconds[T] = median_pass_seconds(modules, x, upstream, repeats, warmup)
        steps[T] = {"course LSTM": T, "torch.nn.LSTM": T, "self-attention": 1}
        scores[T] = batch_size * num_heads * T * T
    return TimingResult(lengths, seconds, steps, scores, batch_size, width, num_heads)


def crossover_length(result: TimingResult, model: str = "torch.nn.LSTM") -> int | None:
    """The smallest measured T from which self-attention is slower than ``model`` at every
    measured length (a single noisy inversion at a short length does not count); None if
    self-attention is not slower at the longest measured length."""
    require_choice("model", model, TIMED_MODELS[:2])
    crossing = None
    for T in reversed(result.lengths):
        if result.seconds[T]["self-attention"] <= result.seconds[T][model]:
            break
        crossing = T
    return crossing
