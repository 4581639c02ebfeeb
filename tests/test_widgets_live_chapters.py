"""Every widget of every chapter, live (nbclient, a real kernel, ``COURSE_WIDGETS=live``).

Each chapter is converted with jupytext and cut to what its widgets need (`widget_slice`): the
cells up to the last widget cell, less those that neither define nor change (train, load,
mutate) a name a kept cell reads; so a chapter's tables, figures, checks and later experiments
are not run. That cut version is executed from the chapter's own folder. Then one more cell,
run in the same kernel, finds every widget the chapter displayed (IPython's ``Out``), moves its
controls to values the static book does not precompute (a number between the static ones, a
text the reader might type, another option), waits for the debounced computation
(``await box.settled()``), and checks that

- the kernel computed that value (it is in ``box.live.computed``);
- the view on screen equals the view the package computes afresh for that value
  (``box.live.reference``, no cache).

For a widget with a continuous control (`course_pkg.widgets.live.LiveRange`) the value lies
between the static options; for a text box (`LiveText`) it is the control's ``sample``; for a
fixed list it is an option other than the one shown first. A widget whose view is a fresh
measurement (``box.reproducible is False``: the timings of chapter 18) is checked for having
been computed, not for equality.

Marker ``notebooks``. `make test` drives every chapter except those in `OPT_IN` (whose widget
needs the chapter's long training); ``COURSE_LIVE_CHAPTERS=all`` (`make notebooks`) drives those
too.
"""

from __future__ import annotations

import ast
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
from course_pkg.widgets.live import LiveChoice as _Choice, LiveText as _Text

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

def _other(spec, now):  # a value of one of several controls, other than the one shown
    if isinstance(spec, _Text):
        return spec.sample
    if isinstance(spec, _Choice):
        return len(spec.options) - 1 if now != len(spec.options) - 1 else 0
    value = spec.low + 0.37 * (spec.high - spec.low)
    value = int(round(value)) if spec.integer else round(value, 2)
    return value if value != now else (int(spec.high) if spec.integer else spec.high)

_report = []
_boxes = [o for o in Out.values() if getattr(o, "mode", None) in ("live", "static")]
for _box in _boxes:
    entry = {"caption": getattr(getattr(_box, "live", None), "description", "?"),
             "mode": _box.mode}
    if _box.mode == "live":
        if hasattr(_box, "specs"):  # several controls (live_controls)
            value = tuple(_other(s, v) for s, v in zip(_box.specs, _box.live.shown))
            _box.set(*value)
            static = False
        else:
            value = _target(_box)
            _box.slider.value = value  # a SelectionSlider's value is the option's index
            static = (_box.live_range is not None and
                      any(isinstance(o, (int, float)) and float(o) == float(value)
                          for o in _box.static_options))
        shown = await _box.settled(timeout=600)
        (view,) = _box.view.children
        reproducible = getattr(_box, "reproducible", True)
        entry.update(value=value, shown=shown, computed=value in _box.live.computed,
                     static=static, reproducible=reproducible,
                     equal=(not reproducible or
                            _fingerprint(view) == _fingerprint(_box.live.reference(value))))
    _report.append(entry)
print("LIVE-REPORT " + json.dumps(_report))
'''

#: Calls that change a name passed to them or called on: training, fitting, loading weights,
#: PyTorch's in-place methods (``add_``), and list/dict updates.
MUTATING = re.compile(r"train|fit|^load|^step$|^eval$|^update$|^append$|^extend$|^insert$"
                      r"|^setdefault$|_$")
#: Cells kept whatever they define: the chapter's set-up (threads, seeds, style).
ALWAYS = re.compile(r"setup_notebook|manual_seed|random\.seed")


def _names(tree: ast.AST) -> tuple[set[str], set[str], set[str]]:
    """(bound at the cell's top level, read from outside the cell, changed by a call or by an
    attribute/item store). Names local to a comprehension, a lambda or a function are not
    reads from outside."""
    bound, read, changed, local = set(), set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                bound.add(node.name)
            for inner in ast.walk(node):
                if isinstance(inner, ast.arg):
                    local.add(inner.arg)
                elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    local.add(inner.id)
        elif isinstance(node, ast.comprehension):
            local.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and \
                isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            changed.add(node.value.id)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if MUTATING.search(name):
                args = list(node.args) + [k.value for k in node.keywords]
                if isinstance(func, ast.Attribute):
                    args.append(func.value)
                for arg in args:
                    while isinstance(arg, (ast.Attribute, ast.Subscript)):
                        arg = arg.value
                    if isinstance(arg, ast.Name):
                        changed.add(arg.id)
    return bound - local, read - local, changed - local


def widget_slice(notebook):
    """The chapter's notebook cut to what its widget cells need (a backward slice over names).

    Kept: every cell up to the last one that makes a widget, less the code cells that neither
    bind nor change a name read by a kept cell after them (set-up cells always stay, and so does
    a cell that cannot be parsed). Markdown cells go. Returns the number of code cells kept."""
    cells = notebook.cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    widget_cells = [i for i in code if "_widget(" in cells[i].source]
    last = widget_cells[-1]
    needed: set[str] = set()
    kept = []
    for i in reversed([i for i in code if i <= last]):
        source = "\n".join(line for line in cells[i].source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        try:
            bound, read, changed = _names(ast.parse(source))
        except SyntaxError:
            kept.append(i)
            continue
        if i in widget_cells or ALWAYS.search(source) or (bound | changed) & needed:
            kept.append(i)
            needed |= read
    notebook.cells = [cells[i] for i in sorted(kept)]
    return len(kept)


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


#: Chapters whose widget needs the chapter's long training even after the cut (a trained LSTM,
#: tagger, language model, seq2seq, pointer network, memory network, NTM, ConvLSTM): 1.5 to 5
#: minutes each on two busy cores, about 23 minutes together. Driven only with
#: ``COURSE_LIVE_CHAPTERS=all`` (`make notebooks`). The other eleven took 4.6 minutes together
#: on two cores shared with other work (load 3-5; 5.4 minutes at load 6-9).
OPT_IN = ("05_", "07_", "08_", "09_", "10_", "11_", "12_", "13_")
DRIVEN = CHAPTERS if os.environ.get("COURSE_LIVE_CHAPTERS") == "all" else [
    p for p in CHAPTERS if not p.name.startswith(OPT_IN)]


@pytest.mark.parametrize("chapter", DRIVEN, ids=lambda p: p.stem)
def test_every_widget_of_the_chapter_computes_live(chapter, runtime_env, monkeypatch):
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    for name, value in runtime_env.items():
        monkeypatch.setenv(name, value)
    notebook = jupytext.read(chapter)
    widget_slice(notebook)
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
        shown = tuple(entry["shown"]) if isinstance(entry["shown"], list) else entry["shown"]
        value = tuple(entry["value"]) if isinstance(entry["value"], list) else entry["value"]
        assert shown == value, f"{chapter.name}: not the value asked for: {entry}"
        assert entry["computed"], f"{chapter.name}: the kernel did not compute it: {entry}"
        assert entry["equal"], (f"{chapter.name}: the view differs from the package's result "
                                f"for that value: {entry}")
    assert len(report) >= 1 and len(report) <= expected, (chapter.name, report)
