"""The instructor's autograde: every submission in its own process, several at a time.

``nbgrader autograde <assignment>`` grades the submissions one after the other in one process,
and one pathological submission (a kernel that cannot be stopped, a notebook file that is not
JSON) ends it with exit status 1. This runner keeps nbgrader, but runs one
``nbgrader autograde <assignment> --student <id>`` per submission, ``--jobs`` at a time, each
in a forked child of the runner (nbgrader is imported once, by the runner: that saves about
2.5 s of start-up per submission), in its own session, with

- a wall-clock limit (``--timeout``), after which it is killed with SIGKILL, kernel included;
- an address-space limit (``RLIMIT_AS``, ``--memory-gb``), inherited by the kernel;
- its output written to ``logs/autograde/<assignment>/<student>.log``;
- BLAS and OpenMP pinned to one thread, ``PYTHONHASHSEED=0``: the same numbers every run.

The processes write to one gradebook at the same time: SQLite serialises writers, and the
``?timeout=60`` in the course's ``db_url`` makes each writer wait for the others instead of
failing with "database is locked".

Before grading, every submitted notebook is read as notebook JSON; one that is not valid gets 0
for every test cell straight away (nbgrader itself would stop at it). After grading, the
gradebook is checked: a submission whose autograde failed (killed, crashed) has all its test
cells set to 0 and is logged, so that no cell is left "needs manual grading" by accident.

Every failure gets one log line, e.g.::

    FAIL rnn_bptt/bob: submitted notebook rnn_bptt.ipynb is not valid notebook JSON (line 3 ...)
    FAULT rnn_bptt/carol: test_rnn_forward: rnn_forward: did not return within 5 s
    FAIL rnn_bptt/dave: autograde killed after 600 s (the kernel could not be stopped)

Usage, in the course directory (or name it with ``--course``)::

    cd assignments && python -m course_pkg.grading.pipeline autograde rnn_bptt --jobs 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import resource
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Iterable

import nbformat

from course_pkg.grading.report import REPORT_MIME
from course_pkg.validation import require_in_range, require_positive_int

LOG_TAIL = 4000  # characters of a failed run's log quoted in its log line


@dataclass
class SubmissionResult:
    student: str
    ok: bool
    seconds: float = 0.0
    score: float | None = None
    max_score: float | None = None
    failure: str = ""  # why the whole submission failed
    faults: list[str] = field(default_factory=list)  # per-part faults found in the report
    cpu_seconds: float = 0.0  # user + system time of the run (nbgrader and its kernel)


def _log(message: str) -> None:
    print(message, flush=True)


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader runs `alembic` and the kernel by name: this environment's bin/ comes first
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    return env


def submissions(course: pathlib.Path, assignment: str) -> list[str]:
    root = course / "submitted"
    return sorted(p.parent.name for p in root.glob(f"*/{assignment}") if p.is_dir())


def notebook_problem(path: pathlib.Path) -> str:
    """Why a submitted notebook cannot be graded, or '' when it can."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 (any reason is reported, none is fatal)
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"submitted notebook {path.name} is not valid notebook JSON ({text[:200]})"
    return ""


class _quiet_gradebook:
    """nbgrader's Gradebook, with SQLAlchemy's warnings about nbgrader's sessions silenced."""

    def __init__(self, gradebook) -> None:
        self.gradebook = gradebook
        self.catcher = warnings.catch_warnings()

    def __enter__(self):
        self.catcher.__enter__()
        warnings.simplefilter("ignore")
        return self.gradebook.__enter__()

    def __exit__(self, *exc) -> None:
        try:
            self.gradebook.__exit__(*exc)
        finally:
            self.catcher.__exit__(*exc)


def _gradebook(course: pathlib.Path):
    from nbgrader.api import Gradebook
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    url = config.CourseDirectory.get("db_url") or f"sqlite:///{course / 'gradebook.db'}"
    return _quiet_gradebook(Gradebook(url, config.CourseDirectory.get("course_id")
                                      or "default_course"))


def zero_submission(course: pathlib.Path, assignment: str, student: str) -> None:
    """Give 0 to every test cell of a submission (created if needed)."""
    with _gradebook(course) as gradebook:
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.auto_score is None and grade.cell.cell_type == "code":
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = False
        gradebook.db.commit()


