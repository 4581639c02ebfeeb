"""Every widget of every chapter, live (nbclient, a real kernel, ``COURSE_WIDGETS=live``).

Each chapter is converted with jupytext and executed from its own folder. Then one more cell,
run in the same kernel, finds every widget the chapter displayed (IPython's ``Out``), moves its
control to a value the static book does not precompute, waits for the debounced computation
(``await box.settled()``), and checks that

- the kernel computed that value (it is in ``box.live.computed``);
- the view on screen equals the view the package computes afresh for that value
  (``box.live.reference``, no cache).

For a widget with a continuous control (`course_pkg.widgets.live.LiveRange`) the value lies
between the static options; for a widget over a fixed list (examples, time steps, stories) it is
an option other than the one shown first, which live mode has not computed yet.

Slow (every chapter executes: several minutes in all); marker ``notebooks``.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from conftest import ROOT

pytestmark = pytest.mark.notebooks

CHAPTERS = sorted(p for p in (ROOT / "book").glob("part*/*.md")
                  if re.match(r"\d", p.name) and "_widget(" in p.read_text(encoding="utf-8"))

# Runs in the chapter's kernel after the chapter: drive every live widget, report as JSON.
DRIVER = r'''
import hashlib, json, math
import ipywidgets as _w

def _fingerprint(w):
    if isinstance(w, _w.Box):
        return [_fingerprint(c) for c in w.children]
    v = w.value
    return v if isinstance(v, str) else hashlib.sha256(bytes(v)).hexdigest()

def _target(box):
    r, shown = box.live_range, box.live.shown
    if r is None:  # a fixed list of options: one live mode has not computed yet
        return next(i for i in range(len(box.options)) if i != shown)
    taken = {float(o) for o in box.static_options if isinstance(o, (int, float))}
    if r.integer:
        return next(k for k in range(int(r.low), int(r.high) + 1) if float(k) not in taken)
    numeric = sorted(v for v in taken if r.low <= v <= r.high)
    a, b = numeric[len(numeric) // 2 - 1], numeric[len(numeric) // 2]
    return round(a + (b - a) * 0.37, 2)

_report = []
_boxes = [o for o in Out.values() if getattr(o, "mode", None) in ("live", "static")]
for _box in _boxes:
    entry = {"caption": _box.live.description if _box.mode == "live" else "?", "mode": _box.mode}
    if _box.mode == "live":
        value = _target(_box)
        _box.slider.value = value  # a SelectionSlider's value is the option's index
        shown = await _box.settled(timeout=600)
        (view,) = _box.view.children
        entry.update(value=value, shown=shown, computed=value in _box.live.computed,
                     static=(_box.live_range is not None and
                             any(isinstance(o, (int, float)) and float(o) == float(value)
                                 for o in _box.static_options)),
                     equal=_fingerprint(view) == _fingerprint(_box.live.reference(value)))
    _report.append(entry)
print("LIVE-REPORT " + json.dumps(_report))
'''


@pytest.fixture(scope="module")
def runtime_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("live-runtime")
    env = {name: str(base / name.lower()) for name in
           ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
            "JUPYTER_RUNTIME_DIR")}
    for folder in env.values():
        os.makedirs(folder, exist_ok=True)
    env.update(COURSE_WIDGETS="live", OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE",
               MPLBACKEND="module://matplotlib_inline.backend_inline", PYTHONHASHSEED="0")
    return env


def test_the_chapters_with_widgets_are_found():
    assert len(CHAPTERS) >= 15, [p.name for p in CHAPTERS]


# `make test` drives two chapters (their widgets cover a continuous control and a list of
# options); `COURSE_LIVE_CHAPTERS=all` (`make notebooks`) drives every chapter, about 15-30
# minutes on two cores, too long for every CI run.
DRIVEN = CHAPTERS if os.environ.get("COURSE_LIVE_CHAPTERS") == "all" else [
    p for p in CHAPTERS if p.name.startswith(("02_", "04_"))]


@pytest.mark.parametrize("chapter", DRIVEN, ids=lambda p: p.stem)
def test_every_widget_of_the_chapter_computes_live(chapter, runtime_env, monkeypatch):
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    for name, value in runtime_env.items():
        monkeypatch.setenv(name, value)
    notebook = jupytext.read(chapter)
    notebook.cells.append(nbformat.v4.new_code_cell(DRIVER))
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(chapter.parent)}})
    client.execute()
    outputs = notebook.cells[-1].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    match = re.search(r"LIVE-REPORT (.*)", text)
    assert match, f"{chapter.name}: the driver printed no report: {outputs}"
    report = json.loads(match.group(1))
    expected = chapter.read_text(encoding="utf-8").count("_widget(")
    assert report, f"{chapter.name}: no widget found in Out"
    for entry in report:
        assert entry["mode"] == "live", f"{chapter.name}: a widget was built static: {entry}"
        assert not entry["static"], f"{chapter.name}: {entry['value']} is precomputed: {entry}"
        assert entry["shown"] == entry["value"], f"{chapter.name}: not the value asked for: {entry}"
        assert entry["computed"], f"{chapter.name}: the kernel did not compute it: {entry}"
        assert entry["equal"], (f"{chapter.name}: the view differs from the package's result "
                                f"for that value: {entry}")
    assert len(report) >= 1 and len(report) <= expected, (chapter.name, report)
