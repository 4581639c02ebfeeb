"""The cost-of-recurrence widget of chapter 18: a slider over the sequence length T.

Each view shows, for one measured T of a
`course_pkg.layer_cost.recurrence_vs_attention.TimingResult`, the median time of one forward +
backward pass of the course's LSTM, ``torch.nn.LSTM`` and one self-attention block as bars, and a
table with the times, each time divided by the attention block's, the number of operations that
must run one after another (T for the recurrence, 1 for a self-attention layer), and the number
of attention scores B * heads * T^2 that attention computes and stores instead.

The views are built from the measured data when the widget is made (`precomputed_slider`), so
the slider also works in the static HTML book. In a live kernel (`course_pkg.widgets.live`) the
slider takes any length from 1 to `MAX_LIVE_LENGTH` and times the three models at that length there
and then (`time_recurrence_vs_attention` with the result's batch size, width and heads): the
times are measured again, so they differ a little from run to run, while the sequential steps
and the attention scores are exact.
"""

from __future__ import annotations

import ipywidgets as widgets

from course_pkg.layer_cost.recurrence_vs_attention import (
    TIMED_MODELS,
    TimingResult,
    time_recurrence_vs_attention,
)
from course_pkg.widgets.live import LiveRange, widget_mode
from course_pkg.widgets.html_table import html_table
from course_pkg.widgets.precomputed import image_html, precomputed_slider

__all__ = ["timing_table_rows", "cost_by_length_widget", "MAX_LIVE_LENGTH", "LIVE_REPEATS"]

MAX_LIVE_LENGTH = 1024  # the longest T live mode times (about a second on one CPU thread)
LIVE_REPEATS = 3  # timed passes per model in live mode (the median is shown)

_COLOURS = {"course LSTM": "C0", "torch.nn.LSTM": "C2", "self-attention": "C1"}


def _require_result(result) -> None:
    if not isinstance(result, TimingResult):
        raise TypeError(f"result: expected a TimingResult from time_recurrence_vs_attention, "
                        f"got {type(result).__name__}")


def timing_table_rows(result: TimingResult, T: int) -> list[list[str]]:
    """Rows (model, median ms, time / attention's, sequential steps, attention scores) at T."""
    _require_result(result)
    if T not in result.seconds:
        raise ValueError(f"T: expected one of the measured lengths {result.lengths}, got {T!r}")
    rows = []
    for name in TIMED_MODELS:
        scores = f"{result.score_entries[T]:,}" if name == "self-attention" else "-"
        rows.append([name, f"{result.seconds[T][name] * 1e3:.2f}",
                     f"{result.ratio(T, name):.2f}x", str(result.sequential_steps[T][name]),
                     scores])
    return rows


def _render(result: TimingResult, T: int, top_ms: float) -> str:
    import matplotlib.pyplot as plt

    milliseconds = [result.seconds[T][name] * 1e3 for name in TIMED_MODELS]
    fig, ax = plt.subplots(figsize=(5.0, 2.2))
    ax.barh(list(TIMED_MODELS), milliseconds, color=[_COLOURS[n] for n in TIMED_MODELS])
    ax.set_xlim(0, top_ms)                              # one scale for every T
    ax.invert_yaxis()
    ax.set_xlabel("median ms, forward + backward")
    ax.set_title(f"T = {T}, B = {result.batch_size}, width {result.width}")
    table = html_table(["model", "median ms", "time / attention", "sequential steps",
                        "attention scores"], timing_table_rows(result, T), "ch17-timing")
    return f"<div>{image_html(fig, f'timings at T = {T}')}{table}</div>"


def time_length(result: TimingResult, T: int) -> TimingResult:
    """The three models timed at one more length T, with ``result``'s batch size, width and
    heads (`LIVE_REPEATS` passes each): what live mode shows for T."""
    _require_result(result)
    return time_recurrence_vs_attention([T], batch_size=result.batch_size, width=result.width,
                                        num_heads=result.num_heads, repeats=LIVE_REPEATS)


def cost_by_length_widget(result: TimingResult) -> widgets.VBox:
    """A slider over the lengths measured in ``result``; each view: bars of the three models'
    times (one fixed axis for all T) and the table of `timing_table_rows`.

    Live mode: any T from 1 to `MAX_LIVE_LENGTH`, timed in the kernel (`time_length`)."""
    _require_result(result)
    top_ms = 1.05 * max(s * 1e3 for by_model in result.seconds.values()
                        for s in by_model.values())
    live = LiveRange(1, MAX_LIVE_LENGTH, 1, integer=True, fmt="d")
    box = precomputed_slider(
        "sequence length T", result.lengths,
        (lambda T: _render_live(result, T, top_ms)) if widget_mode() == "live"
        else (lambda T: _render(result, T, top_ms)),
        caption="Measured on the machine that built this page, one CPU thread."
        if widget_mode() != "live" else
        "Any length T: the three models are timed in this kernel (one pass = forward + backward).",
        live=live)
    box.reproducible = False  # live times are measured afresh: equal only up to timing noise
    return box


def _render_live(result: TimingResult, T: int, top_ms: float) -> str:
    if T in result.seconds:  # measured when the chapter ran
        return _render(result, T, top_ms)
    measured = time_length(result, T)
    top = max(top_ms, 1.05 * max(s * 1e3 for s in measured.seconds[T].values()))
    return _render(measured, T, top)
