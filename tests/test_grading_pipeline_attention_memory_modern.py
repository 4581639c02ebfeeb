"""The instructor's pipeline, end to end, for assignments 4, 5 and 6 on a temporary copy.

nbgrader generate_assignment -> submissions (the solution, the untouched release, typical
mistakes, delegation) -> autograde with the course's runner (course_pkg.grading.instructor.pipeline) ->
generate_feedback -> export; the exported scores, the feedback's messages, and a release without
solutions or hidden tests. The course is built by tests/course_builder.py.
"""

from __future__ import annotations

import csv
import re

import nbformat
import pytest

from course_builder import (assert_feedback_hides_hidden_tests, feedback_text, nbgrader,
                            new_course, replace)

from course_pkg.grading.instructor import pipeline

pytestmark = pytest.mark.pipeline

A4, A5, A6 = "attention_seq2seq", "memory_addressing", "modern_cells"
ASSIGNMENTS = (A4, A5, A6)

SDPA_CONTEXT = (
    "import torch.nn.functional as F\n"
    "def attention_context(weights, values):\n"
    "    B, T = weights.shape\n"
    "    zeros_q, zeros_k = weights.new_zeros(B, 1, 1), weights.new_zeros(B, T, 1)\n"
    "    return F.scaled_dot_product_attention(  # softmax(0 + log a) = a\n"
    "        zeros_q, zeros_k, values, attn_mask=weights.log().unsqueeze(1)).squeeze(1)\n")

NTM_THROUGH_IMPORTLIB = (
    "import importlib\n"
    "def content_addressing(memory, key, beta):\n"
    "    ntm = importlib.import_module('course_pkg.models.' + 'ntm')\n"
    "    return ntm.content_addressing(memory, key, beta)\n")

SRU_DELEGATION = (
    "from course_pkg.nn.sru import sru_recurrence as reference\n"
    "def sru_recurrence(projections, x_highway, v_f, v_r, b_f, b_r, c0, alpha):\n"
    "    return reference(projections, alpha * x_highway, v_f, v_r, b_f, b_r, c0)\n")

SUBMISSIONS = {
    (A4, "solution"): dict(),
    (A4, "untouched"): dict(solutions=False),
    (A4, "mistakes"): dict(edits={
        "masked_softmax": replace('float("-inf")', "0.0"),
        "dot_scores": replace("if scaled:", "if False:"),
    }),
    (A4, "sdpa"): dict(edits={"attention_context": lambda source: SDPA_CONTEXT}),
    (A4, "hanging_helper"): dict(edits={"attention_context": replace(
        "    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, Dv)",
        "    while True:\n        pass")}),
    (A4, "transposed_weight"): dict(edits={"additive_scores": replace(
        "(query @ W_q.T)", "(query @ W_q)")}),
    # off by a factor 1 + 1e-6: beyond float64's tolerance (rtol 1e-7), within float32's, and
    # the same as the reference to 4 significant digits (the message must print more of them)
    (A4, "tiny_error"): dict(edits={"attention_context": replace(
        "    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, Dv)",
        "    return torch.bmm(weights.unsqueeze(1), values).squeeze(1) * (1 + 1e-6)")}),
    (A5, "solution"): dict(),
    (A5, "untouched"): dict(solutions=False),
    (A5, "mistakes"): dict(edits={
        "pointer_step": replace('scores.masked_fill(chosen, float("-inf"))', "scores"),
        "location_addressing": replace("torch.roll(w_gated, offset,",
                                       "torch.roll(w_gated, -offset,"),
    }),
    (A5, "more_mistakes"): dict(edits={
        "location_addressing": replace("w_gated = g * w_content + (1 - g) * w_prev",
                                       "w_gated = (1 - g) * w_content + g * w_prev"),
        "memory_hop": replace("o = torch.bmm(p.unsqueeze(1), memory_out)",
                              "o = torch.bmm(p.unsqueeze(1), memory_in)"),
    }),
    (A5, "ntm_delegation"): dict(edits={"content_addressing": lambda source:
                                        NTM_THROUGH_IMPORTLIB}),
    (A6, "solution"): dict(),
    (A6, "untouched"): dict(solutions=False),
    (A6, "mistakes"): dict(edits={
        "conv_lstm_step": replace("a_i, a_f, a_g, a_o = pre", "a_i, a_g, a_f, a_o = pre"),
        "mogrify": replace("2 * torch.sigmoid", "torch.sigmoid"),
        "sru_recurrence": replace("(1 - f) * x_tilde[t]", "x_tilde[t]"),
    }),
    (A6, "sru_delegation"): dict(edits={"sru_recurrence": lambda source: SRU_DELEGATION}),
}

