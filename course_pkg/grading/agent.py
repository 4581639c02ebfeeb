"""The process inside the jail: runs a submission's cells, then calls its functions on request.

Started by :class:`~course_pkg.grading.instructor.jail.Jail` as
``python -m course_pkg.grading.agent``, as an unprivileged user, without network, in a view of
the file system that holds the system, the Python environment and a *student edition* of
``course_pkg`` (the reference implementations of the graded parts and the judge's code are not
in it). It speaks :mod:`~course_pkg.grading.wire` frames over its standard input and output,
which are pipes to the judge; the student's own printing never reaches them (file descriptors 1
and 2 point at ``/dev/null``; Python-level printing is captured per cell, and cut).

Requests, one at a time:

- ``{"op": "run_cell", "source": ..., "timeout": s}``: execute one cell of the submission in
  its namespace; the reply holds the printed text and the error, if any.
- ``{"op": "functions"}``: the names the namespace binds to functions.
- ``{"op": "call", "caller": ..., "functions": [...], "inputs": [...], "params": ...,
  "options": ..., "time_limit": s, "stand_ins": [...], "forbidden": {...}}``: run the caller of
  :mod:`~course_pkg.grading.callers` once per input in a forked child
  (:func:`~course_pkg.grading.sandbox.run_isolated`); a stand-in name is replaced, in the
  child, by a function that asks the judge for the value (the stand-in's code stays with the
  judge). The reply holds one outcome per input.

Everything this process says is only the student's outputs: the judge scores them.
"""

from __future__ import annotations

import builtins
import importlib
import os
import signal
import sys
import traceback
import types
from typing import Any

from course_pkg.grading import callers, integrity, sandbox, wire

CELL_OUTPUT_KEEP = 20_000  # characters of a cell's printing sent back


class Channel:
    """Frames over two raw file descriptors (unbuffered: a forked child may use them too)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd

    def _read_exact(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = os.read(self.read_fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError("the judge closed the channel")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> dict[str, Any]:
        return wire.parse(self._read_exact(wire.length(self._read_exact(4))))

    def send(self, message: dict[str, Any]) -> None:
        data = wire.frame(message)
        while data:
            data = data[os.write(self.write_fd, data):]


def _error_record(error: BaseException) -> dict[str, Any]:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    student = [line for line in lines if "<cell" in line or not line.startswith("  File")]
    try:
        text = str(error)
    except BaseException:  # noqa: BLE001 (a student's exception whose __str__ raises)
        text = ""
    return {"ename": type(error).__name__[:100], "evalue": text[:2000],
            "traceback": [line[:2000] for line in student[-12:]]}


def run_cell(namespace: dict[str, Any], source: str, timeout: float, index: int
             ) -> dict[str, Any]:
    """Execute one cell: its printing (cut) and its error, if it raised."""
    writer = sandbox._CappedWriter()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = writer
    error = None
    try:
        code = compile(source, f"<cell {index}>", "exec")
        signal.setitimer(signal.ITIMER_REAL, timeout, 0.5)
        try:
            exec(code, namespace)  # noqa: S102 (the student's cell, in the jail)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except sandbox.CallTimeout:
        error = {"ename": "CellTimeout", "evalue": f"this cell did not finish within "
                 f"{timeout:g} s", "traceback": []}
    except BaseException as exception:  # noqa: BLE001 (the student's error, reported)
        error = _error_record(exception)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    printed, count = writer.take()
    return {"op": "cell", "printed": printed[:CELL_OUTPUT_KEEP], "printed_chars": count,
            "error": error}


def write_back(originals: Any, changed: Any) -> None:
    """Copy into the arrays and tensors of ``originals`` (in place, their ``.grad`` too) what
    a stand-in changed in its copies ``changed`` (e.g. a gradient clipped in place)."""
    if isinstance(originals, (list, tuple)) and isinstance(changed, (list, tuple)):
        for original, new in zip(originals, changed):
            write_back(original, new)
        return
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(originals, torch.Tensor) and isinstance(
            changed, torch.Tensor) and originals.shape == changed.shape:
        with torch.no_grad():
            originals.copy_(changed)
        if changed.grad is not None and originals.grad is not None \
                and originals.grad.shape == changed.grad.shape:
            originals.grad.copy_(changed.grad)
    elif hasattr(originals, "shape") and hasattr(changed, "shape") and \
            getattr(originals, "flags", None) is not None and originals.flags.writeable and \
            originals.shape == changed.shape:
        originals[...] = changed


def _stand_in(channel: Channel, name: str):
    """A function that asks the judge for the stand-in's value (in the forked child only)."""

    def ask_the_judge(*args: Any, **kwargs: Any) -> Any:
        channel.send({"op": "callback", "name": name, "args": wire.encode(args),
                      "kwargs": wire.encode(kwargs)})
        reply = channel.receive()
        if reply.get("error"):
            raise RuntimeError(f"stand-in {name}: {reply['error']}")
        write_back(args, wire.decode(reply.get("args", []), live_tensors=True))
        return wire.decode(reply.get("value"), live_tensors=True)

    ask_the_judge.__name__ = ask_the_judge.__qualname__ = name
    return ask_the_judge


