"""SRU against the LSTM: arithmetic per step, measured time, and accuracy (chapter 16).

Lei, Zhang, Wang, Dai & Artzi (2018), *Simple Recurrent Units for Highly Parallelizable
Recurrence*, claim that taking the previous state out of the matrix products makes a recurrent
layer much faster while keeping it as accurate. This module gives the chapter three measurements:

- :func:`sequential_flops`: floating-point operations per step and per sequence that must wait
  for the previous step (the serial part) and those that can be done for all steps at once, for
  an LSTM layer (the ``W_hh h_{t-1}`` product is serial: ``8 H^2``) and an SRU layer (only
  element-wise work is serial: a few ``H``);
- :func:`time_forward_backward`: measured seconds of one forward + backward pass of
  ``course_pkg.nn.SRU``, ``course_pkg.nn.LSTM`` and ``torch.nn.LSTM``, taking turns in an order
  shuffled for every repeat (as ``benchmarks/sru_speed.py`` does), reported as medians;
- :func:`train_adding_sru_lstm`: the adding problem of chapter 5 trained with an SRU and with an
  LSTM under the same settings (:class:`SRURun` per model and seed; :func:`final_mse_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.data.synthetic import adding_problem
from course_pkg.experiments.adding import BASELINE_MSE, VALIDATION_SEED
from course_pkg.experiments.timing import median_pass_seconds
from course_pkg.nn.recurrent import LSTM
from course_pkg.nn.sru import SRU
from course_pkg.training import evaluate, train
from course_pkg.validation import require_choice, require_in_range, require_positive_int

__all__ = ["MODEL_NAMES", "sequential_flops", "time_forward_backward", "LastStepRegressor",
           "SRURun", "train_adding_sru_lstm", "final_mse_rows"]

MODEL_NAMES = {"sru": "SRU", "lstm": "LSTM"}
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
                          seed: int = 0) -> dict[int, dict[str, float]]:
    """Median seconds of one forward + backward pass, per sequence length and implementation.

    For each T in ``lengths``: a one-layer ``course_pkg.nn.SRU``, ``course_pkg.nn.LSTM`` and
    ``torch.nn.LSTM`` (D = H = ``hidden_size``, float32) read the same input x (T, B, H); the
    backward pass starts from a fixed random upstream gradient and gives gradients for x and
    every weight. The three take turns, in an order shuffled afresh (seeded) for every repeat
    by ``course_pkg.experiments.timing``, so a change in the machine's load hits all alike.
    Returns ``{T: {name: median seconds}}`` with the names of ``TIMED_NAMES``.
    """
    lengths = list(lengths)
    if not lengths:
        raise ValueError("lengths: expected at least one sequence length, got none")
    for T in lengths:
        require_positive_int("lengths", T)
    for name, value in (("batch_size", batch_size), ("hidden_size", hidden_size),
                        ("repeats", repeats)):
        require_positive_int(name, value)
    torch.manual_seed(seed)
    H = hidden_size
    course_lstm = LSTM(H, H)
    course_lstm.fused = False        # the step-by-step path, autograd backward, like the SRU's
    modules = dict(zip(TIMED_NAMES, (SRU(H, H), course_lstm, nn.LSTM(H, H))))
    results = {}
    for T in lengths:
        x = torch.randn(T, batch_size, H, requires_grad=True)        # (T, B, H)
        upstream = torch.randn(T, batch_size, H)                      # dL/d output, (T, B, H)
        results[T] = median_pass_seconds(modules, x, upstream, repeats, warmup)
    return results


# ----------------------------------------------------------------------------------------------
# accuracy on the adding problem
# ----------------------------------------------------------------------------------------------
class LastStepRegressor(nn.Module):
    """A recurrent layer (``"sru"``: `course_pkg.nn.SRU`; ``"lstm"``: `course_pkg.nn.LSTM`) and a
    linear head on its last output: x (T, B, D) -> y_hat (B, O)."""

    def __init__(self, kind: str, input_size: int = 2, hidden_size: int = 32,
                 num_layers: int = 1, output_size: int = 1) -> None:
        super().__init__()
        require_choice("kind", kind, tuple(MODEL_NAMES))
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers), ("output_size", output_size)):
            require_positive_int(name, value)
        self.kind = kind
        layer = SRU if kind == "sru" else LSTM
        self.recurrent = layer(input_size, hidden_size, num_layers=num_layers)
        self.head = nn.Linear(hidden_size, output_size)               # (O, H)

    def forward(self, x: Tensor) -> Tensor:
        states, _ = self.recurrent(x)                                 # (T, B, H)
        return self.head(states[-1])                                  # (B, O)


@dataclass
class SRURun:
    """One training run on the adding problem."""

    kind: str                   # "sru" or "lstm"
    seed: int
    model: LastStepRegressor
    eval_steps: list[int] = field(default_factory=list)
    val_mse: list[float] = field(default_factory=list)
    seconds: float = 0.0        # wall time of the training steps

    @property
    def final_mse(self) -> float:
        return self.val_mse[-1]


def _adding_loss(model, batch):
    x, y = batch                                                      # (T, B, 2), (B,)
    return F.mse_loss(model(x).squeeze(-1), y)


def train_adding_sru_lstm(kinds: Sequence[str] = ("sru", "lstm"), seeds: Sequence[int] = (0,),
                          length: int = 50, hidden_size: int = 32, num_layers: int = 1,
                          steps: int = 600, batch_size: int = 64, learning_rate: float = 1e-2,
                          clip_norm: float = 1.0, eval_every: int = 50,
                          validation_size: int = 500) -> list[SRURun]:
    """Train a `LastStepRegressor` of each kind and seed on the adding problem (chapter 5's
    settings: Adam, global-norm clipping, a fresh batch per step); return the `SRURun` s.

    ``torch.manual_seed(seed)`` fixes the initial weights and a generator seeded with ``seed``
    the batches, so an SRU and an LSTM with the same seed see the same data; all runs are scored
    on one validation set drawn with `VALIDATION_SEED`.
    """
    kinds, seeds = list(kinds), list(seeds)
    if not kinds or not seeds:
        raise ValueError(f"kinds, seeds: expected at least one of each, got {kinds}, {seeds}")
    for kind in kinds:
        require_choice("kind", kind, tuple(MODEL_NAMES))
    for name, value in (("length", length), ("hidden_size", hidden_size),
                        ("num_layers", num_layers), ("steps", steps),
                        ("batch_size", batch_size), ("eval_every", eval_every),
                        ("validation_size", validation_size)):
        require_positive_int(name, value)
    require_in_range("learning_rate", learning_rate, 0.0, 10.0)
    validation = [adding_problem(validation_size, length, seed=VALIDATION_SEED)]
    runs = []
    for kind in kinds:
        for seed in seeds:
            torch.manual_seed(seed)
            model = LastStepRegressor(kind, 2, hidden_size, num_layers)
            optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
            data = torch.Generator().manual_seed(seed)
            run = SRURun(kind, seed, model, [0], [evaluate(model, validation, _adding_loss)])
            while run.eval_steps[-1] < steps:
                chunk = min(eval_every, steps - run.eval_steps[-1])
                history = train(model, lambda: adding_problem(batch_size, length, generator=data),
                                _adding_loss, optimizer, chunk, clip_norm=clip_norm,
                                progress=False)
                run.seconds += history.seconds
                run.eval_steps.append(run.eval_steps[-1] + len(history.losses))
                run.val_mse.append(evaluate(model, validation, _adding_loss))
                if len(history.losses) < chunk:                       # non-finite loss
                    break
            runs.append(run)
    return runs


def final_mse_rows(runs: Sequence[SRURun]) -> str:
    """An aligned text table: one row per run (model, seed, final validation MSE, training
    seconds), then the predict-the-mean baseline 1/6."""
    if not runs:
        raise ValueError("runs: expected at least one SRURun, got none")
    lines = [f"{'model':<10}{'seed':>5}{'final MSE':>12}{'train s':>9}"]
    for run in runs:
        lines.append(f"{MODEL_NAMES[run.kind]:<10}{run.seed:>5}{run.final_mse:>12.4f}"
                     f"{run.seconds:>9.1f}")
    lines.append(f"{'predict 1':<10}{'-':>5}{BASELINE_MSE:>12.4f}{'-':>9}")
    return "\n".join(lines)
