"""Live widgets: a continuous control whose callback calls ``course_pkg`` and redraws the view.

Every widget of the book is defined once, by a ``render(value)`` function, and comes in two modes
(`widget_mode`):

- **static** (the HTML book): `course_pkg.widgets.precomputed.precomputed_slider` calls ``render``
  for a few values when the cell runs and the slider switches between those views in the browser,
  without a kernel;
- **live** (a notebook in Jupyter): `live_control` gives a continuous slider (`LiveRange`) and
  calls ``render`` for whatever value the reader picks.

A live control is debounced (a change is computed `DEBOUNCE_S` after the slider last moved, so
dragging it computes one value, not fifty), keeps a cache of the views already computed (moving
back is instant), and shows a status line and a progress bar while it computes. Without a running
event loop (plain Python, a test) a change is computed at once.

The mode comes from the environment variable ``COURSE_WIDGETS``: ``static`` (exported by
``make book``, and set by the book's Sphinx extension for any ``jupyter-book build``) or ``live``;
unset, a widget is live inside a Jupyter kernel and static elsewhere.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import ipywidgets as widgets

__all__ = ["DEBOUNCE_S", "LiveRange", "MODES", "live_control", "widget_mode"]

MODES = ("static", "live")
#: Seconds without a new value before a live control computes (the debounce).
DEBOUNCE_S = 0.25
#: Views kept per live widget.
CACHE_SIZE = 64


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def widget_mode(mode: str | None = None) -> str:
    """``"static"`` or ``"live"``: ``mode`` if given, else ``$COURSE_WIDGETS``, else ``"live"``
    inside a Jupyter kernel and ``"static"`` outside one."""
    chosen = mode if mode is not None else os.environ.get("COURSE_WIDGETS", "").strip().lower()
    name = "mode" if mode is not None else "COURSE_WIDGETS"
    if chosen in MODES:
        return chosen
    if chosen:
        raise ValueError(f"{name}: expected one of {MODES}, got {chosen!r}")
    return "live" if _in_kernel() else "static"


@dataclass(frozen=True)
class LiveRange:
    """The continuous control of a widget in live mode.

    ``low``..``high`` with ``step``; ``integer`` gives an ``IntSlider``; ``log`` a
    ``FloatLogSlider`` (``low``, ``high`` > 0 are values, not exponents). ``fmt`` formats a
    value for the status line and the readout.
    """

    low: float
    high: float
    step: float
    integer: bool = False
    log: bool = False
    fmt: str = ".3g"

    def __post_init__(self):
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ValueError(f"{name}: expected a finite number, got {value!r}")
        if not self.low < self.high:
            raise ValueError(f"high: expected a number > low = {self.low}, got {self.high}")
        if not self.step > 0:
            raise ValueError(f"step: expected a number > 0, got {self.step}")
        if self.log and not self.low > 0:
            raise ValueError(f"low: expected a number > 0 for a log scale, got {self.low}")

    def check(self, value) -> float | int:
        """``value`` if it lies in the range (as an int for an integer range), else ValueError."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not self.low <= value <= self.high:
            raise ValueError(f"value: expected a number in [{self.low}, {self.high}], got {value!r}")
        return int(round(value)) if self.integer else float(value)

    def slider(self, description: str, value) -> widgets.Widget:
        common = dict(description=description, continuous_update=True,
                      style={"description_width": "initial"}, layout=widgets.Layout(width="420px"))
        if self.integer:
            return widgets.IntSlider(value=int(value), min=int(self.low), max=int(self.high),
                                     step=max(1, int(self.step)), **common)
        if self.log:
            return widgets.FloatLogSlider(value=value, base=10, min=math.log10(self.low),
                                          max=math.log10(self.high), step=self.step,
                                          readout_format=self.fmt, **common)
        return widgets.FloatSlider(value=value, min=self.low, max=self.high, step=self.step,
                                   readout_format=self.fmt, **common)


