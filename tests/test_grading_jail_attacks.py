"""Hostile submissions against the course's runner: each ran, gained nothing, left nothing.

Every attacker starts from the untouched release (a blank submission: any point it earns, any
file it reads, is undeserved), adds a cell of its own that attacks, and prints what it got
(``ATTACK ...`` lines, which land in its autograded notebook, proving that the attack ran). A
victim submits the reference solution with a secret comment. The whole course is graded by
``course_pkg.grading.instructor.pipeline.autograde`` (jail and judge), then exported.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import os
import pathlib
import socket
import sqlite3
import tempfile
import threading
import time

import pytest

from course_builder import ROOT, append, autograded_output, make_submission, nbgrader, new_course

from course_pkg.grading.instructor import jail as jails
from course_pkg.grading.instructor import pipeline

pytestmark = pytest.mark.pipeline

A = "rnn_bptt"
TOKEN = "course-jail-attack-process"  # in the command line of every process an attacker starts
SECRET = "VICTIM-SECRET-4d1c"

READ = """
import os
for path in {paths!r}:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        print("ATTACK read", path, "LEAKED", len(data), b"{secret}" in data)
    except Exception as error:
        print("ATTACK read", path, "denied", type(error).__name__)
print("ATTACK listing", sorted(os.listdir("/")))
"""

WRITE = """
import sqlite3
for path in {paths!r}:
    try:
        with open(path, "a") as handle:
            handle.write("# planted")
        print("ATTACK write", path, "WRITTEN")
    except Exception as error:
        print("ATTACK write", path, "denied", type(error).__name__)
try:
    db = sqlite3.connect({gradebook!r})
    db.execute("UPDATE grade SET auto_score = 100")
    db.commit()
    print("ATTACK gradebook WRITTEN")
except Exception as error:
    print("ATTACK gradebook denied", type(error).__name__)
"""

NETWORK = """
import socket
try:
    connection = socket.create_connection(("127.0.0.1", {port}), timeout=3)
    connection.sendall(b"stolen")
    print("ATTACK network CONNECTED")
except Exception as error:
    print("ATTACK network denied", type(error).__name__)
"""

PROCESSES = """
import subprocess, sys
started = 0
for _ in range(50):
    try:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", "{token}"],
                         start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started += 1
    except Exception as error:
        print("ATTACK spawn failed", type(error).__name__)
        break
