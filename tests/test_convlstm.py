"""course_pkg.nn.convlstm: ConvLSTM against torch.nn.LSTMCell / LSTM (1x1 kernel on a 1x1 grid)
and against a plain loop of Shi et al.'s equations with one convolution per gate (float64)."""

import pytest
import torch
import torch.nn.functional as F

from course_pkg.nn.convlstm import ConvLSTM, ConvLSTMCell, conv_lstm_step

TOL = {"rtol": 1e-10, "atol": 1e-12}



def randn(*shape, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)


def test_1x1_kernel_on_1x1_grid_is_an_lstm_cell_outputs_and_gradients():
    D, H, B = 3, 4, 5
    torch.manual_seed(0)
    conv = ConvLSTMCell(D, H, kernel_size=1).double()
    lstm = torch.nn.LSTMCell(D, H).double()
    lstm.load_state_dict({"weight_ih": conv.weight_ih.detach().reshape(4 * H, D),
                          "weight_hh": conv.weight_hh.detach().reshape(4 * H, H),
                          "bias_ih": conv.bias_ih.detach(), "bias_hh": conv.bias_hh.detach()})
    x, h0, c0 = randn(B, D, seed=1, grad=True), randn(B, H, seed=2, grad=True), randn(B, H, seed=3,
                                                                                   grad=True)
    h_conv, c_conv = conv(x[:, :, None, None], (h0[:, :, None, None], c0[:, :, None, None]))
    assert h_conv.shape == (B, H, 1, 1)
    h_ref, c_ref = lstm(x, (h0, c0))
    torch.testing.assert_close(h_conv[:, :, 0, 0], h_ref, **TOL)
    torch.testing.assert_close(c_conv[:, :, 0, 0], c_ref, **TOL)

    weights = randn(B, H, seed=4), randn(B, H, seed=5)          # a random loss of h and c
    loss_conv = (h_conv[:, :, 0, 0] * weights[0] + c_conv[:, :, 0, 0] * weights[1]).sum()
    grads_conv = torch.autograd.grad(loss_conv, [x, h0, c0, conv.weight_ih, conv.weight_hh,
                                                 conv.bias_ih, conv.bias_hh])
    loss_ref = (h_ref * weights[0] + c_ref * weights[1]).sum()
    grads_ref = torch.autograd.grad(loss_ref, [x, h0, c0, lstm.weight_ih, lstm.weight_hh,
                                               lstm.bias_ih, lstm.bias_hh])
    for name, ours, theirs in zip(["x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih",
                                   "bias_hh"], grads_conv, grads_ref):
        torch.testing.assert_close(ours.reshape(theirs.shape), theirs, **TOL, msg=name)


@pytest.mark.parametrize("batch_first", [False, True])
def test_stacked_1x1_convlstm_on_1x1_grid_is_torch_lstm(batch_first):
    D, H, B, T, L = 2, 3, 4, 6, 2
    torch.manual_seed(1)
    conv = ConvLSTM(D, H, 1, num_layers=L, batch_first=batch_first).double()
    lstm = torch.nn.LSTM(D, H, num_layers=L, batch_first=batch_first).double()
    state = {}
    for k, cell in enumerate(conv.cells):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            value = getattr(cell, name).detach()
            state[f"{name}_l{k}"] = value.reshape(value.shape[0], -1).squeeze(1) \
                if name.startswith("bias") else value.reshape(value.shape[0], -1)
    lstm.load_state_dict(state)
    x = randn(B, T, D, seed=6) if batch_first else randn(T, B, D, seed=6)
    h0, c0 = randn(L, B, H, seed=7), randn(L, B, H, seed=8)
    out, (h_n, c_n) = conv(x[..., None, None], (h0[..., None, None], c0[..., None, None]))
    out_ref, (h_ref, c_ref) = lstm(x, (h0, c0))
    torch.testing.assert_close(out[..., 0, 0], out_ref, **TOL)
    torch.testing.assert_close(h_n[..., 0, 0], h_ref, **TOL)
    torch.testing.assert_close(c_n[..., 0, 0], c_ref, **TOL)


def paper_step(x, h, c, cell):
    """Shi et al. (2015) eq. 3, one convolution per gate and per input, written out."""
    F_ = cell.hidden_channels
    pad = cell.kernel_size // 2

    def gate(k):                                # k = 0..3 for i, f, g, o
        rows = slice(k * F_, (k + 1) * F_)
        bias = (cell.bias_ih[rows] + cell.bias_hh[rows])[:, None, None]   # (F, 1, 1)
        return (F.conv2d(x, cell.weight_ih[rows], padding=pad)
                + F.conv2d(h, cell.weight_hh[rows], padding=pad) + bias)
    peep = cell.peephole_weights
    i = torch.sigmoid(gate(0) + (peep[0] * c if peep is not None else 0))
    f = torch.sigmoid(gate(1) + (peep[1] * c if peep is not None else 0))
    c_new = f * c + i * torch.tanh(gate(2))
    o = torch.sigmoid(gate(3) + (peep[2] * c_new if peep is not None else 0))
    return o * torch.tanh(c_new), c_new


