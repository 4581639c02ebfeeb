"""Gate traces against an independent step-by-step loop written from the papers' equations and
against the states torch.nn.LSTM / torch.nn.GRU return (float64)."""

import numpy as np
import pytest
import torch

from course_pkg.gate_traces import gru_gate_trace, lstm_gate_trace
from course_pkg.nn import GRU, LSTM


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def weights_of(layer):
    return [getattr(layer, n).detach().numpy() for n in
            ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]


def lstm_loop(layer, x):
    """Gates and states, one step at a time in numpy (Hochreiter & Schmidhuber with forget gate)."""
    W_ih, W_hh, b_ih, b_hh = weights_of(layer)
    H = W_hh.shape[1]
    h = c = np.zeros((x.shape[1], H))
    out = {k: [] for k in "ifgoch"}
    for x_t in x.numpy():
        a = x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), \
            sigmoid(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            out[k].append(v)
    return {k: np.stack(v) for k, v in out.items()}


def gru_loop(layer, x, reset_before_product=False):
    """GRU in PyTorch's form (reset on W_hn h + b_hn) or Cho et al. v3's (W_hn (r * h))."""
    W_ih, W_hh, b_ih, b_hh = weights_of(layer)
    H = W_hh.shape[1]
    h = np.zeros((x.shape[1], H))
    out = {k: [] for k in "rznh"}
    for x_t in x.numpy():
        xp = x_t @ W_ih.T + b_ih
        r = sigmoid(xp[:, :H] + h @ W_hh[:H].T + b_hh[:H])
        z = sigmoid(xp[:, H:2 * H] + h @ W_hh[H:2 * H].T + b_hh[H:2 * H])
        if reset_before_product:
            n = np.tanh(xp[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
        else:
            n = np.tanh(xp[:, 2 * H:] + r * (h @ W_hh[2 * H:].T + b_hh[2 * H:]))
        h = (1 - z) * n + z * h
        for k, v in zip("rznh", (r, z, n, h)):
            out[k].append(v)
    return {k: np.stack(v) for k, v in out.items()}


@pytest.mark.parametrize("make_layer", [torch.nn.LSTM, LSTM])
def test_lstm_trace_matches_a_step_loop_and_torch(make_layer):
    torch.manual_seed(0)
    layer = make_layer(3, 4).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    trace = lstm_gate_trace(layer, x)
    expected = lstm_loop(layer, x)
    for field, key in [("input_gate", "i"), ("forget_gate", "f"), ("candidate", "g"),
                       ("output_gate", "o"), ("cell", "c"), ("hidden", "h")]:
        np.testing.assert_allclose(getattr(trace, field), expected[key], rtol=0, atol=1e-12,
                                   err_msg=field)
    reference = torch.nn.LSTM(3, 4).double()
    reference.load_state_dict(layer.state_dict())
    out, (h_n, c_n) = reference(x)
    np.testing.assert_allclose(trace.hidden, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(trace.cell[-1], c_n[0].detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("make_layer", [torch.nn.GRU, GRU])
def test_gru_trace_matches_pytorch_form_not_cho_v3(make_layer):
    torch.manual_seed(1)
    layer = make_layer(2, 5).double()
    with torch.no_grad():
        layer.bias_hh_l0[10:] += 0.7   # a large b_hn makes the two forms differ clearly
    x = torch.randn(7, 3, 2, dtype=torch.float64)
    trace = gru_gate_trace(layer, x)
    expected = gru_loop(layer, x)
    for field, key in [("reset_gate", "r"), ("update_gate", "z"), ("candidate", "n"),
                       ("hidden", "h")]:
        np.testing.assert_allclose(getattr(trace, field), expected[key], rtol=0, atol=1e-12,
                                   err_msg=field)
    reference = torch.nn.GRU(2, 5).double()
    reference.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(trace.hidden, reference(x)[0].detach().numpy(), atol=1e-12)
    cho_v3 = gru_loop(layer, x, reset_before_product=True)
    assert np.abs(cho_v3["h"] - trace.hidden).max() > 1e-3


def test_bad_layers_and_inputs_are_named():
    x = torch.zeros(4, 2, 3)
    with pytest.raises(ValueError, match="layer: expected 4 gate blocks"):
        lstm_gate_trace(GRU(3, 2), x)
    with pytest.raises(ValueError, match="layer: expected one layer"):
        lstm_gate_trace(LSTM(3, 2, num_layers=2), x)
    with pytest.raises(ValueError, match="layer: expected batch_first=False"):
        gru_gate_trace(GRU(3, 2, batch_first=True), x)
    with pytest.raises(TypeError, match="layer"):
        gru_gate_trace(torch.nn.Linear(3, 2), x)
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 3\)"):
        lstm_gate_trace(LSTM(3, 2), torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match="x: expected a 3-D"):
        gru_gate_trace(GRU(3, 2), torch.zeros(4, 3))
