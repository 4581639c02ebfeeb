"""Live widgets (course_pkg.widgets.live): the mode switch, the continuous control computing on
demand, the debounce, the cache, the computation kept off the kernel's event loop, and a real
widget showing the package's result for a value that was not precomputed."""

import asyncio
import math
import threading

import ipywidgets as widgets
import pytest

from course_pkg.widgets.live import LiveRange, live_control, widget_mode
from course_pkg.widgets.precomputed import precomputed_slider


def shown_html(box) -> str:
    (view,) = box.view.children
    return view.value


def test_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("COURSE_WIDGETS", raising=False)
    assert widget_mode() == "static"  # no kernel here
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    assert widget_mode() == "live"
    monkeypatch.setenv("COURSE_WIDGETS", " Static ")
    assert widget_mode() == "static"
    assert widget_mode("live") == "live"  # an explicit mode wins


def test_bad_mode_names_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_WIDGETS", "sometimes")
    with pytest.raises(ValueError, match=r"COURSE_WIDGETS: expected one of \('static', 'live'\), "
                                         r"got 'sometimes'"):
        widget_mode()
    with pytest.raises(ValueError, match="mode: expected one of"):
        widget_mode("both")


@pytest.mark.parametrize("kwargs, match", [
    (dict(low=1.0, high=1.0, step=0.1), "high: expected a number > low = 1.0, got 1.0"),
    (dict(low=0.0, high=1.0, step=0.0), "step: expected a number > 0, got 0.0"),
    (dict(low=0.0, high=1.0, step=0.1, log=True), "low: expected a number > 0 for a log scale"),
    (dict(low=float("nan"), high=1.0, step=0.1), "low: expected a finite number, got nan"),
])
def test_bad_ranges_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LiveRange(**kwargs)


def test_value_outside_the_range_is_named():
    with pytest.raises(ValueError, match=r"value: expected a number in \[0.0, 1.0\], got 2"):
        live_control("x", str, 2, live=LiveRange(0.0, 1.0, 0.1))


def test_live_slider_computes_new_values_and_caches_them():
    calls = []

    def render(v):
        calls.append(v)
        return f"<b>{v * v:.4f}</b>"

    box = live_control("x", render, 0.5, live=LiveRange(0.0, 2.0, 0.01))
    assert box.mode == "live" and isinstance(box.slider, widgets.FloatSlider)
    assert shown_html(box) == "<b>0.2500</b>"
    box.slider.value = 1.37  # no event loop here: computed at once
    assert shown_html(box) == f"<b>{1.37 ** 2:.4f}</b>" and box.live.shown == 1.37
    box.slider.value = 0.5
    assert calls == [0.5, 1.37], "a value seen before comes from the cache"
    assert "cached" in box.live.status.value
    assert box.live.computed == [0.5, 1.37]


def test_debounce_computes_only_the_last_of_a_quick_series():
    calls = []

    async def drive():
        box = live_control("k", lambda k: (calls.append(k), f"{k}")[1], 1,
                           live=LiveRange(1, 50, 1, integer=True))
        for k in (7, 8, 9, 10):  # a drag: four values within the debounce interval
            box.slider.value = k
        assert calls == [1], "nothing computed while the slider moves"
        shown = await box.settled(timeout=60)
        return box, shown

    box, shown = asyncio.run(drive())
    assert shown == 10 and calls == [1, 10]
    assert shown_html(box) == "10"


def test_a_long_computation_leaves_the_event_loop_free_and_reports_progress():
    release = threading.Event()
    threads = []

    def render(k):
        threads.append(threading.current_thread().name)
        if k == 2:
            assert release.wait(timeout=120), "the test never released the computation"
        return f"view {k}"

    async def drive():
        box = live_control("k", render, 1, live=LiveRange(1, 9, 1, integer=True))
        box.slider.value = 2
        ticks, statuses, progress = 0, set(), []
        # while k = 2 computes, this coroutine keeps running: the loop is not blocked
        while "s</i>" not in box.live.status.value or len(progress) < 2:
            await asyncio.sleep(0.05)
            ticks += 1
            statuses.add(box.live.status.value)
            if "in the kernel ..." in box.live.status.value:
                progress.append(box.live.progress.value)
            assert ticks < 2400, "no progress report within 120 s"
        assert shown_html(box) == "view 1", "the old view stays until the new one is ready"
        release.set()
        return box, await box.settled(timeout=120), statuses, progress

    box, shown, statuses, progress = asyncio.run(drive())
    assert shown == 2 and shown_html(box) == "view 2"
    assert any("computing k = 2 in the kernel ..." in status for status in statuses)
    assert 0.1 < progress[0] <= progress[-1] < 1.0 and box.live.progress.layout.visibility == "hidden"
    assert threads[0] == threading.main_thread().name          # the first view: at once
    assert threads[1].startswith("course-widget")              # k = 2: in the worker thread


