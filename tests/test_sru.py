"""course_pkg.nn.sru: SRU and SRU++ against plain step-by-step loops of the papers' equations
written here (float64), finite differences (gradcheck), the count of matrix products, speed
against the course LSTM, and bad input."""

import math

import pytest
import torch
from torch.profiler import profile

import course_pkg.nn as course_nn
from course_pkg.nn.sru import SRU, SRULayer, SRUpp, SRUppLayer

TOL = {"rtol": 1e-10, "atol": 1e-12}



def randn(*shape, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)


def sru_loop(x_steps_proj, x, layer, c):
    """Lei et al. (2018) eq. 3-7, one step at a time. ``x_steps_proj[t]`` is U_t (B, kH)."""
    H = layer.hidden_size
    alpha = math.sqrt(1 + 2 * math.exp(layer.highway_bias))
    outputs = []
    for t in range(x.shape[0]):
        u = x_steps_proj[t]
        x_tilde, wf_x, wr_x = u[:, :H], u[:, H:2 * H], u[:, 2 * H:3 * H]
        x_hat = x[t] if layer.input_size == H else u[:, 3 * H:]
        f = torch.sigmoid(wf_x + layer.v_f * c + layer.b_f)
        r = torch.sigmoid(wr_x + layer.v_r * c + layer.b_r)       # uses c_{t-1}
        c = f * c + (1 - f) * x_tilde
        outputs.append(r * c + (1 - r) * alpha * x_hat)
    return torch.stack(outputs), c


def reference_sru(model, x, c0):
    """The whole stack with per-step products x_t W^T (no product over all steps at once)."""
    finals, layer_input = [], x
    for k, layer in enumerate(model.layers):
        projections = [layer_input[t] @ layer.weight.T for t in range(x.shape[0])]
        layer_input, c = sru_loop(projections, layer_input, layer, c0[k])
        finals.append(c)
    return layer_input, torch.stack(finals)


@pytest.mark.parametrize("input_size, num_layers, highway_bias", [(4, 1, 0.0), (3, 2, -1.0),
                                                                  (6, 3, 0.5)])
def test_matches_the_papers_equations_step_by_step(input_size, num_layers, highway_bias):
    H, T, B = 4, 7, 3
    torch.manual_seed(0)
    model = SRU(input_size, H, num_layers, highway_bias=highway_bias).double()
    x = randn(T, B, input_size, seed=1, grad=True)
    c0 = randn(num_layers, B, H, seed=2, grad=True)
    out, c_n = model(x, c0)
    expected_out, expected_c = reference_sru(model, x, c0)
    assert out.shape == (T, B, H) and c_n.shape == (num_layers, B, H)
    torch.testing.assert_close(out, expected_out, **TOL)
    torch.testing.assert_close(c_n, expected_c, **TOL)
    w = randn(T, B, H, seed=3)
    wanted = [x, c0, *model.parameters()]
    ours = torch.autograd.grad((out * w).sum() + c_n.sum(), wanted)
    theirs = torch.autograd.grad((expected_out * w).sum() + expected_c.sum(), wanted)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, **TOL)


def test_highway_scale_and_initialisation_follow_the_paper():
    torch.manual_seed(1)
    layer = SRULayer(50, 40, highway_bias=-2.0)
    assert layer.highway_scale == pytest.approx(math.sqrt(1 + 2 * math.exp(-2.0)))
    assert SRULayer(4, 4).highway_scale == pytest.approx(math.sqrt(3))
    assert layer.weight.shape == (4 * 40, 50)                   # a projection of x: D != H
    assert SRULayer(4, 4).weight.shape == (3 * 4, 4)
    W = layer.weight.detach()
    bound = math.sqrt(3 / 50)
    assert W[:40].abs().max() <= bound and W[:40].abs().max() > 0.9 * bound
    assert W[40:120].abs().max() <= bound * math.sqrt(0.5)      # gate rows scaled by sqrt(1/2)
    assert W[120:].abs().max() > 0.9 * bound
    assert layer.v_f.abs().max() <= math.sqrt(1.5)
    assert torch.all(layer.b_f == 0) and torch.all(layer.b_r == -2.0)


def test_zero_v_makes_the_gates_independent_of_the_state():
    """With v_f = v_r = 0 and b = 0, f_t = sigmoid(W_f x_t): a hand-checkable single step."""
    torch.manual_seed(2)
    layer = SRULayer(2, 2).double()
    with torch.no_grad():
        layer.v_f.zero_()
        layer.v_r.zero_()
        layer.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0]],
                                        dtype=torch.float64))
    x = torch.tensor([[[2.0, -1.0]]], dtype=torch.float64)      # T = B = 1
    h, c = layer(x, torch.tensor([[4.0, 6.0]], dtype=torch.float64))
    # f = r = sigmoid(0) = 1/2: c = (c0 + x~) / 2, h = (c + sqrt(3) x) / 2
    torch.testing.assert_close(c, torch.tensor([[3.0, 2.5]], dtype=torch.float64))
    expected_h = (torch.tensor([3.0, 2.5]) + math.sqrt(3) * torch.tensor([2.0, -1.0])) / 2
    torch.testing.assert_close(h[0, 0], expected_h.double())


def count_matrix_products(fn):
    with profile() as prof:
        fn()
    products = ("aten::mm", "aten::addmm", "aten::bmm", "mkldnn::_linear_pointwise")
    return sum(1 for e in prof.events() if e.name in products)


