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
  gradebook stays consistent, and the runner prints one clear line per failure.

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

from course_builder import assert_feedback_hides_hidden_tests, append, grade_id, nbgrader, new_course, replace

from course_pkg.grading.instructor import pipeline
from course_pkg.grading.instructor.offline_feedback import MARKER


# ------------------------------------------------------------------------------------------
# The submissions, their expected scores, and what their feedback must say
# ------------------------------------------------------------------------------------------

A1, A2, A3 = "rnn_bptt", "gated_cells", "char_lm"

LOOP_IGNORING_SIGINT = """
import signal
def numerical_gradient(f, array, df=None, h=1e-6):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            pass
        except BaseException:
            pass
"""

SUBMISSIONS = {
    # ---- assignment 1: the vanilla RNN ----------------------------------------------------
    (A1, "solution"): dict(),
    (A1, "untouched"): dict(solutions=False),
    (A1, "missing_bias"): dict(edits={"rnn_step_forward": replace(
        "+ h_prev @ weight_hh.T + bias_hh", "+ h_prev @ weight_hh.T")}),
    (A1, "off_by_one"): dict(edits={"rnn_forward": replace(
        "        h, step_cache = rnn_step_forward(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh)\n"
        "        out[t] = h",
        "        out[t] = h\n"
        "        h, step_cache = rnn_step_forward(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh)")}),
    (A1, "wrong_axis"): dict(edits={"rnn_step_backward": replace(
        "dbias = delta.sum(axis=0)", "dbias = delta.sum(axis=1)")}),
    (A1, "dout_only"): dict(edits={"rnn_backward": replace(
        "rnn_step_backward(dout[t] + dh_next,", "rnn_step_backward(dout[t],")}),
    (A1, "one_sided"): dict(edits={"numerical_gradient": replace(
        "gradient[k] = (up - down) / (2 * h)", "gradient[k] = (up - loss()) / h")}),
    (A1, "delegation"): dict(edits={"numerical_gradient": lambda source: (
        "import importlib\n"
        "def numerical_gradient(f, array, df=None, h=1e-6):\n"
        "    module = importlib.import_module('course_pkg.numpy_' + 'rnn')\n"
        "    return getattr(module, 'numerical_' + 'gradient')(f, array, df, h)\n")}),
    (A1, "tampering"): dict(
        solutions=False, edits={"numerical_gradient": lambda source: source},
        prepend=("import course_pkg.grading.report as report\n"
                 "report.Report.score = lambda self: self.points\n"
                 "get_ipython().ast_node_interactivity = 'none'\n"),
        test_edits={"test_rnn_step_forward": "print('all tests passed')"},
        delete=("test_rnn_step_backward",)),
    (A1, "faults"): dict(edits={
        "numerical_gradient": lambda source: LOOP_IGNORING_SIGINT,
        "rnn_backward": append("import os\n"
                               "def rnn_backward(dout, dh_n, cache):\n    os._exit(3)\n"),
    }),
    (A1, "top_level"): dict(edits={
        "rnn_forward": append("import os\nos._exit(0)"),
        "numerical_gradient": append("import signal\nsignal.signal(signal.SIGINT, "
                                     "signal.SIG_IGN)\nwhile True:\n    pass"),
    }),
    (A1, "not_json"): dict(raw='{"cells": [{"cell_type": "code",, ]'),
    # ---- assignment 2: LSTM and GRU cells -------------------------------------------------
    (A2, "solution"): dict(),
    (A2, "untouched"): dict(solutions=False),
    (A2, "gate_mistakes"): dict(edits={
        "lstm_step_forward": replace(
            "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
            "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"),
        "gru_step_forward": replace("h_t = (1.0 - z) * n + z * h_prev",
                                    "h_t = z * n + (1.0 - z) * h_prev"),
    }),
    (A2, "torch_cell"): dict(edits={"lstm_step_forward": replace(
        "    c_t = f * c_prev + i * g\n    squashed = np.tanh(c_t)\n    h_t = o * squashed\n",
        "    import torch\n"
        "    cell = torch.nn.LSTMCell(x_t.shape[1], H).to(torch.from_numpy(x_t).dtype)\n"
        "    with torch.no_grad():\n"
        "        cell.weight_ih.copy_(torch.from_numpy(weight_ih))\n"
        "        cell.weight_hh.copy_(torch.from_numpy(weight_hh))\n"
        "        cell.bias_ih.copy_(torch.from_numpy(bias_ih))\n"
        "        cell.bias_hh.copy_(torch.from_numpy(bias_hh))\n"
        "        h, c = cell(torch.from_numpy(x_t), (torch.from_numpy(h_prev),"
        " torch.from_numpy(c_prev)))\n"
        "    h_t, c_t = h.numpy(), c.numpy()\n"
        "    squashed = np.tanh(c_t)\n")}),
    (A2, "faults"): dict(edits={
        "lstm_step_forward": replace("    return h_t, c_t, cache",
                                     "    print('x' * 3_000_000)\n    return h_t, c_t, cache"),
        "lstm_step_backward": replace("    x_t, h_prev, c_prev,",
                                      "    hog = np.ones((1 << 38,))\n    x_t, h_prev, c_prev,"),
        "gru_step_backward": replace("    x_t, h_prev, weight_ih,",
                                     "    import sys\n    sys.exit(2)\n    x_t, h_prev, weight_ih,"),
    }),
    (A2, "numpy_patched"): dict(
        solutions=False, edits={"gru_step_forward": lambda source: source},
        prepend="import numpy\nnumpy.allclose = lambda *args, **kwargs: True\n"),
    # ---- assignment 3: a character language model ----------------------------------------
    (A3, "solution"): dict(),
    (A3, "untouched"): dict(solutions=False),
    (A3, "mistakes"): dict(edits={
        "clip_grad_norm": lambda source: (
            "def clip_grad_norm(parameters, max_norm):\n"
            "    total = 0.0\n"
            "    for p in parameters:\n"
            "        if p.grad is None:\n"
            "            continue\n"
            "        norm = float(p.grad.norm())\n"
            "        total += norm * norm\n"
            "        p.grad.mul_(min(1.0, max_norm / (norm + 1e-6)))\n"
            "    return math.sqrt(total)\n"),
        "sample_next": replace("scaled = logits / temperature", "scaled = logits * temperature"),
        "perplexity": replace("return math.exp(-float(picked.mean()))",
                              "return 2 ** (-float(picked.mean()))"),
    }),
    (A3, "torch_clip"): dict(edits={
        "clip_grad_norm": lambda source: (
            "def clip_grad_norm(parameters, max_norm):\n"
            "    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)\n"),
    }),
}

