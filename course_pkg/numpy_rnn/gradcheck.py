"""Gradient checking: compare a hand-written backward pass with centred finite differences.

For a function L(w) of an array w, the centred difference along entry k is::

    dL/dw_k  ~=  (L(w + h e_k) - L(w - h e_k)) / (2 h)

with an error of order h^2 (plus rounding of order eps / h), so in float64 with h = 1e-6 it
agrees with an exact gradient to roughly 1e-9 relative. When f returns an array y and the
upstream gradient dy is given, L = sum(dy * y), which is how one checks a layer's backward
without writing a loss.

The relative error used throughout the course is::

    relative_error(a, b) = max|a - b| / max(1e-8, max(|a| + |b|))

i.e. the largest difference measured against the scale of the whole array. CS231n divides
element by element instead (``max_k |a_k - b_k| / max(1e-8, |a_k| + |b_k|)``); that version is
dominated by entries that are zero up to rounding (a relu that is off, a bias that feeds
nothing), where any two correct gradients disagree completely, so it is not used here.
Thresholds in float64: below 1e-7 for a backward pass checked against finite differences,
below 1e-9 against torch autograd.
"""

from __future__ import annotations

import numbers

import numpy as np

from course_pkg.validation import require_array, require_floating, require_shape


def relative_error(a, b):
    """``max|a - b| / max(1e-8, max(|a| + |b|))`` for two arrays of the same shape (a float)."""
    require_array("a", a)
    require_array("b", b)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    require_shape("b", b, a.shape, "the shape of a")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def numerical_gradient(f, array, df=None, h=1e-6):
    """Centred-difference gradient of ``sum(df * f(array))`` with respect to ``array``.

    ``f`` is called as ``f(array)`` and returns an array or a scalar; ``df`` is the upstream
    gradient, of the shape of what ``f`` returns (None means ones, i.e. the gradient of the sum).
    Each entry of ``array`` is perturbed in place by +h and -h and restored afterwards, so ``f``
    may also read ``array`` through a closure. ``array`` must be a float64 numpy array: in
    float32 the differences would be lost to rounding.

    Returns an array of ``array``'s shape.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array: expected a numpy array, got {type(array).__name__}")
    if array.dtype != np.float64:
        raise TypeError(f"array: expected dtype float64 for finite differences, got {array.dtype}")
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not 0 < h < 1:
        raise ValueError(f"h: expected a step size in (0, 1), got {h!r}")
    if df is not None:
        require_floating("df", df)
        df = np.asarray(df, dtype=np.float64)

    def weighted_output():
        y = np.asarray(f(array), dtype=np.float64)
        if df is None:
            return float(np.sum(y))
        require_shape("df", df, y.shape, "the shape of what f returns")
        return float(np.sum(df * y))

    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        try:
            array[index] = original + h
            plus = weighted_output()
            array[index] = original - h
            minus = weighted_output()
        finally:
            array[index] = original
        grad[index] = (plus - minus) / (2 * h)
    return grad


def _flatten_outputs(outputs):
    """(out, (h_n, c_n)) -> [out, h_n, c_n]."""
    flat = []
    for item in outputs:
        flat.extend(_flatten_outputs(item) if isinstance(item, tuple) else [item])
    return flat


def check_gradients(forward_fn, backward_fn, inputs, seed=0, h=1e-6):
    """Check ``backward_fn`` against finite differences of ``forward_fn``; return the errors.

    The course's convention is assumed: ``forward_fn(**inputs)`` returns ``(*outputs, cache)``
    (outputs may be nested tuples, as LSTM's ``(h_n, c_n)``) and ``backward_fn(*douts, cache)``
    returns the gradients, either a dict keyed by input name or a tuple in the order of the
    array inputs of ``inputs``. So the course's own pairs can be passed directly::

        check_gradients(lstm_forward, lstm_backward, dict(x=x, h0=h0, c0=c0, weight_ih=w_ih, ...))
        check_gradients(rnn_step_forward, rnn_step_backward, dict(x_t=x, h_prev=h, ...,
                                                                  nonlinearity="relu"))

    Random upstream gradients (seeded by ``seed``) are drawn for every output, the loss is
    ``sum_k sum(dout_k * output_k)``, and each float64 array input is checked with
    :func:`numerical_gradient` (inputs that are not arrays, such as ``nonlinearity``, are passed
    through unchanged). Pass distinct arrays: inputs sharing memory are perturbed together.

    Returns ``{input name: relative_error(analytic, numerical)}``.
    """
    if not isinstance(inputs, dict):
        raise TypeError(f"inputs: expected a dict of named arguments, got {type(inputs).__name__}")
    array_names = [name for name, value in inputs.items() if isinstance(value, np.ndarray)]
    for name in array_names:
        if inputs[name].dtype != np.float64:
            raise TypeError(f"{name}: expected dtype float64 for a gradient check, "
                            f"got {inputs[name].dtype}")

    *outputs, cache = forward_fn(**inputs)
    rng = np.random.default_rng(seed)
    douts = [rng.standard_normal(np.shape(y)) for y in _flatten_outputs(outputs)]
    analytic = backward_fn(*douts, cache)
    if not isinstance(analytic, dict):
        if len(analytic) != len(array_names):
            raise ValueError(f"backward_fn: expected {len(array_names)} gradients (one per array "
                             f"input {array_names}), got {len(analytic)}")
        analytic = dict(zip(array_names, analytic))

    def loss(_):
        *outs, _cache = forward_fn(**inputs)
        return sum(float(np.sum(dy * y)) for dy, y in zip(douts, _flatten_outputs(outs)))

    errors = {}
    for name in array_names:
        if name not in analytic:
            raise KeyError(f"backward_fn: no gradient for input {name!r}, "
                           f"got keys {list(analytic)}")
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, inputs[name], h=h))
    return errors
