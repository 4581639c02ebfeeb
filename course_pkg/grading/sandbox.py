"""Running a student's function in a forked child process, so that nothing it does can hurt grading.

A test cell runs in the same Jupyter kernel as the student's code. Calling the student's function
there directly would let one bad submission take the whole grading down: a loop that ignores
Ctrl-C (SIGINT, which is how nbgrader interrupts a cell), ``os._exit``, ``sys.exit``, a 50 GB
allocation, or megabytes of printing. So every call goes through :func:`run_isolated`::

    outcomes = run_isolated([lambda: f(x1), lambda: f(x2)], time_limit=10)

which forks the kernel (copy-on-write: the child sees every function and array the notebook
defined) and, in the child,

- caps the address space (``RLIMIT_AS``): a huge allocation raises ``MemoryError`` there;
- sends Python's ``print`` output to a counter that keeps the first few kB;
- arms a per-call alarm (``SIGALRM``) that raises :class:`CallTimeout`, and the parent kills the
  child with SIGKILL if it still has not answered a little later (the alarm can be caught by a
  bare ``except:``; SIGKILL cannot);
- installs the delegation tripwires of :mod:`course_pkg.grading.integrity`;
- runs torch on one thread (the parent's OpenMP threads do not survive the fork: a parallel
  region would wait for them for ever);
- runs the calls one by one and streams each outcome back through a pipe.

The parent only ever receives plain data (:class:`Outcome`, numpy arrays, numbers, strings), read
back with an unpickler that refuses every other class. The child leaves with ``os._exit``, so it
never runs the kernel's shutdown code, and it never writes to the kernel's sockets.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import select
import signal
import struct
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from course_pkg.validation import require_in_range, require_positive_int

MEMORY_LIMIT = 1024**3  # bytes the child may allocate on top of what the kernel holds
PRINT_KEEP = 2000  # characters of the student's printing kept for the report
KILL_GRACE = 2.0  # seconds between the alarm and SIGKILL


class CallTimeout(BaseException):
    """Raised in the child by the per-call alarm (a BaseException: ``except Exception`` misses it)."""


@dataclass
class Opaque:
    """Something a student's function returned that is not an array, number, str or container."""

    type_name: str
    text: str

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


@dataclass
class TensorValue:
    """A torch tensor, sent back as its numpy values plus the torch dtype and requires_grad."""

    array: np.ndarray
    dtype: str  # e.g. "torch.float32"
    requires_grad: bool = False


@dataclass
class Outcome:
    """What one call did: returned ``value``, or failed in one of the ``kind`` ways."""

    value: Any = None
    kind: str = "returned"  # returned | exception | timeout | exit | crash | memory | not run
    error: str = ""  # one line, e.g. "ValueError: shapes (3,5) and (6,) not aligned"
    where: str = ""  # the student's line that raised, when known
    delegation: list[str] = field(default_factory=list)  # forbidden things called
    printed: str = ""  # the first PRINT_KEEP characters printed
    printed_chars: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind == "returned"

    def describe(self) -> str:
        """A sentence for the report, e.g. 'raised ValueError: ... (line 4: h = x @ w)'."""
        if self.kind == "returned":
            return "returned"
        if self.kind == "exception":
            return f"raised {self.error}" + (f" (at {self.where})" if self.where else "")
        return self.error


# ------------------------------------------------------------------------------------------
# Plain data only, both ways
# ------------------------------------------------------------------------------------------

_ALLOWED_CLASSES = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.dtypes", "Float64DType"), ("numpy.dtypes", "Float32DType"),
    ("numpy.dtypes", "Int64DType"), ("numpy.dtypes", "Int32DType"), ("numpy.dtypes", "BoolDType"),
    ("builtins", "complex"), ("builtins", "slice"), ("builtins", "set"), ("builtins", "frozenset"),
    (__name__, "Opaque"), (__name__, "TensorValue"), (__name__, "Outcome"),
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_CLASSES:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return super().find_class(module, name)


def _plain(value: Any, depth: int = 0) -> Any:
    """Copy ``value`` into plain data: arrays, numbers, strings, tuples/lists/dicts of them."""
    if depth > 20:
        return Opaque("nested too deep", "")
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return value if not isinstance(value, str) else value[:10_000]
    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "biufc" else Opaque(type(value).__name__, "")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return Opaque(f"ndarray of {value.dtype}", "")
        return np.array(value, copy=True, subok=False)
    if isinstance(value, (tuple, list)):
        items = [_plain(v, depth + 1) for v in value[:1000]]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str(k)[:200]: _plain(v, depth + 1) for k, v in list(value.items())[:1000]}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        array = value.detach().cpu()
        if array.dtype == torch.bfloat16 or array.dtype == torch.float16:
            array = array.float()
        return TensorValue(np.array(array.numpy(), copy=True), str(value.dtype),
                           bool(value.requires_grad))
    try:
        text = repr(value)[:200]
    except BaseException:  # a broken __repr__ is the student's problem, not ours
        text = "(repr failed)"
    return Opaque(type(value).__name__, text)


