"""The course's grade export: a per-part breakdown, and "not submitted" kept apart from a real 0.

``nbgrader export`` writes one row per student and assignment, with 0.0 both for a notebook that
scored nothing and for one that was never handed in. The instructor needs to tell them apart
(a missing submission is a conversation, a 0 is a grade), and to see which part cost the points.
This module reads the gradebook (SQLite or PostgreSQL, see :func:`.pipeline.open_gradebook`) and
writes two CSV files::

    python -m course_pkg.grading.instructor.pipeline export --out grades.csv --lms lms.csv

- ``grades.csv``: one row per student, assignment and graded part (the test cell's grade id),
  and one ``total`` row per student and assignment, with the columns
  ``student_id, assignment, part, status, score, max_score``. ``status`` is ``graded``,
  ``needs manual grading``, ``submitted, not graded`` or ``not submitted``; the score of a
  submission that does not exist is left empty, never 0.
- ``lms.csv`` (optional): ``student_id, assignment, score, max_score``, one row per student and
  assignment: the totals only, ready for a learning-management system's grade import (an empty
  score is "no submission" there too).
"""

from __future__ import annotations

import csv
import pathlib
from dataclasses import dataclass
from typing import Iterable, Sequence

GRADED = "graded"
MANUAL = "needs manual grading"
UNGRADED = "submitted, not graded"
MISSING = "not submitted"
GRADE_COLUMNS = ("student_id", "assignment", "part", "status", "score", "max_score")
LMS_COLUMNS = ("student_id", "assignment", "score", "max_score")

__all__ = ["GradeRow", "GRADE_COLUMNS", "LMS_COLUMNS", "grade_rows", "write_grades", "write_lms"]


@dataclass(frozen=True)
class GradeRow:
    """One line of ``grades.csv``: a part's (or, with ``part == "total"``, the assignment's)
    score; ``score`` is None when there is no submission to score."""

    student_id: str
    assignment: str
    part: str
    status: str
    score: float | None
    max_score: float


def _status(grades: Iterable) -> str:
    grades = list(grades)
    if any(g.needs_manual_grade for g in grades):
        return MANUAL
    if any(g.auto_score is None and g.manual_score is None for g in grades):
        return UNGRADED
    return GRADED


def grade_rows(gradebook, assignments: Iterable[str] | None = None) -> list[GradeRow]:
    """Every student's rows for ``assignments`` (default: all of the gradebook's), sorted by
    student, then assignment, with each assignment's parts in notebook order, total last."""
    from nbgrader.api import MissingEntry

    names = sorted(a.name for a in gradebook.assignments)
    if assignments is not None:
        wanted = list(assignments)
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ValueError(f"assignments: expected names from the gradebook {names}, "
                             f"got unknown {unknown}")
        names = [n for n in names if n in wanted]
    rows: list[GradeRow] = []
    for student in sorted(s.id for s in gradebook.students):
        for name in names:
            assignment = gradebook.find_assignment(name)
            cells = [cell for notebook in assignment.notebooks for cell in notebook.grade_cells
                     if cell.cell_type == "code"]
            try:
                submission = gradebook.find_submission(name, student)
            except MissingEntry:
                rows += [GradeRow(student, name, c.name, MISSING, None, float(c.max_score))
                         for c in cells]
                rows.append(GradeRow(student, name, "total", MISSING, None,
                                     float(assignment.max_score)))
                continue
            by_cell = {grade.name: grade for notebook in submission.notebooks
                       for grade in notebook.grades}
            for cell in cells:
                grade = by_cell.get(cell.name)
                status = _status([grade]) if grade is not None else UNGRADED
                score = None if grade is None else float(grade.score)
                rows.append(GradeRow(student, name, cell.name, status, score,
                                     float(cell.max_score)))
            rows.append(GradeRow(student, name, "total", _status(by_cell.values()),
                                 float(submission.score), float(submission.max_score)))
    return rows


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _write(path: pathlib.Path, columns: Sequence[str], rows: Iterable[GradeRow]) -> pathlib.Path:
    """A CSV of ``columns`` (names of GradeRow fields), one line per row."""
    path = pathlib.Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_number(v) if name in ("score", "max_score") else v
                             for name, v in ((c, getattr(row, c)) for c in columns)])
    return path


def write_grades(rows: Iterable[GradeRow], path: pathlib.Path) -> pathlib.Path:
    """``grades.csv`` (see the module docstring)."""
    return _write(path, GRADE_COLUMNS, rows)


def write_lms(rows: Iterable[GradeRow], path: pathlib.Path) -> pathlib.Path:
    """``lms.csv``: the totals only (see the module docstring)."""
    return _write(path, LMS_COLUMNS, (row for row in rows if row.part == "total"))
