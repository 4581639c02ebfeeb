"""The checks of assignments 1-3, run in-process on the source notebooks (no nbgrader).

The notebooks' own solutions must earn every point of every part (visible and hidden cases);
typical mistakes must earn part of them and be named; grading must be deterministic; and the
references the checks use for sampling and perplexity must agree with outside ones.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from notebook_grading import grade_notebook, points


@pytest.mark.parametrize("assignment", ["rnn_bptt", "gated_cells"])
def test_the_solutions_earn_every_point(assignment):
    """(assignment 3's solution is graded by the pipeline test, in its own kernel)"""
    results = grade_notebook(assignment)
    assert {k: v[0] for k, v in results.items()} == points(assignment)
    for grade_id, (_, text) in results.items():
        assert "✗" not in text, text


def test_mistakes_in_assignment_1_are_named_and_cost_part_of_the_points():
    results = grade_notebook("rnn_bptt", {
        "rnn_step_forward": lambda s: s.replace("+ h_prev @ weight_hh.T + bias_hh",
                                                "+ h_prev @ weight_hh.T"),
        "rnn_forward": lambda s: s.replace(
            "        h, step_cache = rnn_step_forward(x[t], h, weight_ih, weight_hh, bias_ih, "
            "bias_hh)\n        out[t] = h",
            "        out[t] = h\n        h, step_cache = rnn_step_forward(x[t], h, weight_ih, "
            "weight_hh, bias_ih, bias_hh)"),
        "numerical_gradient": lambda s: s.replace("gradient[k] = (up - down) / (2 * h)",
                                                  "gradient[k] = (up - loss()) / h"),
    })
    score, text = results["test_rnn_step_forward"]
    assert 0 < score < 2 and "computed without bias_hh: add bias_hh" in text
    assert "h_t is wrong at batch row" in text
    score, text = results["test_rnn_forward"]
    assert 0 < score < 2 and "off by one in time" in text
    assert "stand-ins" in text  # diagnosed with a correct rnn_step_forward in place
    score, text = results["test_rnn_backward"]
    assert score == 3  # its own code is right: the stand-ins show it
    score, text = results["test_numerical_gradient"]
    assert score == 1.0 and "one-sided difference" in text
    score, text = results["test_rnn_step_backward"]  # its own code is right: full marks
    assert score == 3 and "the mistake is in your rnn_step_forward" in text, text
    assert "cache[2] (h_t) replaced" in text


def test_a_correct_backward_earns_full_marks_whatever_the_forward_did():
    results = grade_notebook("gated_cells", {
        "lstm_step_forward": lambda s: s.replace(  # g and o swapped: the slots say which is which
            "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
            "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"),
        "gru_step_forward": lambda s: s.replace("r = sigmoid(from_x[:, :H] + from_h[:, :H])",
                                                "r = sigmoid(from_x[:, :H])"),
    }, only=("test_lstm_step_forward", "test_lstm_step_backward", "test_gru_step_forward",
             "test_gru_step_backward"))
    assert results["test_lstm_step_forward"][0] < 3
    assert results["test_gru_step_forward"][0] < 3
    score, text = results["test_lstm_step_backward"]
    assert score == 4 and "the mistake is in your lstm_step_forward" in text, text
    assert "cache[7] (g), cache[8] (o)" in text
    score, text = results["test_gru_step_backward"]
    assert score == 4 and "the mistake is in your gru_step_forward" in text, text


def test_a_wrong_backward_on_a_wrong_forward_still_costs_its_own_points():
    results = grade_notebook("rnn_bptt", {
        "rnn_step_forward": lambda s: s.replace("+ h_prev @ weight_hh.T + bias_hh",
                                                "+ h_prev @ weight_hh.T"),
        "rnn_step_backward": lambda s: s.replace("dh_prev = delta @ weight_hh ",
                                                 "dh_prev = delta @ weight_hh.T "),
    }, only=("test_rnn_step_backward",))
    score, text = results["test_rnn_step_backward"]
    assert 1.5 < score < 3, text  # only dh_prev is charged, not the forward's h_t
    assert "scored on your own cache layout filled with the correct forward values" in text
    assert "dh_prev = da @ weight_hh (the transpose" in text, text


def test_a_right_forward_with_a_wrong_cache_is_charged_once_and_named():
    """rnn_step_forward returns the right h_t but caches tanh(a - b_hh) where the backward reads
    h_t: its own part (outputs only) keeps full marks, the backward is charged (once), and its
    message points at the forward's cache instead of diagnosing the backward's own lines."""
    results = grade_notebook("rnn_bptt", {
        "rnn_step_forward": lambda s: s.replace(
            "cache = (x_t, h_prev, h_t, weight_ih, weight_hh)",
            "cache = (x_t, h_prev, np.tanh(pre_activation - bias_hh), weight_ih, weight_hh)"),
    }, only=("test_rnn_step_forward", "test_rnn_step_backward"))
    assert results["test_rnn_step_forward"][0] == 2
    score, text = results["test_rnn_step_backward"]
    assert score < 3, text
    assert ("your rnn_step_forward returns the right outputs but keeps in its cache a value this "
            "function does not expect") in text, text
    assert "cache[2] (h_t)" in text, text


def test_mistakes_in_assignment_2_name_the_gate():
    results = grade_notebook("gated_cells", {
        "lstm_step_forward": lambda s: s.replace(
            "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
            "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"),
        "gru_step_backward": lambda s: s.replace("d_from_h = np.hstack([da_r, da_z, da_n * r])",
                                                 "d_from_h = np.hstack([da_r, da_z, da_n])"),
    }, only=("test_lstm_step_forward", "test_gru_step_forward", "test_gru_step_backward"))
    score, text = results["test_lstm_step_forward"]
    assert 0 < score < 3 and "in the order i, f, o, g; the layout is i, f, g, o" in text
    score, text = results["test_gru_step_backward"]
    assert 0 < score < 4 and "wrong in gate block(s) n; right in r, z" in text
    assert "the reset gate scales that path" in text
    assert results["test_gru_step_forward"][0] == 3


def test_an_ablation_names_the_forget_gate_term():
    results = grade_notebook("gated_cells", {
        "lstm_step_forward": lambda s: s.replace("c_t = f * c_prev + i * g",
                                                 "c_t = f * c_prev * 1.5 + i * g"),
    }, only=("test_lstm_step_forward",))
    _, text = results["test_lstm_step_forward"]
    assert ("with the forget gate's contribution f_t * c_prev removed your output matches the "
            "reference: check how you use f_t * c_prev") in text


def test_grading_is_deterministic():
    edit = {"rnn_step_forward": lambda s: s.replace("bias_hh  # (B, H)", "0.9 * bias_hh")}
    first = grade_notebook("rnn_bptt", edit, only=("test_rnn_step_forward",))
    second = grade_notebook("rnn_bptt", edit, only=("test_rnn_step_forward",))
    assert first == second and first["test_rnn_step_forward"][0] < 2


def test_mistakes_in_assignment_3_are_named():
    pytest.importorskip("torch")
    results = grade_notebook("char_lm", {
        "sample_next": lambda s: s.replace("scaled = logits / temperature",
                                           "scaled = logits * temperature"),
        "perplexity": lambda s: s.replace("return math.exp(-float(picked.mean()))",
                                          "return float(torch.exp(-picked).mean())"),
        "train_step": lambda s: s.replace("    optimizer.zero_grad()\n", ""),
    }, only=("test_sample_next", "test_perplexity", "test_train_step"))
    assert "softmax(logits * temperature)" in results["test_sample_next"][1]
    assert "average the cross-entropy first" in results["test_perplexity"][1]
    assert "call optimizer.zero_grad()" in results["test_train_step"][1]


def test_the_sampling_reference_matches_course_pkg_sampling():
    torch = pytest.importorskip("torch")
    from course_pkg.grading.lm_checks import SAMPLE_LOGITS, sampling_probabilities
    from course_pkg.sampling import sample
    logits = torch.tensor(np.tile(SAMPLE_LOGITS, (20000, 1)), dtype=torch.float32)
    for temperature, top_k in [(1.0, None), (0.5, 3), (2.0, 4)]:
        draws = sample(logits, temperature, top_k, torch.Generator().manual_seed(1)).numpy()
        frequencies = np.bincount(draws, minlength=len(SAMPLE_LOGITS)) / len(draws)
        expected = sampling_probabilities(SAMPLE_LOGITS, temperature, top_k)
        assert np.all(np.abs(frequencies - expected) < 5 * np.sqrt(expected / len(draws)) + 1e-9)


def test_the_perplexity_reference_matches_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    from course_pkg.grading.lm_checks import _cross_entropies
    rng = np.random.default_rng(0)
    logits, targets = 50 * rng.standard_normal((4, 3, 9)), rng.integers(0, 9, (4, 3))
    ours = _cross_entropies(logits, targets).mean()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(logits).reshape(-1, 9),
                                               torch.tensor(targets).reshape(-1))
    assert ours == pytest.approx(float(theirs), rel=1e-12)


