"""course_pkg.numpy_rnn against PyTorch: torch.nn.RNN/LSTM/GRU (and the *Cell modules) loaded with
the same weights, gradients from torch autograd. float64, relative error < 1e-9."""

import numpy as np
import pytest
import torch

from course_pkg.numpy_rnn import (
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    relative_error,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

TOLERANCE = 1e-9
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
KINDS = tuple(GATES)
# (T, B, D, H): includes T = 1 and B = 1, D < H and D > H.
CONFIGS = [(1, 1, 1, 1), (1, 3, 4, 2), (6, 1, 3, 5), (4, 2, 5, 3), (9, 3, 2, 4)]


def make_problem(kind, T, B, D, H, seed):
    """Seeded weights, inputs, initial states and upstream gradients (numpy, float64)."""
    rng = np.random.default_rng(seed)
    G = GATES[kind]
    params = {"weight_ih": rng.normal(0, 0.6, (G * H, D)),
              "weight_hh": rng.normal(0, 0.6, (G * H, H)),
              "bias_ih": rng.normal(0, 0.3, G * H), "bias_hh": rng.normal(0, 0.3, G * H)}
    data = {"x": rng.standard_normal((T, B, D)), "h0": rng.normal(0, 0.5, (B, H)),
            "c0": rng.normal(0, 0.5, (B, H)), "dout": rng.standard_normal((T, B, H)),
            "dh_n": rng.standard_normal((B, H)), "dc_n": rng.standard_normal((B, H))}
    return params, data


def torch_module(kind, D, H, params, cell=False):
    """A torch.nn module of the right kind holding ``params`` (float64)."""
    if kind == "lstm":
        module = (torch.nn.LSTMCell if cell else torch.nn.LSTM)(D, H)
    elif kind == "gru":
        module = (torch.nn.GRUCell if cell else torch.nn.GRU)(D, H)
    else:
        nonlinearity = kind.split("_")[1]
        module = (torch.nn.RNNCell if cell else torch.nn.RNN)(D, H, nonlinearity=nonlinearity)
    module = module.double()
    suffix = "" if cell else "_l0"
    module.load_state_dict({name + suffix: torch.tensor(params[name]) for name in PARAM_NAMES})
    return module, suffix


def torch_sequence(kind, params, data, use_dout=True, use_dh=True, use_dc=True):
    """Outputs and autograd gradients of sum(dout*out) + sum(dh_n*h_n) [+ sum(dc_n*c_n)]."""
    T, B, D = data["x"].shape
    H = data["h0"].shape[1]
    module, suffix = torch_module(kind, D, H, params)
    x = torch.tensor(data["x"], requires_grad=True)
    h0 = torch.tensor(data["h0"], requires_grad=True)
    c0 = torch.tensor(data["c0"], requires_grad=True)
    if kind == "lstm":
        out, (h_n, c_n) = module(x, (h0[None], c0[None]))
        outputs = {"out": out, "h_n": h_n[0], "c_n": c_n[0]}
    else:
        out, h_n = module(x, h0[None])
        outputs = {"out": out, "h_n": h_n[0]}
    loss = 0 * out.sum()
    if use_dout:
        loss = loss + (out * torch.tensor(data["dout"])).sum()
    if use_dh:
        loss = loss + (outputs["h_n"] * torch.tensor(data["dh_n"])).sum()
    if kind == "lstm" and use_dc:
        loss = loss + (outputs["c_n"] * torch.tensor(data["dc_n"])).sum()
    loss.backward()
    grads = {"x": x.grad, "h0": h0.grad, **({"c0": c0.grad} if kind == "lstm" else {})}
    grads.update({name: getattr(module, name + suffix).grad for name in PARAM_NAMES})
    as_numpy = lambda d: {k: v.detach().numpy() for k, v in d.items()}  # noqa: E731
    return as_numpy(outputs), as_numpy(grads)


def numpy_sequence(kind, params, data, use_dout=True, use_dh=True, use_dc=True):
    """The same through course_pkg.numpy_rnn; None for the unused upstream gradients."""
    dout = data["dout"] if use_dout else None
    dh_n = data["dh_n"] if use_dh else None
    if kind == "lstm":
        out, (h_n, c_n), cache = lstm_forward(data["x"], data["h0"], data["c0"], **params)
        grads = lstm_backward(dout, dh_n, data["dc_n"] if use_dc else None, cache)
        return {"out": out, "h_n": h_n, "c_n": c_n}, grads
    if kind == "gru":
        out, h_n, cache = gru_forward(data["x"], data["h0"], **params)
        return {"out": out, "h_n": h_n}, gru_backward(dout, dh_n, cache)
    nonlinearity = kind.split("_")[1]
    out, h_n, cache = rnn_forward(data["x"], data["h0"], **params, nonlinearity=nonlinearity)
    return {"out": out, "h_n": h_n}, rnn_backward(dout, dh_n, cache)


def assert_all_close(ours, reference, what):
    assert set(ours) == set(reference), f"{what}: keys {sorted(ours)} != {sorted(reference)}"
    for name in reference:
        assert ours[name].shape == reference[name].shape, (
            f"{what} {name}: shape {ours[name].shape}, expected {reference[name].shape}")
        error = relative_error(ours[name], reference[name])
        assert error < TOLERANCE, f"{what} {name}: relative error {error:.2e} vs torch"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T,B,D,H", CONFIGS)
def test_sequence_matches_torch(kind, T, B, D, H):
    params, data = make_problem(kind, T, B, D, H, seed=T * 1000 + B * 100 + D * 10 + H)
    ours_out, ours_grads = numpy_sequence(kind, params, data)
    torch_out, torch_grads = torch_sequence(kind, params, data)
    assert_all_close(ours_out, torch_out, f"{kind} forward")
    assert_all_close(ours_grads, torch_grads, f"{kind} gradient of")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("use_dout,use_dh,use_dc", [(False, True, True), (True, False, False),
                                                    (False, False, True), (True, True, False)])
def test_missing_upstream_gradients_are_zeros(kind, use_dout, use_dh, use_dc):
    params, data = make_problem(kind, 5, 2, 3, 4, seed=7)
    flags = dict(use_dout=use_dout, use_dh=use_dh, use_dc=use_dc)
    _, ours = numpy_sequence(kind, params, data, **flags)
    _, reference = torch_sequence(kind, params, data, **flags)
    assert_all_close(ours, reference, f"{kind} {flags} gradient of")


@pytest.mark.parametrize("kind", KINDS)
def test_no_upstream_gradient_gives_zero_gradients(kind):
    params, data = make_problem(kind, 3, 2, 3, 2, seed=3)
    _, grads = numpy_sequence(kind, params, data, use_dout=False, use_dh=False, use_dc=False)
    for name, grad in grads.items():
        assert not np.any(grad), f"{kind}: gradient of {name} should be zero without a loss"


def numpy_step(kind, params, x_t, h_prev, c_prev, dh_t, dc_t):
    """One step forward and backward; returns (outputs, gradients) keyed like torch_step."""
    names = ["x", "h0"] + (["c0"] if kind == "lstm" else []) + list(PARAM_NAMES)
    if kind == "lstm":
        h_t, c_t, cache = lstm_step_forward(x_t, h_prev, c_prev, **params)
        return {"h_t": h_t, "c_t": c_t}, dict(zip(names, lstm_step_backward(dh_t, dc_t, cache)))
    if kind == "gru":
        h_t, cache = gru_step_forward(x_t, h_prev, **params)
        return {"h_t": h_t}, dict(zip(names, gru_step_backward(dh_t, cache)))
    h_t, cache = rnn_step_forward(x_t, h_prev, **params, nonlinearity=kind.split("_")[1])
    return {"h_t": h_t}, dict(zip(names, rnn_step_backward(dh_t, cache)))


def torch_step(kind, params, x_t, h_prev, c_prev, dh_t, dc_t):
    module, _ = torch_module(kind, x_t.shape[1], h_prev.shape[1], params, cell=True)
    x = torch.tensor(x_t, requires_grad=True)
    h = torch.tensor(h_prev, requires_grad=True)
    c = torch.tensor(c_prev, requires_grad=True)
    if kind == "lstm":
        h_t, c_t = module(x, (h, c))
        outputs = {"h_t": h_t, "c_t": c_t}
        loss = (h_t * torch.tensor(dh_t)).sum() + (c_t * torch.tensor(dc_t)).sum()
    else:
        h_t = module(x, h)
        outputs = {"h_t": h_t}
        loss = (h_t * torch.tensor(dh_t)).sum()
    loss.backward()
    grads = {"x": x.grad, "h0": h.grad, **({"c0": c.grad} if kind == "lstm" else {})}
    grads.update({name: getattr(module, name).grad for name in PARAM_NAMES})
    return ({k: v.detach().numpy() for k, v in outputs.items()},
            {k: v.numpy() for k, v in grads.items()})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("B,D,H", [(1, 1, 1), (3, 4, 2), (2, 3, 5)])
def test_step_matches_torch_cell(kind, B, D, H):
    params, data = make_problem(kind, 1, B, D, H, seed=B * 100 + D * 10 + H)
    step_args = (params, data["x"][0], data["h0"], data["c0"], data["dh_n"], data["dc_n"])
    ours_out, ours_grads = numpy_step(kind, *step_args)
    torch_out, torch_grads = torch_step(kind, *step_args)
    assert_all_close(ours_out, torch_out, f"{kind} step forward")
    assert_all_close(ours_grads, torch_grads, f"{kind} step gradient of")


@pytest.mark.parametrize("kind", KINDS)
def test_float32_in_float32_out(kind):
    params, data = make_problem(kind, 6, 3, 4, 5, seed=11)
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    data32 = {k: v.astype(np.float32) for k, v in data.items()}
    ours_out, ours_grads = numpy_sequence(kind, params32, data32)
    torch_out, torch_grads = torch_sequence(kind, params, data)  # float64 reference
    for name, value in {**ours_out, **ours_grads}.items():
        assert value.dtype == np.float32, f"{kind} {name}: dtype {value.dtype}, expected float32"
    for name in torch_out:
        assert relative_error(ours_out[name], torch_out[name]) < 1e-5, f"{kind} {name}"
    for name in torch_grads:
        assert relative_error(ours_grads[name], torch_grads[name]) < 1e-5, f"{kind} d{name}"


@pytest.mark.parametrize("kind", KINDS)
def test_float32_step_stays_float32(kind):
    params, data = make_problem(kind, 1, 2, 3, 4, seed=5)
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    data32 = {k: v.astype(np.float32) for k, v in data.items()}
    outputs, grads = numpy_step(kind, params32, data32["x"][0], data32["h0"], data32["c0"],
                                data32["dh_n"], data32["dc_n"])
    for name, value in {**outputs, **grads}.items():
        assert value.dtype == np.float32, f"{kind} step {name}: dtype {value.dtype}"


def test_non_contiguous_input_view():
    """A batch-major array transposed to time-major (a strided view) works like a copy."""
    params, data = make_problem("lstm", 5, 3, 4, 2, seed=13)
    data["x"] = np.ascontiguousarray(data["x"].transpose(1, 0, 2)).transpose(1, 0, 2)
    assert not data["x"].flags.c_contiguous
    ours_out, ours_grads = numpy_sequence("lstm", params, data)
    torch_out, torch_grads = torch_sequence("lstm", params, data)
    assert_all_close(ours_out, torch_out, "lstm forward")
    assert_all_close(ours_grads, torch_grads, "lstm gradient of")


def test_saturated_gates_stay_finite_without_warnings():
    """Huge pre-activations (|a| ~ 1e3) must not overflow the sigmoid in float32."""
    params, data = make_problem("lstm", 3, 2, 3, 4, seed=17)
    params32 = {k: (v * 2000).astype(np.float32) for k, v in params.items()}
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, (h_n, c_n), cache = lstm_forward(data["x"].astype(np.float32),
                                              data["h0"].astype(np.float32),
                                              data["c0"].astype(np.float32), **params32)
        grads = lstm_backward(data["dout"].astype(np.float32), None, None, cache)
    assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads.values())