class LiveController:
    """Computes and shows the view for the control's value: debounced, cached, with progress.

    ``computed`` lists every value whose view was computed (not taken from the cache), in order;
    ``shown`` is the value whose view is on screen.
    """

    def __init__(self, description: str, compute: Callable[[Any], widgets.Widget],
                 key: Callable[[Any], Any], label: Callable[[Any], str]):
        self.description = description
        self._compute, self._key, self._label = compute, key, label
        self.cache: dict[Any, widgets.Widget] = {}
        self.computed: list[Any] = []
        self.shown: Any = None
        self.view = widgets.Box()
        self.status = widgets.HTML(value="")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info",
                                              layout=widgets.Layout(width="160px",
                                                                    visibility="hidden"))
        self._pending: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._settled: asyncio.Future | None = None

    def show(self, value) -> widgets.Widget:
        """Compute (or take from the cache) the view for ``value`` and put it on screen now."""
        key = self._key(value)
        view = self.cache.get(key)
        if view is None:
            self.status.value = f"<i>computing {self.description} = {self._label(value)} ...</i>"
            self.progress.value, self.progress.layout.visibility = 0.1, "visible"
            started = time.perf_counter()
            try:
                view = self._compute(value)
            except Exception as error:  # show it next to the slider, then raise it
                self.status.value = f"<b>error</b> at {self._label(value)}: {error}"
                self.progress.layout.visibility = "hidden"
                raise
            seconds = time.perf_counter() - started
            if len(self.cache) >= CACHE_SIZE:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = view
            self.computed.append(value)
            status = (f"{self.description} = {self._label(value)}: computed in the kernel in "
                      f"{seconds:.2f} s")
        else:
            status = f"{self.description} = {self._label(value)} (cached)"
        self.view.children = (view,)  # the view first, then the line that announces it
        self.shown = value
        self.progress.value, self.progress.layout.visibility = 1.0, "hidden"
        self.status.value = status
        return view

    def reference(self, value) -> widgets.Widget:
        """The view for ``value`` computed afresh (no cache, not shown): what a test compares with."""
        return self._compute(value)

    def request(self, value) -> None:
        """A new control value: computed after `DEBOUNCE_S` of quiet, or at once without a loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._pending = value
        if loop is None:
            self.show(value)
            return
        if self._timer is not None:
            self._timer.cancel()
        if self._settled is None or self._settled.done():
            self._settled = loop.create_future()
        self.status.value = f"<i>{self.description} = {self._label(value)} ...</i>"
        self._timer = loop.call_later(DEBOUNCE_S, self._fire)

    def _fire(self) -> None:
        self._timer = None
        settled = self._settled
        try:
            self.show(self._pending)
        except Exception as error:
            if settled is not None and not settled.done():
                settled.set_exception(error)
            return
        if settled is not None and not settled.done() and self._timer is None:
            settled.set_result(self.shown)

    async def settled(self, timeout: float = 600.0):
        """Wait until the last requested value is on screen; returns that value."""
        if self._settled is not None and not self._settled.done():
            await asyncio.wait_for(asyncio.shield(self._settled), timeout)
        return self.shown


def live_control(
    description: str,
    render: Callable[[Any], Any],
    value,
    live: LiveRange | None = None,
    options: Sequence[Any] | None = None,
    labels: Sequence[str] | None = None,
    caption: str = "",
) -> widgets.VBox:
    """A live widget: a control, a status line with a progress bar, and the view of its value.

    With ``live``, the control is `LiveRange`'s continuous slider and ``render`` gets its value.
    Without, the control walks through ``options`` (shown as ``labels``) and ``render`` gets the
    option; views are still computed only when asked for, and cached.

    Returns a ``VBox`` with ``.slider`` (the control), ``.view`` (the box holding the view),
    ``.live`` (the `LiveController`), ``.mode == "live"`` and ``.settled()`` (await it after
    changing the control from code).
    """
    from course_pkg.widgets.precomputed import view_widget

    if live is not None:
        value = live.check(value)
        slider = live.slider(description, value)
        controller = LiveController(description, lambda v: view_widget(render(v)),
                                    key=lambda v: round(float(v), 12),
                                    label=lambda v: format(v, live.fmt))
        to_value = live.check
    else:
        options = list(options)
        labels = [str(o) for o in options] if labels is None else list(labels)
        slider = widgets.SelectionSlider(options=list(zip(labels, range(len(options)))),
                                         index=value, description=description,
                                         continuous_update=True,
                                         style={"description_width": "initial"},
                                         layout=widgets.Layout(width="420px"))
        controller = LiveController(description, lambda i: view_widget(render(options[i])),
                                    key=lambda i: i, label=lambda i: labels[i])
        to_value = int
    controller.show(value)
    slider.observe(lambda change: controller.request(to_value(change["new"])), names="value")
    parts = [slider, widgets.HBox([controller.progress, controller.status]), controller.view]
    if caption:
        parts.insert(0, widgets.HTML(value=caption))
    box = widgets.VBox(parts)
    box.slider, box.view, box.live, box.mode = slider, controller.view, controller, "live"
    box.live_range, box.options = live, (None if options is None else list(options))
    box.settled = controller.settled
    return box
