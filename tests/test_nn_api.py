"""The course's recurrent modules look like torch.nn's from outside: constructor, parameters,
initialisation, dropout, and the errors they raise on bad input. Also: they never call torch's
fused recurrent kernels."""

import itertools
import math

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import course_pkg.nn as course_nn

MODULES = ["RNN", "LSTM", "GRU"]
CELLS = ["RNNCell", "LSTMCell", "GRUCell"]


# ----------------------------------------------------------------------------------------------
# parameters: names, shapes, order, initialisation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,num_layers,bidirectional,bias",
                         list(itertools.product(MODULES, [1, 2, 3], [False, True], [True, False])))
def test_parameters_have_torchs_names_shapes_order_and_initial_values(name, num_layers,
                                                                      bidirectional, bias):
    kwargs = dict(input_size=3, hidden_size=5, num_layers=num_layers, bias=bias,
                  bidirectional=bidirectional)
    torch.manual_seed(11)
    reference = getattr(torch.nn, name)(**kwargs)
    torch.manual_seed(11)
    course = getattr(course_nn, name)(**kwargs)
    ref_params, params = list(reference.named_parameters()), list(course.named_parameters())
    assert [(n, p.shape) for n, p in params] == [(n, p.shape) for n, p in ref_params]
    # the same seed draws the same initial values: same order, same distribution
    for (n, p), (_, q) in zip(params, ref_params):
        assert torch.equal(p, q), n
    assert list(course.state_dict()) == list(reference.state_dict())
    assert [[p.shape for p in group] for group in course.all_weights] == \
        [[p.shape for p in group] for group in reference.all_weights]


@pytest.mark.parametrize("name,bias", list(itertools.product(CELLS, [True, False])))
def test_cell_parameters_match_torch(name, bias):
    torch.manual_seed(5)
    reference = getattr(torch.nn, name)(4, 6, bias=bias)
    torch.manual_seed(5)
    course = getattr(course_nn, name)(4, 6, bias=bias)
    assert [(n, p.shape) for n, p in course.named_parameters()] == \
        [(n, p.shape) for n, p in reference.named_parameters()]
    assert all(torch.equal(p, q) for p, q in zip(course.parameters(), reference.parameters()))
    if not bias:
        assert course.bias_ih is None and course.bias_hh is None


@pytest.mark.parametrize("name", MODULES + CELLS)
def test_initialisation_is_uniform_within_one_over_sqrt_hidden(name):
    hidden = 64
    bound = 1 / math.sqrt(hidden)
    torch.manual_seed(0)
    module = getattr(course_nn, name)(32, hidden)
    values = torch.cat([p.detach().flatten() for p in module.parameters()])
    assert values.abs().max() <= bound
    assert values.abs().max() > 0.99 * bound                  # the whole interval is used
    assert abs(values.mean().item()) < 0.02 * bound
    assert values.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)   # U(-a, a)
    # and every tensor on its own, biases included, follows the same rule
    for n, p in module.named_parameters():
        assert p.abs().max() <= bound, n


def test_constructor_arguments_keep_torchs_positional_order():
    rnn = course_nn.RNN(3, 4, 2, "relu", False, True, 0.25, True)
    assert (rnn.num_layers, rnn.nonlinearity, rnn.bias, rnn.batch_first, rnn.dropout,
            rnn.bidirectional) == (2, "relu", False, True, 0.25, True)
    lstm = course_nn.LSTM(3, 4, 2, False, True, 0.25, True, 0)
    gru = course_nn.GRU(3, 4, 2, False, True, 0.25, True)
    for module in (lstm, gru):
        assert (module.num_layers, module.bias, module.batch_first, module.dropout,
                module.bidirectional) == (2, False, True, 0.25, True)
    assert repr(lstm) == repr(torch.nn.LSTM(3, 4, 2, False, True, 0.25, True))
    assert repr(rnn) == repr(torch.nn.RNN(3, 4, 2, "relu", False, True, 0.25, True))
    assert repr(course_nn.RNNCell(3, 4, nonlinearity="relu")) == repr(
        torch.nn.RNNCell(3, 4, nonlinearity="relu"))


def test_dtype_and_device_arguments_and_state_dict_round_trip():
    course = course_nn.GRU(3, 4, num_layers=2, dtype=torch.float64, device="cpu")
    assert all(p.dtype == torch.float64 for p in course.parameters())
    reference = torch.nn.GRU(3, 4, num_layers=2, dtype=torch.float64)
    reference.load_state_dict(course.state_dict())        # the other direction loads too
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    assert torch.allclose(course(x)[0], reference(x)[0], rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------------------------
# dropout between layers
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,dtype,bidirectional",
                         list(itertools.product(MODULES, [torch.float64, torch.float32],
                                                [False, True])))
