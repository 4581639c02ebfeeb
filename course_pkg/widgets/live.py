"""Live widgets: a continuous control whose callback calls ``course_pkg`` and redraws the view.

Every widget of the book is defined once, by a ``render(value)`` function, and comes in two modes
(`widget_mode`):

- **static** (the HTML book): `course_pkg.widgets.precomputed.precomputed_slider` calls ``render``
  for a few values when the cell runs and the slider switches between those views in the browser,
  without a kernel;
- **live** (a notebook in Jupyter): `live_control` gives a continuous slider (`LiveRange`) and
  calls ``render`` for whatever value the reader picks.

A live control is debounced (a change is computed `DEBOUNCE_S` after the slider last moved, so
dragging it computes one value, not fifty) and keeps a cache of the views already computed
(moving back is instant). Inside a kernel the computation runs in a worker thread, so the
kernel's event loop stays free: the status line counts the seconds and the progress bar creeps
while it works (every `HEARTBEAT_S`), and a slider moved meanwhile is queued, not lost. Without a
running event loop (plain Python, a test) a change is computed at once.

A widget whose view depends on more than one knob (a sequence the reader types and a step in its
decoding, a model and a horizon) uses `live_controls`: several controls, each a `LiveRange`, a
`LiveText` (a text box whose text ``parse`` turns into a value) or a `LiveChoice` (a fixed list
of options), and one ``render(*values)``; the same controller debounces and caches the tuple of
values.

The mode comes from the environment variable ``COURSE_WIDGETS``: ``static`` (exported by
``make book``, and set by the book's Sphinx extension for any ``jupyter-book build``) or ``live``;
unset, a widget is live inside a Jupyter kernel and static elsewhere.
"""

from __future__ import annotations

import asyncio
import html
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import ipywidgets as widgets

__all__ = ["DEBOUNCE_S", "LiveChoice", "LiveRange", "LiveText", "MODES", "live_control",
           "live_controls", "widget_mode"]

MODES = ("static", "live")
#: Seconds without a new value before a live control computes (the debounce).
DEBOUNCE_S = 0.25
#: Views kept per live widget.
CACHE_SIZE = 64
#: Seconds between two refreshes of the status line while a view is computed.
HEARTBEAT_S = 0.2


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


@dataclass(frozen=True)
class LiveText:
    """A text box of a widget in live mode: the reader types an input (a digit string, a
    sentence, a list of numbers) and ``parse(text)`` turns it into the value ``render`` gets,
    raising ValueError (shown next to the box) when the text is not a valid input.

    ``sample`` is another input a reader might type (the chapter test types it).
    """

    parse: Callable[[str], Any]
    sample: str = ""
    placeholder: str = ""

    def __post_init__(self):
        if not callable(self.parse):
            raise TypeError(f"parse: expected a callable str -> value, got "
                            f"{type(self.parse).__name__}")

    def check(self, text) -> str:
        if not isinstance(text, str):
            raise ValueError(f"text: expected a str, got {type(text).__name__} {text!r}")
        self.parse(text)  # raises on a bad input
        return text

    def slider(self, description: str, value) -> widgets.Widget:
        return widgets.Text(value=value, description=description, placeholder=self.placeholder,
                            continuous_update=False, style={"description_width": "initial"},
                            layout=widgets.Layout(width="420px"))


@dataclass(frozen=True)
class LiveChoice:
    """A fixed list of ``options`` (written as ``labels``) for one control of `live_controls`;
    its value is the option's index, ``render`` gets the option."""

    options: tuple
    labels: tuple | None = None

    def __post_init__(self):
        if len(self.options) == 0:
            raise ValueError("options: expected at least one option, got none")
        if self.labels is not None and len(self.labels) != len(self.options):
            raise ValueError(f"labels: expected {len(self.options)} labels (one per option), "
                             f"got {len(self.labels)}")

    def names(self) -> list[str]:
        return [str(o) for o in self.options] if self.labels is None else list(self.labels)

    def check(self, index) -> int:
        if isinstance(index, bool) or not isinstance(index, int) or \
                not 0 <= index < len(self.options):
            raise ValueError(f"index: expected an int in [0, {len(self.options) - 1}], "
                             f"got {index!r}")
        return index

    def slider(self, description: str, value) -> widgets.Widget:
        return widgets.SelectionSlider(options=list(zip(self.names(), range(len(self.options)))),
                                       index=value, description=description,
                                       continuous_update=True,
                                       style={"description_width": "initial"},
                                       layout=widgets.Layout(width="420px"))