def _send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    message = struct.pack("!Q", len(data)) + data
    view = memoryview(message)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Receiver:
    """Length-prefixed messages from a pipe, read without blocking past a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.closed = False

    def receive(self, deadline: float) -> tuple[str, Any]:
        """('message', obj), ('timeout', None) or ('eof', None)."""
        while True:
            if len(self.buffer) >= 8:
                (size,) = struct.unpack("!Q", self.buffer[:8])
                if len(self.buffer) >= 8 + size:
                    data = bytes(self.buffer[8:8 + size])
                    del self.buffer[:8 + size]
                    return "message", _PlainUnpickler(io.BytesIO(data)).load()
            if self.closed:
                return "eof", None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = os.read(self.fd, 1 << 20)
                if chunk:
                    self.buffer.extend(chunk)
                else:
                    self.closed = True


# ------------------------------------------------------------------------------------------
# The child
# ------------------------------------------------------------------------------------------


class _CappedWriter(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: keeps the first PRINT_KEEP characters, counts all."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.kept_chars = 0
        self.total = 0

    def writable(self) -> bool:
        return True

    def write(self, text: Any) -> int:
        text = str(text)
        self.total += len(text)
        if self.kept_chars < PRINT_KEEP:
            piece = text[:PRINT_KEEP - self.kept_chars]
            self.kept.append(piece)
            self.kept_chars += len(piece)
        return len(text)

    def take(self) -> tuple[str, int]:
        text, total = "".join(self.kept), self.total
        self.kept, self.kept_chars, self.total = [], 0, 0
        return text, total


def _silence_the_kernel() -> _CappedWriter:
    """In the child: no output may reach the notebook, neither printed nor displayed."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    writer = _CappedWriter()
    sys.stdout = sys.stderr = writer
    sys.displayhook = lambda value: None
    ipython_module = sys.modules.get("IPython")
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    if shell is not None:
        shell.display_pub.publish = lambda *args, **kwargs: None
        shell.displayhook = lambda *args, **kwargs: None
    return writer


def _limit_memory(limit_bytes: int) -> None:
    """Cap the child's address space at what it maps now plus ``limit_bytes``."""
    import resource  # POSIX only, like fork

    try:
        with open("/proc/self/status") as status:
            vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        soft = vm_kb * 1024 + limit_bytes
    except (OSError, StopIteration, ValueError):
        soft = 8 * 1024**3
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _student_line(tb: Any) -> str:
    """The innermost traceback line that comes from the notebook (not from a library)."""
    found = ""
    for frame in traceback.extract_tb(tb):
        filename = frame.filename or ""
        if (filename.startswith("<") or "/ipykernel_" in filename) and (frame.line or "").strip():
            found = f"line {frame.lineno}: {frame.line.strip()}"  # a notebook cell's line
    return found


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallTimeout()


def _child(write_fd: int, calls: Sequence[Callable[[], Any]], time_limit: float,
           memory_limit: int, prepare: Callable[[], Any] | None,
           delegation_log: Callable[[], list[str]] | None) -> None:
    writer = _silence_the_kernel()
    torch = sys.modules.get("torch")
    if torch is not None:  # the parent's OpenMP pool does not exist here: one thread, no hang
        torch.set_num_threads(1)
    _limit_memory(memory_limit)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if prepare is not None:
        prepare()
    for index, call in enumerate(calls):
        _send(write_fd, ("start", index))
        outcome = Outcome()
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                signal.setitimer(signal.ITIMER_REAL, time_limit, 0.5)  # re-fires every 0.5 s
                try:
                    value = call()
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                outcome.value = _plain(value)
            except CallTimeout:
                outcome.kind, outcome.error = "timeout", f"did not return within {time_limit:g} s"
            except MemoryError:
                outcome.kind = "memory"
                outcome.error = (f"ran out of memory (more than {memory_limit / 1024**3:g} GB "
                                 "were requested)")
            except SystemExit as exit_:
                outcome.kind = "exit"
                outcome.error = f"called sys.exit({exit_.code!r}) (a function must return instead)"
            except BaseException as error:  # the student's exception, reported to them
                signal.setitimer(signal.ITIMER_REAL, 0)
                outcome.kind = "exception"
                try:
                    text = str(error)
                except BaseException:
                    text = ""
                outcome.error = (f"{type(error).__name__}: {text}" if text
                                 else type(error).__name__)[:500]
                outcome.where = _student_line(error.__traceback__)
        outcome.seconds = time.perf_counter() - start
        outcome.printed, outcome.printed_chars = writer.take()
        outcome.warnings = [f"{w.category.__name__}: {w.message}"[:300] for w in caught[:5]]
        if delegation_log is not None:
            outcome.delegation = list(delegation_log())
        _send(write_fd, ("outcome", index, outcome))


