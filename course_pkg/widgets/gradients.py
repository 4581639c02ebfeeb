"""Widgets of chapters 3 and 4: where the gradient goes in time, and what clipping does.

- :func:`truncation_widget` (chapter 3): the truncation window of BPTT -> which input steps
  receive gradient from which loss term (`course_pkg.gradients.elman_bptt.input_gradient_map`).
- :func:`spectral_radius_widget` (chapter 4): the scale of ``W_hh`` -> ``||dh_T/dh_{T-k}||``
  against the distance k (`course_pkg.gradients.flow.gradient_norm_over_time`).
- :func:`clipping_threshold_widget` (chapter 4): the gradient-clipping threshold -> the
  training curve of an RNN whose gradients explode
  (`course_pkg.gradients.clipping_runs.clipping_run`).

All views are computed once when the widget is built (`precomputed_slider`), so the sliders also
work in the static HTML book.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from course_pkg.widgets.live import LiveRange
from course_pkg.widgets.html_table import html_table
from course_pkg.widgets.precomputed import image_html, precomputed_slider

__all__ = ["truncation_problem", "truncation_widget", "REPORTED_DISTANCES",
           "spectral_radius_widget", "clipping_threshold_widget"]



def _check_options(name, values, allow_none):
    values = list(values)
    if not 1 <= len(values) <= 10:
        raise ValueError(f"{name}: expected between 1 and 10 values, got {len(values)}")
    for v in values:
        if v is None and allow_none:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            also = " or None" if allow_none else ""
            raise ValueError(f"{name}: expected positive numbers{also}, got {values}")
    return values


# ----------------------------------------------------------------------------------------------
# chapter 3: truncated BPTT
# ----------------------------------------------------------------------------------------------
def truncation_problem(length=24, seed=0):
    """The small seeded problem the truncation widget shows: ``(weights, x, targets)``.

    An Elman network with D = 3 inputs, H = 8 tanh units and O = 2 outputs
    (`init_elman_weights`), a batch of 4 random sequences of ``length`` steps, random targets.
    """
    from course_pkg.gradients.elman_bptt import init_elman_weights
    from course_pkg.validation import require_positive_int

    require_positive_int("length", length)
    weights = init_elman_weights(3, 8, 2, seed=seed)
    rng = np.random.default_rng([seed, 3])
    x = rng.standard_normal((length, 4, 3))                        # (T, B, D)
    targets = rng.standard_normal((length, 4, 2))                  # (T, B, O)
    return weights, x, targets


def _render_window(window, weights, x, targets):
    import matplotlib.pyplot as plt

    from course_pkg.gradients.elman_bptt import elman_gradients, input_gradient_map

    T = x.shape[0]
    grid = input_gradient_map(weights, x, targets, window=window)  # (T, T)
    shown = np.ma.masked_where(grid == 0, np.log10(np.where(grid > 0, grid, 1.0)))
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    image = ax.imshow(shown, cmap="viridis", vmin=-8, vmax=0, origin="upper")
    fig.colorbar(image, ax=ax, label="log10 ||dL_t / dx_s||  (white: exactly 0)")
    if window is not None:
        for start in range(window, T, window):
            ax.axvline(start - 0.5, color="C3", lw=0.8)
            ax.axhline(start - 0.5, color="C3", lw=0.8)
    ax.set_xlabel("input step s")
    ax.set_ylabel("loss term at step t")
    ax.set_title("full BPTT" if window is None else f"truncated BPTT, window k = {window}",
                 fontsize=10)
    fig.tight_layout()

    last_row = grid[T - 1]
    earliest = int(np.flatnonzero(last_row)[0])
    _, full = elman_gradients(weights, x, targets)
    _, cut = elman_gradients(weights, x, targets, window=window)
    dx0 = float(np.linalg.norm(cut["x"][0]))
    difference = float(np.linalg.norm(cut["weight_hh"] - full["weight_hh"])
                       / np.linalg.norm(full["weight_hh"]))
    table = html_table(
        ["window k", f"inputs reached by L_{T - 1}", "||dL/dx_0||",
         "||dW_hh - dW_hh(full)|| / ||dW_hh(full)||"],
        [["full" if window is None else window, f"steps {earliest}..{T - 1}", f"{dx0:.4e}",
          f"{difference:.4e}"]],
        "cp-truncation",
    )
    return image_html(fig, f"gradient map for window {window}") + table


def truncation_widget(windows=(1, 2, 4, 8, 12, None), length=24, seed=0):
    """A slider over the BPTT truncation window (None: full BPTT).

    Each view: the map ``||dL_t/dx_s||`` (loss term t, input step s; chunk boundaries in red)
    and a table with the input steps the last loss term reaches, the gradient that reaches the
    first input from the whole loss, and how far dW_hh is from the full-BPTT value.
    """
    windows = _check_options("windows", windows, allow_none=True)
    problem = truncation_problem(length, seed)
    labels = ["full" if w is None else str(w) for w in windows]
    return precomputed_slider(
        "truncation window k", windows, lambda w: _render_window(w, *problem), labels=labels,
        caption="<b>Truncated BPTT:</b> which input steps receive gradient from which loss term.",
        live=LiveRange(1, length, 1, integer=True, fmt="d"),  # in a kernel: every window 1..T
    )


# ----------------------------------------------------------------------------------------------
# chapter 4: gradient norm against distance in time
# ----------------------------------------------------------------------------------------------
#: Distances k at which the spectral-radius widget's table reports ||dh_T/dh_{T-k}||.
REPORTED_DISTANCES = (1, 10, 30, 60)


def _render_radius(radius, num_steps, hidden_size, seed):
    import matplotlib.pyplot as plt

    from course_pkg.gradients.flow import NONLINEARITIES, gradient_norm_over_time

    norms = {f: gradient_norm_over_time(radius, f, num_steps, hidden_size, seed=seed)
             for f in NONLINEARITIES}
    distances = np.arange(num_steps + 1)
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    ax.semilogy(distances, radius ** distances.astype(float), "k--", lw=1,
                label="bound (1 x radius)^k")
    for f in NONLINEARITIES:
        ax.semilogy(distances, np.maximum(norms[f], 1e-30), label=f)
    ax.set_ylim(1e-20, 1e20)
    ax.set_xlabel("distance in time k")
    ax.set_ylabel("||dh_T / dh_(T-k)||")
    ax.set_title(f"W_hh = {radius:g} x orthogonal", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    rows = [[f] + [f"{norms[f][k]:.3e}" for k in REPORTED_DISTANCES if k <= num_steps]
            for f in NONLINEARITIES]
    header = ["f"] + [f"k = {k}" for k in REPORTED_DISTANCES if k <= num_steps]
    return image_html(fig, f"gradient norms for radius {radius:g}") + html_table(
        header, rows, "cp-radius")


def spectral_radius_widget(radii=(0.5, 0.9, 1.0, 1.1, 1.5, 2.0), num_steps=60,
                           hidden_size=32, seed=0):
    """A slider over the scale of ``W_hh = radius * Q`` (Q orthogonal).

    Each view: ``||dh_T/dh_{T-k}||_2`` against k for a linear, a tanh and a ReLU network sharing
    W_hh, the bound ``radius ** k``, and a table of the norms at `REPORTED_DISTANCES`.
    """
    radii = [float(r) for r in _check_options("radii", radii, allow_none=False)]
    return precomputed_slider(
        "radius of W_hh", radii, lambda r: _render_radius(r, num_steps, hidden_size, seed),
        labels=[f"{r:g}" for r in radii],
        caption="<b>Gradient norm against distance in time</b> (log scale).",
        live=LiveRange(0.1, 3.0, 0.01),  # in a kernel: any radius, computed on demand
    )


# ----------------------------------------------------------------------------------------------
# chapter 4: clipping threshold -> training curve
# ----------------------------------------------------------------------------------------------
def _render_threshold(clip_norm, history, steps):
    import matplotlib.pyplot as plt

    from course_pkg.gradients.clipping_runs import first_nonfinite_step

    losses = np.array(history.losses)
    blown = first_nonfinite_step(history.losses)
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    finite = np.isfinite(losses)
    ax.semilogy(np.arange(1, len(losses) + 1)[finite], losses[finite], lw=1)
    ax.axhline(1 / 6, color="k", ls=":", lw=1, label="predict-the-mean MSE 1/6")
    if blown is not None:
        ax.axvline(blown, color="C3", lw=1, label=f"loss not finite at step {blown}")
    ax.set_xlim(0, steps)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training loss (MSE)")
    name = "no clipping" if clip_norm is None else f"clipped at global norm {clip_norm:g}"
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    norms = history.grad_norms
    clipped_share = (0.0 if clip_norm is None
                     else sum(n > clip_norm for n in norms) / len(norms))
    final = losses[-1]
    row = ["none" if clip_norm is None else f"{clip_norm:g}", len(losses),
           "-" if blown is None else blown, f"{final:.4e}" if math.isfinite(final) else str(final),
           f"{max(norms):.3e}", f"{100 * clipped_share:.1f}%"]
    table = html_table(["threshold c", "steps run", "first non-finite step", "last loss",
                         "largest gradient norm", "steps clipped"], [row], "cp-clipping")
    return image_html(fig, f"training curve, {name}") + table


def clipping_threshold_widget(thresholds: Sequence[float | None] = (None, 10.0, 1.0, 0.1),
                              steps=100, hidden_size=64, seed=0):
    """A slider over the clipping threshold (None: no clipping) of an exploding tanh RNN.

    Each view is the training curve of `course_pkg.gradients.clipping_runs.clipping_run`
    with that threshold (same initial weights and batches for all) and a table: steps run,
    the first non-finite step, the last loss, the largest gradient norm, the share of steps
    that were clipped.
    """
    from course_pkg.gradients.clipping_runs import clipping_run

    thresholds = _check_options("thresholds", thresholds, allow_none=True)
    labels = ["none" if c is None else f"{c:g}" for c in thresholds]

    def render(clip_norm):  # one training run per threshold (the same weights and batches)
        history = clipping_run(clip_norm, steps=steps, hidden_size=hidden_size, seed=seed)[1]
        return _render_threshold(clip_norm, history, steps)

    return precomputed_slider(
        "clipping threshold c", thresholds, render, labels=labels,
        caption="<b>SGD on an RNN with W_hh = 1.5 x orthogonal</b>, clipped at different "
                "thresholds.",
        live=LiveRange(0.01, 100.0, 0.05, log=True),  # in a kernel: any threshold, log scale
    )
