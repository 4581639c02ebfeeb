"""The LSTM's fast path (course_pkg.nn.fused_lstm) against outside references.

- `fused_lstm_layer`, the hand-written forward and backward of one layer and direction, against
  torch.nn.LSTM's outputs and autograd gradients on the same weights (float64 below 1e-10,
  float32 below 1e-5, relative error max|ours - torch| / max|torch|), and against centred
  finite differences (torch.autograd.gradcheck, float64).
- `matmul_nt` (oneDNN's GEMM where available) against a float64 product.
- course_pkg.nn.LSTM on float32 CPU batches, which takes the fast path, against torch.nn.LSTM
  for 1-3 layers, both directions, batch_first, bias, dropout in eval mode and packed batches
  of equal lengths; and the cases that must take the step-by-step path instead.
"""

import random

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import course_pkg.nn as course_nn
from course_pkg.nn import fused_lstm
from course_pkg.nn.fused_lstm import fused_lstm_layer, matmul_nt, pack_right_factor

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def relative_error(actual, expected) -> float:
    return ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30)).item()


def torch_layer(dtype, seed, input_size, hidden_size, bias=True):
    """A one-layer bidirectional torch.nn.LSTM: direction 0 and 1 give both kinds of weights."""
    torch.manual_seed(seed)
    return torch.nn.LSTM(input_size, hidden_size, bias=bias, bidirectional=True).to(dtype)


def layer_weights(module, reverse):
    suffix = "_l0_reverse" if reverse else "_l0"
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if module.bias else [])
    return [getattr(module, name + suffix) for name in names]


LAYER_CASES = [dict(dtype=dtype, reverse=reverse, bias=bias, seed=seed,
                    steps=random.Random(seed).randint(1, 7),
                    batch=random.Random(seed + 1).randint(1, 4),
                    input_size=random.Random(seed + 2).randint(1, 6),
                    hidden_size=random.Random(seed + 3).randint(1, 6))
               for seed, (dtype, reverse, bias) in enumerate(
                   (d, r, b) for d in (torch.float64, torch.float32)
                   for r in (False, True) for b in (True, False) for _ in range(3))]


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: (
    f"{str(c['dtype'])[6:]}-{'rev' if c['reverse'] else 'fwd'}-"
    f"{'bias' if c['bias'] else 'nobias'}-T{c['steps']}B{c['batch']}"))
def test_layer_matches_torch_outputs_and_every_gradient(case):
    dtype, reverse, tol = case["dtype"], case["reverse"], TOLERANCE[case["dtype"]]
    T, B, D, H = case["steps"], case["batch"], case["input_size"], case["hidden_size"]
    module = torch_layer(dtype, case["seed"], D, H, bias=case["bias"])
    k = 1 if reverse else 0
    x = torch.randn(T, B, D, dtype=dtype, requires_grad=True)
    h0 = torch.randn(2, B, H, dtype=dtype, requires_grad=True)
    c0 = torch.randn(2, B, H, dtype=dtype, requires_grad=True)
    out, (h_n, c_n) = module(x, (h0, c0))
    expected = (out[..., k * H:(k + 1) * H], h_n[k], c_n[k])        # this direction's part

    weights = layer_weights(module, reverse)
    bias = weights[2] + weights[3] if case["bias"] else None
    actual = fused_lstm_layer(x, h0[k], c0[k], weights[0], weights[1], bias, reverse)
    for ours, theirs in zip(actual, expected):
        assert relative_error(ours, theirs) < tol

    loss_weights = [torch.randn_like(t) for t in expected]
    leaves = [x, h0, c0] + weights

    def gradients(outputs):
        loss = sum((w * t).sum() for w, t in zip(loss_weights, outputs))
        return torch.autograd.grad(loss, leaves, allow_unused=True)

    for name, ours, theirs in zip(["x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih",
                                   "bias_hh"], gradients(actual), gradients(expected)):
        assert ours is not None, name
        assert relative_error(ours, theirs) < tol, name


