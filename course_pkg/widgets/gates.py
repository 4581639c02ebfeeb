"""Widgets of chapters 5 and 6: what the gates of an LSTM and a GRU do over time.

- :func:`lstm_gates_widget` (chapter 5): a slider over adding-problem sequences; each view shows
  the input, forget and output gates of every unit of an LSTM (`SequenceRegressor` with
  ``cell="lstm"``, trained or not) at every time step, its cell states, and a table of the gate
  values at the two marked steps and elsewhere, averaged over the units and for the unit that
  stored the first marked value (`course_pkg.gate_traces.lstm_gate_trace`).
- :func:`gru_memory_widget` (chapter 6): a slider over the bias of a GRU's update gate; each view
  shows how long a one-unit GRU (`course_pkg.models.hand_set_gru.memory_gru`) holds a stored
  value when ``z = sigmoid(bias)``, with the number of steps measured until it falls below one
  half and one tenth of what was stored.

All views are computed when the widget is built (`precomputed_slider`), so the sliders also work
in the static HTML book. In a live kernel (`course_pkg.widgets.live.widget_mode`) the LSTM
widget draws any adding-problem sequence (a seed and a length slider) and runs the model on it
there, and the GRU widget takes any bias.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from course_pkg.validation import require_positive_int
from course_pkg.widgets.html_table import html_table
from course_pkg.widgets.live import LiveRange, live_controls, widget_mode
from course_pkg.widgets.precomputed import image_html, precomputed_slider

__all__ = ["lstm_gates_widget", "marked_steps", "memory_unit", "gate_summary",
           "gru_memory_widget", "memory_curve", "steps_below"]



# ----------------------------------------------------------------------------------------------
# chapter 5: the gates of an LSTM on the adding problem
# ----------------------------------------------------------------------------------------------
def marked_steps(markers, example):
    """The two marked steps of column ``example`` of the marker channel ``markers`` (T, B)."""
    marked = np.flatnonzero(np.asarray(markers)[:, example] > 0.5)
    if len(marked) != 2:
        raise ValueError(f"markers: expected exactly two marked steps in example {example}, "
                         f"got {len(marked)}")
    return int(marked[0]), int(marked[1])


def memory_unit(trace, markers):
    """The unit whose input gate opens most selectively at the marked steps: the largest
    ``mean(i at marked steps) - mean(i at the other steps)`` over all examples. In a trained LSTM
    this is a unit that writes the marked values into its cell and ignores the rest."""
    marked = np.asarray(markers) > 0.5                                # (T, B)
    gate = trace.input_gate                                           # (T, B, H)
    at_markers = gate[marked].mean(axis=0)                            # (H,)
    elsewhere = gate[~marked].mean(axis=0)                            # (H,)
    return int(np.argmax(at_markers - elsewhere))


def gate_summary(trace, markers, example, unit=None):
    """Gate values of one example at the first marked step, at the second, and averaged over all
    other steps: the mean over all units (``unit=None``) or one unit's values.

    ``trace`` an `LSTMTrace`, ``markers`` (T, B) the marker channel, ``example`` the column b.
    Returns ``{gate: (first, second, elsewhere)}`` for ``"input"``, ``"forget"``, ``"output"``.
    """
    marked = list(marked_steps(markers, example))
    others = np.setdiff1d(np.arange(len(markers)), marked)
    summary = {}
    for name in ("input", "forget", "output"):
        gate = getattr(trace, f"{name}_gate")[:, example, :]         # (T, H)
        gate = gate.mean(axis=1) if unit is None else gate[:, unit]  # (T,)
        summary[name] = (float(gate[marked[0]]), float(gate[marked[1]]),
                         float(gate[others].mean()))
    return summary


def _render_example(example, trace, x, y, predictions, unit):
    import matplotlib.pyplot as plt

    values = x[:, example, 0].numpy()                                # (T,)
    markers = x[:, :, 1].numpy()                                     # (T, B)
    marked = marked_steps(markers, example)
    T = len(values)
    steps = np.arange(T)

    fig, axes = plt.subplots(5, 1, figsize=(7.5, 7.6), sharex=True,
                             gridspec_kw={"height_ratios": [1, 1.3, 1.3, 1.3, 1.2]})
    colours = np.where(markers[:, example] > 0.5, "C3", "0.7")
    axes[0].bar(steps, values, color=colours, width=0.8)
    axes[0].set_ylabel("value v_t")
    axes[0].set_title(f"target {y[example]:.3f}, LSTM predicts {predictions[example]:.3f} "
                      f"(red: marked values)", fontsize=10)
    for ax, name in zip(axes[1:4], ("input", "forget", "output")):
        gate = getattr(trace, f"{name}_gate")[:, example, :].T       # (H, T)
        image = ax.imshow(gate, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                          interpolation="nearest")
        ax.set_ylabel(f"{name} gate\nunit", fontsize=9)
    fig.colorbar(image, ax=list(axes[1:4]), label="gate value", fraction=0.03, pad=0.01)
    axes[4].plot(steps, trace.cell[:, example, :], lw=0.8)
    axes[4].set_ylabel("cell state c_t")
    axes[4].set_xlabel("time step t")
    axes[4].plot(steps, trace.cell[:, example, unit], color="k", lw=2,
                 label=f"unit {unit} (input gate most selective for the markers)")
    axes[4].legend(fontsize=8, loc="upper left")
    for ax in (axes[0], axes[4]):
        for t in marked:
            ax.axvline(t, color="C3", lw=0.8, ls=":")
    axes[4].set_xlim(-0.5, T - 0.5)

    rows = []
    for who, which in (("mean over units", None), (f"unit {unit}", unit)):
        summary = gate_summary(trace, markers, example, unit=which)
        rows += [[who, f"{name} gate", f"{a:.3f}", f"{b:.3f}", f"{c:.3f}"]
                 for name, (a, b, c) in summary.items()]
    table = html_table(
        ["units", "gate", f"first marker (t = {marked[0]})",
         f"second marker (t = {marked[1]})", "other steps (mean)"], rows, "cp-lstm-gates")
    return image_html(fig, f"LSTM gates on example {example}") + table


def lstm_gates_widget(model, num_examples: int = 5, length: int = 50, seed: int = 7):
    """A slider over ``num_examples`` adding-problem sequences (length ``length``, drawn with
    ``seed``) run through ``model``, a `SequenceRegressor` with ``cell="lstm"``.

    Each view: the values (marked ones in red) with the target and the prediction; heat maps of
    the input, forget and output gates (unit by time step, 0 to 1); the cell states, the
    `memory_unit` in black; and a table of the gate values at the two marked steps and at the
    other steps (`gate_summary`), averaged over the units and for the memory unit.

    Live mode: a seed slider (0..9999) and a length slider (10..200) draw one sequence
    ``adding_problem(1, length, seed=seed)``, which the model reads in the kernel; the memory
    unit stays the one found on the ``num_examples`` sequences above.
    """
    from course_pkg.data.synthetic import adding_problem
    from course_pkg.gate_traces import lstm_gate_trace

    if getattr(model, "cell", None) != "lstm":
        raise TypeError(f"model: expected a SequenceRegressor with cell='lstm', got "
                        f"{type(model).__name__} with cell={getattr(model, 'cell', None)!r}")
    require_positive_int("num_examples", num_examples)
    if num_examples > 10:
        raise ValueError(f"num_examples: expected at most 10 (one view each), got {num_examples}")
    require_positive_int("length", length)
    dtype = next(model.parameters()).dtype
    x, y = adding_problem(num_examples, length, seed=seed, dtype=dtype)  # (T, B, 2), (B,)
    trace = lstm_gate_trace(model.recurrent, x)
    with torch.no_grad():
        predictions = model(x).squeeze(-1).numpy()                       # (B,)
    unit = memory_unit(trace, x[:, :, 1].numpy())
    if widget_mode() == "live":
        def render(draw_seed, draw_length):
            x1, y1 = adding_problem(1, draw_length, seed=draw_seed, dtype=dtype)  # (T, 1, 2), (1,)
            trace1 = lstm_gate_trace(model.recurrent, x1)
            with torch.no_grad():
                predicted = model(x1).squeeze(-1).numpy()                     # (1,)
            return _render_example(0, trace1, x1, y1.numpy(), predicted, unit)

        return live_controls(
            [("sequence seed", LiveRange(0, 9999, 1, integer=True, fmt="d"), seed),
             ("length T", LiveRange(10, 200, 1, integer=True, fmt="d"), length)],
            render,
            caption="<b>Inside an LSTM on the adding problem:</b> any sequence (seed, length), "
                    "run through the model in the kernel; dotted red lines: the marked steps.")
    return precomputed_slider(
        "example", list(range(num_examples)),
        lambda k: _render_example(k, trace, x, y.numpy(), predictions, unit),
        caption="<b>Inside an LSTM on the adding problem:</b> gate values of every unit at "
                "every step (dotted red lines: the marked steps).",
    )


# ----------------------------------------------------------------------------------------------
# chapter 6: the update gate of a GRU and how long it remembers
# ----------------------------------------------------------------------------------------------
def memory_curve(update_bias: float, num_steps: int = 60) -> np.ndarray:
    """The state of `memory_gru(update_bias)` after a pulse at step 0 and zeros afterwards:
    ``h_0 .. h_{num_steps-1}``, shape (num_steps,)."""
    from course_pkg.models.hand_set_gru import memory_gru

    require_positive_int("num_steps", num_steps)
    x = torch.zeros(num_steps, 1, 1)                     # (T, B=1, D=1)
    x[0] = 1.0                                           # the pulse to remember
    with torch.no_grad():
        states, _ = memory_gru(update_bias)(x)           # (T, 1, 1)
    return states[:, 0, 0].numpy()


def steps_below(curve: np.ndarray, fraction: float):
    """The first step t at which ``curve[t] < fraction * curve[0]``, or None within the curve."""
    below = np.flatnonzero(np.asarray(curve) < fraction * curve[0])
    return int(below[0]) if len(below) else None


def _render_bias(bias, biases, num_steps):
    import matplotlib.pyplot as plt

    from course_pkg.models.hand_set_gru import memory_half_life

    z = 1.0 / (1.0 + math.exp(-bias))
    fig, ax = plt.subplots(figsize=(6, 3))
    steps = np.arange(num_steps)
    for other in biases:
        if other != bias:
            ax.plot(steps, memory_curve(other, num_steps), color="0.8", lw=1)
    curve = memory_curve(bias, num_steps)
    ax.plot(steps, curve, color="C2", lw=2, label=f"update-gate bias {bias:g}: z = {z:.3f}")
    ax.axhline(0.5 * curve[0], color="k", ls=":", lw=1, label="half of the stored value")
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("steps after the value was stored")
    ax.set_ylabel("h_t")
    ax.legend(fontsize=8)
    fig.tight_layout()

    def shown(step):
        return "not within the plot" if step is None else str(step)

    table = html_table(
        ["z = sigmoid(bias)", "half-life ln(1/2)/ln z", "measured: steps to < 1/2",
         "measured: steps to < 1/10", f"h after {num_steps - 1} steps"],
        [[f"{z:.4f}", f"{memory_half_life(bias):.2f}", shown(steps_below(curve, 0.5)),
          shown(steps_below(curve, 0.1)), f"{curve[-1]:.4f}"]],
        "cp-gru-memory")
    return image_html(fig, f"GRU memory with update bias {bias:g}") + table


def gru_memory_widget(update_biases: Sequence[float] = (-2, 0, 1, 2, 3, 4, 5),
                      num_steps: int = 60):
    """A slider over the bias of the update gate of `memory_gru`: how long a stored value lasts.

    Each view: the state after the pulse for this bias (the other biases in grey) and a table with
    ``z``, the half-life ``ln(1/2) / ln z``, and the measured steps until the state falls below
    one half and one tenth of the stored value.
    """
    biases = [float(b) for b in update_biases]
    if not 1 <= len(biases) <= 10:
        raise ValueError(f"update_biases: expected between 1 and 10 values, got {len(biases)}")
    require_positive_int("num_steps", num_steps)
    return precomputed_slider(
        "update-gate bias", biases, lambda b: _render_bias(b, biases, num_steps),
        labels=[f"{b:g}" for b in biases],
        caption="<b>The GRU's update gate as a memory knob:</b> z near 1 keeps the old state.",
        live=LiveRange(-4.0, 7.0, 0.05),  # in a kernel: any bias, computed on demand
    )