def test_the_classic_dout_only_backward_is_named():
    # rnn_step_backward(dout[t], cache[t]): drops both the gradient from step t+1 and dh_n
    results = grade_notebook("rnn_bptt", {
        "rnn_backward": lambda s: s.replace("rnn_step_backward(dout[t] + dh_next,",
                                            "rnn_step_backward(dout[t],"),
    }, only=("test_rnn_backward",))
    score, text = results["test_rnn_backward"]
    assert score < 3 and "both the gradient handed back by step t+1 and dh_n" in text, text


def test_a_helper_that_hangs_costs_its_own_part_only_and_is_named():
    results = grade_notebook("attention_seq2seq", {
        "attention_context": lambda s: s.replace(
            "    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, Dv)",
            "    while True:\n        pass"),
    }, only=("test_attention_context", "test_decoder_step"))
    score, text = results["test_attention_context"]
    assert score == 0 and "did not return within" in text
    score, text = results["test_decoder_step"]
    assert score == 3, text
    assert "with your attention_context the call did not return" in text, text


HANGING_CONTEXT = lambda s: s.replace(  # noqa: E731
    "    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, Dv)",
    "    while True:\n        pass")
# decoder_step's own mistake: the logits read the old state
LOGITS_FROM_S_PREV = lambda s: s.replace(  # noqa: E731
    "logits = torch.cat([s_t, c], dim=1) @ W_out.T",
    "logits = torch.cat([s_prev, c], dim=1) @ W_out.T")


