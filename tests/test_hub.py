"""The course hub end to end: JupyterHub, nbgrader's exchange, real accounts, a real browser.

Marker ``hub``. As root, the test

- creates an instructor and two students with ``useradd`` (random names, homes in a temporary
  folder) and sets their passwords with ``chpasswd``;
- starts the hub of ``deploy/hub/jupyterhub_config.py`` on 127.0.0.1 (free ports, the exchange
  and the hub's state in the temporary folder), which logs them in through PAM;
- drives headless Chromium (Playwright), one fresh browser context per user:

  1. the instructor logs in, generates and releases ``rnn_bptt`` in the formgrader;
  2. each student logs in, fetches it in the Assignment List, types the answers into the
     notebook's solution cells (one student the solution, the other the solution without
     ``bias_hh`` in ``rnn_step_forward``), saves, and submits;
  3. the instructor collects in the formgrader; the course's jailed runner autogrades (run by
     root, as a grading service would: the jail needs root); the instructor generates and
     releases the feedback in the formgrader;
  4. each student fetches the feedback and opens it: the score and the message are the ones
     the pipeline tests expect for those two notebooks;

- removes the accounts, their processes and every file, even when a step fails.

A screenshot of every step is saved in ``_build/hub-test/``.

The course's environment is a venv whose ``python`` links into root's pyenv (``/root``, mode
700). The test gives its three users, and them only, the right to *traverse* ``/root`` with a
POSIX ACL (``setfacl -m u:NAME:x /root``; Debian's ``acl``) for the test's duration, and
removes it afterwards; nothing else under ``/root`` changes mode. A real deployment installs
the environment where every user can read it (``/opt``, or the image of deploy/k8s/).

No fixed sleeps: every wait is for a condition, bounded by ``LIMIT_S`` (``COURSE_HUB_LIMIT_S``).
"""

from __future__ import annotations

import json
import os
import pathlib
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

import nbformat
import pytest

import waiting
from conftest import ROOT
from course_builder import grade_id, solution_code
from rnn_gated_lm_class import EXPECTED_SCORES, FEEDBACK_MESSAGES, SUBMISSIONS

pytestmark = pytest.mark.hub