def gradebook_score(course: pathlib.Path, assignment: str, student: str
                    ) -> tuple[float | None, float | None, int]:
    """(score, max_score, number of test cells still ungraded) of a submission."""
    with _gradebook(course) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except Exception:  # noqa: BLE001 (MissingEntry)
            return None, None, -1
        ungraded = sum(1 for nb in submission.notebooks for g in nb.grades
                       if g.auto_score is None and g.cell.cell_type == "code")
        return submission.score, submission.max_score, ungraded


def report_faults(course: pathlib.Path, assignment: str, student: str) -> list[str]:
    """Faults recorded in the autograded notebooks: sandboxed calls that hung, exited, ran out
    of memory or printed megabytes; cells whose kernel died or could not be interrupted."""
    faults = []
    for path in sorted((course / "autograded" / student / assignment).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "cell")
            for output in cell.get("outputs", []):
                report = output.get("data", {}).get(REPORT_MIME)
                if isinstance(report, str):
                    report = json.loads(report)
                if isinstance(report, dict):
                    faults += [f"{grade_id}: {fault}" for fault in report.get("faults", [])]
                    if report.get("delegation"):
                        faults.append(f"{grade_id}: delegation: {report['delegation'][:200]}")
                name, text = output.get("ename"), str(output.get("evalue", ""))
                if output.get("output_type") != "error":
                    continue
                if name in ("KernelDied", "CellTimeout", "KernelLost") or (
                        name == "NoPoints" and ("grade report" in text
                                                or "GradingIntegrityError" in text)):
                    faults.append(f"{grade_id}: {name}: {text[:300]}")
    return faults


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (the kernel runs in a session of its own, so killing the
    nbgrader process group does not reach it)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _kill_tree(pid: int) -> None:
    for victim in _descendants(pid) + [pid]:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _nbgrader_child(course: pathlib.Path, assignment: str, student: str, memory_bytes: int,
                    log_path: pathlib.Path, environment: dict[str, str]) -> None:
    """In the forked child: ``nbgrader autograde <assignment> --student <student> --force``,
    with nbgrader already imported by the parent (which saves ~2.5 s per submission)."""
    code = 1
    try:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        os.chdir(course)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.environ.clear()
        os.environ.update(environment)
        from nbgrader.apps.autogradeapp import AutogradeApp

        app = AutogradeApp.instance()
        app.initialize([assignment, "--student", student, "--force"])
        app.start()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 (reported in the log, and as a failure)
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _finish(course: pathlib.Path, assignment: str, student: str, failure: str, seconds: float,
            cpu_seconds: float, log_path: pathlib.Path) -> SubmissionResult:
    """Check the gradebook after one run; zero the submission if the run failed."""
    if failure:
        tail = log_path.read_bytes()[-LOG_TAIL:].decode("utf-8", "replace")
        errors = [line for line in tail.splitlines() if "ERROR" in line or "Error" in line]
        if errors:
            failure += f"; last error: {errors[-1].strip()[:300]}"
    score, max_score, ungraded = gradebook_score(course, assignment, student)
    if not failure and ungraded:
        failure = f"{ungraded} test cell(s) left ungraded by nbgrader"
    if failure:
        zero_submission(course, assignment, student)
        score, max_score, _ = gradebook_score(course, assignment, student)
        return SubmissionResult(student, False, seconds, score, max_score, failure=failure,
                                cpu_seconds=cpu_seconds)
    return SubmissionResult(student, True, seconds, score, max_score,
                            faults=report_faults(course, assignment, student),
                            cpu_seconds=cpu_seconds)


def _report(result: SubmissionResult, assignment: str, course: pathlib.Path,
            log_dir: pathlib.Path) -> None:
    where = f"{assignment}/{result.student}"
    if result.ok:
        _log(f"ok   {where}: {result.score:g} / {result.max_score:g} ({result.seconds:.1f} s)")
        for fault in result.faults:
            _log(f"FAULT {where}: {fault}")
    else:
        _log(f"FAIL {where}: {result.failure} (all its test cells scored 0; log: "
             f"{(log_dir / (result.student + '.log')).relative_to(course)})")


