"""Where recurrence runs out, measured (chapter 18).

Three small experiments for the last chapter of the book, each returning plain data that the page
prints and plots:

- :func:`time_recurrence_vs_attention`: seconds of one forward + backward pass against the
  sequence length T for a recurrent layer (`course_pkg.nn.LSTM`, a Python loop over steps;
  ``torch.nn.LSTM``, the loop in compiled code) and for one self-attention block
  (`course_pkg.models.self_attention.SelfAttentionBlock`, Vaswani et al. 2017, section 3.2),
  with the number of operations that must run one after the other: T for the recurrence
  (h_t needs h_{t-1}), one per layer for attention (every step of a layer at once). Attention
  pays for that with a (T, T) score matrix per head: compute and memory grow like T^2.
- :func:`learning_rate_sweep`: final validation MSE over a grid of learning rate x hidden size, a
  measure of how sensitive training is to its hyperparameters.
- :func:`attention_vs_lstm_adding`: a small self-attention model (`LastStepAttentionRegressor`)
  against the LSTM on the long adding problem, similar parameter counts, equal training steps.

The training runs reuse chapter 5's recipe (`course_pkg.experiments.adding.fit_adding` and
`train_adding`), for the attention model too. The chapter's short-sequence comparison needs no
code of its own: it calls `course_pkg.experiments.adding.run_adding` at two lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor, nn

from course_pkg.experiments.adding import BASELINE_MSE, AddingRun, fit_adding, train_adding
from course_pkg.experiments.timing import median_pass_seconds
from course_pkg.models.self_attention import SelfAttentionBlock, SelfAttentionSequenceModel
from course_pkg.models.parameter_count import count_parameters
from course_pkg.nn.recurrent import LSTM
from course_pkg.validation import (
    require_choice, require_in_range, require_positive_int, require_seeds,
)

__all__ = ["TIMED_MODELS", "TimingResult", "time_recurrence_vs_attention", "crossover_length",
           "SweepResult",
           "learning_rate_sweep", "LastStepAttentionRegressor", "AttentionRun",
           "attention_vs_lstm_adding", "BASELINE_MSE"]

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


# ----------------------------------------------------------------------------------------------
# (a) cost: time and sequential steps against T
# ----------------------------------------------------------------------------------------------
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


class _AttentionLayer(nn.Module):
    """One pre-norm self-attention block with the ``(output, extra)`` return of a recurrent
    layer, so the three timed models are called alike."""

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.block = SelfAttentionBlock(width, num_heads, ff_size=width)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.block(x)                                          # (T, B, d), weights


def time_recurrence_vs_attention(lengths: Sequence[int] = (16, 32, 64, 128, 256, 512),
                                 batch_size: int = 8, width: int = 64, num_heads: int = 4,
                                 repeats: int = 5, warmup: int = 1,
                                 seed: int = 0) -> TimingResult:
    """Median seconds of one forward + backward pass of each model in `TIMED_MODELS`.

    Models (one layer each, input size = hidden size = ``width``, float32): the course's LSTM of
    chapter 5, ``torch.nn.LSTM``, and one self-attention block (attention + a feed-forward
    network of ``width`` units, no mask). For every T all read the same input x (T, B, width);
    the backward pass starts from a fixed random upstream gradient of the output (T, B, width).
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
                                      _AttentionLayer(width, num_heads))))
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


# ----------------------------------------------------------------------------------------------
# (b) hyperparameter sensitivity
# ----------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """Final validation MSE over a learning-rate x hidden-size grid, per cell."""

    learning_rates: list[float]
    hidden_sizes: list[int]
    length: int
    final_mse: dict[str, list[list[float]]]                # {cell: [lr][hidden] MSE}
    curves: dict[str, dict[tuple[float, int], tuple[list[int], list[float]]]] = \
        field(default_factory=dict)                         # {cell: {(lr, H): (steps, MSE)}}


def learning_rate_sweep(cells: Sequence[str] = ("rnn", "lstm"),
                        learning_rates: Sequence[float] = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
                        hidden_sizes: Sequence[int] = (4, 16, 64), length: int = 6,
                        steps: int = 200, eval_every: int = 25, seed: int = 0,
                        validation_size: int = 500) -> SweepResult:
    """Train every (cell, learning rate, hidden size) once on the adding problem of length
    ``length`` with chapter 5's `train_adding` (same seed, same batches); keep the final
    validation MSE (NaN-free: a diverged run keeps its last finite value) and the curves."""
    cells = list(cells)
    if not cells:
        raise ValueError("cells: expected at least one of ['rnn', 'gru', 'lstm'], got none")
    for cell in cells:
        require_choice("cells", cell, ("rnn", "gru", "lstm"))
    learning_rates = [float(lr) for lr in learning_rates]
    if not learning_rates:
        raise ValueError("learning_rates: expected at least one learning rate, got none")
    for lr in learning_rates:
        require_in_range("learning_rates", lr, 1e-12, 10.0)
    hidden_sizes = _require_lengths("hidden_sizes", hidden_sizes)
    require_positive_int("length", length)
    if length < 2:
        raise ValueError(f"length: expected at least 2, got {length}")
    result = SweepResult(learning_rates, hidden_sizes, length, {}, {})
    for cell in cells:
        grid, curves = [], {}
        for lr in learning_rates:
            row = []
            for H in hidden_sizes:
                run = train_adding(cell, seed, length=length, hidden_size=H, steps=steps,
                                   learning_rate=lr, eval_every=eval_every,
                                   validation_size=validation_size)
                row.append(run.final_mse)
                curves[(lr, H)] = (list(run.eval_steps), list(run.val_mse))
            grid.append(row)
        result.final_mse[cell] = grid
        result.curves[cell] = curves
    return result