EXPECTED_SCORES = {
    (A4, "solution"): 12.0, (A4, "untouched"): 0.0,
    # masked_softmax 1.2 of 3 (right only with nothing masked), dot_scores 1.11 of 2 (right when
    # unscaled); decoder_step is right once a correct masked_softmax stands in: 3 of 3
    (A4, "mistakes"): 12 - 3 + 1.2 - 2 + 1.11,
    # attention_context delegates, and decoder_step through it: both 0
    (A4, "sdpa"): 12 - 1 - 3,
    # the helper that hangs loses its own point only; decoder_step, which calls it, is right
    # once a correct attention_context stands in
    (A4, "hanging_helper"): 12 - 1,
    # additive_scores raises (a shape error) in every case; decoder_step keeps its 3 points
    (A4, "transposed_weight"): 12 - 3,
    # attention_context: the float64 case keeps "returns" (weight 1 of 1 + 2), the float32 case
    # passes both (torch parts have no dtype check): 4 of 6 of its point; decoder_step is right
    # once a correct attention_context stands in
    (A4, "tiny_error"): 12 - 1 + round(4 / 6, 2),
    (A5, "solution"): 9.0, (A5, "untouched"): 0.0,
    # pointer_step 1.11 of 2 (right when nothing is chosen); location_addressing 1.5 of 3
    # (w_gated right, w_shifted and w wrong)
    (A5, "mistakes"): 9 - 2 + 1.11 - 3 + 1.5,
    # location_addressing 0.75 of 3 ("returns" only); memory_hop 1.33 of 2 (p right)
    (A5, "more_mistakes"): 9 - 3 + 0.75 - 2 + 1.33,
    (A5, "ntm_delegation"): 9 - 2,
    (A6, "solution"): 11.0, (A6, "untouched"): 0.0,
    # conv_lstm_step 1 of 4 ("returns" only); mogrify 1.8 of 3 (right with no rounds);
    # sru_recurrence 1 of 4 ("returns" only)
    (A6, "mistakes"): 1 + 1.8 + 1,
    (A6, "sru_delegation"): 11 - 4,
}

