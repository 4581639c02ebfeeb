"""Chapters as live notebooks in JupyterLab, driven by headless Chromium (marker ``lab``).

A JupyterLab server is started on 127.0.0.1 over a temporary copy of the book (so nothing in the
working tree is written: no autosave, no checkpoints), with every Jupyter, IPython, matplotlib
and XDG folder under a temporary directory and the course's Lab settings
(``scripts/jupyter``: chapters open as jupytext notebooks). For two chapters the test

- opens the chapter, which must open as a notebook, and checks that its MyST renders: code that
  a ``literalinclude`` shows is on the page as a code block, exercises are boxes and their
  solutions are folded;
- runs the cells up to the chapter's widget, moves the slider with the keyboard to a value the
  static book does not precompute, and checks that the kernel computed it: the view shows the
  number ``course_pkg`` gives for that value (computed here, in the test's process).

Robust on a busy 2-core machine: no fixed sleeps; every wait is for a condition, bounded by
`LIMIT_S` (``COURSE_LAB_LIMIT_S``, default 300 s).
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.request

import pytest

import waiting
from conftest import ROOT

pytestmark = pytest.mark.lab

LIMIT_S = float(os.environ.get("COURSE_LAB_LIMIT_S", "300"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
JUPYTER = os.path.join(os.path.dirname(sys.executable), "jupyter")

# User settings for the test's Lab: never save the (copied) chapters, no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}

# JavaScript helpers run in the page: the current notebook panel of the Lab application.
NOTEBOOK_JS = "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
KERNEL_IDLE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
                 && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}"""
# Index of the first code cell whose source contains the text.
CELL_INDEX_JS = """(text) => {
  const cells = window.jupyterapp.shell.currentWidget.content.widgets;
  return cells.findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(text));
}"""
# Run cells 0..last one at a time, through Lab's own command, and wait for each to finish.
RUN_UP_TO_JS = """async (last) => {
  const app = window.jupyterapp, panel = app.shell.currentWidget, notebook = panel.content;
  for (let i = 0; i <= last; i++) {
    const cell = notebook.widgets[i];
    if (cell.model.type !== 'code') continue;
    notebook.activeCellIndex = i;
    await app.commands.execute('notebook:run-cell');
  }
  return true;
}"""
# Execution counts of cells 0..last (null: not run yet) and any error output.
CELL_STATE_JS = """(last) => {
  const cells = window.jupyterapp.shell.currentWidget.content.widgets.slice(0, last + 1);
  const code = cells.filter(c => c.model.type === 'code');
  const errors = code.flatMap(c => c.model.outputs.toJSON().filter(o => o.output_type === 'error')
                                     .map(o => o.ename + ': ' + o.evalue));
  return {pending: code.filter(c => c.model.executionCount === null).length, errors};
}"""