@pytest.mark.parametrize("peepholes", [False, True])
def test_sequence_matches_a_loop_of_the_papers_equations(peepholes):
    C, F_, B, T, Hgt, Wid = 2, 3, 2, 4, 5, 6           # a non-square grid
    torch.manual_seed(2)
    model = ConvLSTM(C, F_, kernel_size=3, num_layers=2, peepholes=peepholes).double()
    x = randn(T, B, C, Hgt, Wid, seed=9, grad=True)
    out, (h_n, c_n) = model(x)
    assert out.shape == (T, B, F_, Hgt, Wid) and h_n.shape == (2, B, F_, Hgt, Wid)

    layer_input, expected_h, expected_c = x, [], []
    for cell in model.cells:
        h = c = torch.zeros(B, F_, Hgt, Wid, dtype=torch.float64)
        outputs = []
        for t in range(T):
            h, c = paper_step(layer_input[t], h, c, cell)
            outputs.append(h)
        layer_input = torch.stack(outputs)
        expected_h.append(h)
        expected_c.append(c)
    torch.testing.assert_close(out, layer_input, **TOL)
    torch.testing.assert_close(h_n, torch.stack(expected_h), **TOL)
    torch.testing.assert_close(c_n, torch.stack(expected_c), **TOL)
    # the gradients of a random loss agree too
    weights = randn(*out.shape, seed=10)
    ours = torch.autograd.grad((out * weights).sum(), [x, *model.parameters()])
    theirs = torch.autograd.grad((layer_input * weights).sum(), [x, *model.parameters()])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, **TOL)


def test_peepholes_change_the_output_and_are_off_by_default():
    assert ConvLSTMCell(1, 2, 3).peephole_weights is None
    torch.manual_seed(3)
    cell = ConvLSTMCell(1, 2, 3, peepholes=True).double()
    x, c = randn(1, 1, 4, 4, seed=11), randn(1, 2, 4, 4, seed=12)
    h = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        with_peep = cell(x, (h, c))[0]
        cell.peephole_weights.zero_()
        without = cell(x, (h, c))[0]
        x_proj = cell.project_input(x)
        torch.testing.assert_close(without, conv_lstm_step(x_proj, h, c, cell.weight_hh)[0])
    assert (with_peep - without).abs().max() > 1e-3


def test_receptive_field_grows_by_half_a_kernel_per_step():
    """A change in one input pixel at t=0 reaches H_t only within t * (k // 2) pixels."""
    torch.manual_seed(4)
    model = ConvLSTM(1, 2, kernel_size=3).double()
    x = randn(3, 1, 1, 11, 11, seed=13)
    changed = x.clone()
    changed[0, 0, 0, 5, 5] += 1.0
    with torch.no_grad():
        diff = (model(x)[0] - model(changed)[0]).abs().amax(dim=(1, 2))   # (T, H, W)
    for t in range(3):
        reached = (diff[t] > 0).nonzero()
        assert reached[:, 0].min() == 5 - (t + 1) and reached[:, 0].max() == 5 + (t + 1)
        assert reached[:, 1].min() == 5 - (t + 1) and reached[:, 1].max() == 5 + (t + 1)


def test_running_in_two_halves_with_the_state_equals_one_run():
    torch.manual_seed(5)
    model = ConvLSTM(1, 2, kernel_size=3, num_layers=2).double()
    x = randn(6, 2, 1, 5, 5, seed=14)
    with torch.no_grad():
        whole, (h_n, c_n) = model(x)
        first, state = model(x[:3])
        second, (h2, c2) = model(x[3:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole, **TOL)
    torch.testing.assert_close(h2, h_n, **TOL)
    torch.testing.assert_close(c2, c_n, **TOL)


def test_gradcheck_tiny():
    torch.manual_seed(6)
    model = ConvLSTM(1, 1, kernel_size=3, peepholes=True).double()
    x = randn(2, 1, 1, 3, 3, seed=15, grad=True)
    assert torch.autograd.gradcheck(lambda inp: model(inp)[0], (x,))


def test_float32_default_and_parameter_count():
    model = ConvLSTM(3, 8, kernel_size=5)
    assert model.cells[0].weight_ih.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == 4 * 8 * (3 + 8) * 25 + 2 * 4 * 8
    out, _ = model(torch.zeros(2, 1, 3, 7, 9))
    assert out.shape == (2, 1, 8, 7, 9)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size.*odd"):
        ConvLSTMCell(1, 2, 4)
    with pytest.raises(ValueError, match="hidden_channels"):
        ConvLSTMCell(1, 0, 3)
    with pytest.raises(TypeError, match="peepholes"):
        ConvLSTMCell(1, 2, 3, peepholes=1)
    with pytest.raises(ValueError, match="num_layers"):
        ConvLSTM(1, 2, 3, num_layers=0)


def test_bad_input():
    cell, model = ConvLSTMCell(2, 3, 3), ConvLSTM(2, 3, 3, num_layers=2)
    with pytest.raises(ValueError, match=r"input: expected shape \(B, 2, H, W\)"):
        cell(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="input: expected a 4-D"):
        cell(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r"hx\[1\]: expected shape \(1, 3, 4, 4\)"):
        cell(torch.zeros(1, 2, 4, 4), (torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5)))
    with pytest.raises(TypeError, match="hx: expected a tuple"):
        cell(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(TypeError, match="input: expected dtype torch.float32"):
        model(torch.zeros(2, 1, 2, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"input: expected shape \(T, B, 2, H, W\)"):
        model(torch.zeros(2, 1, 1, 4, 4))
    with pytest.raises(ValueError, match="input: expected a 5-D"):
        model(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(2, 1, 3, 4, 4\)"):
        model(torch.zeros(2, 1, 2, 4, 4), (torch.zeros(1, 1, 3, 4, 4), torch.zeros(2, 1, 3, 4, 4)))