def test_one_matrix_product_per_layer_for_all_steps():
    torch.manual_seed(3)
    x = torch.randn(20, 2, 5)
    with torch.no_grad():
        assert count_matrix_products(lambda: SRU(5, 5, num_layers=2)(x)) == 2
        assert count_matrix_products(lambda: SRU(5, 3, num_layers=3)(x)) == 3
        # the LSTM: one input product, then one product with W_hh per step, on either path
        lstm = course_nn.LSTM(5, 5)
        assert count_matrix_products(lambda: lstm(x)) == 21
        lstm.fused = False
        assert count_matrix_products(lambda: lstm(x)) == 21


def test_gradcheck_tiny():
    torch.manual_seed(4)
    model = SRU(2, 3, num_layers=2).double()
    x, c0 = randn(3, 2, 2, seed=5, grad=True), randn(2, 2, 3, seed=6, grad=True)
    assert torch.autograd.gradcheck(lambda a, b: model(a, b)[0], (x, c0))
    attention = SRUpp(3, 3, attention_size=2).double()
    with torch.no_grad():
        attention.layers[0].attention_scale.fill_(0.8)
    assert torch.autograd.gradcheck(lambda a: attention(a)[0], (randn(4, 2, 3, seed=7, grad=True),))


def attention_loop(layer, x):
    """SRU++'s projections (single head), one query step at a time."""
    q = x @ layer.query.weight.T                                 # (T, B, d')
    kv = q @ layer.key_value.weight.T
    d = layer.attention_size
    k, v = kv[..., :d], kv[..., d:]
    rows = []
    for t in range(x.shape[0]):
        visible = t + 1 if layer.causal else x.shape[0]
        scores = torch.einsum("bd,sbd->bs", q[t], k[:visible]) / math.sqrt(d)
        a = torch.einsum("bs,sbd->bd", torch.softmax(scores, dim=1), v[:visible])
        z = q[t] + layer.attention_scale * a
        z = (z - z.mean(-1, keepdim=True)) / torch.sqrt(z.var(-1, unbiased=False, keepdim=True)
                                                         + layer.norm.eps)
        z = z * layer.norm.weight + layer.norm.bias
        rows.append(z @ layer.output.weight.T)
    return rows


@pytest.mark.parametrize("causal, input_size", [(True, 4), (False, 4), (True, 5)])
def test_srupp_matches_a_loop_of_attention_then_the_recurrence(causal, input_size):
    H, T, B = 4, 5, 2
    torch.manual_seed(5)
    model = SRUpp(input_size, H, num_layers=2, attention_size=3, causal=causal).double()
    with torch.no_grad():
        for k, layer in enumerate(model.layers):
            layer.attention_scale.fill_(0.5 + k)                  # attention switched on
            layer.norm.weight.uniform_(0.5, 1.5)
            layer.norm.bias.uniform_(-0.2, 0.2)
    x = randn(T, B, input_size, seed=8, grad=True)
    out, c_n = model(x)
    layer_input, finals = x, []
    for layer in model.layers:
        layer_input, c = sru_loop(attention_loop(layer, layer_input), layer_input, layer,
                                  torch.zeros(B, H, dtype=torch.float64))
        finals.append(c)
    torch.testing.assert_close(out, layer_input, **TOL)
    torch.testing.assert_close(c_n, torch.stack(finals), **TOL)
    ours = torch.autograd.grad(out.sum(), [x, *model.parameters()])
    theirs = torch.autograd.grad(layer_input.sum(), [x, *model.parameters()])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, **TOL)


def test_causal_srupp_ignores_the_future_and_non_causal_does_not():
    x = randn(6, 2, 4, seed=9)
    changed = x.clone()
    changed[4:] += 1.0
    for causal in (True, False):
        torch.manual_seed(6)
        model = SRUpp(4, 4, attention_size=3, causal=causal).double()
        with torch.no_grad():
            model.layers[0].attention_scale.fill_(1.0)
            gap = (model(x)[0][:4] - model(changed)[0][:4]).abs().max().item()
        assert (gap == 0.0) if causal else (gap > 1e-4)


@pytest.mark.parametrize("make", [lambda: SRU(2, 16, num_layers=2),
                                  lambda: SRUpp(2, 16, attention_size=8)])
def test_can_overfit_a_tiny_batch(make):
    """Running sum of the first input (many-to-many regression) on 8 fixed sequences."""
    torch.manual_seed(7)
    model, head = make(), torch.nn.Linear(16, 1)
    x = torch.randn(10, 8, 2)
    target = x[..., :1].cumsum(0) / 3                              # (T, B, 1)
    params = [*model.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    for _ in range(300):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(head(model(x)[0]), target)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01 * target.var().item()


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="num_layers"):
        SRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="hidden_size"):
        SRU(3, 0)
    with pytest.raises(TypeError, match="highway_bias"):
        SRU(3, 4, highway_bias="high")
    with pytest.raises(ValueError, match="attention_size"):
        SRUppLayer(3, 4, attention_size=0)
    with pytest.raises(TypeError, match="causal"):
        SRUpp(3, 4, causal=1)
    model = SRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 3\)"):
        model(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="x: expected a 3-D"):
        model(torch.zeros(5, 3))
    with pytest.raises(TypeError, match="x: expected dtype torch.float32"):
        model(torch.zeros(5, 2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="x: expected a floating-point dtype"):
        model(torch.zeros(5, 2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="x: expected at least one step"):
        model(torch.zeros(0, 2, 3))
    with pytest.raises(ValueError, match=r"c0: expected shape \(2, 2, 4\)"):
        model(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))
