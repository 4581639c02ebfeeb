"""Truncated backpropagation through time for the Elman RNN, in numpy (chapter 3).

Full BPTT carries the gradient of every loss term back to step 0. Truncated BPTT with a window
of ``k`` steps cuts the sequence into chunks ``[0, k), [k, 2k), ...`` and lets no gradient cross
a chunk boundary: the state that enters a chunk is treated as a constant. This is BPTT(k, k) in
the notation of Williams & Peng (1990), *An efficient gradient-based algorithm for on-line
training of recurrent network trajectories*, and what PyTorch code does with ``h = h.detach()``
every ``k`` steps. The forward pass is unchanged; only the backward loop differs from full BPTT::

    dh_next = dh_n                                  # gradient arriving from after the last step
    for t = T-1 down to 0:
        dh_t = dout_t + dh_next                     # from the output at t, and from step t+1
        dx_t, dh_prev, dW_ih_t, dW_hh_t, ... = rnn_step_backward(dh_t, cache_t)
        dW_ih += dW_ih_t;  dW_hh += dW_hh_t; ...    # the weights are shared: sum over time
        dh_next = 0 if (t > 0 and t % k == 0) else dh_prev     # the cut

The loss at step ``t`` thus reaches back only to the first step of its own chunk, between 1 and
``k`` steps. With ``k >= T`` nothing is cut and the result is full BPTT.

The steps are done with the package's one-step functions
(`course_pkg.numpy_rnn.rnn_step_forward` / `rnn_step_backward`), so the loop above is the whole
algorithm.
"""

from __future__ import annotations

import numpy as np

from course_pkg.numpy_rnn import rnn_step_backward, rnn_step_forward
from course_pkg.validation import (
    require_floating,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["rnn_forward_stepwise", "truncated_rnn_backward"]


def rnn_forward_stepwise(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity="tanh"):
    """The Elman RNN over a sequence, one `rnn_step_forward` per step, keeping each step's cache.

    ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``; the same numbers as
    `course_pkg.numpy_rnn.rnn_forward`, computed step by step so that
    :func:`truncated_rnn_backward` can walk back through the per-step caches.

    x (T, B, D), h0 (B, H), weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
    Returns ``(out, h_n, step_caches)``: out (T, B, H), h_n (B, H), a list of T caches.
    """
    require_ndim("x", x, 3, "time-major input, T x B x D")
    require_floating("x", x)
    require_positive_int("x.shape[0] (sequence length T)", x.shape[0])
    h = h0
    states, step_caches = [], []
    for t in range(x.shape[0]):
        h, cache = rnn_step_forward(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh,
                                    nonlinearity)    # (B, H); the step checks its arguments
        states.append(h)
        step_caches.append(cache)
    return np.stack(states), h, step_caches          # (T, B, H), (B, H), T caches


def truncated_rnn_backward(dout, dh_n, step_caches, window=None):
    """Truncated BPTT for :func:`rnn_forward_stepwise`: chunks of ``window`` steps (module doc).

    ``dout`` (T, B, H) is the gradient of the loss with respect to every hidden state (from the
    outputs), ``dh_n`` (B, H) with respect to the last one (None: zeros). ``step_caches`` is
    the list returned by :func:`rnn_forward_stepwise`. ``window`` is the chunk length k
    (None: no cut, i.e. full BPTT).

    Returns a dict with keys ``x`` (T, B, D), ``h0`` (B, H: the gradient reaching h0 through the
    first chunk), ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    require_ndim("dout", dout, 3, "gradient of the outputs, T x B x H")
    require_floating("dout", dout)
    T, B, H = dout.shape
    if not isinstance(step_caches, list) or len(step_caches) != T:
        got = len(step_caches) if isinstance(step_caches, list) else type(step_caches).__name__
        raise ValueError(f"step_caches: expected the list of T = {T} caches returned by "
                         f"rnn_forward_stepwise (one per step of dout), got {got}")
    if window is not None:
        require_positive_int("window", window)
    dh_next = np.zeros((B, H), dtype=dout.dtype) if dh_n is None else dh_n
    require_floating("dh_n", dh_next)
    require_shape("dh_n", dh_next, (B, H), "gradient of the last state, B x H")

    grads = {"x": [None] * T}
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        grads[name] = 0.0                                           # summed over t below
    for t in reversed(range(T)):
        dh_t = dout[t] + dh_next                                    # (B, H)
        dx_t, dh_prev, dw_ih, dw_hh, db_ih, db_hh = rnn_step_backward(dh_t, step_caches[t])
        grads["x"][t] = dx_t                                        # (B, D)
        grads["weight_ih"] = grads["weight_ih"] + dw_ih             # shared weights: sum over t
        grads["weight_hh"] = grads["weight_hh"] + dw_hh
        grads["bias_ih"] = grads["bias_ih"] + db_ih
        grads["bias_hh"] = grads["bias_hh"] + db_hh
        at_chunk_start = window is not None and t > 0 and t % window == 0
        dh_next = np.zeros_like(dh_prev) if at_chunk_start else dh_prev  # the cut
    grads["x"] = np.stack(grads["x"])                               # (T, B, D)
    grads["h0"] = dh_next                                           # (B, H)
    return grads
