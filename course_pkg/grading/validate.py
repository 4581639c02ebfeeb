"""A student's check before handing in: every visible test, with the same per-check report.

``nbgrader validate`` says "Partial credit" or "Success" and nothing else, so a notebook that
scores 0, one that calls the reference and one that is nearly right look alike. This command
runs the notebook top to bottom in a fresh kernel, as the grader does, and prints each test
cell's report: the cases, which output is wrong where, the diagnosis, and the points::

    python -m course_pkg.grading validate rnn_bptt.ipynb

The hidden tests are not in a student's copy, so the total counts the visible tests only (the
grade may be lower). Nothing is sent anywhere; the exit status is 0 when every visible test
earned all its points, 1 otherwise, 2 when the notebook could not be run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from dataclasses import dataclass, field
from typing import Sequence

from course_pkg.grading.report import REPORT_MIME

__all__ = ["TestCellResult", "run_notebook", "main"]


@dataclass
class TestCellResult:
    """What one test cell printed, and its score from the grade report (None: no report)."""

    grade_id: str
    points: float
    text: str
    score: float | None
    errors: list[str] = field(default_factory=list)


def _test_cells(notebook) -> list[tuple[int, dict]]:
    return [(i, cell.metadata["nbgrader"]) for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")]


def run_notebook(path: pathlib.Path, *, timeout: float = 120.0) -> list[TestCellResult]:
    """Execute the notebook at ``path`` in a fresh kernel (its folder as working directory)
    and return each test cell's report. A cell that raises does not stop the run."""
    import nbformat
    from nbclient import NotebookClient

    path = pathlib.Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise FileNotFoundError(f"notebook: expected an existing .ipynb file, got {str(path)!r}")
    if timeout <= 0:
        raise ValueError(f"timeout: expected seconds > 0, got {timeout!r}")
    notebook = nbformat.read(path, as_version=4)
    cells = _test_cells(notebook)
    if not cells:
        raise ValueError(f"notebook: expected an nbgrader notebook with test cells, got none "
                         f"in {path.name}")
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True,
                            kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    results = []
    for index, meta in cells:
        text, score, errors = [], None, []
        for output in notebook.cells[index].get("outputs", []):
            if output.get("output_type") == "stream":
                text.append(output.get("text", ""))
            elif output.get("output_type") == "error":
                errors.append(f"{output.get('ename')}: {output.get('evalue')}")
            report = output.get("data", {}).get(REPORT_MIME)
            if isinstance(report, str):
                report = json.loads(report)
            if isinstance(report, dict) and isinstance(report.get("score"), (int, float)):
                score = float(report["score"])
        results.append(TestCellResult(meta["grade_id"], float(meta.get("points", 0)),
                                      "".join(text).rstrip(), score, errors))
    return results


def report_text(results: Sequence[TestCellResult]) -> str:
    """The printed report: each test cell's lines, then the visible total."""
    lines = []
    for result in results:
        lines.append(f"== {result.grade_id} ({result.points:g} points)")
        if result.text:
            lines.append(result.text)
        lines.extend(f"error: {error}" for error in result.errors)
        if result.score is None:
            lines.append(f"{result.grade_id}: 0 / {result.points:g} points (the cell gave no "
                         "grade report: it raised before grading, see the error above)")
    earned = sum(r.score or 0.0 for r in results)
    possible = sum(r.points for r in results)
    lines.append(f"visible tests: {earned:g} / {possible:g} points "
                 "(hidden tests run at grading and may lower this)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_pkg.grading validate",
        description="Run a notebook's visible tests and print the grader's per-check report.")
    parser.add_argument("notebook", type=pathlib.Path)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per cell")
    args = parser.parse_args(argv)
    try:
        results = run_notebook(args.notebook, timeout=args.timeout)
    except (FileNotFoundError, ValueError) as error:
        print(f"validate: {error}", file=sys.stderr)
        return 2
    print(report_text(results))
    return 0 if all(r.score == r.points for r in results) else 1
