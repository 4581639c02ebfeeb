"""The instructor's autograde: every submission in its own process, several at a time.

``nbgrader autograde <assignment>`` grades the submissions one after the other in one process,
and one pathological submission (a kernel that cannot be stopped, a notebook file that is not
JSON) ends it with exit status 1. This runner keeps nbgrader, but runs one
``nbgrader autograde <assignment> --student <id>`` per submission, ``--jobs`` at a time, each
in a forked child of the runner (nbgrader, and what the judge needs, `preload_judge`, are
imported once, by the runner: that saves seconds of start-up per submission), in its own
session, with

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

The gradebook is the course's ``db_url`` (nbgrader_config.py) unless ``--db-url`` names
another for this run (the runner's own reads and writes and every nbgrader child's, as
``CourseDirectory.db_url``): SQLite is the zero-set-up default; PostgreSQL
(``postgresql+psycopg://user@/db?host=/socket/dir`` or ``...@host:port/db``) takes concurrent
writers without a busy timeout.

The unit of work is one submission in its forked child. By default the runner's own process
pool runs them; ``--dask-local N`` sends them to a Dask ``LocalCluster`` of N one-thread
workers, ``--scheduler tcp://host:port`` to an existing Dask scheduler (its workers need this
package, bubblewrap, root, the course directory at the same path, and a gradebook they can all
reach: PostgreSQL). In a Dask task the same child is forked, with the same limits, and killed
after ``--timeout`` by the task itself: Dask does not stop a stuck task.

Every failure gets one log line, e.g.::

    FAIL rnn_bptt/bob: submitted notebook rnn_bptt.ipynb is not valid notebook JSON (line 3 ...)
    FAULT rnn_bptt/carol: test_rnn_forward: rnn_forward: did not return within 5 s
    FAIL rnn_bptt/dave: autograde killed after 600 s (the kernel could not be stopped)

Usage, in the course directory (or name it with ``--course``)::

    cd assignments && python -m course_pkg.grading.instructor.pipeline autograde rnn_bptt --jobs 2
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
import tempfile
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
from typing import Any, Iterable

import nbformat

from course_pkg.grading.report import REPORT_MIME
from course_pkg.validation import require_in_range, require_positive_int

DASK_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")

LOG_TAIL = 4000  # characters of a failed run's log quoted in its log line
MAX_SIMILAR_LINES = 200  # SIMILAR lines printed per assignment (similarity.csv has every match)


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


def open_gradebook(course: pathlib.Path, db_url: str | None = None):
    """The gradebook at ``db_url``, or else at the course's ``CourseDirectory.db_url``."""
    from nbgrader.api import Gradebook
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    url = (db_url or config.CourseDirectory.get("db_url")
           or f"sqlite:///{course / 'gradebook.db'}")
    return _quiet_gradebook(Gradebook(url, config.CourseDirectory.get("course_id")
                                      or "default_course"))


def zero_submission(course: pathlib.Path, assignment: str, student: str,
                    db_url: str | None = None) -> None:
    """Give 0 to every test cell of a submission (created if needed), also to cells that kept
    a score from an earlier run: a regrade that fails must not leave the old grade standing."""
    with open_gradebook(course, db_url) as gradebook:
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code":
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = False
        gradebook.db.commit()


def gradebook_score(course: pathlib.Path, assignment: str, student: str,
                    db_url: str | None = None) -> tuple[float | None, float | None, int]:
    """(score, max_score, number of test cells still ungraded) of a submission."""
    with open_gradebook(course, db_url) as gradebook:
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
                if name == "CellTimeoutError":  # nbgrader's own Execute, not the course's
                    name, text = "CellTimeout", "this cell did not finish in time"
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


