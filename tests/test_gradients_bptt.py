"""Chapter 3's BPTT code against outside references: torch autograd (torch.nn.RNN + Linear,
with ``h.detach()`` every k steps for truncation) and centred finite differences. float64."""

import numpy as np
import pytest
import torch

from course_pkg.gradients.elman_bptt import (
    WEIGHT_NAMES,
    autograd_gradients,
    elman_gradients,
    elman_loss,
    finite_difference_gradients,
    init_elman_weights,
    input_gradient_map,
)
from course_pkg.gradients.truncated_bptt import rnn_forward_stepwise, truncated_rnn_backward
from course_pkg.numpy_rnn import relative_error, rnn_backward, rnn_forward

TORCH_TOLERANCE = 1e-9
FD_TOLERANCE = 1e-7


def make_problem(T=7, B=2, D=3, H=5, O=2, seed=0, recurrent_scale=None):
    weights = init_elman_weights(D, H, O, seed=seed, recurrent_scale=recurrent_scale)
    rng = np.random.default_rng(seed + 100)
    return weights, rng.standard_normal((T, B, D)), rng.standard_normal((T, B, O))


def assert_all_close(ours, reference, tolerance, what):
    assert set(ours) == set(reference)
    errors = {name: relative_error(ours[name], reference[name]) for name in reference}
    bad = {name: err for name, err in errors.items() if not err < tolerance}
    assert not bad, f"{what}: relative errors above {tolerance}: {bad}"


# ----------------------------------------------------------------------------------------------
# full BPTT
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (7, 2, 3, 5, 2), (12, 3, 2, 4, 3)])
def test_full_bptt_matches_torch_autograd(nonlinearity, shape):
    T, B, D, H, O = shape
    weights, x, targets = make_problem(T, B, D, H, O, seed=T + H)
    loss, grads = elman_gradients(weights, x, targets, nonlinearity)
    torch_loss, torch_grads = autograd_gradients(weights, x, targets, nonlinearity)
    assert loss == pytest.approx(torch_loss, rel=1e-12)
    assert set(grads) == set(WEIGHT_NAMES) | {"x"}
    assert_all_close(grads, torch_grads, TORCH_TOLERANCE, "hand-written vs torch")


def test_autograd_reference_is_a_real_torch_rnn():
    """The reference itself: its loss equals one computed here from torch.nn.RNN directly."""
    weights, x, targets = make_problem()
    rnn = torch.nn.RNN(3, 5, dtype=torch.float64)
    with torch.no_grad():
        for name in WEIGHT_NAMES[:4]:
            getattr(rnn, name + "_l0").copy_(torch.tensor(weights[name]))
    with torch.no_grad():
        out, _ = rnn(torch.tensor(x))
    y = out @ torch.tensor(weights["weight_hy"]).T + torch.tensor(weights["bias_y"])
    expected = float(((y - torch.tensor(targets)) ** 2).sum() / (2 * x.shape[1]))
    assert autograd_gradients(weights, x, targets)[0] == pytest.approx(expected, rel=1e-12)
    assert elman_loss(weights, x, targets) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_full_bptt_matches_finite_differences(nonlinearity):
    weights, x, targets = make_problem(T=6, B=2, D=2, H=4, O=2, seed=3)
    _, grads = elman_gradients(weights, x, targets, nonlinearity)
    numerical = finite_difference_gradients(weights, x, targets, nonlinearity)
    assert_all_close(grads, numerical, FD_TOLERANCE, "hand-written vs finite differences")


def test_loss_steps_selects_terms():
    weights, x, targets = make_problem(T=6)
    per_step = [elman_loss(weights, x, targets, loss_steps=[t]) for t in range(6)]
    assert sum(per_step) == pytest.approx(elman_loss(weights, x, targets), rel=1e-12)
    _, ours = elman_gradients(weights, x, targets, loss_steps=[2, 4])
    _, theirs = autograd_gradients(weights, x, targets, loss_steps=[2, 4])
    assert_all_close(ours, theirs, TORCH_TOLERANCE, "loss at steps 2 and 4")
    assert np.all(ours["x"][5] == 0), "inputs after the last loss term get no gradient"


# ----------------------------------------------------------------------------------------------
# truncated BPTT
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [1, 2, 3, 5, 7, 20])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_truncated_bptt_matches_torch_detach(window, nonlinearity):
    weights, x, targets = make_problem(T=11, B=3, D=2, H=4, O=2, seed=window)
    _, ours = elman_gradients(weights, x, targets, nonlinearity, window=window)
    _, theirs = autograd_gradients(weights, x, targets, nonlinearity, window=window)
    assert_all_close(ours, theirs, TORCH_TOLERANCE, f"window {window}")


def test_truncation_changes_the_gradient_and_a_long_window_does_not():
    weights, x, targets = make_problem(T=10, seed=1, recurrent_scale=0.9)
    _, full = elman_gradients(weights, x, targets)
    _, long_window = elman_gradients(weights, x, targets, window=10)
    _, short_window = elman_gradients(weights, x, targets, window=3)
    assert_all_close(long_window, full, 1e-13, "window = T is full BPTT")
    assert relative_error(short_window["weight_hh"], full["weight_hh"]) > 1e-3
    # read-out weights see no recurrence: truncation cannot change them
    assert relative_error(short_window["weight_hy"], full["weight_hy"]) < 1e-14


