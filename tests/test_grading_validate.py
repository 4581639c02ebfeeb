"""course_pkg.grading.validate: a student's per-check report before handing in."""

import pathlib
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE = ROOT / "assignments" / "source" / "rnn_bptt" / "rnn_bptt.ipynb"


def student_copy(folder: pathlib.Path, edits: dict[str, tuple[str, str]]) -> pathlib.Path:
    """The assignment's notebook with the solution cells edited as a student might."""
    notebook = nbformat.read(SOURCE, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in edits:
            old, new = edits[grade_id]
            assert old in cell.source, f"{grade_id}: {old!r} not in the solution"
            cell.source = cell.source.replace(old, new)
    path = folder / "rnn_bptt.ipynb"
    nbformat.write(notebook, path)
    return path


def validate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_pkg.grading", "validate", *args],
                          capture_output=True, text=True, timeout=900)


def test_validate_prints_the_graders_diagnosis_and_the_visible_total(tmp_path):
    path = student_copy(tmp_path, {"rnn_step_forward": (
        "+ h_prev @ weight_hh.T + bias_hh", "+ h_prev @ weight_hh.T")})
    result = validate(str(path))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "== test_rnn_step_forward (2 points)" in out
    assert "computed without bias_hh: add bias_hh" in out  # the same diagnosis as grading
    assert "rnn_step_forward: 0.75 / 2 points" in out
    assert "rnn_step_backward: 3 / 3 points" in out  # not charged for the forward's mistake
    assert "visible tests: 10.75 / 12 points" in out
    assert out.count("rnn_step_forward: 0.75 / 2 points") == 1  # each score line once


@pytest.mark.parametrize("argument, message", [
    ("missing.ipynb", "notebook: expected an existing .ipynb file, got 'missing.ipynb'"),
    ("README.md", "notebook: expected an existing .ipynb file, got 'README.md'"),
])
def test_validate_names_a_bad_argument(argument, message):
    result = subprocess.run([sys.executable, "-m", "course_pkg.grading", "validate", argument],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_the_grading_module_says_how_to_use_it():
    result = subprocess.run([sys.executable, "-m", "course_pkg.grading"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "validate NOTEBOOK.ipynb" in result.stderr