def hidden_modules(course: pathlib.Path, assignment: str) -> list[str]:
    """The modules hidden from the jail for ``assignment``: those its parts forbid (the
    ``forbidden.modules`` of the spec of every part its test cells grade, ``grade("name", ...)``
    of `course_pkg.grading.parts`)."""
    from course_pkg.grading.parts import registry

    specs = registry()
    hidden: set[str] = set()
    for path in sorted((course / "source" / assignment).glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        for name in sorted(set(re.findall(r'grade\(\\?"(\w+)\\?"', text))):
            if name in specs:
                hidden.update(m for m in specs[name].forbidden.modules
                              if m.startswith("course_pkg."))
    return sorted(hidden)


def _judge_config(app: Any, course: pathlib.Path, edition: pathlib.Path | None,
                  memory_gb: float) -> None:
    """Put the judge (grading.judge.JailedExecute) where nbgrader's Execute would run."""
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config

    from course_pkg.grading.instructor.judge import JailedExecute

    autograde = app.config.Autograde.get("autograde_preprocessors", None) or []
    timeout = app.config.RobustExecute.get("timeout", app.config.Execute.get("timeout", 120))
    config = Config()
    config.Autograde.autograde_preprocessors = [
        JailedExecute if isinstance(p, type) and issubclass(p, Execute) else p
        for p in autograde]
    config.JailedExecute.timeout = int(timeout)
    config.JailedExecute.memory_gb = float(memory_gb)
    config.JailedExecute.course = str(course)
    config.JailedExecute.edition = str(edition or "")
    config.JailedExecute.jailed = edition is not None
    app.update_config(config)


def preload_judge() -> None:
    """Import, once in the runner, what the judge of every forked child would import again:
    the judge and the grading engine (with torch and ``torch._dynamo``, which the first
    optimizer a reference builds would import), every spec module and every reference the
    specs name, and nbformat's compiled validators of the current notebook format (strict and
    relaxed: nbgrader asks for both). A child then starts with them loaded (fork shares the
    pages), which saves about a second of CPU per submission. Nothing here runs student code or
    a test."""
    from nbformat import v4, validator

    import torch._dynamo  # noqa: F401 (imported by torch.optim's first optimizer: seconds)

    from course_pkg.grading import kit, parts
    from course_pkg.grading.instructor import judge  # noqa: F401 (torch, the engine)

    for spec in parts.registry().values():
        kit.load_modules(spec.references)
    for relaxed in (False, True):
        validator.get_validator(version=4, version_minor=v4.nbformat_minor,
                                relax_add_props=relaxed)


def _pin_threads() -> None:
    """In a forked child: torch was imported by the runner, before the child's environment
    pinned OpenMP to one thread; pin it here too (same numbers every run)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _nbgrader_child(course: pathlib.Path, assignment: str, student: str, memory_bytes: int,
                    log_path: pathlib.Path, environment: dict[str, str],
                    judge: tuple[pathlib.Path | None, float] | None = None,
                    db_url: str | None = None) -> None:
    """In the forked child: ``nbgrader autograde <assignment> --student <student> --force``,
    with nbgrader already imported by the parent (which saves ~2.5 s per submission); a
    ``db_url`` overrides the course's (nbgrader's command line wins over its config file)."""
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
        _pin_threads()
        from nbgrader.apps.autogradeapp import AutogradeApp

        app = AutogradeApp.instance()
        app.initialize([assignment, "--student", student, "--force"]
                       + ([f"--CourseDirectory.db_url={db_url}"] if db_url else []))
        if judge is not None:
            _judge_config(app, course, judge[0], judge[1])
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
            cpu_seconds: float, log_path: pathlib.Path, db_url: str | None = None
            ) -> SubmissionResult:
    """Check the gradebook after one run; zero the submission if the run failed."""
    if failure:
        tail = log_path.read_bytes()[-LOG_TAIL:].decode("utf-8", "replace")
        errors = [line for line in tail.splitlines() if "ERROR" in line or "Error" in line]
        if errors:
            failure += f"; last error: {errors[-1].strip()[:300]}"
    score, max_score, ungraded = gradebook_score(course, assignment, student, db_url)
    if not failure and ungraded:
        failure = f"{ungraded} test cell(s) left ungraded by nbgrader"
    if failure:
        zero_submission(course, assignment, student, db_url)
        score, max_score, _ = gradebook_score(course, assignment, student, db_url)
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


def _report_similarity(course: pathlib.Path, assignment: str) -> None:
    """SIMILAR lines and similarity.csv (see grading.similarity): flagged, not scored."""
    from course_pkg.grading.instructor import similarity

    matches = similarity.compare(course, assignment, submissions(course, assignment),
                                 hidden_modules(course, assignment))
    # matches with the reference first; a class of near-identical submissions would print
    # thousands of pairs, so the log stops at MAX_SIMILAR_LINES and the CSV has them all
    ordered = sorted(matches, key=lambda m: not m.other.startswith("reference"))
    for match in ordered[:MAX_SIMILAR_LINES]:
        _log(match.line())
    if len(ordered) > MAX_SIMILAR_LINES:
        _log(f"SIMILAR {assignment}: {len(ordered) - MAX_SIMILAR_LINES} more close matches "
             "in similarity.csv")
    similarity.update_csv(course / "similarity.csv", assignment, matches)


class JailUnavailable(SystemExit):
    """The jail cannot be built here and the instructor did not pass --unsafe-no-jail."""


def _invalid_submission(course: pathlib.Path, assignment: str, student: str,
                        db_url: str | None) -> SubmissionResult | None:
    """A failed result (and 0 for every test cell) when a submitted notebook is not valid."""
    notebooks = sorted((course / "submitted" / student / assignment).glob("*.ipynb"))
    problem = next((p for p in map(notebook_problem, notebooks) if p), "")
    if not problem:
        return None
    zero_submission(course, assignment, student, db_url)
    return SubmissionResult(student, False, failure=problem)


def _fork_child(course: pathlib.Path, assignment: str, student: str, memory_bytes: int,
                log_path: pathlib.Path, environment: dict[str, str],
                judge: tuple[pathlib.Path | None, float] | None, db_url: str | None,
                die_with_parent: bool = False) -> int:
    """Fork the child that autogrades one submission (see :func:`_nbgrader_child`); with
    ``die_with_parent`` the kernel kills it if the forking thread dies first (a Dask worker
    that is stopped or lost must not leave a child running without its time limit)."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        if die_with_parent:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before prctl
                os._exit(1)
        _nbgrader_child(course, assignment, student, memory_bytes, log_path, environment,
                        judge, db_url)
    return pid


