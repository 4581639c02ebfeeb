"""The judge: scores a submission from outside the jail, in a process that never ran its code.

:class:`JailedExecute` takes the place of nbgrader's ``Execute`` in the course's runner
(:mod:`~course_pkg.grading.instructor.pipeline`). For one notebook it

1. starts a :class:`~course_pkg.grading.instructor.jail.Jail` on a copy of the submission's
   folder and runs there, in order, every code cell that is not a test cell (the student's
   cells and the locked set-up cells); their printing and errors become the cells' outputs. A cell that hangs
   past the timeout or kills the process gets a ``CellTimeout``/``KernelDied`` error; the jail is
   then started again, the earlier cells are replayed and only the failing cell's ``def``,
   ``class`` and ``import`` statements are run, as in
   :class:`~course_pkg.grading.instructor.nbgrader_plugins.RobustExecute`;
2. runs every test cell *here*, in the judge, with each function the student defined bound
   to a :class:`RemoteFunction`: a name in the jail plus the function's compiled, never
   executed, code (for the static delegation check). :class:`~course_pkg.grading.part.Part`
   sends each case's inputs to the jail as data and gets the student's outputs back as data;
   the reference, the comparisons, the probes and the score are computed here. The grade report
   the test cell publishes is written into the cell by the judge itself.

Test cells never enter the jail (hidden tests included), and nothing the student's code does
there (patching numpy, the grading library, IPython's display) reaches this process.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import io
import pathlib
import traceback
import types
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

from course_pkg.grading.instructor import jail as jails
from course_pkg.grading import wire
from course_pkg.grading.instructor.nbgrader_plugins import definitions_only
from course_pkg.grading.report import judge_collects
from course_pkg.grading.sandbox import KILL_GRACE, Outcome

# Modules whose names a submission's imports are resolved to, for the static delegation check
# (the project's own dependencies; nothing else is imported by the judge).
RESOLVED_ROOTS = ("numpy", "torch", "math", "course_pkg", "importlib", "functools", "itertools",
                  "collections", "operator")
CELL_OUTPUT_KEEP = 20_000


def is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


# ------------------------------------------------------------------------------------------
# The student's functions, as the judge sees them
# ------------------------------------------------------------------------------------------


class RemoteFunction:
    """A function of the submission that lives in the jail.

    ``name`` is its name there; ``shadow`` is a function object built from its compiled code
    with statically resolved globals, never called, for :func:`integrity.find_delegation`.
    """

    def __init__(self, name: str, session: "Session", shadow: Any) -> None:
        self.__name__ = self.__qualname__ = name
        self.session = session
        self.shadow = shadow if shadow is not None else types.FunctionType(
            compile("pass", "<unknown>", "exec"), {}, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self.__name__} runs in the jail: it is called through a graded Part")

    def __repr__(self) -> str:
        return f"<the submission's function {self.__name__}>"


def _resolve_import(node: ast.AST) -> dict[str, Any]:
    """The names an import statement binds, resolved in the judge when the module is one of
    :data:`RESOLVED_ROOTS` (importing it here runs no student code)."""
    bound: dict[str, Any] = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] not in RESOLVED_ROOTS:
                continue
            try:
                module = importlib.import_module(alias.name)
                root = importlib.import_module(alias.name.split(".")[0])
            except Exception:  # noqa: BLE001 (a name that does not import is left unresolved)
                continue
            if alias.asname:
                bound[alias.asname] = module
            else:
                bound[alias.name.split(".")[0]] = root
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module.split(".")[0] not in RESOLVED_ROOTS:
            return bound
        try:
            module = importlib.import_module(node.module)
        except Exception:  # noqa: BLE001
            return bound
        for alias in node.names:
            value = getattr(module, alias.name, None)
            if value is None:
                try:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                except Exception:  # noqa: BLE001
                    continue
            bound[alias.asname or alias.name] = value
    return bound


def shadow_functions(sources: list[str]) -> dict[str, types.FunctionType]:
    """The top-level functions of the cells, compiled but never run, with their globals (the
    other shadow functions and the statically resolved imports)."""
    namespace: dict[str, Any] = {"__builtins__": __builtins__}
    functions: dict[str, types.FunctionType] = {}
    for index, source in enumerate(sources):
        try:
            tree = ast.parse(source)
            code = compile(source, f"<cell {index}>", "exec")
        except (SyntaxError, ValueError):
            continue
        codes = {c.co_name: c for c in code.co_consts if isinstance(c, types.CodeType)}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                namespace.update(_resolve_import(node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in codes:
                shadow = types.FunctionType(codes[node.name], namespace, node.name)
                shadow.syntax = node  # its AST: reference_cache reads the cache's slot names
                functions[node.name] = namespace[node.name] = shadow
    return functions


# ------------------------------------------------------------------------------------------
# One submission's jail, as the judge uses it
# ------------------------------------------------------------------------------------------


class Session:
    """A submission's jail with its cells run: calls functions there, replays after a death."""

    MAX_RESTARTS = 3

    def __init__(self, folder: pathlib.Path, edition: pathlib.Path, course: pathlib.Path, *,
                 memory_gb: float, jailed: bool, cell_timeout: float) -> None:
        self.make = lambda: jails.Jail(folder, edition, course, memory_gb=memory_gb,
                                       jailed=jailed)
        self.cell_timeout = cell_timeout
        self.jail: jails.Jail | None = None
        self.replay: list[str] = []  # sources that ran, to rebuild the state after a death
        self.functions: list[str] = []
        self.restarts = 0

    def __enter__(self) -> "Session":
        self.jail = self.make().start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.jail is not None:
            self.jail.kill()

    def _restart(self) -> bool:
        assert self.jail is not None
        self.jail.kill()
        self.restarts += 1
        if self.restarts > self.MAX_RESTARTS:
            return False
        self.jail = self.make().start()
        for source in self.replay:
            self.jail.request({"op": "run_cell", "source": source, "timeout": self.cell_timeout},
                              self.cell_timeout + 15)
        return True

    def run_cell(self, source: str) -> list[NotebookNode]:
        """Run one of the submission's cells in the jail; its outputs for the notebook."""
        assert self.jail is not None
        if self.restarts > self.MAX_RESTARTS:
            return [_error("KernelLost", "not run: the kernel failed too often earlier in "
                                         "this notebook")]
        try:
            reply = self.jail.request({"op": "run_cell", "source": source,
                                       "timeout": self.cell_timeout}, self.cell_timeout + 15)
        except jails.JailError as failure:
            if isinstance(failure, jails.JailTimeout):
                name, text = "CellTimeout", (f"this cell did not finish within "
                                             f"{self.cell_timeout:g} s and did not stop when "
                                             "interrupted")
            else:
                name, text = "KernelDied", ("the kernel died while running this cell "
                                            "(os._exit, a crash, or memory exhausted)")
            kept = definitions_only(source)
            if kept:
                text += ("; the kernel was restarted and only this cell's def, class and import "
                         "statements were run again")
            if self._restart() and kept:
                self.jail.request({"op": "run_cell", "source": kept,
                                   "timeout": self.cell_timeout}, self.cell_timeout + 15)
                self.replay.append(kept)
            return [_error(name, text)]
        self.replay.append(source)
        outputs = []
        if reply.get("printed"):
            text = str(reply["printed"])[:CELL_OUTPUT_KEEP]
            outputs.append(NotebookNode(output_type="stream", name="stdout", text=text))
        error = reply.get("error")
        if isinstance(error, dict):
            name, value = str(error.get("ename", "Error")), str(error.get("evalue", ""))
            lines = [str(line) for line in error.get("traceback", [])][-20:]
            if not lines or not lines[-1].startswith(name):  # the page shows the traceback only
                lines.append(f"{name}: {value}")
            outputs.append(NotebookNode(output_type="error", ename=name, evalue=value,
                                        traceback=lines))
        return outputs

    def load_functions(self) -> None:
        assert self.jail is not None
        try:
            reply = self.jail.request({"op": "functions"}, 30)
            self.functions = [str(n) for n in reply.get("names", [])]
        except jails.JailError:
            self.functions = []

    def call(self, spec: Any, functions: list[RemoteFunction], inputs_list: list[dict[str, Any]],
             params: dict[str, Any], substitute: dict[str, Any]) -> list[Outcome]:
        """Run ``spec``'s caller on each input in the jail; the student's outcomes, as data."""
        assert self.jail is not None
        message = {
            "op": "call", "caller": spec.caller, "functions": [f.__name__ for f in functions],
            "inputs": [wire.encode(inputs) for inputs in inputs_list],
            "params": wire.encode(params), "options": wire.encode(spec.caller_options(params)),
            "time_limit": spec.time_limit, "stand_ins": sorted(substitute),
            "forbidden": {k: list(v) if isinstance(v, tuple) else v
                          for k, v in dataclasses.asdict(spec.forbidden).items()},
        }
        timeout = len(inputs_list) * (spec.time_limit + KILL_GRACE) + 30
        try:
            reply = self.jail.request(message, timeout, callbacks=substitute)
            outcomes = [wire.decode(o) for o in reply.get("outcomes", [])]
            if len(outcomes) == len(inputs_list) and all(isinstance(o, Outcome)
                                                         for o in outcomes):
                return outcomes
            problem = "the jail answered with a malformed reply"
        except (jails.JailError, wire.WireError) as failure:
            problem = f"the jail failed during the call: {failure}"
        self._restart()
        return [Outcome(kind="crash", error=problem) for _ in inputs_list]


