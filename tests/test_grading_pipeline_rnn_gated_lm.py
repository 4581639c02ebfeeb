"""The instructor's pipeline, end to end, on a temporary copy of the course.

nbgrader generate_assignment -> submissions -> autograde (course_pkg.grading.instructor.pipeline: one
process per submission, two at a time) -> generate_feedback -> export, for every assignment,
with a chosen set of submissions:

- the reference solution (full marks) and the untouched release (0);
- typical mistakes (a missing bias, an output stored one step late, a bias gradient summed over
  the wrong axis, a one-sided finite difference, LSTM gate blocks read as i, f, o, g, the GRU's
  update gate used the other way round, ...): their intended partial score, and the message
  naming the mistake in the feedback HTML;
- integrity: delegation to the reference (static and through importlib), to torch.nn.LSTMCell;
  edited and deleted test cells, a hidden cell result, a patched grading library, a patched
  numpy.allclose: none gains anything;
- faults: a function that never returns and ignores SIGINT, calls os._exit or sys.exit,
  exhausts memory, prints megabytes; top-level code that hangs or kills the kernel; a notebook
  that is not JSON: each costs only the affected points, every other submission is graded, the
  gradebook stays consistent, and the runner prints one clear line per failure (a cell timeout
  included); an answer that hangs costs its part only, the not-graded self-check cell that
  calls it being skipped while grading.

Faults are put in parts no other part depends on, so that the expected score is simply the
total minus those parts. The whole file takes a few minutes on two cores (about 25 autogrades).
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess

import nbformat
import pytest

pytestmark = pytest.mark.pipeline

from course_builder import assert_feedback_hides_hidden_tests, grade_id, nbgrader, new_course
from rnn_gated_lm_class import A1, A2, A3, EXPECTED_SCORES, FEEDBACK_MESSAGES, SUBMISSIONS

from course_pkg.grading.instructor import pipeline
from course_pkg.grading.instructor.offline_feedback import MARKER


# ------------------------------------------------------------------------------------------
# What the runner must print for the failing submissions (the submissions, their expected
# scores and what their feedback must say are in rnn_gated_lm_class.py)
# ------------------------------------------------------------------------------------------

RUNNER_LINES = {
    (A1, "faults"): ["FAULT rnn_bptt/faults: test_numerical_gradient: numerical_gradient: did not",
                     "FAULT rnn_bptt/faults: test_rnn_backward: rnn_backward: the process exited"],
    (A1, "top_level"): ["FAULT rnn_bptt/top_level: rnn_forward: KernelDied",
                        "FAULT rnn_bptt/top_level: numerical_gradient: CellTimeout: this cell "
                        "did not finish within 30 s"],
    (A1, "self_check_hang"): "FAULT rnn_bptt/self_check_hang: test_rnn_backward: rnn_backward: "
                             "did not return within 5 s",
    (A1, "not_json"): "FAIL rnn_bptt/not_json: submitted notebook rnn_bptt.ipynb is not valid",
    (A1, "delegation"): "FAULT rnn_bptt/delegation: test_numerical_gradient: delegation",
    (A2, "faults"): "FAULT gated_cells/faults: test_gru_step_backward: gru_step_backward",
    (A3, "torch_clip"): "FAULT char_lm/torch_clip: test_train_step: delegation",
}


# ------------------------------------------------------------------------------------------
# The run (once for the module)
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Generate, submit, autograde, give feedback and export; returns what the tests read."""
    tmp = tmp_path_factory.mktemp("course")
    assignments = sorted({a for a, _ in SUBMISSIONS})
    course, env = new_course(tmp, tuple(assignments), SUBMISSIONS)

    lines = []
    original_log = pipeline._log
    pipeline._log = lambda message: (lines.append(message), original_log(message))
    try:
        results = {}
        for assignment in assignments:
            for result in pipeline.autograde(course, assignment, jobs=2, timeout=300):
                results[(assignment, result.student)] = result
    finally:
        pipeline._log = original_log
    for assignment in assignments:
        nbgrader(course, "generate_feedback", assignment, "--force", env=env)
    nbgrader(course, "export", "--to", str(tmp / "grades.csv"), env=env)
    with open(tmp / "grades.csv") as handle:
        grades = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    assert pipeline.main(["export", "--course", str(course), "--out", str(tmp / "parts.csv"),
                          "--lms", str(tmp / "lms.csv")]) == 0
    with open(tmp / "parts.csv") as handle:
        parts = {(r["assignment"], r["student_id"], r["part"]): r for r in csv.DictReader(handle)}
    with open(tmp / "lms.csv") as handle:
        lms = list(csv.DictReader(handle))
    return {"course": course, "results": results, "grades": grades, "lines": lines,
            "parts": parts, "lms": lms}


