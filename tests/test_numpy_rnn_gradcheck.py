"""course_pkg.numpy_rnn.gradcheck against calculus, and the backward passes against centred
finite differences (float64, tiny sizes)."""

import numpy as np
import pytest

from course_pkg.numpy_rnn import (
    check_gradients,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    numerical_gradient,
    relative_error,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

FD_TOLERANCE = 1e-7  # a full backward pass against centred differences, float64, h = 1e-6
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


# --- the tools themselves, against known derivatives --------------------------------------------


def test_numerical_gradient_of_a_sum_matches_calculus():
    w = np.random.default_rng(0).standard_normal((3, 4))
    grad = numerical_gradient(lambda v: np.sum(np.sin(v)), w)
    assert relative_error(grad, np.cos(w)) < 1e-9


def test_numerical_gradient_with_upstream_gradient():
    rng = np.random.default_rng(1)
    w, dy = rng.standard_normal(5), rng.standard_normal(5)
    grad = numerical_gradient(lambda v: v ** 3, w, df=dy)       # d/dw sum(dy * w^3) = 3 w^2 dy
    assert relative_error(grad, 3 * w ** 2 * dy) < 1e-9


def test_numerical_gradient_restores_the_array_and_reads_closures():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 3))
    before = w.copy()
    a = rng.standard_normal((3,))
    grad = numerical_gradient(lambda _: np.sum((w @ a) ** 2), w)  # f ignores its argument
    assert np.array_equal(w, before)
    assert relative_error(grad, 2 * np.outer(w @ a, a)) < 1e-9


def test_relative_error_values():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == pytest.approx(0.5 / 4.5)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([0.0]), np.array([1e-12])) == pytest.approx(1e-4)  # floor 1e-8


def test_check_gradients_catches_a_wrong_backward():
    """A backward pass that forgets bias_hh (a classic bug) must show up as a large error."""
    rng = np.random.default_rng(3)
    inputs = dict(x=rng.standard_normal((3, 2, 2)), h0=rng.standard_normal((2, 3)),
                  weight_ih=rng.standard_normal((3, 2)),
                  weight_hh=rng.standard_normal((3, 3)) * 0.5,
                  bias_ih=rng.standard_normal(3), bias_hh=rng.standard_normal(3))

    def buggy_backward(dout, dh_n, cache):
        grads = rnn_backward(dout, dh_n, cache)
        return {**grads, "bias_hh": np.zeros_like(grads["bias_hh"])}

    errors = check_gradients(rnn_forward, buggy_backward, inputs)
    assert errors["bias_hh"] > 0.5
    assert errors["bias_ih"] < FD_TOLERANCE


# --- the backward passes against finite differences ---------------------------------------------


def tiny_inputs(kind, T, B, D, H, seed, sequence=True):
    rng = np.random.default_rng(seed)
    G = GATES[kind]
    state = "h0" if sequence else "h_prev"
    inputs = {"x" if sequence else "x_t": rng.standard_normal((T, B, D) if sequence else (B, D)),
              state: rng.normal(0, 0.5, (B, H))}
    if kind == "lstm":
        inputs["c0" if sequence else "c_prev"] = rng.normal(0, 0.5, (B, H))
    inputs.update(weight_ih=rng.normal(0, 0.6, (G * H, D)),
                  weight_hh=rng.normal(0, 0.6, (G * H, H)),
                  bias_ih=rng.normal(0, 0.3, G * H), bias_hh=rng.normal(0, 0.3, G * H))
    return inputs


SEQUENCE_PAIRS = {"rnn": (rnn_forward, rnn_backward), "lstm": (lstm_forward, lstm_backward),
                  "gru": (gru_forward, gru_backward)}
STEP_PAIRS = {"rnn": (rnn_step_forward, rnn_step_backward),
              "lstm": (lstm_step_forward, lstm_step_backward),
              "gru": (gru_step_forward, gru_step_backward)}
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("T,B,D,H", [(1, 1, 2, 2), (4, 2, 3, 2)])
def test_sequence_backward_matches_finite_differences(kind, nonlinearity, T, B, D, H):
    inputs = tiny_inputs(kind, T, B, D, H, seed=T * 10 + B)
    if nonlinearity:
        inputs["nonlinearity"] = nonlinearity
    errors = check_gradients(*SEQUENCE_PAIRS[kind], inputs, seed=T)
    assert set(errors) == {name for name, v in inputs.items() if isinstance(v, np.ndarray)}
    for name, error in errors.items():
        assert error < FD_TOLERANCE, f"{kind} {nonlinearity}: d{name} relative error {error:.2e}"


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_step_backward_matches_finite_differences(kind, nonlinearity):
    inputs = tiny_inputs(kind, 1, 3, 2, 3, seed=4, sequence=False)
    if nonlinearity:
        inputs["nonlinearity"] = nonlinearity
    errors = check_gradients(*STEP_PAIRS[kind], inputs)
    for name, error in errors.items():
        assert error < FD_TOLERANCE, (
            f"{kind} step {nonlinearity}: d{name} relative error {error:.2e}")


def test_numerical_gradient_on_lstm_output_directly():
    """The raw tool as a student uses it: gradient of out with respect to weight_hh."""
    inputs = tiny_inputs("lstm", 3, 2, 2, 2, seed=9)
    dout = np.random.default_rng(10).standard_normal((3, 2, 2))
    out, _, cache = lstm_forward(**inputs)
    analytic = lstm_backward(dout, None, None, cache)["weight_hh"]
    numeric = numerical_gradient(lambda w: lstm_forward(**{**inputs, "weight_hh": w})[0],
                                 inputs["weight_hh"], df=dout)
    assert relative_error(analytic, numeric) < FD_TOLERANCE


# --- bad arguments to the tools -----------------------------------------------------------------


def test_gradcheck_argument_errors():
    w32 = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="array: expected dtype float64"):
        numerical_gradient(np.sum, w32)
    with pytest.raises(TypeError, match="array: expected a numpy array"):
        numerical_gradient(np.sum, [1.0, 2.0])
    with pytest.raises(ValueError, match="h: expected a step size"):
        numerical_gradient(np.sum, np.ones(3), h=0)
    with pytest.raises(ValueError, match=r"df: expected shape \(3,\)"):
        numerical_gradient(lambda v: v * 2, np.ones(3), df=np.ones(4))
    with pytest.raises(ValueError, match=r"b: expected shape \(2,\)"):
        relative_error(np.ones(2), np.ones(3))
    inputs = tiny_inputs("rnn", 2, 1, 1, 1, seed=0)
    with pytest.raises(ValueError, match="backward_fn: expected 6 gradients"):
        check_gradients(rnn_forward, lambda dout, dh, cache: (dout,), inputs)
    with pytest.raises(TypeError, match="x: expected dtype float64"):
        check_gradients(rnn_forward, rnn_backward, {**inputs, "x": inputs["x"].astype(np.float32)})