# ----------------------------------------------------------------------------------------------
# (c) self-attention against the LSTM on the long adding problem
# ----------------------------------------------------------------------------------------------
class LastStepAttentionRegressor(nn.Module):
    """`SelfAttentionSequenceModel` (no causal mask) read at its last position: x (T, B, D) ->
    y_hat (B, O). Without a mask the last position attends to every step, so one block can pick
    out the marked values of the adding problem wherever they are."""

    def __init__(self, input_size: int = 2, d_model: int = 16, num_heads: int = 2,
                 num_layers: int = 2, ff_size: int | None = None, max_len: int = 512,
                 output_size: int = 1) -> None:
        super().__init__()
        self.encoder = SelfAttentionSequenceModel(input_size, output_size, d_model=d_model,
                                                  num_heads=num_heads, num_layers=num_layers,
                                                  ff_size=ff_size, max_len=max_len)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)[-1]                                    # (T, B, O) -> (B, O)


@dataclass
class AttentionRun:
    """One training run of either model on the adding problem."""

    model_name: str             # "LSTM" or "self-attention"
    seed: int
    parameters: int
    eval_steps: list[int]
    val_mse: list[float]
    seconds: float              # wall time of the training steps
    model: nn.Module | None = None   # the trained network

    @property
    def final_mse(self) -> float:
        return self.val_mse[-1]


def _train_attention(seed: int, length: int, steps: int, batch_size: int, learning_rate: float,
                     eval_every: int, validation_size: int, model_kwargs: dict) -> AttentionRun:
    torch.manual_seed(seed)
    model = LastStepAttentionRegressor(max_len=length, **model_kwargs)
    history = fit_adding(model, seed, length, steps, batch_size, learning_rate, clip_norm=1.0,
                         eval_every=eval_every, validation_size=validation_size)
    return AttentionRun("self-attention", seed, count_parameters(model), history.eval_steps,
                        history.eval_losses, history.seconds, model)


def attention_vs_lstm_adding(seeds: Sequence[int] = (0, 1), length: int = 50, steps: int = 300,
                             batch_size: int = 64, lstm_hidden: int = 32,
                             lstm_learning_rate: float = 1e-2,
                             attention_learning_rate: float = 3e-3, eval_every: int = 50,
                             validation_size: int = 500,
                             attention: dict | None = None) -> list[AttentionRun]:
    """Train chapter 5's LSTM (`train_adding`) and a `LastStepAttentionRegressor` on the adding
    problem of length ``length`` for the same number of steps and seeds (the same batches for
    both: the data generator is seeded with the seed). ``attention`` overrides the attention
    model's sizes (default d_model 16, 2 heads, 2 blocks, ff 32: about the LSTM's parameter
    count at H = 32). Each model gets the learning rate that suits it (Adam)."""
    seeds = require_seeds(seeds)
    for name, value in (("length", length), ("steps", steps), ("batch_size", batch_size),
                        ("lstm_hidden", lstm_hidden), ("eval_every", eval_every),
                        ("validation_size", validation_size)):
        require_positive_int(name, value)
    if length < 2:
        raise ValueError(f"length: expected at least 2, got {length}")
    require_in_range("lstm_learning_rate", lstm_learning_rate, 1e-12, 10.0)
    require_in_range("attention_learning_rate", attention_learning_rate, 1e-12, 10.0)
    model_kwargs = {"d_model": 16, "num_heads": 2, "num_layers": 2, "ff_size": 32}
    if attention is not None:
        if not isinstance(attention, dict):
            raise TypeError(f"attention: expected a dict of model sizes, got "
                            f"{type(attention).__name__}")
        model_kwargs.update(attention)
    runs = []
    for seed in seeds:
        lstm: AddingRun = train_adding("lstm", seed, length=length, hidden_size=lstm_hidden,
                                       steps=steps, batch_size=batch_size,
                                       learning_rate=lstm_learning_rate, eval_every=eval_every,
                                       validation_size=validation_size)
        runs.append(AttentionRun("LSTM", seed, count_parameters(lstm.model), lstm.eval_steps,
                                 lstm.val_mse, lstm.seconds, lstm.model))
        runs.append(_train_attention(seed, length, steps, batch_size, attention_learning_rate,
                                     eval_every, validation_size, model_kwargs))
    return runs