# ------------------------------------------------------------------------------------------
# Test cells, run here
# ------------------------------------------------------------------------------------------


def _error(name: str, text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=name, evalue=text, traceback=[f"{name}: {text}"])


def run_test_cell(source: str, namespace: dict[str, Any], label: str) -> list[NotebookNode]:
    """Execute a test cell in the judge; its printing, its grade report and its error."""
    printed = io.StringIO()
    error = None
    with judge_collects() as reports, contextlib.redirect_stdout(printed), \
            contextlib.redirect_stderr(printed):
        try:
            exec(compile(source, f"<{label}>", "exec"),  # noqa: S102
                 dict(namespace))
        except Exception as exception:  # noqa: BLE001 (reported in the cell)
            lines = traceback.format_exception_only(type(exception), exception)
            error = _error(type(exception).__name__, "".join(lines).strip()[:2000])
    outputs = []
    if printed.getvalue():
        outputs.append(NotebookNode(output_type="stream", name="stdout",
                                    text=printed.getvalue()[:CELL_OUTPUT_KEEP]))
    outputs += [NotebookNode(output_type="display_data", metadata={}, data=report)
                for report in reports]
    if error is not None:
        outputs.append(error)
    return outputs


class JailedExecute(NbGraderPreprocessor):
    """nbgrader's Execute, replaced: the student's cells in a jail, the tests in the judge."""

    timeout = Integer(120, help="Seconds per cell of the submission.").tag(config=True)
    memory_gb = Float(6.0, help="Address space of the jail, in GB.").tag(config=True)
    edition = Unicode("", help="Folder of the student edition of course_pkg.").tag(config=True)
    course = Unicode("", help="The course directory (hidden from the jail).").tag(config=True)
    jailed = Bool(True, help="False only with --unsafe-no-jail.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        folder = pathlib.Path(resources["metadata"]["path"])
        sources = [cell.source for cell in nb.cells
                   if cell.cell_type == "code" and not is_test_cell(cell)]
        with Session(folder, pathlib.Path(self.edition), pathlib.Path(self.course or folder),
                     memory_gb=self.memory_gb, jailed=self.jailed,
                     cell_timeout=float(self.timeout)) as session:
            for cell in nb.cells:
                if cell.cell_type == "code" and not is_test_cell(cell):
                    cell.outputs = session.run_cell(cell.source)
            session.load_functions()
            shadows = shadow_functions(sources)
            # every function the cells define, also those whose cell failed in the jail (an
            # import of a hidden reference): the static check still names what they call
            namespace = {name: RemoteFunction(name, session, shadows.get(name))
                         for name in sorted(set(session.functions) | set(shadows))}
            for cell in nb.cells:
                if is_test_cell(cell):
                    label = cell.metadata["nbgrader"].get("grade_id", "test")
                    cell.outputs = run_test_cell(cell.source, namespace, label)
        return nb, resources
