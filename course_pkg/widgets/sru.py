"""How long an SRU cell remembers, as a function of its forget-gate bias (chapter 16).

SRU's cell update (Lei et al. 2018, eq. 4-5) is ``c_t = f_t c_{t-1} + (1 - f_t) x~_t`` with
``f_t = sigmoid(W_f x_t + v_f c_{t-1} + b_f)``. Write a value once (``x~_1 = 1``, so
``c_1 = 1 - f``) and feed zeros afterwards, with ``W_f x = 0`` and ``v_f = 0``: then
``f = sigmoid(b_f)`` at every step and ``c_t = (1 - f) f^(t-1)``, which halves every
``ln(1/2) / ln(f)`` steps. The widget runs `course_pkg.nn.sru.sru_cell_states` on this input for
a few values of ``b_f`` and shows the fraction kept, ``c_t / c_1``, and the half-life.
"""

from __future__ import annotations

import math
from typing import Sequence

import ipywidgets as widgets
import torch

from course_pkg.nn.sru import sru_cell_states
from course_pkg.validation import require_positive_int
from course_pkg.widgets.live import LiveRange
from course_pkg.widgets.precomputed import figure_to_png, png_data_uri, precomputed_slider

__all__ = ["pulse_cell_trace", "forget_bias_widget"]


def pulse_cell_trace(forget_bias: float, steps: int = 60) -> torch.Tensor:
    """c_1..c_T of one SRU unit after writing x~_1 = 1 and then zeros, with f = sigmoid(b_f).

    Returns a float64 tensor of shape (steps,)."""
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float)) \
            or not math.isfinite(forget_bias):
        raise TypeError(f"forget_bias: expected a finite number, got {forget_bias!r}")
    require_positive_int("steps", steps)
    x_tilde = torch.zeros(steps, 1, 1, dtype=torch.float64)           # (T, B=1, H=1)
    x_tilde[0] = 1.0
    f_pre = torch.full_like(x_tilde, float(forget_bias))              # W_f x + b_f = b_f
    v_f = torch.zeros(1, dtype=torch.float64)
    c0 = torch.zeros(1, 1, dtype=torch.float64)
    return sru_cell_states(x_tilde, f_pre, v_f, c0)[:, 0, 0]          # (T,)


def _render(forget_bias: float, steps: int) -> str:
    import matplotlib.pyplot as plt

    trace = pulse_cell_trace(forget_bias, steps)
    forget = 1.0 / (1.0 + math.exp(-forget_bias))
    half_life = math.log(0.5) / math.log(forget)
    fig, ax = plt.subplots(figsize=(5.0, 2.4))
    kept = trace / trace[0]                                           # c_t / c_1 = f^(t-1)
    ax.plot(range(1, steps + 1), kept.numpy(), marker=".", lw=1)
    ax.axhline(0.5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("step t")
    ax.set_ylabel("c_t / c_1 (fraction kept)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"b_f = {forget_bias:g}")
    image = png_data_uri(figure_to_png(fig))
    return (f"<div><p>forget gate f = sigmoid(b_f) = <b>{forget:.4f}</b>; written value "
            f"c_1 = 1 - f = <b>{trace[0].item():.4f}</b>; half-life "
            f"<b>{half_life:.2f}</b> steps; c_{steps} = <b>{trace[-1].item():.3e}</b></p>"
            f"<img src='{image}'/></div>")


def forget_bias_widget(biases: Sequence[float] = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0),
                       steps: int = 60) -> widgets.VBox:
    """A slider over the forget-gate bias b_f; each view shows c_t after a single write and the
    half-life ``ln(1/2) / ln(sigmoid(b_f))`` in steps."""
    biases = [float(b) for b in biases]
    require_positive_int("steps", steps)
    for b in biases:
        if not math.isfinite(b):
            raise ValueError(f"biases: expected finite numbers, got {b}")
    return precomputed_slider(
        "forget bias", biases, lambda b: _render(b, steps), labels=[f"{b:g}" for b in biases],
        caption="One SRU unit: write a 1 at step 1, then zeros. How long does c_t keep it?",
        live=LiveRange(-4.0, 8.0, 0.05))  # in a kernel: any bias, computed on demand