def _reap_child(pid: int, began: float, timeout: float) -> tuple[str, Any] | None:
    """None while the child runs within its time; else (failure or '', its resource usage),
    the child and everything it started killed when it ran past ``timeout`` seconds."""
    done, status, usage = os.wait4(pid, os.WNOHANG)
    failure = ""
    if not done:
        if time.perf_counter() - began < timeout:
            return None
        _kill_tree(pid)
        done, status, usage = os.wait4(pid, 0)
        failure = f"autograde killed after {timeout:g} s (the kernel could not be stopped)"
    elif os.waitstatus_to_exitcode(status) != 0:
        failure = f"nbgrader autograde exited with status {os.waitstatus_to_exitcode(status)}"
    for orphan in _descendants(pid):  # a kernel left behind by a crashed nbgrader
        _kill_tree(orphan)
    return failure, usage


def grade_submission(course: str, assignment: str, student: str, *, timeout: float,
                     memory_gb: float, judge: bool, hidden: list[str] | None,
                     db_url: str | None) -> SubmissionResult:
    """The unit of work as a Dask task: one submission, graded by the same forked child as in
    the process pool, with the same limits (``memory_gb`` of address space; killed, kernel
    included, after ``timeout`` seconds by this task, since Dask does not stop a stuck task).

    It runs on a Dask worker: the child's environment is the worker's, and the jail's copy of
    the package (without the ``hidden`` modules; ``hidden=None``: no jail) is built there, in a
    temporary folder removed afterwards. The course directory must be at the same path there.
    """
    from nbgrader.apps.autogradeapp import AutogradeApp  # noqa: F401 (once per worker process)

    where = pathlib.Path(course)
    log_dir = where / "logs" / "autograde" / assignment
    log_dir.mkdir(parents=True, exist_ok=True)
    invalid = _invalid_submission(where, assignment, student, db_url)
    if invalid is not None:
        return invalid
    edition_root = None
    pid = None
    ended = None
    try:
        judge_setting = None
        if judge:
            edition = None
            if hidden is not None:
                from course_pkg.grading.instructor import jail as jails

                problem = jails.jail_problem()
                if problem:  # not SystemExit: that would end the worker, not the run
                    raise RuntimeError(f"refusing to grade on Dask worker {os.uname().nodename}:"
                                       f" {problem}")
                edition_root = pathlib.Path(tempfile.mkdtemp(prefix="course-edition-"))
                edition = jails.student_edition(edition_root, hidden)
            judge_setting = (edition, memory_gb)
            preload_judge()  # once per worker process: later tasks find it loaded
        began = time.perf_counter()
        pid = _fork_child(where, assignment, student, int(memory_gb * 1024**3),
                          log_dir / f"{student}.log", child_environment(), judge_setting,
                          db_url, die_with_parent=True)
        while (ended := _reap_child(pid, began, timeout)) is None:
            time.sleep(0.05)
    finally:
        if pid is not None and ended is None:  # interrupted: leave no child behind
            _kill_tree(pid)
            os.waitpid(pid, 0)
        if edition_root is not None:
            shutil.rmtree(edition_root, ignore_errors=True)
    failure, usage = ended
    return _finish(where, assignment, student, failure, time.perf_counter() - began,
                   usage.ru_utime + usage.ru_stime, log_dir / f"{student}.log", db_url)


