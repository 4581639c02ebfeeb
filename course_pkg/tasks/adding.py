"""The adding problem: a tanh RNN against the LSTM and the GRU (chapters 5 and 6).

The task (`course_pkg.data.synthetic.adding_problem`, Hochreiter & Schmidhuber 1997, in the form
of Le, Jaitly & Hinton 2015): read T pairs (value, marker) and output the sum of the two values
whose marker is 1, one in each half of the sequence. Predicting the mean, ``y_hat = 1``, scores

    MSE_baseline = Var(v_i + v_j) = 2 * (1/12) = 1/6 ~ 0.167,

so a model whose MSE stays there has learnt nothing about the markers. To do better it must carry
the first marked value across up to T - 1 steps: a long-term dependency.

The setup follows the one Le et al. (2015) use, scaled to a CPU: one recurrent layer with H = 32
units (`course_pkg.models.sequence_regressor.SequenceRegressor`), Adam with learning rate 1e-2,
gradient clipping by global norm 1 (Pascanu et al. 2013), the mean squared error on a fresh
batch of examples at every step, and a fixed validation set of 1000 sequences.

What this module measures, for the chapters to print:

- :func:`fit_adding`: the training recipe for any many-to-one model (its optimiser, batches and
  validation set), returning the `course_pkg.training.History`;
- :func:`train_adding` / :func:`run_adding`: training runs of `SequenceRegressor` (one per cell
  and seed), with the validation MSE every ``eval_every`` steps (:class:`AddingRun`);
- :func:`final_mse_table`: the final validation MSE per model and seed, mean and spread;
- :func:`marker_gradients`: ``d y_hat / d v`` at the two marked steps; both are 1 for a model
  that has solved the task, and the one at the first marker is where a vanishing gradient shows;
- :func:`time_train_steps`: measured seconds for one forward + backward pass.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

from course_pkg.data.synthetic import adding_problem
from course_pkg.models.sequence_regressor import RECURRENT_LAYERS, SequenceRegressor
from course_pkg.text_tables import mean_and_spread, seed_cells, text_table
from course_pkg.training import History, evaluate, train
from course_pkg.validation import (
    require_choice,
    require_in_range,
    require_positive_int,
    require_seed,
)

__all__ = ["BASELINE_MSE", "VALIDATION_SEED", "CELL_NAMES", "AddingRun", "adding_loss",
           "fit_adding", "train_adding", "run_adding", "runs_of", "final_mse_table", "steps_to_reach",
           "plot_validation_curves", "marker_gradients", "time_train_steps"]

BASELINE_MSE = 1.0 / 6.0   # MSE of always predicting the mean, 1
VALIDATION_SEED = 2015     # one validation set for every run of a given length
CELL_NAMES = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM", "sru": "SRU"}


@dataclass
class AddingRun:
    """One training run on the adding problem: the model and its training `History`."""

    cell: str                   # a key of CELL_NAMES: "rnn", "gru", "lstm" or "sru"
    seed: int                   # seeds the initial weights and the training batches
    length: int                 # T
    model: SequenceRegressor    # the trained network
    history: History = field(default_factory=History)

    @property
    def train_losses(self) -> list[float]:
        """Batch MSE of every step."""
        return self.history.losses

    @property
    def eval_steps(self) -> list[int]:
        """0, eval_every, 2 eval_every, ..., the last step."""
        return self.history.eval_steps

    @property
    def val_mse(self) -> list[float]:
        """Validation MSE at ``eval_steps``."""
        return self.history.eval_losses

    @property
    def seconds(self) -> float:
        """Wall time of the training steps (evaluations not included)."""
        return self.history.seconds

    @property
    def final_mse(self) -> float:
        """Validation MSE at the end of training."""
        return self.val_mse[-1]


def adding_loss(model, batch):
    """Mean squared error of a many-to-one model on an adding-problem batch ``(x, y)``."""
    x, y = batch                                  # (T, B, 2), (B,)
    return F.mse_loss(model(x).squeeze(-1), y)    # model(x): (B, 1)


def _require_cell(cell):
    require_choice("cell", cell, tuple(RECURRENT_LAYERS))


def fit_adding(model: torch.nn.Module, seed: int, length: int = 50, steps: int = 800,
               batch_size: int = 64, learning_rate: float = 1e-2, clip_norm: float = 1.0,
               eval_every: int = 50, validation_size: int = 1000,
               dtype: torch.dtype = torch.float32) -> History:
    """Train ``model`` (x (T, B, 2) -> y_hat (B, 1)) on the adding problem; return its `History`.

    Adam with ``learning_rate``, global-norm clipping at ``clip_norm``, `adding_loss` on a fresh
    batch of ``batch_size`` sequences of length ``length`` per step, drawn from a generator
    seeded with ``seed`` (so models trained with the same seed see the same batches), and the
    validation MSE every ``eval_every`` steps on ``validation_size`` sequences drawn with
    `VALIDATION_SEED`, the same for every model and seed.
    """
    require_seed("seed", seed)
    for name, value in (("length", length), ("steps", steps), ("batch_size", batch_size),
                        ("eval_every", eval_every), ("validation_size", validation_size)):
        require_positive_int(name, value)
    require_in_range("learning_rate", learning_rate, 0.0, 10.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    data = torch.Generator().manual_seed(seed)
    validation = [adding_problem(validation_size, length, seed=VALIDATION_SEED, dtype=dtype)]

    def batches():  # a fresh batch at every step
        return adding_problem(batch_size, length, generator=data, dtype=dtype)

    return train(model, batches, adding_loss, optimizer, steps, clip_norm=clip_norm,
                 progress=False, eval_every=eval_every,
                 evaluate_fn=lambda m: evaluate(m, validation, adding_loss))


def train_adding(
    cell: str,
    seed: int = 0,
    length: int = 50,            # T, the sequence length
    hidden_size: int = 32,       # H
    steps: int = 800,            # optimisation steps, one fresh batch each
    batch_size: int = 64,
    learning_rate: float = 1e-2,
    clip_norm: float = 1.0,      # global-norm clipping threshold
    eval_every: int = 50,        # validation MSE every this many steps
    validation_size: int = 1000,
    dtype: torch.dtype = torch.float32,
) -> AddingRun:
    """Train a `SequenceRegressor` of type ``cell`` on the adding problem (`fit_adding`); return
    an `AddingRun`.

    The initial weights come from ``torch.manual_seed(seed)``, the training batches from a
    generator seeded with ``seed`` too, so two calls with the same arguments give the same run.
    The validation set (``validation_size`` sequences of length ``length``) is drawn with
    `VALIDATION_SEED`, the same for every cell and seed.
    """
    _require_cell(cell)
    require_seed("seed", seed)
    require_positive_int("hidden_size", hidden_size)
    torch.manual_seed(seed)
    model = SequenceRegressor(cell, input_size=2, hidden_size=hidden_size).to(dtype)
    history = fit_adding(model, seed, length, steps, batch_size, learning_rate, clip_norm,
                         eval_every, validation_size, dtype)
    return AddingRun(cell, seed, length, model, history)


def run_adding(cells: Iterable[str], seeds: Iterable[int], **settings) -> list[AddingRun]:
    """`train_adding` for every cell and seed (cells outermost); ``settings`` go to each call."""
    cells, seeds = list(cells), list(seeds)
    for cell in cells:
        _require_cell(cell)
    return [train_adding(cell, seed, **settings) for cell in cells for seed in seeds]


def runs_of(runs: Sequence[AddingRun], cell: str) -> list[AddingRun]:
    """The runs of one cell type, in seed order."""
    return sorted((r for r in runs if r.cell == cell), key=lambda r: r.seed)


def steps_to_reach(run: AddingRun, threshold: float) -> int | None:
    """The first evaluation step at which the validation MSE is below ``threshold`` (or None)."""
    for step, mse in zip(run.eval_steps, run.val_mse):
        if mse < threshold:
            return step
    return None


def final_mse_table(runs: Sequence[AddingRun], threshold: float = 2e-3) -> str:
    """An aligned text table: final validation MSE per model (rows) and seed (columns), with
    the mean, the sample standard deviation over seeds ("-" for a single seed), how many seeds
    end below ``threshold``, and the baseline 1/6 as the last row."""
    if not runs:
        raise ValueError("runs: expected at least one AddingRun, got none")
    cells = list(dict.fromkeys(r.cell for r in runs))          # first-seen order
    seeds = sorted({r.seed for r in runs})
    header = ["model", *(f"seed {s}" for s in seeds), "mean", "std", f"below {threshold:g}"]
    rows = []
    for cell in cells:
        by_seed = {r.seed: r.final_mse for r in runs_of(runs, cell)}
        values = list(by_seed.values())
        mean, spread = mean_and_spread(values)
        below = sum(v < threshold for v in values)
        rows.append([CELL_NAMES[cell], *seed_cells(by_seed, seeds, digits=4), f"{mean:.4f}",
                     "-" if math.isnan(spread) else f"{spread:.4f}", f"{below}/{len(values)}"])
    rows.append(["predict 1", *[f"{BASELINE_MSE:.4f}"] * len(seeds), f"{BASELINE_MSE:.4f}",
                 "0", "-"])
    return text_table(header, rows)


def plot_validation_curves(runs: Sequence[AddingRun], ax=None):
    """Validation MSE against step for every run (log scale), one colour per model, with the
    baseline 1/6 as a dashed line. Returns the matplotlib ``ax``."""
    import matplotlib.pyplot as plt

    ax = plt.subplots(figsize=(7, 3.5))[1] if ax is None else ax
    colours = {"rnn": "C3", "gru": "C2", "lstm": "C0"}
    labelled = set()
    for run in runs:
        label = None if run.cell in labelled else CELL_NAMES[run.cell]
        labelled.add(run.cell)
        ax.semilogy(run.eval_steps, run.val_mse, color=colours[run.cell], alpha=0.8,
                    label=label, marker=".", lw=1.2)
    ax.axhline(BASELINE_MSE, color="grey", ls="--", lw=1, label="predict the mean (1/6)")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation MSE")
    ax.legend(fontsize=8)
    return ax


def marker_gradients(model: SequenceRegressor, length: int = 50, num_examples: int = 256,
                     seed: int = VALIDATION_SEED + 1) -> tuple[float, float]:
    """``d y_hat / d v`` at the first and at the second marked step, averaged over examples.

    ``y = v_i + v_j``, so a model that has solved the task has both derivatives near 1; a model
    whose gradient vanishes over distance has the first (the marker further from the output)
    near 0. Computed by autograd on ``num_examples`` fresh sequences drawn with ``seed``.
    """
    require_positive_int("length", length)
    require_positive_int("num_examples", num_examples)
    dtype = next(model.parameters()).dtype
    x, _ = adding_problem(num_examples, length, seed=seed, dtype=dtype)   # (T, N, 2)
    x.requires_grad_(True)
    (grad_x,) = torch.autograd.grad(model(x).sum(), x)                  # (T, N, 2)
    markers = x[:, :, 1].detach()                                        # (T, N)
    half = length // 2
    d_value = grad_x[:, :, 0]                                            # (T, N) d y_hat / d v_t
    first = (d_value[:half] * markers[:half]).sum(0)                     # (N,)
    second = (d_value[half:] * markers[half:]).sum(0)                    # (N,)
    return first.mean().item(), second.mean().item()


def time_train_steps(
    cells: Sequence[str] = ("rnn", "gru", "lstm"),
    hidden_size: int = 32,
    input_size: int = 2,
    length: int = 50,
    batch_size: int = 64,
    repeats: int = 15,
    warmup: int = 3,
    implementation: str = "course",   # "course": course_pkg.nn, "torch": torch.nn (compiled loop)
    use_onednn: bool = True,          # torch only: False switches off PyTorch's oneDNN kernels
    seed: int = 0,
) -> dict[str, float]:
    """Seconds for one forward + backward pass (loss, ``backward()``) of a one-layer network of
    each type in ``cells`` with a linear head, on one batch of ``batch_size`` random sequences of
    ``length`` steps: ``{cell: seconds}``, the fastest of ``repeats`` timed passes.

    The cells take turns (one pass of each, then again), so a change in the machine's load during
    the measurement affects all of them alike; the fastest pass is the one least disturbed by
    other work (the convention of Python's ``timeit``). ``implementation="torch"`` times
    ``torch.nn.RNN``/``GRU``/``LSTM`` instead of the course's modules: the same arithmetic, with
    the loop over time in compiled code. On a CPU, PyTorch runs ``torch.nn.LSTM`` (not the GRU)
    through a fused oneDNN kernel when oneDNN is available; ``use_onednn=False`` turns that off
    for the measurement (``torch.backends.mkldnn.enabled``, restored afterwards). The course's
    LSTM is timed on its step-by-step path (``fused = False``), as its RNN and GRU.
    """
    cells = list(cells)
    if not cells:
        raise ValueError("cells: expected at least one of ['rnn', 'gru', 'lstm'], got none")
    for cell in cells:
        _require_cell(cell)
    for name, value in (("hidden_size", hidden_size), ("input_size", input_size),
                        ("length", length), ("batch_size", batch_size), ("repeats", repeats)):
        require_positive_int(name, value)
    require_choice("implementation", implementation, ("course", "torch"))
    torch_layers = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
    if implementation == "torch":
        for cell in cells:
            require_choice("cell", cell, tuple(torch_layers))   # torch.nn has no SRU
    if not isinstance(use_onednn, bool):
        raise TypeError(f"use_onednn: expected a bool, got {type(use_onednn).__name__}")
    torch.manual_seed(seed)
    models = {}
    for cell in cells:
        models[cell] = SequenceRegressor(cell, input_size=input_size, hidden_size=hidden_size)
        if implementation == "torch":
            models[cell].recurrent = torch_layers[cell](input_size, hidden_size)
        elif cell == "lstm":            # step by step like the course's RNN and GRU, not the
            models[cell].recurrent.fused = False        # LSTM's fast path (fused_lstm)
    x = torch.rand(length, batch_size, input_size)      # (T, B, D)
    y = torch.rand(batch_size)                          # (B,)
    seconds = {cell: [] for cell in cells}
    onednn_before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = use_onednn
    try:
        for k in range(warmup + repeats):
            for cell in cells:                          # take turns
                models[cell].zero_grad(set_to_none=True)
                start = time.perf_counter()
                adding_loss(models[cell], (x, y)).backward()
                if k >= warmup:
                    seconds[cell].append(time.perf_counter() - start)
    finally:
        torch.backends.mkldnn.enabled = onednn_before
    return {cell: min(times) for cell, times in seconds.items()}