def test_training_dropout_draws_the_same_masks_as_torch(name, dtype, bidirectional):
    """Dropout after every layer but the last, on the concatenated directions, with torch's
    random stream: the same seed gives torch's numbers exactly."""
    torch.manual_seed(2)
    reference = getattr(torch.nn, name)(3, 4, num_layers=3, dropout=0.5,
                                        bidirectional=bidirectional).to(dtype)
    course = getattr(course_nn, name)(3, 4, num_layers=3, dropout=0.5,
                                      bidirectional=bidirectional).to(dtype)
    course.load_state_dict(reference.state_dict())
    x = torch.randn(6, 2, 3, dtype=dtype)
    torch.manual_seed(9)
    ref_out, _ = reference(x)
    torch.manual_seed(9)
    out, _ = course(x)
    assert torch.allclose(out, ref_out, rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-5)
    # a different seed gives other masks (dropout is really on) ...
    torch.manual_seed(10)
    assert not torch.allclose(course(x)[0], out)
    # ... and in eval mode it is off: the output equals torch's eval output
    reference.eval(), course.eval()
    assert torch.allclose(course(x)[0], reference(x)[0], rtol=0, atol=1e-5)


def test_no_dropout_after_the_last_layer():
    with pytest.warns(UserWarning, match="dropout"):           # torch warns the same way
        lstm = course_nn.LSTM(3, 4, num_layers=1, dropout=0.9).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    train_out, _ = lstm(x)
    lstm.eval()
    assert torch.equal(lstm(x)[0], train_out)


# ----------------------------------------------------------------------------------------------
# only tensor operations: no fused recurrent kernel is ever called
# ----------------------------------------------------------------------------------------------
def recorded_operators(run) -> set:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    return {event.key.lower() for event in prof.key_averages()}


def fused_recurrent_kernels(names) -> set:
    """PyTorch's own recurrent operators (aten::lstm, aten::mkldnn_rnn_layer, ...); the course's
    autograd Function for the LSTM's fast path is recorded under its own name, not as one."""
    torch_operators = {n for n in names if n.startswith(("aten::", "mkldnn::", "cudnn"))}
    return {n for n in torch_operators if any(word in n for word in ("lstm", "gru", "rnn"))}


def test_no_fused_recurrent_kernel_is_called():
    x = torch.randn(5, 2, 3, requires_grad=True)

    def run_all(namespace):
        def run():
            for name in MODULES:
                out, _ = getattr(namespace, name)(3, 4, num_layers=2, bidirectional=True)(x)
                out.sum().backward()
            for name in CELLS:
                out = getattr(namespace, name)(3, 4)(x[0])
                (out[0] if isinstance(out, tuple) else out).sum().backward()
            packed = pack_padded_sequence(x, torch.tensor([5, 3]))
            getattr(namespace, "LSTM")(3, 4)(packed)[0].data.sum().backward()
        return run

    # the probe can fail: torch's own modules show their kernels (aten::lstm, aten::gru_cell...)
    assert {"aten::lstm", "aten::gru", "aten::rnn_tanh", "aten::lstm_cell", "aten::gru_cell",
            "aten::rnn_tanh_cell"} <= recorded_operators(run_all(torch.nn))
    course_ops = recorded_operators(run_all(course_nn))
    assert "aten::addmm" in course_ops
    assert "_fusedlstmlayerbackward" in course_ops       # the float32 LSTM took its fast path
    assert fused_recurrent_kernels(course_ops) == set()


