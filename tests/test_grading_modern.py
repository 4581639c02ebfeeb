"""The checks of assignment 6 (modern_cells), run in-process on the source notebook (no
nbgrader): the solution earns every point, each typical mistake earns its intended share and is
named, delegation earns nothing, and the equations the checks use agree with outside references
(torch's conv2d and LSTMCell, and values worked out by hand from the papers' equations).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_builder import replace
from notebook_grading import grade_notebook, points

from course_pkg.grading import modern_checks
from course_pkg.grading.parts import build_part

A6 = "modern_cells"


def test_the_solution_earns_every_point():
    results = grade_notebook(A6)
    assert {k: v[0] for k, v in results.items()} == points(A6) == {
        "test_conv_lstm_step": 4.0, "test_mogrify": 3.0, "test_sru_recurrence": 4.0}
    for _, text in results.values():
        assert "✗" not in text, text


FLIP_KERNELS = lambda source: source.replace(  # noqa: E731
    "F.conv2d(x, weight_ih,", "F.conv2d(x, weight_ih.flip(-1, -2),").replace(
    "F.conv2d(h_prev, weight_hh,", "F.conv2d(h_prev, weight_hh.flip(-1, -2),")
UNCHAINED = lambda source: source.replace(  # noqa: E731
    "    for round_index", "    x0, h0 = x, h\n    for round_index").replace(
    "torch.sigmoid(h @", "torch.sigmoid(h0 @").replace("torch.sigmoid(x @", "torch.sigmoid(x0 @")

# name: (grade_id, edit, test cell, score, messages). A case of 3 is worth a third of the points,
# shared by its checks: returns 1, each output 2, dtype 1 (float32 cases).
MISTAKES = {
    # right only with 1x1 kernels, where flipping changes nothing; 1 of 5 and 2 of 6 elsewhere
    "flipped kernels": ("conv_lstm_step", FLIP_KERNELS, "test_conv_lstm_step", 2.0,
                        ["your kernels are flipped (a true convolution)"]),
    "gate order": ("conv_lstm_step", replace("a_i, a_f, a_g, a_o = pre", "a_i, a_g, a_f, a_o = pre"),
                   "test_conv_lstm_step", 1.0, ["in the order i, g, f, o"]),
    "forget gate on h": ("conv_lstm_step", replace("torch.sigmoid(a_f) * c_prev",
                                                   "torch.sigmoid(a_f) * h_prev"),
                         "test_conv_lstm_step", 1.0, ["the forget gate scales the previous CELL"]),
    "no padding": ("conv_lstm_step", replace("padding = weight_ih.shape[-1] // 2", "padding = 0"),
                   "test_conv_lstm_step", 1.33, ["conv_lstm_step raised RuntimeError"]),
    "h_prev padded on one side": ("conv_lstm_step", replace(
        "F.conv2d(h_prev, weight_hh, bias_hh, padding=padding)",
        "F.conv2d(F.pad(h_prev, (2 * padding, 0, 2 * padding, 0)), weight_hh, bias_hh)"),
        "test_conv_lstm_step", 2.0, ["W_ih * X ✓, W_hh * H_prev ✗",
                                     "check the convolution of h_prev with weight_hh"]),
    # right with no rounds; wrong in both outputs otherwise
    "no factor 2": ("mogrify", lambda s: s.replace("2 * torch.sigmoid", "torch.sigmoid"),
                    "test_mogrify", 1.8, ["the gates miss their factor 2"]),
    "not chained": ("mogrify", UNCHAINED, "test_mogrify", 1.8,
                    ["each round must use the value the previous round just produced"]),
    "r reads c_t": ("sru_recurrence", lambda s: s.replace(
        "        r = torch.sigmoid(r_part[t] + v_r * c_prev + b_r)\n", "").replace(
        "        hs.append", "        r = torch.sigmoid(r_part[t] + v_r * c + b_r)\n        hs.append"),
        "test_sru_recurrence", 2.5, ["the reset gate reads the new cell state c_t",
                                     "wrong at every time step"]),
    # right when alpha is 1 (and no false diagnosis there)
    "no alpha": ("sru_recurrence", replace("(1 - r) * alpha * x_highway[t]",
                                           "(1 - r) * x_highway[t]"),
                 "test_sru_recurrence", 3.0, ["the highway term misses its scale"]),
    "no (1 - f)": ("sru_recurrence", replace("(1 - f) * x_tilde[t]", "x_tilde[t]"),
                   "test_sru_recurrence", 1.0, ["c_t adds x~_t unscaled"]),
    "no v_r": ("sru_recurrence", replace("r_part[t] + v_r * c_prev", "r_part[t]"),
               "test_sru_recurrence", 2.5, ["with v_r * c_{t-1} removed your output matches"]),
    "only the last c": ("sru_recurrence", replace("return torch.stack(hs), torch.stack(cs)",
                                                  "return torch.stack(hs), c"),
                        "test_sru_recurrence", 2.5,
                        ["c: expected shape (5, 3, 4) = (T, B, H), got (3, 4) = (B, H)"]),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_typical_mistake_earns_its_share_and_is_named(name):
    grade_id, edit, test_cell, score, messages = MISTAKES[name]
    got, text = grade_notebook(A6, {grade_id: edit}, only=(test_cell,))[test_cell]
    assert got == pytest.approx(score, abs=1e-6), text
    for message in messages:
        assert message in text, (message, text)


def test_a_mistake_that_alpha_one_hides_is_not_diagnosed_there():
    _, edit, test_cell, _, _ = MISTAKES["no alpha"]
    _, text = grade_notebook(A6, {"sru_recurrence": edit}, only=(test_cell,))[test_cell]
    assert text.count("the highway term misses its scale") == 1, text


DELEGATIONS = {
    "course_pkg SRU": ("sru_recurrence", lambda source: (
        "from course_pkg.nn.sru import sru_recurrence as reference\n"
        "def sru_recurrence(projections, x_highway, v_f, v_r, b_f, b_r, c0, alpha):\n"
        "    return reference(projections, alpha * x_highway, v_f, v_r, b_f, b_r, c0)\n"),
        "test_sru_recurrence", "course_pkg.nn.sru.sru_recurrence"),
    "course_pkg mogrify": ("mogrify", lambda source: (
        "import importlib\n"
        "def mogrify(x, h, weight_q, weight_r):\n"
        "    module = importlib.import_module('course_pkg.nn.' + 'mogrifier')\n"
        "    return module.mogrify(x, h, list(weight_q), list(weight_r))\n"),
        "test_mogrify", "course_pkg.nn.mogrifier.mogrify"),
    "torch LSTMCell": ("conv_lstm_step", lambda source: source.replace(
        "    padding =", "    unused = torch.nn.LSTMCell(1, 1)\n    padding ="),
        "test_conv_lstm_step", "torch.nn.LSTMCell"),
}


@pytest.mark.parametrize("name", sorted(DELEGATIONS))
def test_delegation_scores_zero_with_a_message(name):
    grade_id, edit, test_cell, described = DELEGATIONS[name]
    got, text = grade_notebook(A6, {grade_id: edit}, only=(test_cell,))[test_cell]
    assert got == 0.0, text
    assert described in text and "no points for this part" in text, text


# ------------------------------------------------------------------------------------------
# The checks' equations against outside references
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_cross_correlation_matches_torch_conv2d_with_same_padding(kernel):
    rng = np.random.default_rng(kernel)
    images, kernels = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, kernel, kernel))
    theirs = F.conv2d(torch.from_numpy(images), torch.from_numpy(kernels), padding=kernel // 2)
    np.testing.assert_allclose(modern_checks.cross_correlate(images, kernels), theirs.numpy(),
                               rtol=1e-12, atol=1e-12)


def test_conv_lstm_equations_with_one_by_one_kernels_are_torch_lstm_cell():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(3, 2).double()
    x, h, c = torch.randn(4, 3).double(), torch.randn(4, 2).double(), torch.randn(4, 2).double()
    h_t, c_t = cell(x, (h, c))
    pixel = lambda t: t.detach().numpy()[:, :, None, None]  # noqa: E731
    ours = modern_checks.conv_lstm_equations({
        "x": pixel(x), "h_prev": pixel(h), "c_prev": pixel(c),
        "weight_ih": pixel(cell.weight_ih), "weight_hh": pixel(cell.weight_hh),
        "bias_ih": cell.bias_ih.detach().numpy(), "bias_hh": cell.bias_hh.detach().numpy()})
    np.testing.assert_allclose(ours["h_t"][:, :, 0, 0], h_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours["c_t"][:, :, 0, 0], c_t.detach().numpy(), rtol=1e-12)


def sigmoid(a: float) -> float:
    return 1 / (1 + math.exp(-a))


def test_two_mogrifier_rounds_by_hand():
    # D = H = 1: x' = 2 s(q h) x, then h' = 2 s(r x') h
    x, h, q, r = 0.7, -1.3, 0.4, 2.0
    x_up = 2 * sigmoid(q * h) * x
    h_up = 2 * sigmoid(r * x_up) * h
    ours = modern_checks.mogrifier_rounds({"x": np.array([[x]]), "h": np.array([[h]]),
                                           "weight_q": np.array([[[q]]]),
                                           "weight_r": np.array([[[r]]])})
    assert ours["x_up"].item() == pytest.approx(x_up, rel=1e-14)
    assert ours["h_up"].item() == pytest.approx(h_up, rel=1e-14)


def test_no_mogrifier_rounds_leave_x_and_h_alone():
    x, h = np.ones((2, 3)), np.full((2, 4), 2.0)
    ours = modern_checks.mogrifier_rounds({"x": x, "h": h, "weight_q": np.zeros((0, 3, 4)),
                                           "weight_r": np.zeros((0, 4, 3))})
    assert (ours["x_up"] == x).all() and (ours["h_up"] == h).all()


def test_two_sru_steps_by_hand():
    # H = B = 1, the equations of Lei et al. (2018) written out for t = 1, 2
    x_tilde, wf, wr, x_hat = [0.5, -1.0], [0.3, 0.8], [-0.2, 0.4], [1.5, -0.5]
    v_f, v_r, b_f, b_r, c0, alpha = 0.6, -0.9, 0.1, -0.3, 0.25, 1.7
    c_prev, hs, cs = c0, [], []
    for t in range(2):
        f = sigmoid(wf[t] + v_f * c_prev + b_f)
        r = sigmoid(wr[t] + v_r * c_prev + b_r)
        c = f * c_prev + (1 - f) * x_tilde[t]
        hs.append(r * c + (1 - r) * alpha * x_hat[t])
        cs.append(c)
        c_prev = c
    column = lambda values: np.array(values, dtype=float).reshape(2, 1, 1)  # noqa: E731
    vector = lambda value: np.array([value])  # noqa: E731
    ours = modern_checks.sru_equations({
        "projections": np.concatenate([column(x_tilde), column(wf), column(wr)], axis=-1),
        "x_highway": column(x_hat), "v_f": vector(v_f), "v_r": vector(v_r), "b_f": vector(b_f),
        "b_r": vector(b_r), "c0": np.array([[c0]]), "alpha": alpha})
    np.testing.assert_allclose(ours["h"].ravel(), hs, rtol=1e-14)
    np.testing.assert_allclose(ours["c"].ravel(), cs, rtol=1e-14)


def test_an_unknown_case_parameter_is_refused_with_its_name():
    part = build_part("mogrify", lambda x, h, q, r: (x, h), grade_id="test_mogrify", points=3)
    with pytest.raises(ValueError, match="unknown case parameter"):
        part.check(heads=2)