def autograde(course: pathlib.Path, assignment: str, *, jobs: int = 2, timeout: float = 600,
              memory_gb: float = 6.0, students: Iterable[str] | None = None
              ) -> list[SubmissionResult]:
    """Autograde every submission of ``assignment`` (or ``students``), ``jobs`` at a time.

    Each submission runs in a forked child of this process (nbgrader is imported once, here),
    in its own session, with ``timeout`` seconds and ``memory_gb`` of address space.
    """
    from nbgrader.apps.autogradeapp import AutogradeApp  # noqa: F401 (imported once, here)

    require_positive_int("jobs", jobs)
    require_in_range("timeout", timeout, 1.0, math.inf)
    require_in_range("memory_gb", memory_gb, 0.5, math.inf)
    if not (course / "nbgrader_config.py").is_file():
        raise ValueError(f"course: expected an nbgrader course directory with an "
                         f"nbgrader_config.py, got {course}")
    course = course.resolve()
    names = list(students) if students is not None else submissions(course, assignment)
    log_dir = course / "logs" / "autograde" / assignment
    log_dir.mkdir(parents=True, exist_ok=True)
    with _gradebook(course) as gradebook:  # create students serially: no racing inserts
        try:
            gradebook.find_assignment(assignment)
        except Exception as error:  # noqa: BLE001 (nbgrader's MissingEntry)
            raise SystemExit(f"{assignment} is not in the gradebook of {course}: run "
                             f"`nbgrader generate_assignment {assignment}` first") from error
        for name in names:
            gradebook.update_or_create_student(name)
    environment = child_environment()
    memory_bytes = int(memory_gb * 1024**3)
    start = time.perf_counter()
    results: list[SubmissionResult] = []
    pending = list(names)
    running: dict[int, tuple[str, float]] = {}  # pid -> (student, start time)
    while pending or running:
        while pending and len(running) < jobs:
            student = pending.pop(0)
            notebooks = sorted((course / "submitted" / student / assignment).glob("*.ipynb"))
            problem = next((p for p in map(notebook_problem, notebooks) if p), "")
            if problem:
                zero_submission(course, assignment, student)
                results.append(SubmissionResult(student, False, failure=problem))
                _report(results[-1], assignment, course, log_dir)
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _nbgrader_child(course, assignment, student, memory_bytes,
                                log_dir / f"{student}.log", environment)
            running[pid] = (student, time.perf_counter())
        time.sleep(0.05)
        for pid, (student, began) in list(running.items()):
            done, status, usage = os.wait4(pid, os.WNOHANG)
            failure = ""
            if not done:
                if time.perf_counter() - began < timeout:
                    continue
                _kill_tree(pid)
                done, status, usage = os.wait4(pid, 0)
                failure = f"autograde killed after {timeout:g} s (the kernel could not be stopped)"
            elif os.waitstatus_to_exitcode(status) != 0:
                failure = f"nbgrader autograde exited with status {os.waitstatus_to_exitcode(status)}"
            for orphan in _descendants(pid):  # a kernel left behind by a crashed nbgrader
                _kill_tree(orphan)
            del running[pid]
            result = _finish(course, assignment, student, failure, time.perf_counter() - began,
                             usage.ru_utime + usage.ru_stime, log_dir / f"{student}.log")
            results.append(result)
            _report(result, assignment, course, log_dir)
    elapsed = time.perf_counter() - start
    failed = sum(1 for r in results if not r.ok)
    per = elapsed / len(results) if results else 0.0
    _log(f"autograded {len(results)} submission(s) of {assignment} in {elapsed:.1f} s "
         f"({per:.2f} s per submission, {jobs} at a time); {failed} failed")
    return sorted(results, key=lambda r: r.student)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Robust, parallel nbgrader autograde.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("autograde", help="autograde every submission of an assignment")
    run.add_argument("assignment")
    run.add_argument("--course", default=None,
                     help="the nbgrader course directory (default: the current directory if it "
                          "has an nbgrader_config.py, else ./assignments)")
    run.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    run.add_argument("--timeout", type=float, default=600, help="seconds per submission")
    run.add_argument("--memory-gb", type=float, default=6.0, help="address space per submission")
    run.add_argument("--student", action="append", help="only these students (repeatable)")
    args = parser.parse_args(argv)
    course = pathlib.Path(args.course) if args.course else (
        pathlib.Path(".") if pathlib.Path("nbgrader_config.py").exists()
        else pathlib.Path("assignments"))
    autograde(course, args.assignment, jobs=args.jobs, timeout=args.timeout,
              memory_gb=args.memory_gb, students=args.student)
    return 0


if __name__ == "__main__":
    sys.exit(main())