# ----------------------------------------------------------------------------------------------
# bad arguments: the message names the argument and says what was expected and what was given
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODULES + CELLS)
@pytest.mark.parametrize("kwargs,error,match", [
    (dict(input_size=0, hidden_size=4), ValueError,
     r"input_size: expected a positive int, got 0"),
    (dict(input_size=3, hidden_size=-2), ValueError,
     r"hidden_size: expected a positive int, got -2"),
    (dict(input_size=3.0, hidden_size=4), TypeError, r"input_size: expected a positive int"),
    (dict(input_size=3, hidden_size=4, bias=1), TypeError, r"bias: expected a bool, got int 1"),
])
def test_bad_constructor_arguments(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        getattr(course_nn, name)(**kwargs)


@pytest.mark.parametrize("call,error,match", [
    (lambda: course_nn.GRU(3, 4, num_layers=0), ValueError,
     r"num_layers: expected a positive int, got 0"),
    (lambda: course_nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError,
     r"nonlinearity: expected one of \['tanh', 'relu'\], got 'sigmoid'"),
    (lambda: course_nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, r"nonlinearity: .*'gelu'"),
    (lambda: course_nn.LSTM(3, 4, proj_size=2), ValueError, r"proj_size: expected 0 .*got 2"),
    (lambda: course_nn.LSTM(3, 4, num_layers=2, dropout=1.5), ValueError,
     r"dropout: expected a number in \[0.0, 1.0\], got 1.5"),
    (lambda: course_nn.RNN(3, 4, batch_first="yes"), TypeError, r"batch_first: expected a bool"),
])
def test_bad_module_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_rnn_and_gru_refuse_proj_size():
    with pytest.raises(TypeError, match="proj_size"):
        course_nn.GRU(3, 4, proj_size=2)


@pytest.mark.parametrize("name", MODULES)
def test_bad_input_shape_dtype_and_kind(name):
    module = getattr(course_nn, name)(3, 4)
    with pytest.raises(ValueError, match=r"input: expected shape \(T, B, 3\) \(time-major input "
                                         r"\(T, B, input_size\)\), got \(5, 2, 4\)"):
        module(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"input: expected shape \(T, 3\) .*got \(5, 7\)"):
        module(torch.randn(5, 7))
    with pytest.raises(ValueError, match=r"input: expected a 2 or 3-D array .*got 4-D"):
        module(torch.randn(5, 2, 3, 1))
    with pytest.raises(TypeError, match=r"input: expected a floating-point dtype, got torch.int64"):
        module(torch.ones(5, 2, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"input: expected dtype torch.float32 .*got torch.float64"):
        module(torch.randn(5, 2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"input: expected a torch.Tensor, got list"):
        module([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"input: expected at least one time step .*\(0, 2, 3\)"):
        module(torch.randn(0, 2, 3))
    batch_first = getattr(course_nn, name)(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"input: expected shape \(B, T, 3\) .*got \(2, 5, 1\)"):
        batch_first(torch.randn(2, 5, 1))
    packed = pack_padded_sequence(torch.randn(5, 2, 2), torch.tensor([5, 3]))
    with pytest.raises(ValueError, match=r"input: expected shape \(N, 3\) .*got \(8, 2\)"):
        module(packed)


@pytest.mark.parametrize("name", ["RNN", "GRU"])
def test_bad_initial_state(name):
    module = getattr(course_nn, name)(3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3)
    with pytest.raises(ValueError, match=r"hx: expected shape \(4, 2, 4\) "
                                         r"\(num_layers \* num_directions, batch, hidden_size\), "
                                         r"got \(2, 2, 4\)"):
        module(x, torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"hx: expected shape \(4, 4\) .*got \(4, 2, 4\)"):
        module(x[:, 0], torch.zeros(4, 2, 4))                  # unbatched input, batched state
    with pytest.raises(TypeError, match=r"hx: expected dtype torch.float32 .*got torch.float64"):
        module(x, torch.zeros(4, 2, 4, dtype=torch.float64))


def test_bad_lstm_initial_states():
    lstm = course_nn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    h0, c0 = torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)
    with pytest.raises(TypeError, match=r"hx: expected a tuple \(h_0, c_0\)"):
        lstm(x, h0)
    with pytest.raises(ValueError, match=r"hx\[1\]: expected shape \(1, 2, 4\) .*got \(1, 3, 4\)"):
        lstm(x, (h0, torch.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(1, 2, 4\) .*got \(2, 2, 4\)"):
        lstm(x, (torch.zeros(2, 2, 4), c0))
    packed = pack_padded_sequence(x, torch.tensor([5, 3]))
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(1, 2, 4\) .*got \(1, 1, 4\)"):
        lstm(packed, (torch.zeros(1, 1, 4), c0))


@pytest.mark.parametrize("name", CELLS)
def test_bad_cell_input_and_state(name):
    cell = getattr(course_nn, name)(3, 4)
    with pytest.raises(ValueError, match=r"input: expected shape \(B, 3\) .*got \(2, 5\)"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"input: expected a 1 or 2-D array .*got 3-D"):
        cell(torch.randn(1, 2, 3))
    with pytest.raises(TypeError, match=r"input: expected dtype torch.float32"):
        cell(torch.randn(2, 3, dtype=torch.float64))
    bad_state = torch.zeros(3, 4)                              # batch 3 instead of 2
    hx = (bad_state, torch.zeros(2, 4)) if name == "LSTMCell" else bad_state
    state_name = r"hx\[0\]" if name == "LSTMCell" else "hx"
    with pytest.raises(ValueError, match=state_name + r": expected shape \(2, 4\) .*got \(3, 4\)"):
        cell(torch.randn(2, 3), hx)
