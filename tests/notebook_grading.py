"""Grading a source notebook in this process, as a student's kernel would (no nbgrader, no
jail): the quick way for the checks' tests to see a part's score and printed report."""

from __future__ import annotations

import contextlib
import io
import linecache
import sys

import nbformat

from course_builder import ROOT, solution_code


def grade_notebook(assignment: str, edits: dict | None = None, only: tuple = (),
                   reports: dict | None = None) -> dict[str, tuple[float, str]]:
    """Run every nbgrader cell of a source notebook as a kernel would; grade_id -> (score, text).

    ``edits`` maps a solution cell's grade_id to a function of its code (a student's mistake);
    ``only`` restricts the test cells run (all by default); ``reports``, when given, receives
    grade_id -> the part's grade report (its faults, delegation and cases).
    The course_pkg modules are restored afterwards (test cells re-import them).
    """
    notebook = nbformat.read(ROOT / "assignments" / "source" / assignment / f"{assignment}.ipynb", 4)
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "course_pkg"}
    namespace = {"__name__": "__main__"}
    results = {}
    try:
        for number, cell in enumerate(notebook.cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta:
                continue
            source = cell.source
            if meta.get("solution"):
                source = solution_code(source)
                if edits and meta["grade_id"] in edits:
                    source = edits[meta["grade_id"]](source)
            lines = source.rstrip().splitlines()
            is_test = meta.get("grade")
            if is_test and only and meta["grade_id"] not in only:
                continue
            if is_test:  # the last line, part.score(), is the cell's result
                source = "\n".join(lines[:-1]) + "\n__score__ = " + lines[-1]
            printed = io.StringIO()
            name = f"<cell-{number}>"  # kept in linecache, as IPython keeps its cells
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
            with contextlib.redirect_stdout(printed):
                exec(compile(source, name, "exec"), namespace)
            if is_test:
                results[meta["grade_id"]] = (namespace["__score__"], printed.getvalue())
                if reports is not None:
                    reports[meta["grade_id"]] = namespace["part"].report
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "course_pkg"]:
            del sys.modules[name]
        sys.modules.update(saved)
    return results


def points(assignment: str) -> dict[str, float]:
    notebook = nbformat.read(ROOT / "assignments" / "source" / assignment / f"{assignment}.ipynb", 4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")}