print("ATTACK spawned", started)
"""

EXEC_REFERENCE = """
import numpy as np
def rnn_step_forward(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    namespace = {{}}
    exec(open({path!r}).read(), namespace)
    return namespace["rnn_step_forward"](x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
try:
    exec(open({path!r}).read(), {{}})
    print("ATTACK exec ran the reference")
except Exception as error:
    print("ATTACK exec denied", type(error).__name__)
"""

FORGE_DISPLAY = """
report = {"grade_id": "test_rnn_step_forward", "score": 2, "max_score": 2, "delegation": "",
          "faults": [], "cases": []}
try:
    from IPython.display import display
    display({"application/vnd.rnn-course.grade+json": report, "text/plain": "2.0"}, raw=True)
    print("ATTACK display sent")
except Exception as error:
    print("ATTACK display failed", type(error).__name__)
"""

IMPORT_HOOK = """
import sys, types, importlib.abc, importlib.machinery
class Forger(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.startswith("course_pkg.grading"):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        class FullMarks:
            def __init__(self, *args, **kwargs): pass
            def check(self, *args, **kwargs): return self
            def score(self): return 3.0
        for name in ("step_forward", "step_backward", "forward", "backward",
                     "numerical_gradient"):
            setattr(module, name, FullMarks)
sys.meta_path.insert(0, Forger())
print("ATTACK hook installed")
"""


def _plant_paths() -> list[str]:
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    return [os.path.join(site, "sitecustomize.py"), os.path.join(site, "zz_course_attack.pth"),
            os.path.join(os.environ.get("IPYTHONDIR", os.path.expanduser("~/.ipython")),
                         "profile_default", "startup", "00-course-attack.py"),
            os.path.expanduser("~/.ipython/profile_default/startup/00-course-attack.py")]


PLANT = """
import os
for path in {paths!r}:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("print('planted')\\n")
        print("ATTACK plant", path, "in the jail's view")
    except Exception as error:
        print("ATTACK plant", path, "denied", type(error).__name__)
"""


def _digest(folder: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if token.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(5)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
                self.accepted += 1
                connection.close()
            except OSError:
                continue

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    problem = jails.jail_problem()
    if problem:
        pytest.fail(f"the jail cannot be built here ({problem}); `make test` installs "
                    "bubblewrap and runs as root in CI")
    tmp = tmp_path_factory.mktemp("attacks")
    course = tmp / "assignments"
    listener = Listener()
    from course_pkg.numpy_rnn import rnn as reference

    reference_file = inspect.getsourcefile(reference)
    victim_notebook = course / "submitted" / "victim" / A / f"{A}.ipynb"
    attacks = {
        "reader": READ.format(secret=SECRET, paths=[
            str(course / "source" / A / f"{A}.ipynb"), str(course / "gradebook.db"),
            str(victim_notebook), "/root/.bashrc", str(reference_file),
            str(ROOT / "assignments" / "source" / A / f"{A}.ipynb")]),
        "writer": WRITE.format(gradebook=str(course / "gradebook.db"), paths=[
            str(course / "source" / A / f"{A}.ipynb"), str(course / "release" / A / f"{A}.ipynb"),
            str(course / "planted.txt"), str(ROOT / "course_pkg" / "planted.py")]),
        "planter": PLANT.format(paths=_plant_paths()),
        "network": NETWORK.format(port=listener.port),
        "spawner": PROCESSES.format(token=TOKEN),
        "forger": FORGE_DISPLAY,
        "hooker": IMPORT_HOOK,
    }
    submissions = {(A, name): dict(solutions=False, prepend=code) for name, code in attacks.items()}
    submissions[(A, "victim")] = dict(edits={"rnn_step_forward": append(f"# {SECRET}")})
    submissions[(A, "executor")] = dict(solutions=False, edits={
        "rnn_step_forward": lambda source: EXEC_REFERENCE.format(path=reference_file)})
    submissions[(A, "paster")] = dict(solutions=False, edits={
        "rnn_step_forward": lambda source: "import numpy as np\n\n"
        + inspect.getsource(reference.rnn_step_forward)})
    course, env = new_course(tmp, (A,), {})
    for (assignment, student), options in submissions.items():
        make_submission(course, assignment, student, **options)
    before = {name: _digest(course / name) for name in ("source", "release")}
    scratch_before = set(pathlib.Path(tempfile.gettempdir()).glob("course-*"))
    lines: list[str] = []
    original_log = pipeline._log
    pipeline._log = lambda message: (lines.append(message), original_log(message))
    try:
        results = {r.student: r for r in pipeline.autograde(course, A, jobs=2, timeout=300)}
    finally:
        pipeline._log = original_log
        listener.close()
    scratch_left = set(pathlib.Path(tempfile.gettempdir()).glob("course-*")) - scratch_before
    nbgrader(course, "export", "--to", str(tmp / "grades.csv"), env=env)
    with open(tmp / "grades.csv") as handle:
        grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    outputs = {student: autograded_output(course, A, student) for student in submissions_of(course)}
    return {"course": course, "results": results, "grades": grades, "outputs": outputs,
            "lines": lines, "before": before, "listener": listener, "scratch_left": scratch_left,
            "reference_file": reference_file}


def submissions_of(course: pathlib.Path) -> list[str]:
    return pipeline.submissions(course, A)


def _attack_lines(attacked, student: str) -> list[str]:
    return [line for line in attacked["outputs"][student].splitlines()
            if line.startswith("ATTACK")]


ATTACKERS = ("reader", "writer", "planter", "network", "spawner", "forger", "hooker",
             "executor")


@pytest.mark.parametrize("student", ATTACKERS)
def test_an_attack_earns_nothing(attacked, student):
    assert attacked["grades"][student] == 0.0, attacked["outputs"][student][-3000:]
    assert attacked["results"][student].ok


def test_the_victim_is_graded_as_usual(attacked):
    assert attacked["grades"]["victim"] == 12.0


def test_reading_the_course_the_gradebook_and_other_submissions_finds_nothing(attacked):
    lines = [line for line in _attack_lines(attacked, "reader") if line.startswith("ATTACK read")]
    assert len(lines) == 6, attacked["outputs"]["reader"][-2000:]
    assert all(" denied " in line for line in lines), lines
    for student, text in attacked["outputs"].items():
        if student != "victim":
            assert SECRET not in text, student


def test_writing_the_course_and_the_gradebook_fails(attacked):
    lines = _attack_lines(attacked, "writer")
    assert len(lines) == 5 and all(" denied " in line for line in lines), lines
    course = attacked["course"]
    for name, digest in attacked["before"].items():
        assert _digest(course / name) == digest, f"{name}/ changed"
    assert not (course / "planted.txt").exists()
    assert not (ROOT / "course_pkg" / "planted.py").exists()
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("SELECT max(auto_score) FROM grade").fetchone()[0] <= 3


def test_planted_start_up_files_do_not_outlive_the_jail(attacked):
    lines = _attack_lines(attacked, "planter")
    assert len(lines) == 4, attacked["outputs"]["planter"][-2000:]
    for path in _plant_paths():
        assert not os.path.exists(path), path


def test_the_network_is_unreachable_loopback_included(attacked):
    assert _attack_lines(attacked, "network") == ["ATTACK network denied ConnectionRefusedError"]
    assert attacked["listener"].accepted == 0


def test_detached_processes_die_with_the_jail(attacked):
    assert "ATTACK spawned 50" in _attack_lines(attacked, "spawner")
    deadline = time.monotonic() + 30
    while _processes_with(TOKEN) and time.monotonic() < deadline:
        time.sleep(0.2)  # the kernel reaps the killed namespace; wait for that, not a fixed time
    assert _processes_with(TOKEN) == []


def test_nothing_the_jails_wrote_outlives_the_run(attacked):
    # the submissions' copies and the student edition live in the run's folders, all removed
    assert attacked["scratch_left"] == set(), attacked["scratch_left"]


def test_the_reference_source_cannot_be_executed(attacked):
    # the reference's file is absent from the jail, or a stub that raises ImportError
    assert _attack_lines(attacked, "executor") in (["ATTACK exec denied FileNotFoundError"],
                                                   ["ATTACK exec denied ImportError"])


def test_forged_reports_and_import_hooks_change_nothing(attacked):
    assert _attack_lines(attacked, "forger") in (["ATTACK display sent"],
                                                 ["ATTACK display failed ImportError"])
    assert _attack_lines(attacked, "hooker") == ["ATTACK hook installed"]


def test_pasted_reference_code_is_flagged_for_the_instructor(attacked):
    expected = (f"SIMILAR {A}/paster: rnn_step_forward matches the reference "
                "course_pkg.numpy_rnn.rnn.rnn_step_forward")
    assert any(line.startswith(expected) for line in attacked["lines"]), attacked["lines"]
    with open(attacked["course"] / "similarity.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert any(r["student"] == "paster" and r["function"] == "rnn_step_forward"
               and r["matches"].startswith("reference ") for r in rows)
    assert not any(r["student"] in ATTACKERS for r in rows if r["student"] != "executor")


def test_the_student_edition_hides_the_books_experiment_parts(tmp_path):
    # the task, gradient and layer-cost modules call and wrap the references: a submission
    # must not find them (e.g. gradients.elman_bptt computes the rnn_bptt answers)
    edition = jails.student_edition(tmp_path / "edition", ["course_pkg.numpy_rnn"])
    assert set(jails.HIDDEN_ALWAYS) >= {"course_pkg.tasks", "course_pkg.gradients",
                                        "course_pkg.layer_cost", "course_pkg.gate_traces"}
    assert [p.name for p in (edition / "tasks").iterdir() if p.suffix == ".py"] == ["__init__.py"]
    assert "raise ImportError" in (edition / "gate_traces.py").read_text()
    sources = "".join(p.read_text() for p in edition.rglob("*.py"))
    assert "def elman_gradients" not in sources and "def adding_loss" not in sources


def test_the_jail_runs_as_nobody_without_the_instructors_environment(tmp_path):
    edition = jails.student_edition(tmp_path / "edition", ["course_pkg.numpy_rnn"])
    folder = tmp_path / "submission"
    folder.mkdir()
    os.environ["COURSE_SECRET_FOR_TEST"] = "instructor-only"
    try:
        with jails.Jail(folder, edition, tmp_path) as jail:
            reply = jail.request({"op": "run_cell", "timeout": 10, "source": (
                "import os\nprint(os.getuid(), os.getgid(), "
                "os.environ.get('COURSE_SECRET_FOR_TEST'))")}, 30)
    finally:
        del os.environ["COURSE_SECRET_FOR_TEST"]
    assert reply["printed"].split() == ["65534", "65534", "None"]
    assert jail.uid == 65534


def test_the_runner_refuses_to_grade_without_a_jail(tmp_path, monkeypatch):
    course = tmp_path / "assignments"
    course.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    monkeypatch.setattr(jails, "jail_problem", lambda: "bwrap not found: install bubblewrap")
    with pytest.raises(pipeline.JailUnavailable, match="--unsafe-no-jail"):
        pipeline.autograde(course, A, students=[])