# ------------------------------------------------------------------------------------------
# What must hold
# ------------------------------------------------------------------------------------------


def test_release_has_no_solutions_and_no_hidden_tests(graded):
    for assignment in sorted({a for a, _ in SUBMISSIONS}):
        text = (graded["course"] / "release" / assignment / f"{assignment}.ipynb").read_text()
        assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        released = nbformat.reads(text, 4)
        source = nbformat.read(graded["course"] / "source" / assignment /
                               f"{assignment}.ipynb", 4)
        hidden = [line.strip() for cell in source.cells for line in
                  cell.source.split("### BEGIN HIDDEN TESTS")[1:]
                  for line in line.split("### END HIDDEN TESTS")[0].splitlines() if line.strip()]
        assert hidden, "every assignment has hidden tests"
        assert not any(line in cell.source for cell in released.cells for line in hidden)
        assert all(not cell.get("outputs") for cell in released.cells if cell.cell_type == "code")


@pytest.mark.parametrize("key", sorted(EXPECTED_SCORES), ids="/".join)
def test_exported_score(graded, key):
    row = graded["grades"][key]
    assert float(row["score"]) == pytest.approx(EXPECTED_SCORES[key], abs=1e-6), row


def test_the_course_export_breaks_each_score_down_by_part(graded):
    parts = graded["parts"]
    for (assignment, student), expected in EXPECTED_SCORES.items():
        total = parts[(assignment, student, "total")]
        assert total["status"] == "graded" and float(total["score"]) == pytest.approx(expected)
        cells = [r for (a, s, p), r in parts.items() if (a, s) == (assignment, student)
                 and p != "total"]
        assert sum(float(r["score"]) for r in cells) == pytest.approx(expected)
        assert sum(float(r["max_score"]) for r in cells) == float(total["max_score"])
    # the charge of the missing bias lands on rnn_step_forward alone
    assert float(parts[(A1, "missing_bias", "test_rnn_step_forward")]["score"]) == 0.75
    assert float(parts[(A1, "missing_bias", "test_rnn_step_backward")]["score"]) == 3


def test_the_course_export_keeps_not_submitted_apart_from_zero(graded):
    parts, lms = graded["parts"], graded["lms"]
    students = {s for _, s in SUBMISSIONS}
    assignments = {a for a, _ in SUBMISSIONS}
    missing = [(a, s) for a in assignments for s in students if (a, s) not in SUBMISSIONS]
    assert missing, "some students submitted only some assignments"
    for assignment, student in missing:
        row = parts[(assignment, student, "total")]
        assert row["status"] == "not submitted" and row["score"] == "", row
    untouched = parts[(A1, "untouched", "total")]
    assert untouched["status"] == "graded" and float(untouched["score"]) == 0
    by_key = {(r["assignment"], r["student_id"]): r for r in lms}
    assert set(by_key) == {(a, s) for a in assignments for s in students}
    assert list(lms[0]) == ["student_id", "assignment", "score", "max_score"]
    assert by_key[missing[0]]["score"] == ""
    solution = by_key[(A1, "solution")]
    assert float(solution["score"]) == float(solution["max_score"]) == 12


def test_every_submission_is_in_the_export_and_the_gradebook_is_consistent(graded):
    for key in SUBMISSIONS:
        assert key in graded["grades"]
        score, max_score, ungraded = pipeline.gradebook_score(graded["course"], *key)
        assert ungraded == 0, f"{key}: test cells left needing manual grading"
        assert max_score == float(graded["grades"][key]["max_score"])


@pytest.mark.parametrize("key", sorted(FEEDBACK_MESSAGES), ids="/".join)
def test_feedback_says_what_is_wrong(graded, key):
    assignment, student = key
    page = graded["course"] / "feedback" / student / assignment / f"{assignment}.html"
    html = page.read_text()
    for message in FEEDBACK_MESSAGES[key]:
        assert message in html.replace("&#39;", "'").replace("&quot;", '"'), message


