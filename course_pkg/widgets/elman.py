"""Chapter 2 widget: the hidden state of a small Elman RNN as the recurrent weights grow.

The same random input sequence drives two small RNNs, one with ``tanh`` and one with ``relu``,
whose recurrent matrix is ``W_hh = scale * M``. ``M`` has non-negative entries and is divided
by its largest eigenvalue (the Perron root), so ``scale`` *is* the largest eigenvalue of ``W_hh``.
With non-negative recurrent weights a positive hidden state stays positive, ReLU lets it through
unchanged, and the ReLU network behaves like repeated multiplication by ``W_hh``: it grows like
``scale**t`` when ``scale > 1``. ``tanh`` squashes every unit into ``[-1, 1]`` whatever the scale.

The states are computed with `course_pkg.numpy_rnn.rnn_forward` (Elman's update
``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from course_pkg.numpy_rnn import rnn_forward
from course_pkg.validation import require_choice, require_positive_int
from course_pkg.widgets.html_table import html_table
from course_pkg.widgets.live import LiveRange
from course_pkg.widgets.precomputed import figure_to_png, png_data_uri, precomputed_slider

__all__ = ["hidden_state_demo", "hidden_state_widget", "REPORTED_STEPS"]

#: Steps (0-based) at which the widget's table reports the largest hidden unit.
REPORTED_STEPS = (4, 9, 19, 29)


def hidden_state_demo(
    scale: float,
    nonlinearity: str = "tanh",
    num_steps: int = 30,
    hidden_size: int = 6,
    input_size: int = 2,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Run a small Elman RNN whose recurrent matrix has largest eigenvalue ``scale``.

    Weights (float64, seeded): ``M = |N(0, 1)|`` entries, ``W_hh = scale * M / rho(M)``;
    ``W_ih ~ N(0, 1) / sqrt(input_size)``; zero biases; ``h_0 = 0``; inputs ``x_t ~ N(0, 1)``.
    The same seed gives the same ``M``, ``W_ih`` and inputs for every ``scale`` and nonlinearity.

    Returns ``(states, weights, x)``: states ``(num_steps, hidden_size)``, the four weights in
    PyTorch's layout (``weight_ih`` (H, D), ``weight_hh`` (H, H), ``bias_ih``, ``bias_hh``) and
    the input ``x`` of shape ``(num_steps, 1, input_size)``.
    """
    require_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
    require_positive_int("num_steps", num_steps)
    require_positive_int("hidden_size", hidden_size)
    require_positive_int("input_size", input_size)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale >= 0:
        raise ValueError(f"scale: expected a number >= 0, got {scale!r}")
    rng = np.random.default_rng(seed)
    positive = np.abs(rng.standard_normal((hidden_size, hidden_size)))  # (H, H) entries >= 0
    perron_root = np.max(np.abs(np.linalg.eigvals(positive)))
    weights = {
        "weight_ih": rng.standard_normal((hidden_size, input_size)) / np.sqrt(input_size),
        "weight_hh": scale * positive / perron_root,  # largest eigenvalue = scale
        "bias_ih": np.zeros(hidden_size),
        "bias_hh": np.zeros(hidden_size),
    }
    x = rng.standard_normal((num_steps, 1, input_size))  # (T, B=1, D)
    h0 = np.zeros((1, hidden_size))  # (B, H)
    out, _, _ = rnn_forward(x, h0, **weights, nonlinearity=nonlinearity)  # (T, 1, H)
    return out[:, 0, :], weights, x


def _render_scale(scale: float, num_steps: int, hidden_size: int, seed: int) -> str:
    import matplotlib.pyplot as plt

    states = {f: hidden_state_demo(scale, f, num_steps, hidden_size, seed=seed)[0]
              for f in ("tanh", "relu")}
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
    steps = np.arange(num_steps)
    axes[0].plot(steps, states["tanh"], lw=1)
    axes[0].set_ylim(-1.1, 1.1)
    axes[0].set_title("tanh: every unit stays in [-1, 1]")
    largest_relu = np.abs(states["relu"]).max(axis=1)  # (T,)
    axes[1].semilogy(steps, np.maximum(largest_relu, 1e-6), color="C3")
    axes[1].set_title("relu: largest unit (log scale)")
    for ax in axes:
        ax.set_xlabel("time step t")
    axes[0].set_ylabel("hidden units")
    fig.suptitle(f"largest eigenvalue of W_hh = {scale:g}", fontsize=10)
    fig.tight_layout()
    image = png_data_uri(figure_to_png(fig))

    rows = [[t] + [f"{np.abs(states[f][t]).max():.3g}" for f in ("tanh", "relu")]
            for t in REPORTED_STEPS if t < num_steps]
    table = html_table(["step t", "largest |h_t| (tanh)", "largest |h_t| (relu)"], rows,
                       "cp-elman", cell_style="")
    return f"<img src='{image}' alt='hidden states for scale {scale:g}' style='max-width:100%'/>{table}"


def hidden_state_widget(
    scales: Sequence[float] = (0.5, 0.9, 1.0, 1.1, 1.5, 2.0, 3.0),
    num_steps: int = 30,
    hidden_size: int = 6,
    seed: int = 0,
):
    """A slider over the largest eigenvalue of ``W_hh``: tanh and ReLU hidden states side by side.

    Each view is a figure (tanh units over time; the largest ReLU unit on a log scale) and a table
    of the largest ``|h_t|`` at the steps in `REPORTED_STEPS`. At most 10 scales.
    """
    scales = [float(s) for s in scales]
    if not 1 <= len(scales) <= 10:
        raise ValueError(f"scales: expected between 1 and 10 values, got {len(scales)}")
    return precomputed_slider(
        "largest eigenvalue of W_hh",
        scales,
        lambda s: _render_scale(s, num_steps, hidden_size, seed),
        labels=[f"{s:g}" for s in scales],
        initial=0,
        caption="<b>Hidden state of an Elman RNN</b>: the same inputs, W_hh scaled up step by step.",
        live=LiveRange(0.0, 3.5, 0.01),  # in a kernel: any scale, computed on demand
    )
