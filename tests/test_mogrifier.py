"""course_pkg.nn.mogrifier: the Mogrifier LSTM against torch.nn.LSTMCell / LSTM (rounds=0, zero
Q/R) and against a plain loop of Melis et al.'s equations with hand-set matrices (float64)."""

import math

import pytest
import torch

from course_pkg.nn.mogrifier import MogrifierLSTM, MogrifierLSTMCell, mogrify

TOL = {"rtol": 1e-10, "atol": 1e-12}
D, H, B = 3, 4, 5



def randn(*shape, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)


def test_zero_rounds_loads_an_lstm_cell_state_dict_and_reproduces_it():
    torch.manual_seed(0)
    reference = torch.nn.LSTMCell(D, H).double()
    cell = MogrifierLSTMCell(D, H, rounds=0).double()
    cell.load_state_dict(reference.state_dict())          # strict: exactly the same keys
    x, h, c = randn(B, D, seed=1, grad=True), randn(B, H, seed=2, grad=True), randn(B, H, seed=3,
                                                                                 grad=True)
    ours, theirs = cell(x, (h, c)), reference(x, (h, c))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, **TOL)
    w = randn(B, H, seed=4)
    grads = torch.autograd.grad((ours[0] * w + ours[1]).sum(), [x, h, c, *cell.parameters()])
    expected = torch.autograd.grad((theirs[0] * w + theirs[1]).sum(),
                                   [x, h, c, *reference.parameters()])
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, **TOL)


def test_lstm_part_has_torch_names_shapes_and_initial_values():
    torch.manual_seed(7)
    reference = torch.nn.LSTMCell(D, H)
    torch.manual_seed(7)
    cell = MogrifierLSTMCell(D, H, rounds=5)
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(getattr(cell, name).detach(), value, rtol=0, atol=0)
    assert cell.weight_q.shape == (3, D, H) and cell.weight_r.shape == (2, H, D)


@pytest.mark.parametrize("rank", [None, 2])
def test_zero_q_and_r_give_factor_one_and_the_plain_lstm(rank):
    torch.manual_seed(1)
    cell = MogrifierLSTMCell(D, H, rounds=5, rank=rank).double()
    with torch.no_grad():
        for name, parameter in cell.named_parameters():
            if name.startswith("weight_q") or name.startswith("weight_r"):
                parameter.zero_()
    reference = torch.nn.LSTMCell(D, H).double()
    reference.load_state_dict({k: v for k, v in cell.state_dict().items()
                               if k in reference.state_dict()})
    x, h, c = randn(B, D, seed=5), randn(B, H, seed=6), randn(B, H, seed=7)
    for a, b in zip(cell(x, (h, c)), reference(x, (h, c))):
        torch.testing.assert_close(a, b, **TOL)


