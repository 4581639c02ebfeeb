"""The checks of assignments 4 (attention_seq2seq) and 5 (memory_addressing), run in-process on
the source notebooks (no nbgrader): the solutions earn every point, each typical mistake earns
its intended part of the points and is named, delegation earns nothing, and the equations the
checks use agree with outside references (torch's own functions).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_builder import replace
from notebook_grading import grade_notebook, points

from course_pkg.grading import attention_checks, kit, memory_checks
from course_pkg.grading.parts import build_part

A4, A5 = "attention_seq2seq", "memory_addressing"


@pytest.mark.parametrize("assignment", [A4, A5])
def test_the_solutions_earn_every_point(assignment):
    results = grade_notebook(assignment)
    assert {k: v[0] for k, v in results.items()} == points(assignment)
    for _, text in results.values():
        assert "✗" not in text, text


# (assignment, grade_id of the edited solution, edit, test cell, score, messages)
MISTAKES = {
    "mask ignored": (A4, "masked_softmax", replace(
        'scores = scores.masked_fill(~mask, float("-inf"))', "pass"), "test_masked_softmax", 1.2,
        ["your weights ignore the mask", "weights must be exactly 0 where mask is False: "
         "batch row 2, source position 3 has 0.306"]),
    "masked with 0": (A4, "masked_softmax", replace('float("-inf")', "0.0"),
                      "test_masked_softmax", 1.2, ["the masked scores were set to 0"]),
    "softmax over the batch": (A4, "masked_softmax", replace("dim=-1", "dim=0"),
                               "test_masked_softmax", 1.5, ["the softmax runs over the batch"]),
    "no tanh": (A4, "additive_scores", replace(
        "torch.tanh(projected_query + projected_keys)", "(projected_query + projected_keys)"),
        "test_additive_scores", 1.0, ["the tanh is missing",
                                      "scores is wrong at batch row 0, source position 0"]),
    "unscaled": (A4, "dot_scores", replace("if scaled:", "if False:"), "test_dot_scores", 1.11,
                 ["yours are not scaled"]),
    "scaled always": (A4, "dot_scores", replace("if scaled:", "if True:"), "test_dot_scores",
                      1.56, ["with scaled=False the scores are the plain dot products"]),
    "logits from s_prev": (A4, "decoder_step", replace(
        "torch.cat([s_t, c], dim=1) @", "torch.cat([s_prev, c], dim=1) @"), "test_decoder_step",
        2.25, ["the logits were computed from s_prev"]),
    "pointer without mask": (A5, "pointer_step", replace(
        'scores.masked_fill(chosen, float("-inf"))', "scores"), "test_pointer_step", 1.11,
        ["positions already chosen can be pointed at again",
         "log_probs must be -inf at the positions already chosen: batch row 0, position 4"]),
    "beta ignored": (A5, "content_addressing", replace("beta * similarity", "similarity"),
                     "test_content_addressing", 0.67, ["the key strength beta is not used"]),
    "g swapped": (A5, "location_addressing", replace(
        "w_gated = g * w_content + (1 - g) * w_prev", "w_gated = (1 - g) * w_content + g * w_prev"),
        "test_location_addressing", 0.75, ["interpolation with g swapped"]),
    "shift reversed": (A5, "location_addressing", replace(
        "torch.roll(w_gated, offset,", "torch.roll(w_gated, -offset,"),
        "test_location_addressing", 1.5, ["the shift goes the wrong way"]),
    "sharpening not renormalised": (A5, "location_addressing", replace(
        "w = powered / powered.sum(dim=1, keepdim=True)", "w = powered"),
        "test_location_addressing", 2.5, ["w^gamma must be divided by its sum"]),
    "masked after the softmax": (A4, "masked_softmax", lambda source: source.replace(
        'scores = scores.masked_fill(~mask, float("-inf"))', "pass").replace(
        "return torch.softmax(scores, dim=-1)", "return torch.softmax(scores, dim=-1) * mask"),
        "test_masked_softmax", 1.8, ["a row no longer sums to 1"]),
    "hop without residual": (A5, "memory_hop", replace("return u + o, p", "return o, p"),
                             "test_memory_hop", 1.33, ["the next state is u + o"]),
    "hop reads memory_in": (A5, "memory_hop", replace(
        "o = torch.bmm(p.unsqueeze(1), memory_out)", "o = torch.bmm(p.unsqueeze(1), memory_in)"),
        "test_memory_hop", 1.33, ["read it from the output memories c_i"]),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_typical_mistake_earns_its_share_and_is_named(name):
    assignment, grade_id, edit, test_cell, score, messages = MISTAKES[name]
    results = grade_notebook(assignment, {grade_id: edit}, only=(test_cell,))
    got, text = results[test_cell]
    assert got == pytest.approx(score, abs=1e-6), text
    for message in messages:
        assert message in text, (message, text)


def test_a_mistake_in_a_helper_is_not_counted_twice_in_decoder_step():
    results = grade_notebook(A4, {"masked_softmax": replace('float("-inf")', "0.0")},
                             only=("test_decoder_step",))
    got, text = results["test_decoder_step"]
    assert got == 3.0 and "right once correct stand-ins replace your masked_softmax" in text


DELEGATIONS = {
    "scaled_dot_product_attention": (A4, "attention_context", lambda source: (
        "import torch.nn.functional as F\n"
        "def attention_context(weights, values):\n"
        "    B, T = weights.shape\n"
        "    zeros_q, zeros_k = weights.new_zeros(B, 1, 1), weights.new_zeros(B, T, 1)\n"
        "    return F.scaled_dot_product_attention(  # softmax(0 + log a) = a\n"
        "        zeros_q, zeros_k, values, attn_mask=weights.log().unsqueeze(1)).squeeze(1)\n"), "test_attention_context",
        "torch._C._nn.scaled_dot_product_attention"),
    "MultiheadAttention": (A4, "dot_scores", replace(
        "    scores = torch.bmm", "    unused = torch.nn.MultiheadAttention\n    scores = torch.bmm"),
        "test_dot_scores", "torch.nn.modules.activation.MultiheadAttention"),
    "course_pkg attention": (A4, "additive_scores", lambda source: (
        "from course_pkg.nn.attention import additive_scores as reference\n"
        "def additive_scores(query, keys, W_q, W_k, v):\n"
        "    return reference(query, keys, W_q, W_k, v)\n"), "test_additive_scores",
        "course_pkg.nn.attention.additive_scores"),
    "course_pkg memory hop": (A5, "memory_hop", lambda source: (
        "from course_pkg.models.memory_network import memory_hop as reference\n"
        "def memory_hop(u, memory_in, memory_out, mask):\n"
        "    o, p = reference(u, memory_in, memory_out, mask)\n"
        "    return u + o, p\n"), "test_memory_hop",
        "course_pkg.models.memory_network.memory_hop"),
    "course_pkg ntm": (A5, "content_addressing", lambda source: (
        "import importlib\n"
        "def content_addressing(memory, key, beta):\n"
        "    ntm = importlib.import_module('course_pkg.models.' + 'ntm')\n"
        "    return ntm.content_addressing(memory, key, beta)\n"), "test_content_addressing",
        "course_pkg.models.ntm.content_addressing"),
}


@pytest.mark.parametrize("name", sorted(DELEGATIONS))
def test_delegation_scores_zero_with_a_message(name):
    assignment, grade_id, edit, test_cell, described = DELEGATIONS[name]
    got, text = grade_notebook(assignment, {grade_id: edit}, only=(test_cell,))[test_cell]
    assert got == 0.0, text
    assert described in text and "no points for this part" in text, text


# ------------------------------------------------------------------------------------------
# The checks' equations against outside references
# ------------------------------------------------------------------------------------------


def test_masked_softmax_equation_matches_torch_softmax_on_the_kept_positions():
    rng = np.random.default_rng(0)
    scores, mask = rng.standard_normal((4, 6)), rng.random((4, 6)) < 0.5
    mask[:, 0] = True
    ours = kit.softmax_rows(scores, mask)
    for row in range(4):
        kept = torch.softmax(torch.from_numpy(scores[row][mask[row]]), dim=0).numpy()
        np.testing.assert_allclose(ours[row][mask[row]], kept, rtol=1e-12)
        assert (ours[row][~mask[row]] == 0).all()


def test_scaled_dot_scores_and_context_match_torch_scaled_dot_product_attention():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 5)), rng.standard_normal((2, 4, 5)), \
        rng.standard_normal((2, 4, 3))
    weights = kit.softmax_rows(attention_checks.dot(q, k, math.sqrt(5)))
    ours = kit.context(weights, v)
    theirs = F.scaled_dot_product_attention(torch.from_numpy(q)[:, None], torch.from_numpy(k),
                                            torch.from_numpy(v))[:, 0]
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10)


def test_content_addressing_equation_matches_torch_cosine_similarity():
    rng = np.random.default_rng(2)
    memory, key, beta = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3)), \
        np.array([[2.0], [0.5]])
    cos = F.cosine_similarity(torch.from_numpy(memory), torch.from_numpy(key)[:, None], dim=2)
    theirs = torch.softmax(torch.from_numpy(beta) * cos, dim=1).numpy()
    ours = kit.softmax_rows(beta * memory_checks.cosine(memory, key))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_a_shift_by_plus_one_moves_the_weight_to_the_next_slot():
    w = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    s = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])  # all weight on offset +1
    np.testing.assert_array_equal(memory_checks.shift(w, s),
                                  [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])


def test_an_unknown_case_parameter_is_refused_with_its_name():
    part = build_part("dot_scores", lambda query, keys, scaled: keys.sum(-1),
                      grade_id="test_dot_scores", points=2)
    with pytest.raises(ValueError, match="unknown case parameter"):
        part.check(heads=2)


@pytest.mark.parametrize("name", ["masked_softmax", "memory_hop"])
def test_a_part_needs_a_grade_id_and_positive_points(name):
    with pytest.raises(ValueError, match="points"):
        build_part(name, lambda *args: None, grade_id="test_x", points=0)
    with pytest.raises(TypeError, match="grade_id"):
        build_part(name, lambda *args: None, grade_id="", points=1)