@pytest.mark.parametrize("reverse", [False, True])
def test_layer_gradients_match_finite_differences(reverse):
    torch.manual_seed(3)
    T, B, D, H = 4, 2, 3, 2
    args = [torch.randn(T, B, D), torch.randn(B, H), torch.randn(B, H),
            torch.randn(4 * H, D) * 0.5, torch.randn(4 * H, H) * 0.5, torch.randn(4 * H)]
    args = [a.double().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(
        lambda *a: fused_lstm_layer(*a, reverse=reverse), args, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_only_the_gradients_asked_for_are_computed_and_they_are_right():
    module = torch_layer(torch.float32, 0, 5, 4)
    weights = [w.detach() for w in layer_weights(module, False)]   # frozen weights
    x = torch.randn(6, 3, 5, requires_grad=True)
    h0 = torch.zeros(2, 3, 4)
    out, _, _ = fused_lstm_layer(x, h0[0], h0[0], weights[0], weights[1],
                                 weights[2] + weights[3])
    (grad_ours,) = torch.autograd.grad(out.sum(), [x])
    (grad_torch,) = torch.autograd.grad(module(x, (h0, h0))[0][..., :4].sum(), [x])
    assert relative_error(grad_ours, grad_torch) < 1e-5


def test_a_retained_graph_gives_the_same_gradients_twice():
    module = torch_layer(torch.float32, 1, 3, 4)
    weights = layer_weights(module, False)
    x = torch.randn(5, 2, 3, requires_grad=True)
    h0 = torch.zeros(2, 4)
    out, _, _ = fused_lstm_layer(x, h0, h0, weights[0], weights[1], weights[2] + weights[3])
    first = torch.autograd.grad(out.sum(), [x], retain_graph=True)[0]
    second = torch.autograd.grad(out.sum(), [x])[0]
    assert torch.equal(first, second)


def test_double_backward_is_refused_with_a_clear_error():
    weights = layer_weights(torch_layer(torch.float32, 2, 3, 4), False)
    x = torch.randn(5, 2, 3, requires_grad=True)
    h0 = torch.zeros(2, 4)
    out, _, _ = fused_lstm_layer(x, h0, h0, weights[0], weights[1], None)
    # a gradient penalty's first step: the gradient carries no graph, so it cannot be
    # differentiated again by mistake (torch says "does not require grad")
    (grad_x,) = torch.autograd.grad(out.sum(), [x], create_graph=True, retain_graph=True)
    assert not grad_x.requires_grad
    # differentiating through the backward pass itself is refused by name
    upstream = torch.ones_like(out, requires_grad=True)
    (grad_x,) = torch.autograd.grad(out, [x], grad_outputs=upstream, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad_x.sum().backward()


def test_without_onednn_the_layer_falls_back_to_matmul_and_still_matches_torch(monkeypatch):
    monkeypatch.setattr(fused_lstm, "_onednn_checked", False)
    module = torch_layer(torch.float32, 4, 3, 5)
    x = torch.randn(6, 2, 3)
    h0 = torch.zeros(2, 2, 5)
    weights = layer_weights(module, True)
    out, _, _ = fused_lstm_layer(x, h0[1], h0[1], weights[0], weights[1],
                                 weights[2] + weights[3], reverse=True)
    assert relative_error(out, module(x, (h0, h0))[0][..., 5:]) < 1e-5


# ----------------------------------------------------------------------------------------------
# the matrix product
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("transpose_a,transpose_b,packed", [
    (False, False, False), (True, False, False), (False, True, False), (True, True, False),
    (False, False, True), (False, True, True)])
def test_matmul_nt_matches_a_float64_product(transpose_a, transpose_b, packed):
    torch.manual_seed(5)
    a = torch.randn(33, 17).t() if transpose_a else torch.randn(17, 33)       # (17, 33)
    b = torch.randn(33, 9).t() if transpose_b else torch.randn(9, 33)         # (9, 33)
    expected = a.double() @ b.double().t()
    right = pack_right_factor(b, rows=17) if packed else b
    assert relative_error(matmul_nt(a, right).double(), expected) < 1e-6


def test_matmul_nt_keeps_float64_exact():
    a, b = torch.randn(4, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    assert pack_right_factor(b, 4) is b
    assert torch.equal(matmul_nt(a, b), a @ b.t())


# ----------------------------------------------------------------------------------------------
# course_pkg.nn.LSTM on its fast path
# ----------------------------------------------------------------------------------------------
MODULE_CASES = [dict(seed=seed, num_layers=rng.randint(1, 3), bidirectional=rng.random() < 0.5,
                     batch_first=rng.random() < 0.5, bias=rng.random() < 0.7,
                     dropout=rng.choice([0.0, 0.3]), steps=rng.randint(1, 8),
                     batch=rng.randint(1, 5), input_size=rng.randint(1, 6),
                     hidden_size=rng.randint(1, 6), packed=rng.random() < 0.25)
                for seed, rng in ((s, random.Random(500 + s)) for s in range(16))]


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda c: (
    f"L{c['num_layers']}-{'bi' if c['bidirectional'] else 'uni'}-"
    f"{'bf' if c['batch_first'] else 'tm'}-{'packed' if c['packed'] else 'padded'}"))
def test_float32_module_matches_torch_and_uses_the_fast_path(case):
    kwargs = {k: case[k] for k in ("num_layers", "bidirectional", "batch_first", "bias",
                                   "dropout", "input_size", "hidden_size")}
    if case["num_layers"] == 1:
        kwargs["dropout"] = 0.0
    torch.manual_seed(case["seed"])
    reference = torch.nn.LSTM(**kwargs).eval()              # dropout off, as in evaluation
    course = course_nn.LSTM(**kwargs).eval()
    course.load_state_dict(reference.state_dict())
    T, B = case["steps"], case["batch"]
    shape = (B, T, case["input_size"]) if case["batch_first"] else (T, B, case["input_size"])
    x = torch.randn(shape, requires_grad=True)
    stacked = case["num_layers"] * (2 if case["bidirectional"] else 1)
    h0 = torch.randn(stacked, B, case["hidden_size"], requires_grad=True)
    c0 = torch.randn(stacked, B, case["hidden_size"], requires_grad=True)

    def run(module):
        inputs = (pack_padded_sequence(x, torch.full((B,), T), batch_first=case["batch_first"])
                  if case["packed"] else x)
        out, (h_n, c_n) = module(inputs, (h0, c0))
        out = out.data if case["packed"] else out
        loss = (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum() \
            + (h_n * 0.5).sum() - c_n.sum()
        grads = torch.autograd.grad(loss, [x, h0, c0] + list(module.parameters()))
        return [out, h_n, c_n, *grads], out.grad_fn

    ours, grad_fn = run(course)
    theirs, _ = run(reference)
    for a, b in zip(ours, theirs):
        assert relative_error(a, b) < 1e-5
    assert "FusedLSTMLayer" in repr(autograd_nodes(grad_fn))


def autograd_nodes(grad_fn, limit=200) -> list[str]:
    """Names of the autograd graph's nodes reachable from ``grad_fn`` (breadth first)."""
    names, frontier, seen = [], [grad_fn], set()
    while frontier and len(names) < limit:
        node = frontier.pop(0)
        if node is None or node in seen:
            continue
        seen.add(node)
        names.append(type(node).__name__)
        frontier.extend(parent for parent, _ in node.next_functions)
    return names


@pytest.mark.parametrize("setting", ["float64", "fused off", "unequal lengths"])
def test_the_step_by_step_path_is_taken_where_the_fast_path_does_not_apply(setting):
    module = course_nn.LSTM(3, 4)
    x = torch.randn(5, 2, 3, requires_grad=True)
    if setting == "float64":
        module, x = module.double(), x.double()
    elif setting == "fused off":
        module.fused = False
    elif setting == "unequal lengths":
        x = pack_padded_sequence(x, torch.tensor([5, 3]))
    out = module(x)[0]
    nodes = autograd_nodes((out.data if setting == "unequal lengths" else out).grad_fn)
    assert not any("FusedLSTMLayer" in name for name in nodes)
    assert any("Addmm" in name for name in nodes)