def preload(functions: list[Any], forbidden: integrity.Forbidden) -> None:
    """Import, before forking, the modules the functions import that could hold forbidden
    functions (torch, course_pkg): the forked calls then find them loaded, with their tripwires
    set, instead of paying for the import in every call (seconds, against a 5 s limit); then
    run torch's lazy first-use work once (:func:`callers.warm_up`)."""
    modules: set[str] = set()
    for function in functions:
        modules |= integrity.imported_modules(function)
    for module in sorted(modules):
        if forbidden.may_hold(module):
            try:
                importlib.import_module(module)
            except BaseException:  # noqa: BLE001 (the student's import error shows up later)
                pass
    if "torch" in sys.modules and not _WARM:
        callers.warm_up()
        _WARM.append(True)


_WARM: list[bool] = []


def call(channel: Channel, namespace: dict[str, Any], request: dict[str, Any]
         ) -> dict[str, Any]:
    names = [str(n) for n in request.get("functions", [])]
    missing = [n for n in names if not callable(namespace.get(n))]
    inputs_list = [wire.decode(i) for i in request.get("inputs", [])]
    if missing:
        outcome = sandbox.Outcome(kind="exception", error=f"NameError: {missing[0]} is not "
                                  "defined as a function in your notebook")
        return {"op": "outcomes", "outcomes": [wire.encode(outcome) for _ in inputs_list]}
    functions = [namespace[n] for n in names]
    params = wire.decode(request.get("params", {}))
    options = wire.decode(request.get("options", {}))
    forbidden = integrity.Forbidden(**{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in request.get("forbidden", {}).items()})
    preload(functions, forbidden)
    stand_ins = [str(n) for n in request.get("stand_ins", [])]
    caller = str(request.get("caller", ""))

    def prepare() -> None:  # in the forked child
        integrity.install_tripwires(forbidden)
        for name in stand_ins:
            namespace[name] = _stand_in(channel, name)

    calls = [(lambda inputs=inputs: callers.call(caller, functions, inputs, params, options))
             for inputs in inputs_list]
    outcomes = sandbox.run_isolated(calls, time_limit=float(request.get("time_limit", 5.0)),
                                    prepare=prepare, delegation_log=integrity.tripped)
    return {"op": "outcomes", "outcomes": [wire.encode(o) for o in outcomes]}


def serve(channel: Channel) -> None:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    index = 0
    while True:
        try:
            request = channel.receive()
        except EOFError:
            return
        op = request.get("op")
        if op == "run_cell":
            index += 1
            reply = run_cell(namespace, str(request.get("source", "")),
                             float(request.get("timeout", 30.0)), index)
        elif op == "functions":
            reply = {"op": "functions", "names": sorted(
                name for name, value in namespace.items()
                if isinstance(value, types.FunctionType) and not name.startswith("__"))}
        elif op == "call":
            reply = call(channel, namespace, request)
        elif op == "exit":
            return
        else:
            reply = {"op": "error", "error": f"unknown request {op!r}"}
        channel.send(reply)


def main() -> None:
    read_fd, write_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the student's printing at the C level goes nowhere
        os.dup2(devnull, fd)
    signal.signal(signal.SIGALRM, lambda signum, frame: (_ for _ in ()).throw(
        sandbox.CallTimeout()))
    channel = Channel(read_fd, write_fd)
    channel.send({"op": "ready", "uid": os.getuid()})
    serve(channel)
    os._exit(0)


if __name__ == "__main__":
    main()
