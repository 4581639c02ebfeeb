"""Chapter 15's widget: the Mogrifier's rounds, one slider step per round.

For a fixed input ``x`` (D,) and previous state ``h`` (H,), and the round matrices of one
`MogrifierLSTMCell`, the slider picks how many rounds r = 0..5 are run (Melis et al. 2019, eq. 1-2)::

    round i odd:   x <- 2 sigmoid(Q^i h) * x        factor per input feature  (D,)
    round i even:  h <- 2 sigmoid(R^i x) * h        factor per state unit     (H,)

Each view shows the factors ``2 sigmoid(.)`` of the rounds run so far as two heatmaps (white = 1,
no change; grey = a round not run, or one that updates the other vector) and a table of the overall factors ``x^up / x`` and
``h^up / h`` per feature. With r = 0 every factor is 1: the cell is a plain LSTM.

In a live kernel (`course_pkg.widgets.live.widget_mode`) a second, continuous slider sets the
gain on the round matrices (any value in 0..8), and the factors are computed there for it.
"""

from __future__ import annotations

import html

import numpy as np
import torch

from course_pkg.nn.mogrifier import MogrifierLSTMCell
from course_pkg.validation import require_in_range, require_positive_int
from course_pkg.widgets.html_table import Cell, html_table
from course_pkg.widgets.live import LiveRange, live_controls, widget_mode
from course_pkg.widgets.precomputed import figure_to_png, png_data_uri, precomputed_slider

__all__ = ["round_factors", "mogrifier_rounds_widget"]

MAX_ROUNDS = 5


def round_factors(x: torch.Tensor, h: torch.Tensor, q_matrices: list[torch.Tensor],
                  r_matrices: list[torch.Tensor], rounds: int) -> list[tuple[str, torch.Tensor]]:
    """The factors ``2 sigmoid(.)`` of the first ``rounds`` rounds, as ``("x", (D,))`` or
    ``("h", (H,))`` pairs in round order; ``x`` (D,), ``h`` (H,), Q^i (D, H), R^i (H, D)."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"rounds: expected an int >= 0, got {rounds!r}")
    if rounds > len(q_matrices) + len(r_matrices):
        raise ValueError(f"rounds: expected at most {len(q_matrices) + len(r_matrices)} "
                         f"(the matrices given), got {rounds}")
    factors = []
    for round_index in range(rounds):
        if round_index % 2 == 0:                                   # rounds 1, 3, 5: rescale x
            factor = 2 * torch.sigmoid(q_matrices[round_index // 2] @ h)            # (D,)
            x = factor * x
            factors.append(("x", factor))
        else:                                                      # rounds 2, 4: rescale h
            factor = 2 * torch.sigmoid(r_matrices[round_index // 2] @ x)            # (H,)
            h = factor * h
            factors.append(("h", factor))
    return factors


def _overall(factors: list[tuple[str, torch.Tensor]], which: str, size: int) -> np.ndarray:
    total = torch.ones(size, dtype=torch.float64)
    for name, factor in factors:
        if name == which:
            total = total * factor
    return total.numpy()


def _render(x, h, q_matrices, r_matrices, rounds: int) -> str:
    import matplotlib.pyplot as plt

    D, H = x.numel(), h.numel()
    factors = round_factors(x, h, q_matrices, r_matrices, rounds)
    grids = {"x": np.full((MAX_ROUNDS, D), np.nan), "h": np.full((MAX_ROUNDS, H), np.nan)}
    for index, (name, factor) in enumerate(factors):
        grids[name][index] = factor.numpy()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 2.6),
                             gridspec_kw={"width_ratios": [D, H]})
    colours = plt.get_cmap("RdBu_r").with_extremes(bad="0.8")  # grey: round did not touch it
    for ax, name in zip(axes, ("x", "h")):
        image = ax.imshow(np.ma.masked_invalid(grids[name]), cmap=colours, vmin=0.0, vmax=2.0, aspect="auto")
        ax.set_yticks(range(MAX_ROUNDS), [f"round {i + 1}" for i in range(MAX_ROUNDS)],
                      fontsize=7)
        ax.set_xlabel(f"feature of {name}", fontsize=8)
        ax.set_title(f"factor on {name}: 2 sigmoid(.)", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8)
    png = figure_to_png(fig)
    rows = [[Cell(f"{html.escape(name)}<sup>up</sup> / {name}", header=True)]
            + [f"{value:.3f}" for value in _overall(factors, name, size)]
            for name, size in (("x", D), ("h", H))]
    table = html_table([""] + list(range(max(D, H))), rows, style="", cell_style="")
    return (f"<img src='{png_data_uri(png)}' alt='mogrifier factors, {rounds} rounds'/>"
            f"<p>{rounds} round(s): overall factor per feature</p>{table}")


def mogrifier_rounds_widget(input_size: int = 8, hidden_size: int = 6, gain: float = 3.0,
                            seed: int = 0):
    """A slider over r = 0..5 rounds for one fixed (x, h) and one `MogrifierLSTMCell`.

    The cell is built after ``torch.manual_seed(seed)`` (float64) and its round matrices are
    multiplied by ``gain`` so that the factors differ visibly from 1, as they may after training;
    ``x`` ~ N(0, 1) (D,) and ``h = tanh(N(0, 1))`` (H,) are drawn after the cell.

    Live mode: the rounds slider and a continuous gain slider (0..8), computed in the kernel.
    """
    require_positive_int("input_size", input_size)
    require_positive_int("hidden_size", hidden_size)
    require_in_range("gain", gain, 0.0, 100.0)
    torch.manual_seed(seed)
    cell = MogrifierLSTMCell(input_size, hidden_size, rounds=MAX_ROUNDS).double()
    with torch.no_grad():
        q_matrices, r_matrices = cell.round_matrices()
        q_matrices = [gain * q for q in q_matrices]
        r_matrices = [gain * r for r in r_matrices]
        x = torch.randn(input_size, dtype=torch.float64)                    # (D,)
        h = torch.tanh(torch.randn(hidden_size, dtype=torch.float64))       # (H,)
        if widget_mode() == "live":
            base_q, base_r = cell.round_matrices()

            def render(rounds, live_gain):
                with torch.no_grad():
                    return _render(x, h, [live_gain * q for q in base_q],
                                   [live_gain * r for r in base_r], rounds)

            return live_controls(
                [("rounds", LiveRange(0, MAX_ROUNDS, 1, integer=True, fmt="d"), 0),
                 ("gain on Q and R", LiveRange(0.0, 8.0, 0.05, fmt=".2f"), float(gain))],
                render,
                caption="Odd rounds rescale the input x, even rounds the state h; the gain "
                        "scales every round matrix (computed in the kernel). White: factor 1, "
                        "red: larger, blue: smaller; grey: round not run or it rescales the "
                        "other vector.")
        return precomputed_slider(
            "rounds", list(range(MAX_ROUNDS + 1)),
            lambda r: _render(x, h, q_matrices, r_matrices, r),
            caption="Odd rounds rescale the input x, even rounds the state h "
                    "(white: factor 1, red: larger, blue: smaller; grey: round not run "
                    "or it rescales the other vector).")
