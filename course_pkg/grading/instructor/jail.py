"""A jail per submission: the student's code runs unprivileged, offline, in a throwaway view.

:class:`Jail` starts :mod:`~course_pkg.grading.agent` under bubblewrap (Debian's
``bubblewrap``), as root only long enough to build the view, then as user ``nobody`` (uid
65534, via util-linux's ``setpriv``, all capabilities dropped, ``no_new_privs``):

- its own network namespace (only a loopback of its own: nothing outside answers), its own PID
  namespace (everything it starts dies when the jail does: ``--die-with-parent``, and the
  namespace's first process is killed with it), its own IPC and UTS namespaces;
- the root file system read-only; ``/root``, ``/home``, ``/tmp``, ``/var/tmp``, ``/run``,
  ``/dev/shm``, the course directory and the project's folder hidden behind empty ``tmpfs``;
  the Python environment bound back read-only; a *student edition* of ``course_pkg`` (see
  :func:`student_edition`) where the package lives; a fresh copy of the submission's folder,
  writable, as the working directory; a private ``/tmp``;
- an address-space limit (``RLIMIT_AS``) and a process-count limit, and a clean environment
  (no variable of the instructor's reaches it).

The judge talks to it over the pipes of its standard input and output
(:mod:`~course_pkg.grading.wire` frames): no socket, no shared file. When a request runs past
its time, or the agent dies, the whole jail is killed.

Where the jail cannot be built (no ``bwrap``, no namespaces), :func:`jail_problem` says what is
missing and how to install it; the runner then refuses to grade unless told
``--unsafe-no-jail``.
"""

from __future__ import annotations

import compileall
import os
import pathlib
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterable

import course_pkg
from course_pkg.grading import wire

NOBODY = 65534
MAX_PROCESSES = 256  # per jail user: a fork bomb stops here
START_TIMEOUT = 60.0  # seconds for the agent to start (imports numpy, on a busy machine)
# The grading code the jail needs (the rest of course_pkg.grading is the judge's).
HARNESS = ("__init__.py", "agent.py", "callers.py", "integrity.py", "sandbox.py", "wire.py")
# the book's experiment parts, which call and wrap the references
HIDDEN_ALWAYS = ("course_pkg.tasks", "course_pkg.gradients", "course_pkg.layer_cost",
                 "course_pkg.gate_traces")


class JailError(RuntimeError):
    """The jail failed: it could not start, it died, or it did not answer in time."""


class JailTimeout(JailError):
    pass


class JailDied(JailError):
    pass


def jail_problem() -> str:
    """Why a jail cannot be built on this machine, or '' when it can."""
    if not sys.platform.startswith("linux"):
        return f"the jail needs Linux namespaces; this is {sys.platform}"
    missing = [tool for tool in ("bwrap", "setpriv") if shutil.which(tool) is None]
    if missing:
        return (f"{' and '.join(missing)} not found: install Debian's `bubblewrap` and "
                "`util-linux` (`sudo apt-get install bubblewrap util-linux`)")
    if os.geteuid() != 0:
        return ("the jail is built as root (it switches to user nobody inside): run the "
                "runner as root, e.g. in the grading container or with sudo")
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid",
                            "--dev", "/dev", "--proc", "/proc", "true"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"bwrap cannot create namespaces here: {probe.stderr.strip()[:300]}"
    return ""


def _module_path(edition: pathlib.Path, module: str) -> pathlib.Path | None:
    parts = module.split(".")
    if parts[0] != "course_pkg":
        return None
    path = edition.joinpath(*parts[1:])
    if path.is_dir():
        return path
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _stub(module: str) -> str:
    return (f'"""{module} is a reference implementation: it is hidden while a submission is '
            'graded."""\n'
            "from course_pkg.grading import integrity as _integrity\n\n"
            "_integrity.reference_hidden(__name__)\n"
            f"raise ImportError({module!r} + ' is not available while your submission is "
            "graded (it is the reference implementation of a graded part)')\n")