def wait_until(condition, what, limit: float = LIMIT_S, poll: float = 0.25):
    """`waiting.wait_until` with this file's time limit."""
    return waiting.wait_until(condition, what, limit, poll)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a copy of the book; yields (base URL, token, log path)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: run `make browser` (Debian package chromium)")
    pytest.importorskip("playwright.sync_api")
    base = tmp_path_factory.mktemp("lab")
    work = base / "root"
    shutil.copytree(ROOT / "book", work / "book",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_build"))
    os.symlink(ROOT / "course_pkg", work / "course_pkg")  # literalinclude's ../../course_pkg
    shutil.copy(ROOT / "jupytext.toml", work / "jupytext.toml")
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "MPLCONFIGDIR", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                 "XDG_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        env[name] = str(base / name.lower())
        os.makedirs(env[name], exist_ok=True)
    for relative, settings in LAB_SETTINGS.items():
        path = base / "jupyterlab_settings_dir" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env.update(JUPYTER_CONFIG_PATH=str(ROOT / "scripts" / "jupyter"), OMP_NUM_THREADS="1",
               PYTHONHASHSEED="0")
    env.pop("COURSE_WIDGETS", None)  # in a kernel: live
    env.pop("MPLBACKEND", None)
    port, token = waiting.free_port(), secrets.token_hex(16)
    log = base / "lab.log"
    command = [JUPYTER, "lab", "--no-browser", f"--ServerApp.port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.port_retries=0"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    with open(log, "w") as log_file:
        server = subprocess.Popen(command, env=env, cwd=work, stdout=log_file,
                                  stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up():
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=10) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        wait_until(up, "JupyterLab to answer on 127.0.0.1")
        yield url, token, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=60)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"],
            viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(LIMIT_S * 1000)
        context.set_default_navigation_timeout(LIMIT_S * 1000)
        yield context
        context.close()


def open_chapter(browser, lab, chapter: str):
    url, token, _ = lab
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/lab/tree/{chapter}?reset&token={token}")  # reset: no restored tabs
    page.wait_for_function(NOTEBOOK_JS)
    page.wait_for_function("(path) => { const w = window.jupyterapp.shell.currentWidget;"
                           " return !!w && !!w.context && w.context.path === path &&"
                           " !!w.content && w.content.widgets.length > 0 &&"
                           " !!w.sessionContext && w.sessionContext.isReady; }", arg=chapter)
    kind = page.evaluate("() => window.jupyterapp.shell.currentWidget.constructor.name + ' ' +"
                         " window.jupyterapp.shell.currentWidget.node.className")
    assert "jp-NotebookPanel" in kind, f"{chapter} did not open as a notebook: {kind}"
    page.wait_for_function(KERNEL_IDLE_JS)
    return page, errors


# Index of the first markdown cell whose source contains the text.
MARKDOWN_INDEX_JS = """(text) => window.jupyterapp.shell.currentWidget.content.widgets
  .findIndex(c => c.model.type === 'markdown' && c.model.sharedModel.getSource().includes(text))"""
# Bring cell i on screen (Lab draws cells lazily) and return what its rendered markdown shows.
RENDERED_JS = """(i) => {
  const notebook = window.jupyterapp.shell.currentWidget.content, cell = notebook.widgets[i];
  notebook.scrollToItem(i, 'center');
  const shown = cell.node.querySelector('.jp-InputArea > :not(.jp-InputArea-editor)'
                                        + ':not(.jp-InputArea-prompt)');
  if (!shown || !shown.innerText.trim()) return null;
  return {
    text: shown.innerText,
    folded: Array.from(shown.querySelectorAll('details')).filter(d => !d.open).map(d => d.innerText),
    code: Array.from(shown.querySelectorAll('pre')).map(p => p.innerText),
  };
}"""


def rendered_cell(page, chapter: str, source_text: str) -> dict:
    index = page.evaluate(MARKDOWN_INDEX_JS, source_text)
    assert index >= 0, f"{chapter}: no markdown cell contains {source_text!r}"
    return page.wait_for_function(RENDERED_JS, arg=index).json_value()


def assert_myst_renders(page, chapter: str):
    """An exercise renders as a box, a solution is folded, included code shows as code."""
    exercise = rendered_cell(page, chapter, "{exercise}")
    assert "Exercise" in exercise["text"] and ":label:" not in exercise["text"], (
        f"{chapter}: the exercise is not rendered as MyST: {exercise['text'][:300]!r}")
    solution = rendered_cell(page, chapter, "{solution")
    assert any("Solution" in text for text in solution["folded"]), (
        f"{chapter}: no folded solution: {solution['text'][:300]!r}")
    included = rendered_cell(page, chapter, "the book includes it from the package")
    assert any(re.search(r"^\s*(def|class) \w+", code, re.M) for code in included["code"]), (
        f"{chapter}: the code of a literalinclude does not show: {included['text'][:300]!r}")


def run_to_widget(page, chapter: str, call: str) -> int:
    index = page.evaluate(CELL_INDEX_JS, call)
    assert index >= 0, f"{chapter}: no code cell contains {call!r}"
    page.evaluate(RUN_UP_TO_JS, index)
    state = wait_until(lambda: (lambda s: s if s["pending"] == 0 or s["errors"] else None)(
        page.evaluate(CELL_STATE_JS, index)), f"{chapter}: the cells up to the widget to run")
    assert not state["errors"], f"{chapter}: a cell failed: {state['errors']}"
    return index


def move_slider(page, presses: int) -> float:
    """Press the right arrow on the widget's slider handle; return the value it then reads."""
    handle = page.locator(".jp-OutputArea .widget-slider .noUi-handle").first
    handle.wait_for()
    handle.scroll_into_view_if_needed()
    readout = page.locator(".jp-OutputArea .widget-slider .widget-readout").first
    before = readout.inner_text()
    handle.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("(b) => { const r = document.querySelector("
                           "'.jp-OutputArea .widget-slider .widget-readout');"
                           " return r && r.innerText !== b; }", arg=before)
    return float(readout.inner_text().replace("\u2212", "-"))  # the readout's minus sign is U+2212


ALL_HTML_JS = ("() => Array.from(document.querySelectorAll('.jp-OutputArea .widget-html'))"
               ".map(e => e.innerText).join('\\n')")


def wait_for_view(page, value_text: str, expected: list[str]) -> str:
    """Wait until the status line says the kernel computed this value and the view shows every
    string in ``expected`` (the widget's front end draws a new view asynchronously)."""
    last = {"text": ""}

    def ready():
        last["text"] = page.evaluate(ALL_HTML_JS)
        return (f"= {value_text}: computed in the kernel" in last["text"]
                and all(e in last["text"] for e in expected))

    def seen() -> str:
        missing = [e for e in expected if e not in last["text"]]
        return (f"the view for {value_text} to show {missing}; it shows: "
                f"{last['text'][:1000]!r}")

    wait_until(ready, seen)
    return last["text"]


def test_gru_chapter_live_widget_and_myst(lab, browser):
    from course_pkg.models.hand_set_gru import memory_half_life
    from course_pkg.widgets.gates import memory_curve

    chapter = "book/part2/06_gru.md"
    page, errors = open_chapter(browser, lab, chapter)
    try:
        assert_myst_renders(page, chapter)
        run_to_widget(page, chapter, "gru_memory_widget(")
        bias = move_slider(page, 3)  # from -2 by steps of 0.05
        assert bias not in (-2, 0, 1, 2, 3, 4, 5), f"{bias} is precomputed"
        z = 1 / (1 + math.exp(-bias))
        curve = memory_curve(bias, 60)
        wait_for_view(page, format(bias, ".3g"),
                      [f"{z:.4f}", f"{memory_half_life(bias):.2f}", f"{curve[-1]:.4f}"])
        assert not errors, f"{chapter}: page errors: {errors}"
    finally:
        page.close()


def test_vanishing_gradients_chapter_live_widget_and_myst(lab, browser):
    from course_pkg.gradients.flow import NONLINEARITIES, gradient_norm_over_time
    from course_pkg.widgets.gradients import REPORTED_DISTANCES

    chapter = "book/part1/04_vanishing_gradients.md"
    page, errors = open_chapter(browser, lab, chapter)
    try:
        assert_myst_renders(page, chapter)
        run_to_widget(page, chapter, "spectral_radius_widget(")
        radius = move_slider(page, 3)  # from 0.5 by steps of 0.01
        assert radius not in (0.5, 0.9, 1.0, 1.1, 1.5, 2.0), f"{radius} is precomputed"
        expected = [f"{gradient_norm_over_time(radius, f, 60, 32, seed=0)[k]:.3e}"
                    for f in NONLINEARITIES for k in REPORTED_DISTANCES]
        wait_for_view(page, format(radius, ".3g"), expected)
        assert not errors, f"{chapter}: page errors: {errors}"
    finally:
        page.close()
