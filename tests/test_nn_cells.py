"""course_pkg.nn.RNNCell / LSTMCell / GRUCell against torch.nn's cells (the outside reference).

Same weights (state_dict loaded from torch), same input and state: the new state and the
gradients with respect to the input, the state and every parameter agree to 1e-10 (float64)
and 1e-5 (float32) relative error. Then the step functions through ablations: gates forced
fully open or shut, so that one term alone decides the result and a failure names it.
"""

import itertools

import pytest
import torch

import course_pkg.nn as course_nn
from course_pkg.nn.cells import gru_step, lstm_step

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
CELLS = ["RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"]


def relative_error(actual, expected):
    return (actual - expected).abs().max().item() / max(expected.abs().max().item(), 1e-30)


def build_pair(cell, dtype, seed, **kwargs):
    name, _, nonlinearity = cell.partition("-")
    if nonlinearity:
        kwargs["nonlinearity"] = nonlinearity
    torch.manual_seed(seed)
    reference = getattr(torch.nn, name)(**kwargs).to(dtype)
    course = getattr(course_nn, name)(**kwargs).to(dtype)
    course.load_state_dict(reference.state_dict())
    return reference, course


CASES = list(itertools.product(CELLS, [torch.float64, torch.float32], [True, False],
                               ["given", "none"], [True, False]))


@pytest.mark.parametrize("cell,dtype,batched,state,bias", CASES)
def test_cell_matches_torch_cell(cell, dtype, batched, state, bias):
    seed = CASES.index((cell, dtype, batched, state, bias))
    reference, course = build_pair(cell, dtype, seed, input_size=3, hidden_size=5, bias=bias)
    gen = torch.Generator().manual_seed(seed)
    lead = (4,) if batched else ()
    x = torch.randn(lead + (3,), generator=gen, dtype=dtype, requires_grad=True)
    num_states = 2 if cell == "LSTMCell" else 1
    states = [torch.randn(lead + (5,), generator=gen, dtype=dtype, requires_grad=True)
              for _ in range(num_states)] if state == "given" else []
    hx = None if not states else (tuple(states) if num_states == 2 else states[0])
    weights = [torch.randn(lead + (5,), generator=gen, dtype=dtype) for _ in range(num_states)]

    results = []
    for module in (reference, course):
        new = module(x, hx)
        new = list(new) if num_states == 2 else [new]
        loss = sum((w * t).sum() for w, t in zip(weights, new))
        grads = torch.autograd.grad(loss, [x] + states + list(module.parameters()))
        results.append((new, grads))
    (ref_new, ref_grads), (new, grads) = results
    for got, want in zip(new + list(grads), ref_new + list(ref_grads)):
        assert got.shape == want.shape
        assert relative_error(got, want) < TOLERANCE[dtype]


def test_lstm_step_gate_ablation():
    """Open one gate at a time with large pre-activations and check the named term alone."""
    H, big = 3, 50.0
    h, c = torch.zeros(2, H, dtype=torch.float64), torch.full((2, H), 0.5, dtype=torch.float64)
    w_hh = torch.zeros(4 * H, H, dtype=torch.float64)
    g_value = 0.3
    g_pre = torch.atanh(torch.tensor(g_value, dtype=torch.float64))

    def pre(i, f, o):                              # x_proj with the given gate pre-activations
        blocks = [torch.full((2, H), v, dtype=torch.float64) for v in (i, f, g_pre, o)]
        return torch.cat(blocks, dim=1)

    # forget open, input closed: c' = c (the conveyor belt)
    _, c_new = lstm_step(pre(-big, big, big), h, c, w_hh)
    assert torch.allclose(c_new, c), "with f=1, i=0 the cell state must pass unchanged"
    # forget closed, input open: c' = g
    _, c_new = lstm_step(pre(big, -big, big), h, c, w_hh)
    assert torch.allclose(c_new, torch.full_like(c, g_value)), "with f=0, i=1: c' = g"
    # output closed: h' = 0 whatever the cell
    h_new, _ = lstm_step(pre(big, big, -big), h, c, w_hh)
    assert torch.allclose(h_new, torch.zeros_like(h), atol=1e-15), "with o=0: h' = 0"


def test_gru_step_update_gate_convention():
    """PyTorch's convention: z near 1 keeps the old state, z near 0 takes the candidate."""
    H, big = 3, 50.0
    h = torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64)
    w_hh = torch.zeros(3 * H, H, dtype=torch.float64)
    f64 = {"dtype": torch.float64}
    n_pre = torch.full((1, H), 0.2, **f64)
    keep = torch.cat([torch.zeros(1, H, **f64), torch.full((1, H), big, **f64), n_pre], 1)
    take = torch.cat([torch.zeros(1, H, **f64), torch.full((1, H), -big, **f64), n_pre], 1)
    assert torch.allclose(gru_step(keep, h, w_hh, None), h), "z=1 must keep the old state"
    assert torch.allclose(gru_step(take, h, w_hh, None), torch.tanh(n_pre)), \
        "z=0 must take the candidate n"


def test_gru_reset_gate_multiplies_the_recurrent_bias():
    """n = tanh(x_n + r * (W_hn h + b_hn)): with r = 0 the bias b_hn must vanish too."""
    H, big, f64 = 2, 60.0, {"dtype": torch.float64}
    h = torch.zeros(1, H, **f64)
    w_hh = torch.zeros(3 * H, H, **f64)
    b_hh = torch.cat([torch.zeros(2 * H, **f64), torch.full((H,), 5.0, **f64)])
    x_proj = torch.cat([torch.full((1, H), -big, **f64), torch.full((1, H), -big, **f64),
                        torch.zeros(1, H, **f64)], 1)          # r = 0, z = 0, x_n = 0
    assert torch.allclose(gru_step(x_proj, h, w_hh, b_hh), torch.zeros(1, H, **f64)), \
        "the reset gate must multiply b_hn as well as W_hn h"