LIMIT_S = float(os.environ.get("COURSE_HUB_LIMIT_S", "240"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PROXY = ROOT / "_build" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_CONFIG = ROOT / "deploy" / "hub" / "jupyterhub_config.py"
BIN = pathlib.Path(sys.executable).parent
SHOTS = ROOT / "_build" / "hub-test"
ASSIGNMENT = "rnn_bptt"
COURSE_SOURCE = ROOT / "assignments"

# The two submissions, and the score and messages their feedback must show: those of
# "solution" and "missing_bias" in rnn_gated_lm_class.py (one table for this and the pipeline
# tests).
KINDS = {"correct": "solution", "missing_bias": "missing_bias"}
EXPECTED = {kind: (EXPECTED_SCORES[(ASSIGNMENT, name)],
                   list(FEEDBACK_MESSAGES.get((ASSIGNMENT, name), [])))
            for kind, name in KINDS.items()}
EXPECTED["correct"][1].extend(["rnn_step_forward: 2 / 2 points", "rnn_backward: 3 / 3 points"])
# Lab settings of the test's users: no news pop-up over the Assignment List, no autosave racing
# the explicit save.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def wait_until(condition, what, limit: float = LIMIT_S, poll: float = 0.25):
    """`waiting.wait_until` with this file's time limit."""
    return waiting.wait_until(condition, what, limit, poll)


def run(*command: str, check: bool = True, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=600,
                            **options)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {result.returncode}:\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def processes_of(uids: set[int]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def kill_processes_of(uids: set[int]) -> None:
    """SIGKILL every process of the test's own users (by pid), until none is left."""
    deadline = time.monotonic() + 60
    while (pids := processes_of(uids)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)  # polling interval while the kernel reaps them


class Shots:
    """Numbered screenshots in _build/hub-test/."""

    def __init__(self) -> None:
        shutil.rmtree(SHOTS, ignore_errors=True)
        SHOTS.mkdir(parents=True)
        self.count = 0

    def __call__(self, page, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(SHOTS / f"{self.count:02d}-{name}.png"))


# ------------------------------------------------------------------------------------------
# fixtures: accounts, the hub, the browser
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base():
    """A temporary folder other users can traverse (pytest's own is root's, mode 700)."""
    if os.geteuid() != 0:
        pytest.skip("the hub test creates local accounts and starts JupyterHub: run it as root")
    for tool, how in (("useradd", "passwd"), ("chpasswd", "passwd"), ("setfacl", "acl"),
                      ("bwrap", "bubblewrap")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: run `make hub-tools` (Debian package {how})")
    if not PROXY.exists():
        pytest.fail(f"{PROXY} not found: run `make hub-tools` (npm configurable-http-proxy)")
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: run `make browser` (Debian package chromium)")
    pytest.importorskip("playwright.sync_api")
    folder = pathlib.Path(tempfile.mkdtemp(prefix="course-hub-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def accounts(base):
    """{"instructor": name, "correct": name, "missing_bias": name} -> passwords; removed after."""
    suffix = secrets.token_hex(3)
    names = {"instructor": f"inst-{suffix}", "correct": f"stua-{suffix}",
             "missing_bias": f"stub-{suffix}"}
    passwords = {name: secrets.token_urlsafe(12) for name in names.values()}
    (base / "home").mkdir(mode=0o755)
    created: list[str] = []
    acl: list[str] = []
    root_acl = run("getfacl", "-p", "--omit-header", "/root").stdout  # restored exactly after
    try:
        for name in names.values():
            run("useradd", "--create-home", "--home-dir", str(base / "home" / name),
                "--shell", "/bin/bash", name)
            created.append(name)
            user = pwd.getpwnam(name)
            settings = pathlib.Path(user.pw_dir) / ".jupyter" / "lab" / "user-settings"
            for relative, values in LAB_SETTINGS.items():
                path = settings / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(values))
            # the course environment's interpreter lives under /root: traverse only, this user
            run("setfacl", "-m", f"u:{name}:x", "/root")
            acl.append(name)
        run("chpasswd", input="".join(f"{n}:{p}\n" for n, p in passwords.items()))
        # the instructor's course folder: the repository's assignments/, as a git clone gives it
        home = pathlib.Path(pwd.getpwnam(names["instructor"]).pw_dir)
        course = home / "rnn-course"
        course.mkdir()
        shutil.copy(COURSE_SOURCE / "nbgrader_config.py", course)
        shutil.copytree(COURSE_SOURCE / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
        for name in names.values():
            user = pwd.getpwnam(name)
            run("chown", "-R", f"{user.pw_uid}:{user.pw_gid}", user.pw_dir)
        # a user can run the course environment (the ACL works), and nothing else changed
        probe = run("runuser", "-u", names["correct"], "--", str(BIN / "python"), "-c",
                    "import nbgrader, course_pkg, jupyterhub; print('ok')", check=False)
        assert probe.stdout.strip() == "ok", f"a test user cannot run the course env: {probe}"
        assert stat.S_IMODE(os.stat("/root").st_mode) & 0o007 == 0, "/root open to others"
        yield names, passwords
    finally:
        uids = set()
        for name in created:
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        kill_processes_of(uids)
        if acl:
            subprocess.run(["setfacl", "--set-file=-", "/root"], input=root_acl, text=True,
                           capture_output=True)
        for name in created:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        left = [n for n in created if subprocess.run(["id", n], capture_output=True).returncode == 0]
        acl_now = subprocess.run(["getfacl", "-p", "--omit-header", "/root"],
                                 capture_output=True, text=True).stdout
        assert not left, f"accounts left behind: {left}"
        assert acl_now == root_acl, f"/root's ACL was {root_acl!r}, is now {acl_now!r}"


@pytest.fixture(scope="module")
def hub(base, accounts):
    """The course hub on 127.0.0.1; yields (URL, exchange, log path); stopped afterwards."""
    names, _ = accounts
    state, exchange = base / "hub-state", base / "exchange"
    env = {key: value for key, value in os.environ.items() if not key.startswith("COURSE_")}
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
        env[name] = str(base / "hub-runtime" / name.lower())
        os.makedirs(env[name], exist_ok=True)
    port = waiting.free_port()
    env.update(
        COURSE_HUB_IP="127.0.0.1", COURSE_HUB_PORT=str(port),
        COURSE_HUB_API_PORT=str(waiting.free_port()),
        COURSE_HUB_PROXY_API_PORT=str(waiting.free_port()),
        COURSE_HUB_STATE=str(state), COURSE_EXCHANGE=str(exchange),
        COURSE_HUB_INSTRUCTORS=names["instructor"],
        COURSE_HUB_STUDENTS=f"{names['correct']},{names['missing_bias']}",
        COURSE_HUB_PROXY=str(PROXY), PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}")
    log = base / "hub.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(HUB_CONFIG)], env=env,
                                   cwd=base, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up():
        if process.poll() is not None:
            pytest.fail(f"jupyterhub exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/hub/api/", timeout=10) as reply:
                return reply.status == 200
        except OSError:
            return False

    began = time.monotonic()
    try:
        wait_until(up, "the hub to answer on 127.0.0.1")
        print(f"hub up in {time.monotonic() - began:.1f} s")
        mode = stat.S_IMODE(exchange.stat().st_mode)
        assert mode == 0o1777, f"exchange root mode {mode:o}, expected 1777 (world-writable, sticky)"
        yield url, exchange, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the hub stops the users' servers and the proxy
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the proxy, if the hub left it
        except ProcessLookupError:
            pass
        process.wait()


@pytest.fixture(scope="module")
def chromium(base):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"])
        try:
            yield browser
        finally:
            browser.close()


# ------------------------------------------------------------------------------------------
# what a user does in the browser
# ------------------------------------------------------------------------------------------


def log_in(chromium, url: str, name: str, password: str):
    """A fresh browser context (no cookies) logged in as ``name``, at the user's Lab."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(LIMIT_S * 1000)
    context.set_default_navigation_timeout(LIMIT_S * 1000)
    page = context.new_page()
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{re.escape(name)}/lab"))
    page.wait_for_selector(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    return context, page


def formgrader(page, url: str, name: str):
    page.goto(f"{url}/user/{name}/formgrader/manage_assignments")
    row = page.locator("tr", has=page.locator("td.name", has_text=ASSIGNMENT))
    row.wait_for()
    return row


def formgrader_action(page, url: str, name: str, column: str, shots: Shots, shot: str) -> str:
    """Click the formgrader's button in ``column`` for the assignment; the success dialog's text."""
    row = formgrader(page, url, name)
    row.locator(f"td.{column} a").click()
    dialog = page.locator("#success-modal, #error-modal").first
    dialog.wait_for(state="visible")
    shots(page, shot)
    text = dialog.inner_text()
    assert dialog.get_attribute("id") == "success-modal", f"formgrader {column}: {text[-3000:]}"
    return text


def open_nbgrader_menu(page) -> str:
    """Open Lab's Nbgrader menu (clicked again while a busy Lab has not opened it); its text."""
    item = page.locator(".lm-Menu .lm-Menu-itemLabel:text-is('Assignment List')")

    def opened():
        if item.is_visible():
            return True
        page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
        try:
            item.wait_for(state="visible", timeout=15_000)
        except Exception:  # noqa: BLE001 (playwright's TimeoutError: click again)
            return False
        return True

    wait_until(opened, "Lab's Nbgrader menu to open", poll=0.5)
    menu = page.locator(".lm-Menu", has=page.locator(".lm-Menu-itemLabel:text-is('Assignment List')"))
    return menu.first.inner_text()


def open_assignment_list(page):
    open_nbgrader_menu(page)
    page.locator(".lm-Menu .lm-Menu-itemLabel:text-is('Assignment List')").click()
    page.wait_for_selector("#released_assignments_list")


def assignment_button(page, listing: str, label: str):
    """The button ``label`` in the row of the assignment in one of the Assignment List's lists
    (the list is reloaded until the row is there: a release or a submission takes a moment)."""
    row = page.locator(f"#{listing} .list_item", has_text=ASSIGNMENT)
    button = row.locator(f"button:text-is('{label}')")

    def present():
        if button.count():
            return True
        page.click("#refresh_assignments_list")
        page.wait_for_selector(f"#{listing}_loading", state="hidden")
        return button.count() > 0

    wait_until(present, f"{label} for {ASSIGNMENT} in {listing}", poll=1.0)
    return button.first


def answers(kind: str) -> dict[str, str]:
    """grade_id -> what the student types into each solution cell."""
    source = nbformat.read(COURSE_SOURCE / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    typed = {grade_id(c): solution_code(c.source) for c in source.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
    for cell_id, edit in SUBMISSIONS[(ASSIGNMENT, KINDS[kind])].get(
            "edits", {}).items():
        typed[cell_id] = edit(typed[cell_id])
    return typed


def notebook_on_disk(name: str) -> nbformat.NotebookNode:
    home = pathlib.Path(pwd.getpwnam(name).pw_dir)
    return nbformat.read(home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)


def type_answers(page, url: str, name: str, typed: dict[str, str]) -> None:
    """Open the fetched notebook in Lab, replace each solution cell's text by typing, save."""
    release = notebook_on_disk(name)
    order = [grade_id(c) for c in release.cells]
    page.goto(f"{url}/user/{name}/lab/tree/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    wait_until(lambda: cells.count() == len(release.cells),
               f"{ASSIGNMENT}.ipynb to show its {len(release.cells)} cells")
    for cell_id, text in typed.items():
        editor = cells.nth(order.index(cell_id)).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(text)  # as pasted: no auto-indent, no closing brackets
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")

    def saved():
        notebook = notebook_on_disk(name)
        return all(c.source == typed[grade_id(c)] for c in notebook.cells
                   if grade_id(c) in typed)

    wait_until(saved, f"{name}'s typed answers to be saved in {ASSIGNMENT}.ipynb")


def feedback_page(page, url: str, name: str) -> str:
    """The feedback the student fetched, opened in the browser; its text."""
    home = pathlib.Path(pwd.getpwnam(name).pw_dir)
    pages = sorted((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(pages) == 1, f"{name}: expected one fetched feedback page, found {pages}"
    relative = pages[0].relative_to(home).as_posix()
    page.goto(f"{url}/user/{name}/files/{relative}")
    page.wait_for_selector(f"text={ASSIGNMENT}")
    return page.inner_text("body")


# ------------------------------------------------------------------------------------------
# the test
# ------------------------------------------------------------------------------------------


def test_a_class_on_the_hub(accounts, hub, chromium):
    names, passwords = accounts
    url, exchange, hub_log = hub
    shots = Shots()
    instructor = names["instructor"]
    course = pathlib.Path(pwd.getpwnam(instructor).pw_dir) / "rnn-course"
    timings: dict[str, float] = {}
    began = time.monotonic()
    try:
        # 1. the instructor generates and releases the assignment in the formgrader
        teacher, page = log_in(chromium, url, instructor, passwords[instructor])
        timings["instructor's Lab ready"] = time.monotonic() - began
        page.locator(".jp-DirListing-item", has_text="rnn-course").wait_for()
        shots(page, "instructor-lab")
        formgrader_action(page, url, instructor, "assign", shots, "formgrader-generate")
        assert (course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
        formgrader_action(page, url, instructor, "release", shots, "formgrader-release")
        released = exchange / "rnn-course" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert released.is_file(), f"nothing released into {released.parent}"
        timings["released"] = time.monotonic() - began

        # 2. each student fetches, types the answers, saves, submits
        students = {}
        for kind in ("correct", "missing_bias"):
            name = names[kind]
            context, page = log_in(chromium, url, name, passwords[name])
            students[kind] = (context, page)
            # students see the Assignment List and no formgrader
            menu = open_nbgrader_menu(page)
            assert "Assignment List" in menu and "Formgrader" not in menu, menu
            page.locator(".lm-Menu .lm-Menu-itemLabel:text-is('Assignment List')").click()
            page.wait_for_selector("#released_assignments_list")
            assignment_button(page, "released_assignments_list", "Fetch").click()
            assignment_button(page, "fetched_assignments_list", "Submit")
            shots(page, f"{kind}-fetched")
            type_answers(page, url, name, answers(kind))
            shots(page, f"{kind}-answers-typed")
            open_assignment_list(page)
            assignment_button(page, "fetched_assignments_list", "Submit").click()
            page.locator("#submitted_assignments_list .list_item",
                         has_text=ASSIGNMENT).first.wait_for()
            shots(page, f"{kind}-submitted")
            inbound = list((exchange / "rnn-course" / "inbound").glob(f"{name}+{ASSIGNMENT}+*"))
            assert len(inbound) == 1, f"{name}'s submission is not in the exchange: {inbound}"
            timings[f"{kind} submitted"] = time.monotonic() - began

        # 3. collect (formgrader), autograde (the course's jailed runner, as root), feedback
        page = teacher.pages[0]
        formgrader_action(page, url, instructor, "collect", shots, "formgrader-collect")
        for kind in ("correct", "missing_bias"):
            assert (course / "submitted" / names[kind] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
                    ).is_file(), f"{names[kind]}'s submission was not collected"
        env = {key: value for key, value in os.environ.items() if not key.startswith("COURSE_")}
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                     "IPYTHONDIR", "MPLCONFIGDIR"):
            env[name] = str(course.parent.parent.parent / "grader-runtime" / name.lower())
            os.makedirs(env[name], exist_ok=True)
        graded = run(str(BIN / "python"), "-m", "course_pkg.grading.instructor.pipeline", "autograde",
                     ASSIGNMENT, "--course", str(course), "--jobs", "2", cwd=course, env=env)
        print(graded.stdout)
        # the runner ran as root: the course folder goes back to its owner
        user = pwd.getpwnam(instructor)
        run("chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(course))
        for kind, (score, _) in EXPECTED.items():
            line = f"rnn_bptt/{names[kind]}: {score:g} / 12"
            assert line in graded.stdout, f"no {line!r} in the runner's output:\n{graded.stdout}"
        timings["autograded"] = time.monotonic() - began
        formgrader(page, url, instructor)
        shots(page, "formgrader-graded")
        formgrader_action(page, url, instructor, "generate-feedback", shots,
                          "formgrader-generate-feedback")
        formgrader_action(page, url, instructor, "release-feedback", shots,
                          "formgrader-release-feedback")

        # 4. each student fetches the feedback and reads the score and the message
        for kind, (score, messages) in EXPECTED.items():
            name = names[kind]
            context, page = students[kind]
            page.goto(f"{url}/user/{name}/lab")
            page.wait_for_selector(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
            open_assignment_list(page)
            assignment_button(page, "submitted_assignments_list", "Fetch Feedback").click()
            view = page.locator("#submitted_assignments_list a:text-is(' (view feedback)'),"
                                "#submitted_assignments_list a:has-text('view feedback')").first
            view.wait_for()
            shots(page, f"{kind}-feedback-fetched")
            text = feedback_page(page, url, name)
            shots(page, f"{kind}-feedback")
            header = f"{ASSIGNMENT} (Score: {round(score, 2)} / 12.0)"
            assert header in text, f"{name}: no {header!r} in the feedback:\n{text[:1500]}"
            for message in messages:
                assert message in text, f"{name}: no {message!r} in the feedback:\n{text[:3000]}"
            if kind == "correct":
                assert "equals the reference computed without" not in text, text[:3000]
            timings[f"{kind} read feedback"] = time.monotonic() - began
        print("timings (s since the instructor's login):",
              {k: round(v, 1) for k, v in timings.items()})
    except BaseException:
        print(f"--- hub log ({hub_log}) ---\n{hub_log.read_text()[-6000:]}")
        for number, page in enumerate(p for c in chromium.contexts for p in c.pages):
            page.screenshot(path=str(SHOTS / f"failure-{number}.png"))
        raise
