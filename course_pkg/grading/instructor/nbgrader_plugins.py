"""nbgrader preprocessors of the course (listed in ``assignments/nbgrader_config.py``).

:class:`ScoreFromReport` (after ``Execute``, before ``SaveAutoGrades``). nbgrader scores a test
cell from its outputs: an error or *any* stderr output gives 0, a number returned by the cell
gives partial credit, and *no output at all gives full marks*. So a warning printed by numpy
would zero a correct part, and a cell that hid its result (``sys.displayhook`` replaced, or
``get_ipython().ast_node_interactivity = "none"``) would earn full marks. This preprocessor
makes the grade report published by :meth:`course_pkg.grading.part.Part.score` the only source
of a test cell's score:

- exactly one report whose ``grade_id`` is the cell's own and whose score lies in
  ``[0, points]``, and no error after it: the cell's score is the report's (stderr, e.g. a
  warning, no longer matters);
- anything else: the cell gets an error output saying why, and scores 0.

:class:`RobustExecute` (replaces ``Execute``). nbgrader interrupts a cell that runs past
``Execute.timeout`` with SIGINT; a cell that ignores SIGINT, or kills its kernel
(``os._exit``, the out-of-memory killer), makes nbgrader abandon the *whole* submission. Here
such a cell gets an error output naming the failure, the kernel is restarted, the cells before
it are run again (their outputs kept) to rebuild the state, the failing cell's own ``def``,
``class`` and ``import`` statements are run (without its top-level code), and execution goes on
with the next cell, so only the points that depended on the failing code are lost. The course's test cells
never need this (they run student code in a sandbox, see :mod:`course_pkg.grading.sandbox`);
it protects against top-level code in the student's own cells.
"""

from __future__ import annotations

import ast
import copy
import json
from typing import Any

from nbclient.util import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer

from course_pkg.grading.report import REPORT_MIME


def _is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


def _error(name: str, text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=name, evalue=text,
                        traceback=[f"{name}: {text}"])