def test_feedback_names_each_part_and_prints_each_score_once(graded):
    html = (graded["course"] / "feedback" / "missing_bias" / A1 / f"{A1}.html").read_text()
    assert "Test cell</a>" not in html
    for part in ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                 "numerical_gradient"):
        assert f"Tests of <code>{part}</code></a>" in html, part
    assert html.count("rnn_step_forward: 0.75 / 2 points") == 1
    assert "Out[" not in html  # no score echoed after the score line
    for assignment in sorted({a for a, _ in SUBMISSIONS}):
        page = graded["course"] / "feedback" / "solution" / assignment / f"{assignment}.html"
        assert "torch._C.Generator" not in page.read_text(), assignment


def test_feedback_renders_math_offline(graded):
    page = graded["course"] / "feedback" / "solution" / A1 / f"{A1}.html"
    html = page.read_text()
    assert MARKER in html and "MathJax" in html  # MathJax 3 (SVG output) is inlined
    assert not re.search(r"<script[^>]*\bsrc=[\"']?https?:", html)  # nothing from a CDN
    assert not re.search(r"<link[^>]*\bhref=[\"']?https?:", html)
    assert "\\tanh" in html  # the assignment's equations are there, for MathJax to typeset


@pytest.mark.parametrize("key", sorted(RUNNER_LINES), ids="/".join)
def test_runner_logs_one_clear_line_per_failure(graded, key):
    expected = RUNNER_LINES[key] if isinstance(RUNNER_LINES[key], list) else [RUNNER_LINES[key]]
    for prefix in expected:
        assert any(line.startswith(prefix) for line in graded["lines"]), (prefix, graded["lines"])


def test_a_self_check_cell_does_not_run_a_hanging_answer_while_grading(graded):
    """Issue 13's bob: the not-graded cell that checks rnn_backward against finite differences
    skips the call under autograde, so the hang costs rnn_backward's part (a 5 s limit) and
    nothing else: no cell timeout, no restarted kernel."""
    key = (A1, "self_check_hang")
    result = graded["results"][key]
    assert result.ok and result.score == pytest.approx(9.0)
    assert len(result.faults) == 1 and result.faults[0].startswith(
        "test_rnn_backward: rnn_backward: did not return within 5 s"), result.faults
    mine = [line for line in graded["lines"] if "rnn_bptt/self_check_hang:" in line]
    faults = [line for line in mine if line.startswith("FAULT")]
    assert len(faults) == 1 and "CellTimeout" not in faults[0], mine
    notebook = nbformat.read(graded["course"] / "autograded" / "self_check_hang" / A1 /
                             f"{A1}.ipynb", 4)
    checks = [cell for cell in notebook.cells if cell.cell_type == "code"
              and "rnn_backward(dout, dh_n, cache)" in cell.source
              and not cell.metadata.get("nbgrader", {}).get("solution")]
    assert len(checks) == 1
    outputs = checks[0].outputs
    assert [output.output_type for output in outputs] == ["stream"], outputs
    assert outputs[0].text.startswith("skipped while grading")
    assert not any(output.get("ename") for cell in notebook.cells
                   for output in cell.get("outputs", []))


def test_edited_and_deleted_test_cells_are_restored(graded):
    notebook = nbformat.read(graded["course"] / "autograded" / "tampering" / A1 /
                             f"{A1}.ipynb", 4)
    cells = {grade_id(cell): cell for cell in notebook.cells}
    assert 'grade("rnn_step_forward"' in cells["test_rnn_step_forward"].source
    assert "test_rnn_step_backward" in cells  # put back by OverwriteCells.add_missing_cells


def test_a_failed_submission_does_not_stop_the_others(graded):
    results = graded["results"]
    assert not results[(A1, "not_json")].ok
    assert all(result.ok for key, result in results.items() if key != (A1, "not_json"))


@pytest.mark.browser
def test_feedback_math_is_typeset_by_a_browser_without_network(graded, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed")
    page = graded["course"] / "feedback" / "solution" / A1 / f"{A1}.html"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=http://127.0.0.1:9",
         "--virtual-time-budget=15000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180)
    assert result.stdout.count("<mjx-container") >= 5, result.stderr[-2000:]


@pytest.mark.parametrize("assignment", sorted({a for a, _ in SUBMISSIONS}))
def test_feedback_shows_hidden_checks_by_name_never_their_code(graded, assignment):
    assert_feedback_hides_hidden_tests(graded["course"], assignment)
