"""Building a throwaway copy of the course for the pipeline tests, and its submissions.

Shared by the tests that run the instructor's pipeline end to end: a course directory with the
course's nbgrader settings and some assignments, released with ``nbgrader generate_assignment``,
and submissions written from the source (solutions) or the release (stubs), edited on the way.
"""

from __future__ import annotations

import csv
import html
import os
import pathlib
import re
import shutil
import subprocess
import sys

import nbformat

from course_pkg.grading.instructor import pipeline

ROOT = pathlib.Path(__file__).resolve().parents[1]
COURSE_SOURCE = ROOT / "assignments"
NBGRADER = [str(pathlib.Path(sys.executable).with_name("nbgrader"))]


# ------------------------------------------------------------------------------------------
# Building submissions from the source notebook (solutions) and the release (stubs)
# ------------------------------------------------------------------------------------------


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_code(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def replace(old: str, new: str):
    def edit(source: str) -> str:
        assert old in source, f"{old!r} not in {source!r}"
        return source.replace(old, new)
    return edit


def append(code: str):
    return lambda source: source + "\n" + code


def make_submission(course: pathlib.Path, assignment: str, student: str, *,
                    solutions: bool = True, edits: dict | None = None,
                    test_edits: dict | None = None, delete: tuple = (),
                    prepend: str = "", raw: str | None = None) -> None:
    """Write submitted/<student>/<assignment>/<assignment>.ipynb.

    ``solutions``: fill the solution cells with the source's solutions (else keep the stubs);
    ``edits``: grade_id -> function of the solution code; ``test_edits``: grade_id -> new
    source of a test cell; ``delete``: grade_ids of cells to remove; ``prepend``: a cell of the
    student's own at the top; ``raw``: write this text instead of a notebook.
    """
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{assignment}.ipynb"
    if raw is not None:
        target.write_text(raw)
        return
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", 4)
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", 4)
    answers = {grade_id(c): solution_code(c.source) for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    cells = []
    for cell in release.cells:
        cell_id = grade_id(cell)
        if cell_id in delete:
            continue
        if cell.metadata.get("nbgrader", {}).get("solution"):
            if solutions or cell_id in (edits or {}):
                cell.source = answers[cell_id]
            if cell_id in (edits or {}):
                cell.source = edits[cell_id](cell.source)
        if cell_id in (test_edits or {}):
            cell.source = test_edits[cell_id]
        cells.append(cell)
    if prepend:
        cells.insert(1, nbformat.v4.new_code_cell(prepend))
    release.cells = cells
    nbformat.write(release, target)


def environment(tmp: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR"):
        env[name] = str(tmp / "runtime" / name.lower())
        pathlib.Path(env[name]).mkdir(parents=True, exist_ok=True)
    env.update(pipeline.child_environment())
    return env


def nbgrader(course: pathlib.Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(NBGRADER + list(args), cwd=course, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr



def new_course(tmp: pathlib.Path, assignments: tuple[str, ...], submissions: dict, *,
               cell_timeout: int = 30) -> tuple[pathlib.Path, dict[str, str]]:
    """A course in ``tmp/assignments`` with ``assignments`` released and ``submissions``
    ((assignment, student) -> make_submission options) written; returns it and the
    environment for nbgrader commands (Jupyter's folders under ``tmp``)."""
    course = tmp / "assignments"
    course.mkdir()
    shutil.copy(COURSE_SOURCE / "nbgrader_config.py", course)
    for assignment in assignments:
        shutil.copytree(COURSE_SOURCE / "source" / assignment, course / "source" / assignment)
    with open(course / "nbgrader_config.py", "a") as config:  # quicker top-level timeouts
        config.write(f"\nc.Execute.timeout = {cell_timeout}\n"
                     f"c.RobustExecute.timeout = {cell_timeout}\n")
    env = environment(tmp)
    os.environ.update({k: env[k] for k in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR",
                                           "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR")})
    for assignment in assignments:
        nbgrader(course, "generate_assignment", assignment, "--force", env=env)
    for (assignment, student), options in submissions.items():
        make_submission(course, assignment, student, **options)
    return course, env


def hidden_test_lines(course: pathlib.Path, assignment: str) -> list[str]:
    """The non-blank lines between BEGIN and END HIDDEN TESTS in the source notebook."""
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", 4)
    return [line.strip() for cell in source.cells
            for block in cell.source.split("### BEGIN HIDDEN TESTS")[1:]
            for line in block.split("### END HIDDEN TESTS")[0].splitlines() if line.strip()]


def reader_text(page: pathlib.Path) -> str:
    """A feedback page's text as a student reads it: code is split into highlighting spans, so
    the tags go first, then the entities are decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def feedback_text(course: pathlib.Path, assignment: str, student: str) -> str:
    return reader_text(course / "feedback" / student / assignment / f"{assignment}.html")


def autograded_output(course: pathlib.Path, assignment: str, student: str) -> str:
    """What the code cells of a student's autograded notebook printed and raised (each output's
    text and error value, one per line)."""
    notebook = nbformat.read(course / "autograded" / student / assignment / f"{assignment}.ipynb",
                             4)
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", ""))
                     for cell in notebook.cells if cell.cell_type == "code"
                     for o in cell.get("outputs", []))


def assert_feedback_hides_hidden_tests(course: pathlib.Path, assignment: str) -> None:
    """No line of a hidden test in any feedback page, and no line of the region markers."""
    hidden = hidden_test_lines(course, assignment)
    assert hidden, f"{assignment} has no hidden tests"
    pages = sorted((course / "feedback").glob(f"*/{assignment}/*.html"))
    assert pages, f"no feedback was generated for {assignment}"
    for page in pages:
        text = reader_text(page)
        leaked = [line for line in hidden if line in text]
        assert not leaked and "HIDDEN TESTS" not in text, (page, leaked[:3])


def export_scores(course: pathlib.Path, env: dict[str, str], target: pathlib.Path,
                  db_url: str | None = None) -> dict[tuple[str, str], float]:
    """``nbgrader export`` (from the gradebook at ``db_url``, else the course's) to ``target``;
    returns (assignment, student) -> score."""
    extra = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    nbgrader(course, "export", "--to", str(target), *extra, env=env)
    with open(target) as handle:
        return {(row["assignment"], row["student_id"]): float(row["score"])
                for row in csv.DictReader(handle)}