EXPECTED_SCORES = {
    (A1, "solution"): 12.0, (A1, "untouched"): 0.0,
    # rnn_step_forward keeps only its "returns" checks (0.75 of 2); rnn_step_backward, right
    # on the student's cache layout filled with the reference forward's values, keeps 3 of 3
    (A1, "missing_bias"): 12 - 2 + 0.75,
    (A1, "off_by_one"): 12 - 2 + 1.05,      # rnn_forward: h_n and the structure right, out wrong
    (A1, "wrong_axis"): 12 - 3 + 2.17,      # rnn_step_backward: dbias_ih, dbias_hh wrong shape
    (A1, "one_sided"): 12 - 2 + 1.0,
    (A1, "dout_only"): 12 - 3 + 0.43,       # rnn_backward: the classic rnn_step_backward(dout[t])        # numerical_gradient: gradient wrong in every case
    (A1, "delegation"): 10.0, (A1, "tampering"): 2.0,
    (A1, "faults"): 12 - 2 - 3,  # numerical_gradient hangs, rnn_backward calls os._exit
    (A1, "top_level"): 12.0,
    (A1, "not_json"): 0.0,
    (A2, "solution"): 14.0, (A2, "untouched"): 0.0,
    # lstm_step_forward keeps its "returns" checks (0.69 of 3); lstm_step_backward is right on
    # its cache layout filled with the reference's gates (4 of 4); gru_step_forward keeps 0.86
    # of 3, and gru_step_backward is right (the GRU's cache holds the right gates)
    (A2, "gate_mistakes"): 14 - 3 + 0.69 - 3 + 0.86,
    # numpy_patched: patching numpy.allclose in the jail changes nothing the judge computes, so
    # its one answer (gru_step_forward, correct) earns its 3 points and the patch nothing
    (A2, "torch_cell"): 11.0, (A2, "faults"): 6.0, (A2, "numpy_patched"): 3.0,
    (A3, "solution"): 11.0, (A3, "untouched"): 0.0,
    # clip_grad_norm 1.94 of 3 (right only below the threshold), sample_next 2.33 of 3 (right
    # at temperature 1 and greedy), perplexity 0.67 of 2 ("returns" only); train_step, which
    # calls the student's clip_grad_norm, is right once a correct one stands in: 3 of 3
    (A3, "mistakes"): 11 - 3 + 1.94 - 3 + 2.33 - 2 + 0.67,
    # clip_grad_norm delegates to torch, and train_step through it: both 0
    (A3, "torch_clip"): 11 - 3 - 3,
}

FEEDBACK_MESSAGES = {
    (A1, "missing_bias"): ["h_t equals the reference computed without bias_hh"],
    (A1, "off_by_one"): ["out[t] holds h_{t-1} (off by one in time)"],
    (A1, "wrong_axis"): ["dbias_ih: expected shape (6,) = (H,), got (3,) = (B,)"],
    (A1, "one_sided"): ["one-sided difference"],
    (A1, "dout_only"): ["both the gradient handed back by step t+1 and dh_n are dropped"],
    # the reference is not in the jail: importing it there is reported as delegation
    (A1, "delegation"): ["course_pkg.numpy_rnn (a reference implementation; hidden during "
                         "grading)", "no points for this part"],
    (A1, "faults"): ["did not return within 5 s", "exited with status 3"],
    (A1, "top_level"): ["KernelDied", "CellTimeout"],
    (A2, "gate_mistakes"): ["reads the gate blocks in the order i, f, o, g",
                            "z near 1 keeps the old state",
                            "the mistake is in your lstm_step_forward (graded in its own part)"],
    (A2, "torch_cell"): ["torch.nn.LSTMCell"],
    (A2, "faults"): ["ran out of memory", "called sys.exit(2)", "printed 3,000,001 characters"],
    (A3, "mistakes"): ["each tensor is clipped to max_norm on its own",
                       "softmax(logits * temperature)", "2 ** cross-entropy",
                       "right once correct stand-ins replace your clip_grad_norm"],
    (A3, "torch_clip"): ["torch.nn.utils.clip_grad.clip_grad_norm_ (through clip_grad_norm)"],
}

RUNNER_LINES = {
    (A1, "faults"): ["FAULT rnn_bptt/faults: test_numerical_gradient: numerical_gradient: did not",
                     "FAULT rnn_bptt/faults: test_rnn_backward: rnn_backward: the process exited"],
    (A1, "top_level"): "FAULT rnn_bptt/top_level: rnn_forward: KernelDied",
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