FEEDBACK_MESSAGES = {
    (A4, "mistakes"): ["the masked scores were set to 0", "yours are not scaled",
                       "right once correct stand-ins replace your masked_softmax"],
    (A4, "sdpa"): ["torch._C._nn.scaled_dot_product_attention (through attention_context)",
                   "no points for this part"],
    (A4, "hanging_helper"): ["attention_context: did not return within 5 s",
                             "with your attention_context the call did not return"],
    (A4, "tiny_error"): ["context is wrong at batch row", "right once correct stand-ins "
                                                          "replace your attention_context:"],
    (A4, "transposed_weight"): ["your W_q has shape (A, Dq) = (6, 3) and is used as it is",
                                "the product needs W_q.T, shape (Dq, A)",
                                "correct stand-ins replace your additive_scores:"],
    (A5, "mistakes"): ["positions already chosen can be pointed at again",
                       "the shift goes the wrong way"],
    (A5, "more_mistakes"): ["interpolation with g swapped",
                            "read it from the output memories c_i"],
    (A5, "ntm_delegation"): ["course_pkg.models (a reference implementation; hidden during "
                             "grading)"],
    (A6, "mistakes"): ["your code reads the gate blocks in the order i, g, f, o",
                       "the gates miss their factor 2", "c_t adds x~_t unscaled"],
    (A6, "sru_delegation"): ["course_pkg.nn.sru.sru_recurrence", "no points for this part"],
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Generate, submit, autograde, give feedback and export assignments 4, 5 and 6."""
    tmp = tmp_path_factory.mktemp("course456")
    course, env = new_course(tmp, ASSIGNMENTS, SUBMISSIONS)
    results = {}
    for assignment in ASSIGNMENTS:
        for result in pipeline.autograde(course, assignment, jobs=2, timeout=300):
            results[(assignment, result.student)] = result
    for assignment in ASSIGNMENTS:
        nbgrader(course, "generate_feedback", assignment, "--force", env=env)
    nbgrader(course, "export", "--to", str(tmp / "grades.csv"), env=env)
    with open(tmp / "grades.csv") as handle:
        grades = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    return {"course": course, "results": results, "grades": grades}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_and_no_hidden_tests(graded, assignment):
    text = (graded["course"] / "release" / assignment / f"{assignment}.ipynb").read_text()
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    released = nbformat.reads(text, 4)
    source = nbformat.read(graded["course"] / "source" / assignment / f"{assignment}.ipynb", 4)
    hidden = [line.strip() for cell in source.cells
              for block in cell.source.split("### BEGIN HIDDEN TESTS")[1:]
              for line in block.split("### END HIDDEN TESTS")[0].splitlines() if line.strip()]
    assert hidden
    assert not any(line in cell.source for cell in released.cells for line in hidden)


@pytest.mark.parametrize("key", sorted(EXPECTED_SCORES), ids="/".join)
def test_exported_score(graded, key):
    row = graded["grades"][key]
    assert float(row["score"]) == pytest.approx(EXPECTED_SCORES[key], abs=1e-6), row


def test_every_submission_is_graded_and_the_gradebook_is_consistent(graded):
    for key in SUBMISSIONS:
        assert graded["results"][key].ok, graded["results"][key]
        score, max_score, ungraded = pipeline.gradebook_score(graded["course"], *key)
        assert ungraded == 0, f"{key}: test cells left needing manual grading"
        assert max_score == float(graded["grades"][key]["max_score"])


@pytest.mark.parametrize("key", sorted(FEEDBACK_MESSAGES), ids="/".join)
def test_feedback_says_what_is_wrong(graded, key):
    assignment, student = key
    page = graded["course"] / "feedback" / student / assignment / f"{assignment}.html"
    html = page.read_text().replace("&#39;", "'").replace("&quot;", '"')
    for message in FEEDBACK_MESSAGES[key]:
        assert message in html, message


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_hidden_checks_by_name_never_their_code(graded, assignment):
    assert_feedback_hides_hidden_tests(graded["course"], assignment)


def test_values_that_differ_past_the_fourth_digit_are_printed_distinct(graded):
    text = feedback_text(graded["course"], A4, "tiny_error")
    found = re.findall(r"context is wrong at [^(\n]*\(got (\S+), expected (\S+), "
                       r"\|error\| [^)]*\)", text)
    assert found, text[:3000]
    for got, expected in found:  # equal to 4 significant digits, so printed with more
        assert f"{float(got):.4g}" == f"{float(expected):.4g}", (got, expected)
        assert got != expected and float(got) != float(expected), (got, expected)


def test_a_passing_case_of_a_part_that_earns_nothing_says_why(graded):
    """sdpa: attention_context delegates, and decoder_step through it; the cases they pass
    earn nothing, and the first ✓ of each part says so."""
    text = feedback_text(graded["course"], A4, "sdpa")
    assert "attention_context: 0 / 1 points" in text and "decoder_step: 0 / 3 points" in text
    # the case's own notes (indented) may come first, e.g. the stand-in's
    explained = re.findall(r"✓ [^\n]*: (\d+) of \1 checks passed\n(?: {4}[^\n]*\n)*? {4}"
                           r"\(these checks pass but earn nothing: see the reason under the "
                           r"score below\)", text)
    assert len(explained) == 2, text[:3000]


def test_the_fault_line_names_the_helper_that_hung_not_its_caller(graded):
    """The runner prints one FAULT line per entry of ``faults``: for a looping attention_context
    it must name that helper, and decoder_step, which calls it, must not be blamed."""
    faults = graded["results"][(A4, "hanging_helper")].faults
    assert any(fault.endswith("attention_context (called by decoder_step): did not return "
                              "within 5 s") for fault in faults), faults
    assert not any(": decoder_step: " in f": {fault}" for fault in faults), faults