def test_a_value_asked_for_during_a_computation_wins_and_the_older_is_cached():
    release = threading.Event()

    def render(k):
        if k == 2:
            assert release.wait(timeout=120)
        return f"view {k}"

    async def drive():
        box = live_control("k", render, 1, live=LiveRange(1, 9, 1, integer=True))
        box.slider.value = 2
        while "in the kernel" not in box.live.status.value:      # k = 2 is being computed
            await asyncio.sleep(0.05)
        box.slider.value = 3                                     # the reader moves on
        release.set()
        return box, await box.settled(timeout=120)

    box, shown = asyncio.run(drive())
    assert shown == 3 and shown_html(box) == "view 3"
    assert box.live.computed == [1, 2, 3]                        # 2 was finished and kept ...
    box.slider.value = 2                                         # ... so going back is instant
    assert shown_html(box) == "view 2" and "cached" in box.live.status.value


def test_an_error_in_the_worker_reaches_settled_and_the_status_line():
    def render(k):
        if k == 5:
            raise RuntimeError("no view for five")
        return f"view {k}"

    async def drive():
        box = live_control("k", render, 1, live=LiveRange(1, 9, 1, integer=True))
        box.slider.value = 5
        with pytest.raises(RuntimeError, match="no view for five"):
            await box.settled(timeout=120)
        return box

    box = asyncio.run(drive())
    assert "no view for five" in box.live.status.value and shown_html(box) == "view 1"


def test_an_error_in_render_shows_and_raises():
    def render(v):
        if v > 1:
            raise RuntimeError("too large")
        return "ok"

    box = live_control("x", render, 0.5, live=LiveRange(0.0, 2.0, 0.1))
    with pytest.raises(RuntimeError, match="too large"):
        box.slider.value = 1.5
    assert "too large" in box.live.status.value


def test_live_mode_without_a_range_walks_the_options_on_demand():
    calls = []
    box = precomputed_slider("n", [1, 2, 3], lambda n: (calls.append(n), f"<i>{n}</i>")[1],
                             labels=["one", "two", "three"], initial=1, mode="live")
    assert calls == [2], "only the view on screen is computed"
    box.slider.index = 2
    assert shown_html(box) == "<i>3</i>" and calls == [2, 3]


def test_static_mode_is_unchanged_and_live_must_be_a_range():
    box = precomputed_slider("x", [1.0, 2.0], lambda v: f"{v}", live=LiveRange(0.0, 3.0, 0.1),
                             mode="static")
    assert box.mode == "static" and len(box.stack.children) == 2
    with pytest.raises(TypeError, match="live: expected a LiveRange or None, got tuple"):
        precomputed_slider("x", [1.0], str, live=(0, 1))


def test_forget_bias_widget_live_shows_the_packages_result(monkeypatch):
    """A value that is not among the static views: the view is the package's own numbers."""
    from course_pkg.widgets import sru

    monkeypatch.setenv("COURSE_WIDGETS", "live")
    box = sru.forget_bias_widget()
    assert box.mode == "live"
    bias = 2.55
    assert bias not in (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
    box.slider.value = bias
    html = shown_html(box)
    trace = sru.pulse_cell_trace(bias, 60)
    forget = 1 / (1 + math.exp(-bias))
    assert f"<b>{forget:.4f}</b>" in html
    assert f"<b>{trace[0].item():.4f}</b>" in html
    assert f"<b>{math.log(0.5) / math.log(forget):.2f}</b> steps" in html
    assert box.live.computed[-1] == bias


def test_several_controls_compute_one_tuple_debounced_and_cached():
    from course_pkg.widgets.live import LiveChoice, LiveText, live_controls

    calls = []

    def render(word, k, scale):
        calls.append((word, k, scale))
        return f"{word * k}:{scale:.2f}"

    text = LiveText(lambda t: t.strip() or (_ for _ in ()).throw(ValueError("word: expected "
                                                                           "a word, got ''")),
                    sample="b")

    async def drive():
        box = live_controls([("word", text, "a"), ("k", LiveChoice((1, 2, 3)), 0),
                             ("scale", LiveRange(0.0, 1.0, 0.01), 0.5)], render)
        box.controls[0].value = "xy"     # three moves within the debounce interval
        box.controls[1].index = 2
        box.controls[2].value = 0.73
        assert calls == [("a", 1, 0.5)], "nothing computed while the controls move"
        return box, await box.settled(timeout=60)

    box, shown = asyncio.run(drive())
    assert shown == ("xy", 2, 0.73) and calls[-1] == ("xy", 3, 0.73) and len(calls) == 2
    assert shown_html(box) == "xyxyxy:0.73"
    assert "word = 'xy', k = 3, scale = 0.73" in box.live.status.value
    box.set("a", 0, 0.5)                 # seen before: from the cache
    assert len(calls) == 2 and "cached" in box.live.status.value
    box.controls[0].value = "  "         # a bad text: said next to the box, view kept
    assert "word: expected a word" in box.live.status.value and shown_html(box) == "a:0.50"
    with pytest.raises(ValueError, match=r"values: expected 3 values \(one per control"):
        box.set("a", 0)
    with pytest.raises(TypeError, match=r"controls\[0\]: expected \(description, LiveRange"):
        live_controls([("x", (0, 1), 0)], render)