def test_one_round_by_hand():
    """D = H = 1, Q = ln 3, h = 1: sigmoid(ln 3) = 3/4, so x is multiplied by 2 * 3/4 = 1.5;
    a second round with R = ln 3 and x = 1.5 multiplies h by 2 sigmoid(1.5 ln 3)."""
    x, h = torch.tensor([[2.0]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64)
    q = torch.tensor([[math.log(3)]], dtype=torch.float64)
    x1, h1 = mogrify(x, h, [q], [])
    assert x1.item() == pytest.approx(3.0, abs=1e-14) and h1.item() == 1.0
    x2, h2 = mogrify(torch.tensor([[1.0]], dtype=torch.float64), h, [q], [q])
    assert x2.item() == pytest.approx(1.5, abs=1e-14)
    assert h2.item() == pytest.approx(2 / (1 + 3 ** -1.5), abs=1e-14)


def paper_rounds(x, h, Q, R, rounds):
    """Melis et al. (2019), eq. 1-2, with their superscripts: x^{-1} = x, h^0 = h."""
    xs, hs = {-1: x}, {0: h}
    for i in range(1, rounds + 1):
        if i % 2 == 1:
            xs[i] = 2 * torch.sigmoid(hs[i - 1] @ Q[i].T) * xs[i - 2]
        else:
            hs[i] = 2 * torch.sigmoid(xs[i - 1] @ R[i].T) * hs[i - 2]
    return xs[max(xs)], hs[max(hs)]


@pytest.mark.parametrize("rounds", [1, 2, 3, 4, 5, 6])
def test_rounds_match_the_papers_equations_then_torch_lstm_cell(rounds):
    torch.manual_seed(rounds)
    cell = MogrifierLSTMCell(D, H, rounds=rounds).double()
    Q = {i: randn(D, H, seed=10 + i) for i in range(1, rounds + 1, 2)}       # hand-set Q^i, R^i
    R = {i: randn(H, D, seed=20 + i) for i in range(2, rounds + 1, 2)}
    with torch.no_grad():
        cell.weight_q.copy_(torch.stack([Q[i] for i in sorted(Q)]))
        if R:
            cell.weight_r.copy_(torch.stack([R[i] for i in sorted(R)]))
    x, h, c = randn(B, D, seed=8), randn(B, H, seed=9), randn(B, H, seed=10)
    x_up, h_up = paper_rounds(x, h, Q, R, rounds)
    reference = torch.nn.LSTMCell(D, H).double()
    reference.load_state_dict({k: v for k, v in cell.state_dict().items()
                               if k in reference.state_dict()})
    expected = reference(x_up, (h_up, c))
    for a, b in zip(cell(x, (h, c)), expected):
        torch.testing.assert_close(a, b, **TOL)


def test_low_rank_is_the_full_rank_cell_with_the_product_matrices():
    torch.manual_seed(2)
    low = MogrifierLSTMCell(D, H, rounds=5, rank=2).double()
    full = MogrifierLSTMCell(D, H, rounds=5).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(full, name).copy_(getattr(low, name))
        full.weight_q.copy_(low.weight_q_left @ low.weight_q_right)
        full.weight_r.copy_(low.weight_r_left @ low.weight_r_right)
    x, h, c = randn(B, D, seed=11), randn(B, H, seed=12), randn(B, H, seed=13)
    for a, b in zip(low(x, (h, c)), full(x, (h, c))):
        torch.testing.assert_close(a, b, **TOL)
    count = sum(p.numel() for p in low.parameters()) - 4 * H * (D + H + 2)
    assert count == 3 * (D * 2 + 2 * H) + 2 * (H * 2 + 2 * D)


def test_rounds_actually_change_the_output():
    torch.manual_seed(3)
    cell = MogrifierLSTMCell(D, H, rounds=5).double()
    x, h, c = randn(B, D, seed=14), randn(B, H, seed=15), randn(B, H, seed=16)
    reference = torch.nn.LSTMCell(D, H).double()
    reference.load_state_dict({k: v for k, v in cell.state_dict().items()
                               if k in reference.state_dict()})
    assert (cell(x, (h, c))[0] - reference(x, (h, c))[0]).abs().max() > 1e-3


@pytest.mark.parametrize("batch_first", [False, True])
def test_zero_round_layer_is_a_one_layer_torch_lstm(batch_first):
    torch.manual_seed(4)
    layer = MogrifierLSTM(D, H, rounds=0, batch_first=batch_first).double()
    reference = torch.nn.LSTM(D, H, batch_first=batch_first).double()
    reference.load_state_dict({k + "_l0": v for k, v in layer.cell.state_dict().items()})
    x = randn(B, 6, D, seed=17) if batch_first else randn(6, B, D, seed=17)
    hx = (randn(1, B, H, seed=18), randn(1, B, H, seed=19))
    out, (h_n, c_n) = layer(x, hx)
    out_ref, (h_ref, c_ref) = reference(x, hx)
    torch.testing.assert_close(out, out_ref, **TOL)
    torch.testing.assert_close(h_n, h_ref, **TOL)
    torch.testing.assert_close(c_n, c_ref, **TOL)


@pytest.mark.parametrize("rank", [None, 2])
def test_layer_is_the_cell_applied_step_by_step(rank):
    torch.manual_seed(5)
    layer = MogrifierLSTM(D, H, rounds=5, rank=rank).double()
    x = randn(6, B, D, seed=20)
    out, (h_n, c_n) = layer(x)
    h = c = torch.zeros(B, H, dtype=torch.float64)
    for t in range(6):
        h, c = layer.cell(x[t], (h, c))
        torch.testing.assert_close(out[t], h, **TOL)
    torch.testing.assert_close(h_n[0], h, **TOL)
    torch.testing.assert_close(c_n[0], c, **TOL)


def test_gradcheck_tiny():
    torch.manual_seed(6)
    layer = MogrifierLSTM(2, 2, rounds=3, rank=1).double()
    x = randn(3, 2, 2, seed=21, grad=True)
    h0 = randn(1, 2, 2, seed=22, grad=True)
    c0 = randn(1, 2, 2, seed=23, grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: layer(a, (b, c))[0], (x, h0, c0))


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="rounds: expected an int >= 0"):
        MogrifierLSTMCell(D, H, rounds=-1)
    with pytest.raises(TypeError, match="rounds: expected an int >= 0"):
        MogrifierLSTMCell(D, H, rounds=2.0)
    with pytest.raises(ValueError, match="rank"):
        MogrifierLSTMCell(D, H, rank=0)
    with pytest.raises(ValueError, match="hidden_size"):
        MogrifierLSTM(D, 0)
    cell, layer = MogrifierLSTMCell(D, H), MogrifierLSTM(D, H)
    with pytest.raises(ValueError, match=r"input: expected shape \(B, 3\)"):
        cell(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"hx\[1\]: expected shape \(2, 4\)"):
        cell(torch.zeros(2, 3), (torch.zeros(2, 4), torch.zeros(2, 5)))
    with pytest.raises(TypeError, match="input: expected dtype torch.float32"):
        cell(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"input: expected shape \(T, B, 3\)"):
        layer(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="input: expected a 3-D"):
        layer(torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(1, 2, 4\)"):
        layer(torch.zeros(5, 2, 3), (torch.zeros(2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match="hx: expected a tuple"):
        layer(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))