def _shown_url(db_url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (an unparsable URL is shown as given)
        return db_url


def check_engines(db_url: str | None = None, scheduler: str | None = None,
                  dask_local: int | None = None) -> None:
    """Raise ValueError, naming the argument, for a gradebook URL without a driver here, a
    scheduler that is not an address, or both Dask options at once."""
    if db_url is not None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        example = ("sqlite:////path/to/gradebook.db or "
                   "postgresql+psycopg://user@/database?host=/socket/dir")
        if not isinstance(db_url, str) or not db_url.strip():
            raise ValueError(f"db_url: expected an SQLAlchemy URL such as {example}, "
                             f"got {db_url!r}")
        try:
            url = make_url(db_url)
        except ArgumentError:
            raise ValueError(f"db_url: expected an SQLAlchemy URL such as {example}, "
                             f"got {db_url!r}") from None
        try:
            url.get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError) as error:
            raise ValueError(f"db_url: no database driver for {url.drivername!r} here "
                             f"({error}); for PostgreSQL write postgresql+psycopg://... "
                             "(psycopg 3, in requirements.txt)") from None
    if scheduler is not None and dask_local is not None:
        raise ValueError("scheduler, dask_local: give one of them (an existing Dask scheduler "
                         "or a LocalCluster of dask_local workers), not both")
    if scheduler is not None and (not isinstance(scheduler, str)
                                  or not DASK_ADDRESS.match(scheduler)):
        raise ValueError(f"scheduler: expected a Dask scheduler address such as "
                         f"tcp://10.0.0.5:8786, got {scheduler!r}")
    if dask_local is not None:
        require_positive_int("dask_local", dask_local)


def _on_dask(course: pathlib.Path, assignment: str, names: list[str], scheduler: str | None,
             dask_local: int | None, task_options: dict[str, Any]) -> Iterable[SubmissionResult]:
    """Submit one :func:`grade_submission` task per student; yield results as they end."""
    import uuid

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if dask_local:  # one-thread worker processes; no memory limit: the child has its own
        cluster = LocalCluster(n_workers=dask_local, threads_per_worker=1, processes=True,
                               memory_limit=0, dashboard_address=None)
    try:
        try:
            client = Client(cluster if cluster is not None else scheduler, timeout=30)
        except OSError as error:
            raise ValueError(f"scheduler: cannot reach a Dask scheduler at {scheduler}: "
                             f"{error}") from error
        with client:
            # by its module's name (not __main__'s), so that workers import it
            task = importlib.import_module(
                "course_pkg.grading.instructor.pipeline").grade_submission
            run = uuid.uuid4().hex[:8]
            futures = [client.submit(task, str(course), assignment, student, pure=False,
                                     key=f"autograde-{assignment}-{student}-{run}",
                                     **task_options) for student in names]
            for future in as_completed(futures):
                yield future.result()
    finally:
        if cluster is not None:
            cluster.close()