def student_edition(target: pathlib.Path, hidden: Iterable[str]) -> pathlib.Path:
    """A copy of ``course_pkg`` in ``target`` without the ``hidden`` modules and the judge.

    Each hidden module (a package or a file) is replaced by a stub that raises ImportError
    (and, while a graded call runs, records the attempt as delegation); of
    ``course_pkg.grading`` only the jail's half (:data:`HARNESS`) is kept.
    """
    source = pathlib.Path(course_pkg.__file__).resolve().parent
    edition = target / "course_pkg"
    shutil.copytree(source, edition, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module in sorted(set(hidden) | set(HIDDEN_ALWAYS)):
        path = _module_path(edition, module)
        if path is None:
            continue
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir()
            (path / "__init__.py").write_text(_stub(module))
        else:
            path.write_text(_stub(module))
    grading = edition / "grading"
    for item in grading.iterdir():
        if item.name not in HARNESS:
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    (grading / "__init__.py").write_text(
        '"""The jail\'s half of the grading library (the judge\'s half is not here)."""\n')
    # compiled once here: the jail's view is read-only, so it could not cache bytecode itself
    compileall.compile_dir(str(edition), quiet=1)
    for root, dirs, files in os.walk(target):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    return edition


def _hidden_dirs(course: pathlib.Path) -> list[str]:
    project = pathlib.Path(course_pkg.__file__).resolve().parent.parent
    found = ["/root", "/home", "/tmp", "/var/tmp", "/run", "/dev/shm", "/mnt", "/media", "/srv",
             str(course.resolve()), str(project)]
    return [path for path in dict.fromkeys(found) if os.path.isdir(path) and path != "/"]


def bwrap_command(workdir: pathlib.Path, edition: pathlib.Path, course: pathlib.Path
                  ) -> list[str]:
    """The bubblewrap command line of a jail (see the module docstring)."""
    package_dir = pathlib.Path(course_pkg.__file__).resolve().parent
    command = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
               "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
               "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden = _hidden_dirs(course)
    for path in hidden:
        command += ["--perms", "0755", "--tmpfs", path]
    command += ["--perms", "1777", "--tmpfs", "/tmp"]

    def bind(source: str, target: str, option: str = "--ro-bind") -> list[str]:
        # Folders bwrap creates on the way inside a hidden tmpfs would be 0700 (root's):
        # create them 0755, so that user nobody can reach what is bound below them.
        parents = [str(p) for p in reversed(pathlib.PurePosixPath(target).parents)
                   if any(str(p).startswith(h.rstrip("/") + "/") for h in hidden)]
        return [a for p in parents for a in ("--perms", "0755", "--dir", p)] + [option, source,
                                                                                target]

    environments = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    for path in sorted(environments):  # the interpreter and its packages, read-only
        command += bind(path, path)
    if os.path.realpath(sys.prefix) != sys.prefix:
        command += bind(sys.prefix, sys.prefix)
    command += bind(str(edition), str(package_dir))
    command += bind(str(workdir), "/home/student", "--bind") + ["--chdir", "/home/student"]
    command += ["--clearenv", "--setenv", "HOME", "/home/student", "--setenv", "PATH",
                f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
                "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "OPENBLAS_NUM_THREADS", "1",
                "--setenv", "MKL_NUM_THREADS", "1", "--setenv", "PYTHONHASHSEED", "0",
                "--setenv", "MPLBACKEND", "Agg", "--setenv", "MPLCONFIGDIR", "/tmp/mpl",
                "--setenv", "LANG", "C.UTF-8",
                # what nbgrader tells a notebook during autograde (cells skip long runs on it)
                "--setenv", "NBGRADER_EXECUTION", "autograde"]
    command += ["--", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
                sys.executable, "-I", "-m", "course_pkg.grading.agent"]
    return command


def unjailed_command() -> list[str]:
    """The agent without a jail (``--unsafe-no-jail``): same protocol, no walls."""
    return ["env", "NBGRADER_EXECUTION=autograde", sys.executable, "-m",
            "course_pkg.grading.agent"]


class Jail:
    """One running jail and its agent; a context manager that always kills it on exit.

    ``callbacks`` maps stand-in names to judge-side functions for :meth:`call`.
    """

    def __init__(self, submission: pathlib.Path, edition: pathlib.Path, course: pathlib.Path,
                 *, memory_gb: float = 6.0, jailed: bool = True) -> None:
        self.submission, self.edition, self.course = submission, edition, course
        self.memory_bytes = int(memory_gb * 1024**3)
        self.jailed = jailed
        self.process: subprocess.Popen | None = None
        self.scratch: pathlib.Path | None = None
        self.uid: int | None = None

    # -- life -----------------------------------------------------------------------------

    def start(self) -> "Jail":
        # Jailed, the copy lives beside the student edition, in the folder the runner removes
        # when the run ends: even a judge killed at its timeout leaves nothing behind.
        root = self.edition.parent / "jails" if self.jailed else None
        if root is not None:
            root.mkdir(exist_ok=True)
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="course-jail-", dir=root))
        workdir = self.scratch / "work"
        shutil.copytree(self.submission, workdir, symlinks=True)
        if self.jailed:
            for root, dirs, files in os.walk(workdir):
                os.chown(root, NOBODY, NOBODY)
                for name in files:
                    os.lchown(os.path.join(root, name), NOBODY, NOBODY)
            command = bwrap_command(workdir, self.edition, self.course)
        else:
            command = unjailed_command()
        memory = self.memory_bytes

        def limits() -> None:  # in the child, before bwrap starts
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=str(workdir), preexec_fn=limits, start_new_session=True, bufsize=0)
        ready = self._receive(time.monotonic() + START_TIMEOUT)
        if ready.get("op") != "ready":
            raise JailError(f"the jail's agent said {ready!r} instead of ready")
        self.uid = ready.get("uid")
        return self

    def kill(self) -> None:
        """Kill the jail (and, through its PID namespace, everything it started)."""
        process, self.process = self.process, None
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def __enter__(self) -> "Jail":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.kill()

    # -- talking ----------------------------------------------------------------------------

    def _read_exact(self, size: int, deadline: float) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        chunks, left = [], size
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise JailTimeout("the jail did not answer in time")
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise JailDied(self._death())
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _death(self) -> str:
        assert self.process is not None
        status = self.process.wait(timeout=10)
        stderr = b""
        if self.process.stderr is not None:
            ready, _, _ = select.select([self.process.stderr.fileno()], [], [], 0)
            if ready:
                stderr = os.read(self.process.stderr.fileno(), 4000)
        detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return f"the jail's process ended (status {status}) {detail[0][:300]}".strip()

    def _receive(self, deadline: float) -> dict[str, Any]:
        return wire.parse(self._read_exact(wire.length(self._read_exact(4, deadline)), deadline))

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(wire.frame(message))
        except BrokenPipeError:
            raise JailDied(self._death()) from None

    def request(self, message: dict[str, Any], timeout: float,
                callbacks: dict[str, Callable[..., Any]] | None = None) -> dict[str, Any]:
        """Send one request and return its reply, answering stand-in callbacks meanwhile.

        A stand-in's answer is computed here, by the judge, from the arguments as data.
        """
        if self.process is None:
            raise JailDied("the jail is not running")
        self._send(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("op") != "callback":
                return reply
            name = str(reply.get("name", ""))
            function = (callbacks or {}).get(name)
            if function is None:
                self._send({"error": f"no stand-in named {name!r} in this call"})
                continue
            try:
                args = wire.decode(reply.get("args", []), live_tensors=True)
                kwargs = wire.decode(reply.get("kwargs", {}), live_tensors=True)
                value = function(*args, **(kwargs if isinstance(kwargs, dict) else {}))
                # the arguments too: a stand-in may change them in place (clip a .grad)
                self._send({"value": wire.encode(value), "args": wire.encode(args)})
            except Exception as error:  # noqa: BLE001 (bad arguments from the student's code)
                self._send({"error": f"{type(error).__name__}: {error}"[:500]})
