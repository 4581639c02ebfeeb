"""Bad arguments to course_pkg.numpy_rnn raise errors that name the argument, the expected and
the given value."""

import numpy as np
import pytest

from course_pkg.numpy_rnn import (
    gru_backward,
    gru_forward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

T, B, D, H = 5, 2, 3, 4


def weights(G, seed=0):
    rng = np.random.default_rng(seed)
    return {"weight_ih": rng.standard_normal((G * H, D)),
            "weight_hh": rng.standard_normal((G * H, H)),
            "bias_ih": rng.standard_normal(G * H), "bias_hh": rng.standard_normal(G * H)}


def good_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))


def test_x_must_be_time_major_3d():
    x, h0, _ = good_inputs()
    message = r"x: expected a 3-D array \(time-major input, T x B x D\), got 2-D"
    with pytest.raises(ValueError, match=message):
        rnn_forward(x[0], h0, **weights(1))


def test_x_input_size_must_match_weight_ih():
    x, h0, c0 = good_inputs()
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 3\).*got \(5, 2, 4\)"):
        lstm_forward(np.zeros((5, 2, 4)), h0, c0, **weights(4))


def test_x_must_not_be_empty_in_time():
    _, h0, _ = good_inputs()
    message = r"x.shape\[0\] \(sequence length T\): expected a positive int, got 0"
    with pytest.raises(ValueError, match=message):
        gru_forward(np.zeros((0, B, D)), h0, **weights(3))


@pytest.mark.parametrize("bad", ["h0", "c0"])
def test_states_must_be_batch_by_hidden(bad):
    x, h0, c0 = good_inputs()
    states = {"h0": h0, "c0": c0, bad: np.zeros((B + 1, H))}
    with pytest.raises(ValueError, match=rf"{bad}: expected shape \(2, 4\).*got \(3, 4\)"):
        lstm_forward(x, states["h0"], states["c0"], **weights(4))


@pytest.mark.parametrize("forward,G,gates", [(rnn_forward, 1, "one block"),
                                             (gru_forward, 3, "gate blocks r, z, n"),
                                             (lstm_forward, 4, "gate blocks i, f, g, o")])
def test_weight_hh_rows_are_gates_times_hidden(forward, G, gates):
    x, h0, c0 = good_inputs()
    params = {**weights(G), "weight_hh": np.zeros(((G + 1) * H, H))}
    args = (x, h0, c0) if forward is lstm_forward else (x, h0)
    with pytest.raises(ValueError, match=rf"weight_hh: expected shape \({G * H}, {H}\).*{gates}"):
        forward(*args, **params)


def test_weight_ih_rows_must_match_weight_hh():
    x, h0, c0 = good_inputs()
    params = {**weights(4), "weight_ih": np.zeros((3 * H, D))}
    with pytest.raises(ValueError, match=r"weight_ih: expected shape \(16, D\).*got \(12, 3\)"):
        lstm_forward(x, h0, c0, **params)


def test_weights_must_be_2d():
    x, h0, _ = good_inputs()
    with pytest.raises(ValueError, match="weight_hh: expected a 2-D array"):
        rnn_forward(x, h0, **{**weights(1), "weight_hh": np.zeros(H)})
    with pytest.raises(ValueError, match="weight_ih: expected a 2-D array"):
        rnn_forward(x, h0, **{**weights(1), "weight_ih": np.zeros((1, H, D))})


@pytest.mark.parametrize("bias", ["bias_ih", "bias_hh"])
def test_biases_must_be_gates_times_hidden(bias):
    x, h0 = good_inputs()[:2]
    with pytest.raises(ValueError, match=rf"{bias}: expected shape \(12,\).*got \(4,\)"):
        gru_forward(x, h0, **{**weights(3), bias: np.zeros(H)})


def test_dtype_must_be_floating_and_arrays_must_be_arrays():
    x, h0, _ = good_inputs()
    with pytest.raises(TypeError, match="x: expected a floating-point dtype, got int64"):
        rnn_forward(np.zeros((T, B, D), dtype=np.int64), h0, **weights(1))
    with pytest.raises(TypeError, match="h0: expected a numpy array or torch tensor, got list"):
        rnn_forward(x, h0.tolist(), **weights(1))
    with pytest.raises(TypeError, match="bias_hh: expected a floating-point dtype"):
        rnn_forward(x, h0, **{**weights(1), "bias_hh": np.zeros(H, dtype=int)})


def test_nonlinearity_must_be_tanh_or_relu():
    x, h0, _ = good_inputs()
    message = r"nonlinearity: expected one of \['tanh', 'relu'\], got 'sigmoid'"
    with pytest.raises(ValueError, match=message):
        rnn_forward(x, h0, **weights(1), nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        rnn_step_forward(x[0], h0, **weights(1), nonlinearity="Tanh")


def test_upstream_gradient_shapes():
    x, h0, c0 = good_inputs()
    _, _, cache = rnn_forward(x, h0, **weights(1))
    with pytest.raises(ValueError, match=r"dout: expected shape \(5, 2, 4\).*got \(5, 4\)"):
        rnn_backward(np.zeros((T, H)), None, cache)
    _, _, cache = gru_forward(x, h0, **weights(3))
    with pytest.raises(ValueError, match=r"dh_n: expected shape \(2, 4\).*got \(1, 2, 4\)"):
        gru_backward(None, np.zeros((1, B, H)), cache)
    _, _, cache = lstm_forward(x, h0, c0, **weights(4))
    with pytest.raises(ValueError, match=r"dc_n: expected shape \(2, 4\)"):
        lstm_backward(None, None, np.zeros((B, H + 1)), cache)
    with pytest.raises(TypeError, match="dout: expected a floating-point dtype"):
        lstm_backward(np.zeros((T, B, H), dtype=int), None, None, cache)


def test_step_argument_errors():
    x, h0, c0 = good_inputs()
    message = r"x_t: expected a 2-D array \(input at one time step, B x D\)"
    with pytest.raises(ValueError, match=message):
        rnn_step_forward(x, h0, **weights(1))
    with pytest.raises(ValueError, match=r"h_prev: expected shape \(2, 4\)"):
        gru_step_forward(x[0], h0[:1], **weights(3))
    with pytest.raises(ValueError, match=r"c_prev: expected shape \(2, 4\)"):
        lstm_step_forward(x[0], h0, c0.T, **weights(4))
    _, cache = rnn_step_forward(x[0], h0, **weights(1))
    with pytest.raises(ValueError, match=r"dh_t: expected shape \(2, 4\)"):
        rnn_step_backward(np.zeros((B, H + 1)), cache)
    _, _, cache = lstm_step_forward(x[0], h0, c0, **weights(4))
    with pytest.raises(ValueError, match=r"dc_t: expected shape \(2, 4\)"):
        lstm_step_backward(None, np.zeros(H), cache)