class LiveController:
    """Computes and shows the view for the control's value: debounced, cached, with progress.

    ``compute(value)`` does the work (it calls the package; in a kernel it runs in a worker
    thread) and ``wrap(result)`` turns its result into a widget (on the event loop's thread).
    ``computed`` lists every value whose view was computed (not taken from the cache), in order;
    ``shown`` is the value whose view is on screen.
    """

    def __init__(self, description: str, compute: Callable[[Any], Any],
                 key: Callable[[Any], Any], label: Callable[[Any], str],
                 wrap: Callable[[Any], widgets.Widget] = lambda view: view):
        self.description = description
        self._compute, self._wrap, self._key = compute, wrap, key
        self._label = label  # no description: the label names the values ("a = 1, b = 2")
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
        self._worker: ThreadPoolExecutor | None = None   # one thread: views computed in turn

    # -- the steps of one computation ------------------------------------------------------
    def _begin(self, value) -> float:
        self.status.value = f"<i>computing {self._said(value)} ...</i>"
        self.progress.value, self.progress.layout.visibility = 0.1, "visible"
        return time.perf_counter()

    def _fail(self, value, error: BaseException) -> None:
        self.status.value = f"<b>error</b> at {self._said(value)}: {html.escape(str(error))}"
        self.progress.layout.visibility = "hidden"

    def _store(self, value, view: widgets.Widget) -> None:
        if len(self.cache) >= CACHE_SIZE:
            self.cache.pop(next(iter(self.cache)))
        self.cache[self._key(value)] = view
        self.computed.append(value)

    def _display(self, value, view: widgets.Widget, status: str) -> None:
        self.view.children = (view,)  # the view first, then the line that announces it
        self.shown = value
        self.progress.value, self.progress.layout.visibility = 1.0, "hidden"
        self.status.value = status

    def _computed_status(self, value, seconds: float) -> str:
        return f"{self._said(value)}: computed in the kernel in {seconds:.2f} s"

    # -- at once (no event loop, or a value from the cache) --------------------------------
    def show(self, value) -> widgets.Widget:
        """Compute (or take from the cache) the view for ``value`` and put it on screen now."""
        view = self.cache.get(self._key(value))
        if view is not None:
            self._display(value, view, f"{self._said(value)} (cached)")
            return view
        started = self._begin(value)
        try:
            view = self._wrap(self._compute(value))
        except Exception as error:  # show it next to the slider, then raise it
            self._fail(value, error)
            raise
        self._store(value, view)
        self._display(value, view, self._computed_status(value, time.perf_counter() - started))
        return view

    # -- in a kernel: in the worker thread, the event loop kept free -----------------------
    async def _show_from_worker(self, value) -> None:
        """Compute the view for ``value`` in the worker thread while the status line counts the
        seconds; show it unless a newer value was asked for meanwhile (it is cached all the
        same)."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course-widget")
        started = self._begin(value)
        job = asyncio.wrap_future(self._worker.submit(self._compute, value))
        while not job.done():
            await asyncio.wait({job}, timeout=HEARTBEAT_S)
            elapsed = time.perf_counter() - started
            if not job.done():
                self.status.value = (f"<i>computing {self._said(value)} in the kernel ... "
                                     f"{elapsed:.1f} s</i>")
                self.progress.value = 1.0 - 0.9 / (1.0 + elapsed)   # creeps towards 1
        try:
            view = self._wrap(job.result())
        except Exception as error:
            self._fail(value, error)
            raise
        self._store(value, view)
        if self._key(self._pending) == self._key(value):
            self._display(value, view,
                          self._computed_status(value, time.perf_counter() - started))

    def _said(self, value) -> str:
        label = self._label(value)
        return f"{self.description} = {label}" if self.description else label

    def reference(self, value) -> widgets.Widget:
        """The view for ``value`` computed afresh (no cache, not shown): what a test compares with."""
        return self._wrap(self._compute(value))

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
        self.status.value = f"<i>{self._said(value)} ...</i>"
        self._timer = loop.call_later(DEBOUNCE_S, self._fire)

    def _fire(self) -> None:
        self._timer = None
        value, settled = self._pending, self._settled
        if self._key(value) in self.cache:
            self.show(value)
            self._settle(settled, value, None)
            return
        task = asyncio.get_running_loop().create_task(self._show_from_worker(value))
        task.add_done_callback(lambda done: self._settle(settled, value, done.exception()))

    def _settle(self, settled: asyncio.Future | None, value, error: BaseException | None) -> None:
        """Resolve ``settled`` once the last requested value is on screen (or failed)."""
        if settled is None or settled.done():
            return
        if error is not None:
            settled.set_exception(error)
        elif self._timer is None and self._key(self._pending) == self._key(value):
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
        controller = LiveController(description, render, key=lambda v: round(float(v), 12),
                                    label=lambda v: format(v, live.fmt), wrap=view_widget)
        to_value = live.check
    else:
        options = list(options)
        labels = [str(o) for o in options] if labels is None else list(labels)
        slider = widgets.SelectionSlider(options=list(zip(labels, range(len(options)))),
                                         index=value, description=description,
                                         continuous_update=True,
                                         style={"description_width": "initial"},
                                         layout=widgets.Layout(width="420px"))
        controller = LiveController(description, lambda i: render(options[i]),
                                    key=lambda i: i, label=lambda i: labels[i], wrap=view_widget)
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


def _parsed(spec, raw):
    """What ``render`` gets for a control's raw value (a number, a text, an option's index)."""
    if isinstance(spec, LiveText):
        return spec.parse(raw)
    if isinstance(spec, LiveChoice):
        return spec.options[raw]
    return raw


def _said(spec, raw) -> str:
    if isinstance(spec, LiveText):
        return repr(raw)
    if isinstance(spec, LiveChoice):
        return spec.names()[raw]
    return format(raw, spec.fmt)


def live_controls(
    controls: Sequence[tuple[str, LiveRange | LiveText | LiveChoice, Any]],
    render: Callable[..., Any],
    caption: str = "",
) -> widgets.VBox:
    """A live widget with several controls: ``controls`` is a list of ``(description, spec,
    initial)``, each spec a `LiveRange` (initial: a number), a `LiveText` (initial: a text) or a
    `LiveChoice` (initial: an option's index); ``render(*values)`` gets one value per control
    (a number, ``parse(text)``, the option) and returns the view.

    A change of any control requests the tuple of raw values (debounced, cached, with progress,
    as in `live_control`). Returns a ``VBox`` with ``.controls`` (the control widgets, in
    order), ``.specs``, ``.view``, ``.live`` (the `LiveController`, whose values are tuples of
    raw values), ``.mode == "live"``, ``.settled()``, and ``.set(*raw_values)``, which moves
    every control at once and requests one computation.
    """
    from course_pkg.widgets.precomputed import view_widget

    controls = list(controls)
    if not controls:
        raise ValueError("controls: expected at least one (description, spec, initial), got none")
    for i, entry in enumerate(controls):
        if not (isinstance(entry, tuple) and len(entry) == 3 and
                isinstance(entry[1], (LiveRange, LiveText, LiveChoice))):
            raise TypeError(f"controls[{i}]: expected (description, LiveRange | LiveText | "
                            f"LiveChoice, initial), got {entry!r}")
    names = [name for name, _, _ in controls]
    specs = [spec for _, spec, _ in controls]
    initial = tuple(spec.check(value) for _, spec, value in controls)
    sliders = [spec.slider(name, value) for name, spec, value in controls]

    def key(values):
        return tuple(round(float(v), 12) if isinstance(s, LiveRange) else v
                     for s, v in zip(specs, values))

    def label(values):
        return ", ".join(f"{n} = {_said(s, v)}" for n, s, v in zip(names, specs, values))

    controller = LiveController(
        "", lambda values: render(*(_parsed(s, v) for s, v in zip(specs, values))),
        key=key, label=label, wrap=view_widget)
    quiet = [False]

    def current():
        return tuple(s.check(w.index if isinstance(s, LiveChoice) else w.value)
                     for s, w in zip(specs, sliders))

    def changed(_change):
        if quiet[0]:
            return
        try:
            values = current()
        except ValueError as error:  # e.g. a text that is not a valid input: say so, keep the view
            controller.status.value = f"<b>error</b>: {html.escape(str(error))}"
            return
        controller.request(values)

    controller.show(initial)
    for slider in sliders:
        slider.observe(changed, names="index" if isinstance(slider, widgets.SelectionSlider)
                       else "value")

    def set_values(*values):
        if len(values) != len(specs):
            raise ValueError(f"values: expected {len(specs)} values (one per control: {names}), "
                             f"got {len(values)}")
        values = tuple(s.check(v) for s, v in zip(specs, values))
        quiet[0] = True
        try:
            for spec, slider, value in zip(specs, sliders, values):
                if isinstance(spec, LiveChoice):
                    slider.index = value
                else:
                    slider.value = value
        finally:
            quiet[0] = False
        controller.request(current())

    parts = [*sliders, widgets.HBox([controller.progress, controller.status]), controller.view]
    if caption:
        parts.insert(0, widgets.HTML(value=caption))
    box = widgets.VBox(parts)
    box.controls, box.specs, box.view, box.live, box.mode = sliders, specs, controller.view, \
        controller, "live"
    box.settled, box.set = controller.settled, set_values
    return box