@functools.cache
def _decoder_step_with_only_its_own_mistake() -> float:
    results = grade_notebook("attention_seq2seq", {"decoder_step": LOGITS_FROM_S_PREV},
                             only=("test_decoder_step",))
    return results["test_decoder_step"][0]


def test_a_helper_that_hangs_is_named_when_the_caller_has_a_mistake_of_its_own():
    reports = {}
    results = grade_notebook("attention_seq2seq", {"attention_context": HANGING_CONTEXT,
                                                   "decoder_step": LOGITS_FROM_S_PREV},
                             only=("test_decoder_step",), reports=reports)
    score, text = results["test_decoder_step"]
    own_only = _decoder_step_with_only_its_own_mistake()
    assert 0 < own_only < 3 and score == own_only, text  # the hang costs this part nothing
    faults = reports["test_decoder_step"].faults
    assert len(faults) == 1, faults
    assert faults[0].startswith("attention_context (called by decoder_step): did not return "
                                "within 5 s"), faults
    assert ("with your attention_context the call did not return within 5 s: scored with "
            "correct stand-ins for your attention_context, whose mistakes") in text, text
    assert "masked_softmax" not in text and "additive_scores" not in text, text
    assert "the logits were computed from s_prev" in text  # its own mistake is still named


def test_a_wrong_helper_is_named_alone_when_the_caller_has_a_mistake_of_its_own():
    reports = {}
    results = grade_notebook("attention_seq2seq", {
        "masked_softmax": lambda s: s.replace('float("-inf")', "0.0"),  # padding not masked
        "decoder_step": LOGITS_FROM_S_PREV,
    }, only=("test_decoder_step",), reports=reports)
    score, text = results["test_decoder_step"]
    assert score == _decoder_step_with_only_its_own_mistake(), text
    assert reports["test_decoder_step"].faults == []
    assert ("(scored with correct stand-ins for your masked_softmax, whose mistakes are graded "
            "in their own part)") in text, text
    assert "additive_scores" not in text and "attention_context" not in text, text


def test_a_weight_used_without_its_transpose_is_named_in_the_shape_error():
    results = grade_notebook("attention_seq2seq", {
        "additive_scores": lambda s: s.replace("(query @ W_q.T)", "(query @ W_q)"),
    }, only=("test_additive_scores",))
    score, text = results["test_additive_scores"]
    assert score == 0 and "mat1 and mat2 shapes cannot be multiplied" in text
    assert ("your W_q has shape (A, Dq) = (6, 3) and is used as it is on the right of a matrix "
            "with Dq columns: the product needs W_q.T, shape (Dq, A)") in text, text


def test_a_delegating_helper_costs_every_part_that_runs_it_and_says_why():
    results = grade_notebook("char_lm", {"clip_grad_norm": lambda s: (
        "import torch\n"
        "def clip_grad_norm(parameters, max_norm):\n"
        "    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)\n")},
        only=("test_clip_grad_norm", "test_train_step"))
    for grade_id, name in (("test_clip_grad_norm", "clip_grad_norm"),
                           ("test_train_step", "train_step")):
        score, text = results[grade_id]
        assert score == 0, text
        assert "these checks pass but earn nothing: see the reason under the score" in text
        assert f"{name}: 0 / 3 points\n✗ {name} uses torch.nn.utils.clip_grad" in text, text
    assert "(through clip_grad_norm)" in results["test_train_step"][1]


def test_stand_in_notes_name_only_the_helpers_that_were_wrong():
    results = grade_notebook("attention_seq2seq", {
        "additive_scores": lambda s: s.replace("(query @ W_q.T)", "(query @ W_q)"),
        "attention_context": lambda s: s.replace(
            "    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, Dv)",
            "    return values.sum(dim=1)"),
    }, only=("test_masked_softmax", "test_decoder_step"))
    assert results["test_masked_softmax"][0] == 3  # right, so never named below
    score, text = results["test_decoder_step"]
    assert score == 3, text
    assert "correct stand-ins replace your additive_scores and attention_context:" in text
    assert "masked_softmax" not in text