# ------------------------------------------------------------------------------------------
# The parent
# ------------------------------------------------------------------------------------------


def _run_in_process(call: Callable[[], Any]) -> Outcome:
    """Where there is no fork (Windows): run the call here, catching what can be caught.

    Only students' own runs get here (grading runs on the instructor's Linux machine): no time
    or memory limit and no tripwires (the static delegation check still applies).
    """
    outcome = Outcome()
    writer = _CappedWriter()
    start = time.perf_counter()
    with contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome.value = _plain(call())
        except SystemExit as exit_:
            outcome.kind = "exit"
            outcome.error = f"called sys.exit({exit_.code!r}) (a function must return instead)"
        except MemoryError:
            outcome.kind, outcome.error = "memory", "ran out of memory"
        except Exception as error:  # noqa: BLE001 (the student's exception, reported)
            outcome.kind, outcome.error = "exception", f"{type(error).__name__}: {error}"[:500]
            outcome.where = _student_line(error.__traceback__)
    outcome.seconds = time.perf_counter() - start
    outcome.printed, outcome.printed_chars = writer.take()
    outcome.warnings = [f"{w.category.__name__}: {w.message}"[:300] for w in caught[:5]]
    return outcome


def _exit_description(status: int) -> tuple[str, str]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else number
        kind = "memory" if number == signal.SIGKILL else "crash"
        return kind, f"the process was killed by signal {name} (out of memory, or a crash)"
    code = os.WEXITSTATUS(status)
    return "exit", f"the process exited with status {code} (os._exit? a function must return)"


def run_isolated(calls: Sequence[Callable[[], Any]], *, time_limit: float = 10.0,
                 memory_limit: int = MEMORY_LIMIT, prepare: Callable[[], Any] | None = None,
                 delegation_log: Callable[[], list[str]] | None = None) -> list[Outcome]:
    """Run each of ``calls`` (functions of no argument) in one forked child; one Outcome each.

    ``prepare`` runs in the child before the calls (the delegation tripwires), and
    ``delegation_log()`` is read there after each call. A call that hangs costs ``time_limit``
    seconds plus :data:`KILL_GRACE` at most; the calls after a fatal one are reported as
    ``"not run"``.
    """
    require_in_range("time_limit", time_limit, 1e-3, 3600.0)
    require_positive_int("memory_limit", memory_limit)
    if not hasattr(os, "fork"):  # Windows: a student's own run, without isolation
        return [_run_in_process(call) for call in calls]
    outcomes = [Outcome(kind="not run", error="not run: an earlier call did not return")
                for _ in calls]
    if not calls:
        return outcomes
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "fork() in a threaded process" (3.12)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_fd)
            _child(write_fd, calls, time_limit, memory_limit, prepare, delegation_log)
        except BaseException:
            pass
        os._exit(0)

    os.close(write_fd)
    receiver = _Receiver(read_fd)
    current = None
    deadline = time.monotonic() + time_limit + KILL_GRACE + 5.0  # start-up of the child
    killed = False
    try:
        while True:
            status, message = receiver.receive(deadline)
            if status == "message" and message[0] == "start":
                current = message[1]
                deadline = time.monotonic() + time_limit + KILL_GRACE
            elif status == "message" and message[0] == "outcome":
                outcomes[message[1]] = message[2]
                current = None
                deadline = time.monotonic() + 10.0
            elif status == "timeout":
                os.kill(pid, signal.SIGKILL)
                killed = True
                if current is not None:
                    outcomes[current] = Outcome(
                        kind="timeout",
                        error=f"did not return within {time_limit:g} s and ignored the alarm; "
                              "the process was killed")
                break
            else:  # eof: the child is gone
                break
    finally:
        os.close(read_fd)
        _, wait_status = os.waitpid(pid, 0)
    if not killed and current is not None:  # died in the middle of a call
        kind, text = _exit_description(wait_status)
        outcomes[current] = Outcome(kind=kind, error=text)
    return outcomes