def test_stepwise_forward_matches_torch_and_h0_gradient_matches_torch():
    rng = np.random.default_rng(7)
    T, B, D, H, window = 9, 2, 3, 4, 4
    params = {"weight_ih": rng.normal(0, 0.6, (H, D)), "weight_hh": rng.normal(0, 0.6, (H, H)),
              "bias_ih": rng.normal(0, 0.3, H), "bias_hh": rng.normal(0, 0.3, H)}
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    dout, dh_n = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    out, h_n, caches = rnn_forward_stepwise(x, h0, **params)
    grads = truncated_rnn_backward(dout, dh_n, caches, window)

    rnn = torch.nn.RNN(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name, value in params.items():
            getattr(rnn, name + "_l0").copy_(torch.tensor(value))
    x_t = torch.tensor(x, requires_grad=True)
    h = h0_t = torch.tensor(h0[None], requires_grad=True)
    outs = []
    for start in range(0, T, window):
        chunk_out, h = rnn(x_t[start:start + window], h)
        outs.append(chunk_out)
        if start + window < T:
            h = h.detach()
    torch_out = torch.cat(outs)
    ((torch_out * torch.tensor(dout)).sum() + (h[0] * torch.tensor(dh_n)).sum()).backward()
    assert relative_error(out, torch_out.detach().numpy()) < 1e-13
    assert relative_error(h_n, h[0].detach().numpy()) < 1e-13
    assert relative_error(grads["h0"], h0_t.grad[0].numpy()) < TORCH_TOLERANCE
    assert relative_error(grads["x"], x_t.grad.numpy()) < TORCH_TOLERANCE
    for name in params:
        torch_grad = getattr(rnn, name + "_l0").grad.numpy()
        assert relative_error(grads[name], torch_grad) < TORCH_TOLERANCE

    # no window: the same as the package's full BPTT, h0 included
    full = truncated_rnn_backward(dout, dh_n, caches, None)
    reference = rnn_backward(dout, dh_n, rnn_forward(x, h0, **params)[2])
    for name in reference:
        assert relative_error(full[name], reference[name]) < 1e-13, name


def test_input_gradient_map_pattern_and_values():
    T, window = 9, 4
    weights, x, targets = make_problem(T=T, seed=2)
    full = input_gradient_map(weights, x, targets)
    cut = input_gradient_map(weights, x, targets, window=window)
    t_idx, s_idx = np.indices((T, T))
    assert np.all(full[s_idx > t_idx] == 0) and np.all(full[s_idx <= t_idx] > 0)
    same_chunk = (s_idx <= t_idx) & (s_idx // window == t_idx // window)
    assert np.all(cut[~same_chunk] == 0) and np.all(cut[same_chunk] > 0)
    for t in (0, 5, 8):
        _, theirs = autograd_gradients(weights, x, targets, window=window, loss_steps=[t])
        expected = np.sqrt((theirs["x"] ** 2).sum(axis=(1, 2)))
        np.testing.assert_allclose(cut[t], expected, rtol=1e-9, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_bad_input_is_reported():
    weights, x, targets = make_problem()
    with pytest.raises(ValueError, match="window: expected a positive int"):
        elman_gradients(weights, x, targets, window=0)
    with pytest.raises(TypeError, match="window"):
        autograd_gradients(weights, x, targets, window=2.5)
    with pytest.raises(ValueError, match=r"targets: expected shape \(7, 2, 2\).*got \(7, 2, 3\)"):
        elman_loss(weights, x, np.zeros((7, 2, 3)))
    with pytest.raises(ValueError, match="x: expected a 3-D array"):
        elman_loss(weights, x[0], targets)
    with pytest.raises(TypeError, match="x: expected a floating-point dtype"):
        elman_loss(weights, x.astype(int), targets)
    with pytest.raises(ValueError, match="weights: expected a dict with keys"):
        elman_loss({k: v for k, v in weights.items() if k != "bias_y"}, x, targets)
    with pytest.raises(ValueError, match="loss_steps: expected step indices in"):
        elman_loss(weights, x, targets, loss_steps=[7])
    with pytest.raises(ValueError, match="nonlinearity"):
        elman_loss(weights, x, targets, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size: expected a positive int"):
        init_elman_weights(3, 0, 2)
    rnn_weights = [weights[n] for n in WEIGHT_NAMES[:4]]
    out, _, caches = rnn_forward_stepwise(x, np.zeros((2, 5)), *rnn_weights)
    with pytest.raises(ValueError, match="step_caches: expected the list of T = 7"):
        truncated_rnn_backward(np.zeros_like(out), None, caches[:-1])
    with pytest.raises(ValueError, match=r"dh_n: expected shape \(2, 5\)"):
        truncated_rnn_backward(np.zeros_like(out), np.zeros((2, 4)), caches)
