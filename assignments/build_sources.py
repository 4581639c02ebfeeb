"""Build the nbgrader source notebooks from their MyST Markdown sources.

Each assignment is written as MyST Markdown in ``assignments/authoring/<assignment>.md`` (text
that diffs well and that jupytext reads) and built into nbgrader's layout,
``assignments/source/<assignment>/<assignment>.ipynb``, with no outputs and with complete nbgrader
cell metadata (``schema_version: 3``). The authoring files live outside ``source/`` so that
``nbgrader generate_assignment`` never releases them.

A code cell says what it is for nbgrader with two or three options::

    ```{code-cell} ipython3
    :nbgrader: solution          # or: tests, locked
    :grade_id: rnn_step_forward  # unique in the notebook
    :points: 2                   # tests only
    ```

and the build checks what nbgrader would not: unique grade ids, solution cells with
``### BEGIN SOLUTION`` / ``### END SOLUTION``, balanced ``### BEGIN HIDDEN TESTS`` markers, and
test cells that pass their own ``grade_id`` and points to the grading library and end with
``part.score();`` (the part prints its score line once; the semicolon keeps IPython from
echoing the number as ``Out[..]`` after it).

Usage (from the repository root)::

    python assignments/build_sources.py            # write every source notebook
    python assignments/build_sources.py --check    # exit 1 if a committed notebook is stale
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jupytext
import nbformat

HERE = pathlib.Path(__file__).resolve().parent
AUTHORING = HERE / "authoring"
SOURCE = HERE / "source"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class AuthoringError(ValueError):
    """A source file breaks one of the conventions above."""


def _nbgrader_metadata(cell: nbformat.NotebookNode, where: str) -> dict | None:
    kind = cell.metadata.pop("nbgrader", None)
    grade_id = cell.metadata.pop("grade_id", None)
    points = cell.metadata.pop("points", None)
    if kind is None:
        if grade_id is not None or points is not None:
            raise AuthoringError(f"{where}: grade_id/points without an nbgrader kind")
        return None
    if kind not in ("solution", "tests", "locked"):
        raise AuthoringError(f"{where}: nbgrader must be solution, tests or locked, got {kind!r}")
    if not grade_id:
        raise AuthoringError(f"{where}: an nbgrader cell needs a grade_id")
    metadata = {
        "schema_version": 3,
        "grade_id": str(grade_id),
        "solution": kind == "solution",
        "grade": kind == "tests",
        "locked": kind != "solution",
        "task": False,
    }
    if kind == "tests":
        if points is None or float(points) <= 0:
            raise AuthoringError(f"{where}: a tests cell needs points > 0")
        metadata["points"] = float(points) if float(points) != int(points) else int(points)
        source = cell.source
        if f'grade_id="{grade_id}"' not in source or f"points={metadata['points']}" not in source:
            raise AuthoringError(f"{where}: the tests cell must pass grade_id=\"{grade_id}\" and "
                                 f"points={metadata['points']} to the grading library")
        if not source.rstrip().endswith("part.score();"):
            raise AuthoringError(f"{where}: a tests cell must end with part.score();")
        if source.count("### BEGIN HIDDEN TESTS") != source.count("### END HIDDEN TESTS"):
            raise AuthoringError(f"{where}: unbalanced HIDDEN TESTS markers")
    elif points is not None:
        raise AuthoringError(f"{where}: only tests cells carry points")
    if kind == "solution" and ("### BEGIN SOLUTION" not in cell.source
                               or "### END SOLUTION" not in cell.source):
        raise AuthoringError(f"{where}: a solution cell needs BEGIN/END SOLUTION markers")
    return metadata


def build_notebook(markdown_path: pathlib.Path) -> nbformat.NotebookNode:
    """Read one MyST source and return the nbgrader source notebook (not written)."""
    notebook = jupytext.read(markdown_path, fmt="md:myst")
    seen: set[str] = set()
    for number, cell in enumerate(notebook.cells):
        where = f"{markdown_path.name}, cell {number}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        metadata = _nbgrader_metadata(cell, where)
        if metadata is not None:
            if metadata["grade_id"] in seen:
                raise AuthoringError(f"{where}: duplicate grade_id {metadata['grade_id']!r}")
            seen.add(metadata["grade_id"])
            cell.metadata["nbgrader"] = metadata
            if metadata["locked"]:
                cell.metadata["deletable"] = False
                cell.metadata["editable"] = False
        cell.metadata.pop("lines_to_next_cell", None)
        cell.pop("id", None)
    notebook.metadata = {"kernelspec": dict(KERNELSPEC),
                         "language_info": {"name": "python"}}
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    for number, cell in enumerate(notebook.cells):  # stable ids: diffs stay small
        cell["id"] = f"{markdown_path.stem}-{number:02d}"
    nbformat.validate(notebook)
    return notebook


def assignments() -> list[pathlib.Path]:
    return sorted(AUTHORING.glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if a source notebook differs from its build")
    args = parser.parse_args(argv)
    stale = []
    for markdown_path in assignments():
        name = markdown_path.stem
        target = SOURCE / name / f"{name}.ipynb"
        text = nbformat.writes(build_notebook(markdown_path)) + "\n"
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target.relative_to(HERE.parent)))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        print("stale (run python assignments/build_sources.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
