"""course_pkg.nn.gate_ablation: an LSTM with one gate held at 1, against an LSTM step written here
from the equations with that gate replaced by the constant 1 (float64, autograd for gradients)."""

import pytest
import torch

from course_pkg.nn import LSTM
from course_pkg.nn.gate_ablation import GATE_BLOCKS, gate_rows, hold_gate_open


def reference_lstm(x, weight_ih, weight_hh, bias, held):
    """The LSTM of the equations, with gate ``held`` (a name) equal to 1 at every step."""
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    outputs = []
    for t in range(T):
        a = x[t] @ weight_ih.T + h @ weight_hh.T + bias        # (B, 4H)
        i, f, g, o = a.split(H, dim=1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        g = torch.tanh(g)
        one = torch.ones_like(i)
        i, f, o = (one if held == "input" else i, one if held == "forget" else f,
                   one if held == "output" else o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs)                                 # (T, B, H)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("gate", sorted(GATE_BLOCKS))
def test_held_gate_matches_the_equations_forward_and_backward(gate, fused):
    torch.manual_seed(0)
    D, H, T, B = 3, 5, 7, 4
    layer = LSTM(D, H)
    layer.fused = fused
    hold_gate_open(layer, gate)
    x = torch.randn(T, B, D)
    out, _ = layer(x)
    (out ** 2).sum().backward()

    # the reference gets the layer's other weights, in float64, and no parameters for the gate
    rows = gate_rows(gate, H)
    weight_ih = layer.weight_ih_l0.detach().double().requires_grad_()
    weight_hh = layer.weight_hh_l0.detach().double().requires_grad_()
    bias = (layer.bias_ih_l0 + layer.bias_hh_l0).detach().double().requires_grad_()
    expected = reference_lstm(x.double(), weight_ih, weight_hh, bias, gate)
    (expected ** 2).sum().backward()

    assert torch.allclose(out.double(), expected, atol=1e-5)
    for ours, theirs in ((layer.weight_ih_l0, weight_ih), (layer.weight_hh_l0, weight_hh),
                         (layer.bias_ih_l0, bias), (layer.bias_hh_l0, bias)):
        grad = ours.grad.double()
        assert torch.count_nonzero(grad[rows]) == 0, f"gradient on the held {gate} gate's rows"
        keep = torch.ones(4 * H, dtype=torch.bool)
        keep[rows] = False
        assert torch.allclose(grad[keep], theirs.grad[keep], atol=1e-4), gate


def test_the_held_gate_is_exactly_one_in_float32_and_stays_put_under_adam():
    torch.manual_seed(1)
    layer = LSTM(2, 4)
    hold_gate_open(layer, "forget")
    rows = gate_rows("forget", 4)
    pre_activation = layer.bias_ih_l0[rows] + layer.bias_hh_l0[rows]
    assert torch.equal(torch.sigmoid(pre_activation), torch.ones(4))
    before = {name: p.detach().clone() for name, p in layer.named_parameters()}
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
    for _ in range(5):
        optimizer.zero_grad()
        layer(torch.randn(6, 3, 2))[0].sum().backward()
        optimizer.step()
    for name, p in layer.named_parameters():
        assert torch.equal(p.detach()[rows], before[name][rows]), name
        assert not torch.equal(p.detach(), before[name]), f"{name} did not train at all"


def test_hold_gate_open_checks_its_arguments():
    with pytest.raises(ValueError, match="gate"):
        hold_gate_open(LSTM(2, 3), "cell")
    with pytest.raises(TypeError, match="layer"):
        hold_gate_open(torch.nn.Linear(2, 3), "input")
    with pytest.raises(ValueError, match="one layer"):
        hold_gate_open(LSTM(2, 3, num_layers=2), "input")
    with pytest.raises(ValueError, match="4 H"):
        hold_gate_open(torch.nn.GRU(2, 3), "input")


def test_hold_gate_open_works_on_torch_nn_lstm_too():
    torch.manual_seed(2)
    ours, theirs = LSTM(2, 3), torch.nn.LSTM(2, 3)
    theirs.load_state_dict(ours.state_dict())
    hold_gate_open(ours, "output")
    hold_gate_open(theirs, "output")
    x = torch.randn(5, 2, 2)
    assert torch.allclose(ours(x)[0], theirs(x)[0], atol=1e-6)