def definitions_only(source: str) -> str:
    """The ``def``, ``class`` and ``import`` statements of a cell (what later cells need from
    it), without the top-level code that hung or killed the kernel; '' if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept = [node for node in tree.body if isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))]
    return "\n\n".join(ast.unparse(node) for node in kept)


class DropScoreEcho(NbGraderPreprocessor):
    """Feedback only: drop the ``Out[]`` score that :class:`ScoreFromReport` put in each test
    cell for nbgrader to read. The page's heading of the cell shows the score, and the grading
    library has printed its score line: a third copy is noise."""

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int
                        ) -> tuple[NotebookNode, Any]:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "execute_result"]
        return cell, resources


class ScoreFromReport(NbGraderPreprocessor):
    """Score every test cell from its grade report (see the module docstring)."""

    require_report = Bool(
        True, help="Give 0 to a test cell that did not publish exactly one grade report."
    ).tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int
                        ) -> tuple[NotebookNode, Any]:
        if not _is_test_cell(cell) or not self.require_report:
            return cell, resources
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        points = float(cell.metadata["nbgrader"].get("points", 0))
        reports = [(k, o) for k, o in enumerate(cell.outputs)
                   if o.get("output_type") in ("display_data", "execute_result")
                   and REPORT_MIME in o.get("data", {})]
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        problem = None
        score = None
        if not reports and errors:
            problem = (f"the test cell stopped with {errors[0].get('ename')}: "
                       f"{str(errors[0].get('evalue'))[:300]}")
        elif len(reports) != 1:
            problem = (f"the test cell published {len(reports)} grade reports instead of one "
                       "(its output was hidden or forged)")
        else:
            position, output = reports[0]
            report = output["data"][REPORT_MIME]
            if isinstance(report, str):
                report = json.loads(report)
            score = report.get("score") if isinstance(report, dict) else None
            if not isinstance(report, dict) or report.get("grade_id") != grade_id:
                problem = "the grade report belongs to another test cell"
            elif not isinstance(score, (int, float)) or not 0 <= score <= points:
                problem = f"the grade report's score {score!r} is not in [0, {points:g}]"
            elif any(o.get("output_type") == "error" for o in cell.outputs[position + 1:]):
                problem = "the cell raised an error after its grade report"
        # Every execute_result in a test cell is replaced by ours (nbgrader reads the first).
        outputs = [o for o in cell.outputs if o.get("output_type") != "execute_result"]
        if problem is None:
            result = NotebookNode(output_type="execute_result", execution_count=None,
                                  metadata={}, data={"text/plain": repr(float(score))})
            cell.outputs = [result] + outputs
        else:
            self.log.warning("Test cell %s scores 0: %s", grade_id, problem)
            cell.outputs = [_error("NoPoints", problem)] + outputs
        return cell, resources


class RobustExecute(Execute):
    """nbgrader's Execute, surviving a cell that kills or hangs its kernel (see module docs)."""

    restart_grace = Integer(
        10, help="Seconds to wait for a kernel to start again after a failed cell."
    ).tag(config=True)
    max_restarts = Integer(
        3, help="Kernel restarts per notebook before the remaining cells are given up."
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None
                   ) -> tuple[NotebookNode, Any]:
        self._restarts = 0
        self._given_up = False
        # A cell interrupted at the timeout ends with the student's KeyboardInterrupt and the
        # error below (nbgrader's own is a bare "CellTimeoutError"): the runner's FAULT lines
        # and the feedback know a cell timeout by the name CellTimeout, on every path.
        message = f"this cell did not finish within {self.timeout} s and was interrupted"
        self.error_on_timeout = {"ename": "CellTimeout", "evalue": message,
                                 "traceback": [f"CellTimeout: {message}"]}
        return super().preprocess(nb, resources, km)

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int,
                                 execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        if self._given_up:
            if cell.cell_type == "code":
                cell.outputs = [_error("KernelLost", "not run: the kernel failed too often "
                                       "earlier in this notebook")]
            return cell
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count,
                                                    store_history)
        except (DeadKernelError, CellTimeoutError) as failure:
            if isinstance(failure, DeadKernelError):
                name, text = "KernelDied", ("the kernel died while running this cell (os._exit, "
                                            "a crash, or memory exhausted)")
            else:
                name, text = "CellTimeout", (f"this cell did not finish within {self.timeout} s "
                                             "and did not stop when interrupted")
            self.log.error("Cell %d: %s; restarting the kernel", cell_index, text)
            kept = definitions_only(cell.source)
            if kept:
                text += "; the kernel was restarted and only this cell's def, class and import "\
                        "statements were run again"
            cell.outputs = list(cell.get("outputs", [])) + [_error(name, text)]
            await self._restart_and_replay(cell_index, kept)
            self.nb.cells[cell_index] = cell  # nbclient stores every executed cell: put ours back
            return cell

    # nbclient binds the synchronous wrapper to its own coroutine: bind it to ours.
    execute_cell = run_sync(async_execute_cell)

    async def _restart_and_replay(self, failed_index: int, kept_source: str = "") -> None:
        self._restarts += 1
        if self._restarts > self.max_restarts:
            self._given_up = True
            return
        try:  # kill the old kernel outright: it is dead or deaf to interrupts
            if await ensure_async(self.km.is_alive()):
                await ensure_async(self.km.shutdown_kernel(now=True))
            await ensure_async(self.km.cleanup_resources())
            if self.kc is not None:
                await ensure_async(self.kc.stop_channels())
        except Exception as error:  # noqa: BLE001 (it may be gone already)
            self.log.warning("While stopping the failed kernel: %s", error)
        self.kc = None
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel()
        await self.async_start_new_kernel_client()
        for index, earlier in enumerate(self.nb.cells[:failed_index]):
            if earlier.cell_type != "code" or _is_test_cell(earlier):
                continue
            replay = copy.deepcopy(earlier)
            if any(o.get("output_type") == "error" and o.get("ename") in
                   ("KernelDied", "CellTimeout") for o in earlier.get("outputs", [])):
                replay.source = definitions_only(earlier.source)
            try:
                await super().async_execute_cell(replay, index, store_history=False)
            except (DeadKernelError, CellTimeoutError):
                self._given_up = True
                return
            finally:
                self.nb.cells[index] = earlier  # keep the first run's outputs
        if kept_source:
            replay = NotebookNode(cell_type="code", source=kept_source, metadata={}, outputs=[],
                                  execution_count=None, id="course-replay")
            failed = self.nb.cells[failed_index]
            try:
                await super().async_execute_cell(replay, failed_index, store_history=False)
            except (DeadKernelError, CellTimeoutError):
                self._given_up = True
            finally:
                self.nb.cells[failed_index] = failed