def autograde(course: pathlib.Path, assignment: str, *, jobs: int = 2, timeout: float = 600,
              memory_gb: float = 6.0, students: Iterable[str] | None = None,
              jail: bool = True, judge: bool = True, db_url: str | None = None,
              scheduler: str | None = None, dask_local: int | None = None
              ) -> list[SubmissionResult]:
    """Autograde every submission of ``assignment`` (or ``students``), ``jobs`` at a time.

    Each submission runs in a forked child of this process (nbgrader is imported once, here),
    in its own session, with ``timeout`` seconds and ``memory_gb`` of address space. With
    ``judge`` (the default) the student's code runs in a jail (``jail``; see
    :mod:`~course_pkg.grading.instructor.jail`) and the tests in the judge (:mod:`~.judge`);
    ``jail=False`` is the runner's ``--unsafe-no-jail``; ``judge=False`` is plain nbgrader (the
    kernel runs student code and tests together).

    ``db_url`` (an SQLAlchemy URL) is the gradebook for this run instead of the course's
    ``CourseDirectory.db_url``, for the runner and every nbgrader child. ``dask_local`` (N)
    grades on a Dask LocalCluster of N one-thread workers, ``scheduler`` (an address) on an
    existing Dask scheduler's workers, instead of ``jobs`` forked children of this process.
    """
    from nbgrader.apps.autogradeapp import AutogradeApp  # noqa: F401 (imported once, here)

    require_positive_int("jobs", jobs)
    require_in_range("timeout", timeout, 1.0, math.inf)
    require_in_range("memory_gb", memory_gb, 0.5, math.inf)
    check_engines(db_url, scheduler, dask_local)
    if not (course / "nbgrader_config.py").is_file():
        raise ValueError(f"course: expected an nbgrader course directory with an "
                         f"nbgrader_config.py, got {course}")
    course = course.resolve()
    if judge and jail:
        from course_pkg.grading.instructor import jail as jails

        problem = jails.jail_problem()
        if problem:
            raise JailUnavailable(f"refusing to grade: {problem}. Student code would run with "
                                  "the instructor's rights; pass --unsafe-no-jail to grade "
                                  "without the jail anyway.")
    names = list(students) if students is not None else submissions(course, assignment)
    log_dir = course / "logs" / "autograde" / assignment
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        book = open_gradebook(course, db_url)
    except Exception as error:  # noqa: BLE001 (a server down, a wrong path, no such database)
        name = "db_url" if db_url else f"CourseDirectory.db_url of {course / 'nbgrader_config.py'}"
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        shown = f" {_shown_url(db_url)}" if db_url else ""
        raise ValueError(f"{name}: cannot open the gradebook{shown}: {text[:300]}") from error
    with book as gradebook:  # create students serially: no racing inserts
        try:
            gradebook.find_assignment(assignment)
        except Exception as error:  # noqa: BLE001 (nbgrader's MissingEntry)
            raise SystemExit(f"{assignment} is not in the gradebook of {course}: run "
                             f"`nbgrader generate_assignment {assignment}` first") from error
        for name in names:
            gradebook.update_or_create_student(name)
    environment = child_environment()
    memory_bytes = int(memory_gb * 1024**3)
    judge_setting = None
    edition_root = None
    if judge:
        edition = None
        if jail:
            from course_pkg.grading.instructor import jail as jails

            edition_root = pathlib.Path(tempfile.mkdtemp(prefix="course-edition-"))
            edition = jails.student_edition(edition_root, hidden_modules(course, assignment))
        judge_setting = (edition, memory_gb)
        preload_judge()
    start = time.perf_counter()
    results: list[SubmissionResult] = []
    pending = list(names)
    running: dict[int, tuple[str, float]] = {}  # pid -> (student, start time)
    if scheduler is not None or dask_local is not None:
        pending = []  # the Dask workers grade them, each task forking the same child
        hidden = hidden_modules(course, assignment) if judge and jail else None
        for result in _on_dask(course, assignment, names, scheduler, dask_local, dict(
                timeout=timeout, memory_gb=memory_gb, judge=judge, hidden=hidden,
                db_url=db_url)):
            results.append(result)
            _report(result, assignment, course, log_dir)
    while pending or running:
        while pending and len(running) < jobs:
            student = pending.pop(0)
            invalid = _invalid_submission(course, assignment, student, db_url)
            if invalid is not None:
                results.append(invalid)
                _report(results[-1], assignment, course, log_dir)
                continue
            pid = _fork_child(course, assignment, student, memory_bytes,
                              log_dir / f"{student}.log", environment, judge_setting, db_url)
            running[pid] = (student, time.perf_counter())
        time.sleep(0.05)
        for pid, (student, began) in list(running.items()):
            ended = _reap_child(pid, began, timeout)
            if ended is None:
                continue
            failure, usage = ended
            del running[pid]
            result = _finish(course, assignment, student, failure, time.perf_counter() - began,
                             usage.ru_utime + usage.ru_stime, log_dir / f"{student}.log",
                             db_url)
            results.append(result)
            _report(result, assignment, course, log_dir)
    if edition_root is not None:
        shutil.rmtree(edition_root, ignore_errors=True)
    if judge:
        _report_similarity(course, assignment)
    elapsed = time.perf_counter() - start
    failed = sum(1 for r in results if not r.ok)
    per = elapsed / len(results) if results else 0.0
    how = (f"on the Dask scheduler at {scheduler}" if scheduler is not None else
           f"on a Dask LocalCluster of {dask_local} workers" if dask_local is not None else
           f"{jobs} at a time")
    _log(f"autograded {len(results)} submission(s) of {assignment} in {elapsed:.1f} s "
         f"({per:.2f} s per submission, {how}); {failed} failed")
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
    run.add_argument("--unsafe-no-jail", action="store_true",
                     help="grade without the jail (student code runs with your rights)")
    run.add_argument("--db-url", default=None, metavar="URL",
                     help="the gradebook for this run instead of the course's db_url, e.g. "
                          "postgresql+psycopg://grader@/course?host=/var/run/postgresql")
    engine = run.add_mutually_exclusive_group()
    engine.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="grade on the workers of this Dask scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (instead of --jobs forked children)")
    engine.add_argument("--dask-local", type=int, default=None, metavar="N",
                        help="grade on a Dask LocalCluster of N one-thread workers")
    export = sub.add_parser(
        "export", help="grades.csv with every part's score, 'not submitted' apart from 0, "
                       "and optionally an LMS-ready CSV of the totals")
    export.add_argument("--course", default=None, help="as for autograde")
    export.add_argument("--db-url", default=None, metavar="URL", help="as for autograde")
    export.add_argument("--assignment", action="append",
                        help="only these assignments (repeatable; default: all)")
    export.add_argument("--out", default="grades.csv", help="the per-part CSV (grades.csv)")
    export.add_argument("--lms", default=None, metavar="FILE",
                        help="also write student_id, assignment, score, max_score to FILE")
    args = parser.parse_args(argv)
    try:
        check_engines(args.db_url, getattr(args, "scheduler", None),
                      getattr(args, "dask_local", None))
    except ValueError as error:
        parser.error(str(error))
    course = pathlib.Path(args.course) if args.course else (
        pathlib.Path(".") if pathlib.Path("nbgrader_config.py").exists()
        else pathlib.Path("assignments"))
    if args.command == "export":
        from course_pkg.grading.instructor import grades

        with open_gradebook(course, args.db_url) as gradebook:
            try:
                rows = grades.grade_rows(gradebook, args.assignment)
            except ValueError as error:
                parser.error(str(error))
        _log(f"wrote {grades.write_grades(rows, pathlib.Path(args.out))} "
             f"({sum(r.part == 'total' for r in rows)} student-assignment totals)")
        if args.lms:
            _log(f"wrote {grades.write_lms(rows, pathlib.Path(args.lms))}")
        return 0
    autograde(course, args.assignment, jobs=args.jobs, timeout=args.timeout,
              memory_gb=args.memory_gb, students=args.student, jail=not args.unsafe_no_jail,
              db_url=args.db_url, scheduler=args.scheduler, dask_local=args.dask_local)
    return 0


if __name__ == "__main__":
    sys.exit(main())
