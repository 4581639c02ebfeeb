"""The LSTM in numpy, with a hand-written backward pass.

Hochreiter & Schmidhuber, "Long short-term memory" (1997), with the forget gate of Gers,
Schmidhuber & Cummins (2000), in PyTorch's layout and gate order i, f, g, o (``torch.nn.LSTM``)::

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh     # (B, 4H), blocks a_i, a_f, a_g, a_o
    i_t = sigmoid(a_i)      input gate
    f_t = sigmoid(a_f)      forget gate
    g_t = tanh(a_g)         candidate cell values
    o_t = sigmoid(a_o)      output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

Backward, with dh_t and dc_t the gradients reaching h_t and c_t::

    do   = dh_t * tanh(c_t)
    dc   = dc_t + dh_t * o_t * (1 - tanh(c_t)^2)     # both paths into c_t
    di   = dc * g_t,   df = dc * c_{t-1},   dg = dc * i_t,   dc_{t-1} = dc * f_t
    da_i = di * i(1-i),  da_f = df * f(1-f),  da_g = dg * (1-g^2),  da_o = do * o(1-o)
    dh_{t-1} = da W_hh      (and dx, dW_ih, dW_hh, the biases as for the plain RNN)

Shapes: x (T, B, D) time-major, h and c (B, H), weight_ih (4H, D), weight_hh (4H, H).
"""

from __future__ import annotations

import numpy as np

from course_pkg.numpy_rnn.rnn import (
    check_recurrent_args,
    project_inputs,
    project_inputs_backward,
    upstream_gradient,
)

LSTM_GATES = ("i", "f", "g", "o")


def sigmoid(a):
    """The logistic function ``1 / (1 + exp(-a))``, computed as ``(1 + tanh(a / 2)) / 2``.

    The two are equal; the second form never overflows (``exp(-a)`` does for a < -88 in
    float32, with a warning) and keeps the dtype of ``a``.
    """
    return 0.5 * (1 + np.tanh(0.5 * a))


# --------------------------------------------------------------------------------------------
# The LSTM cell: the loop body shared by the step functions and the sequence functions
# --------------------------------------------------------------------------------------------


def lstm_cell_forward(xproj_t, h_prev, c_prev, weight_hh, bias_hh):
    """One LSTM update given xproj_t = x_t W_ih^T + b_ih (B, 4H). Returns (h_t, c_t, cache)."""
    H = h_prev.shape[1]
    a = xproj_t + h_prev @ weight_hh.T + bias_hh        # (B, 4H) gate pre-activations
    i = sigmoid(a[:, 0 * H:1 * H])                      # (B, H) input gate
    f = sigmoid(a[:, 1 * H:2 * H])                      # (B, H) forget gate
    g = np.tanh(a[:, 2 * H:3 * H])                      # (B, H) candidate
    o = sigmoid(a[:, 3 * H:4 * H])                      # (B, H) output gate
    c_t = f * c_prev + i * g                            # (B, H)
    tanh_c = np.tanh(c_t)
    h_t = o * tanh_c                                    # (B, H)
    return h_t, c_t, (h_prev, c_prev, i, f, g, o, tanh_c, weight_hh)


def lstm_cell_backward(dh_t, dc_t, cell_cache):
    """Returns (da, dh_prev, dc_prev); da (B, 4H) is the gradient of the gate pre-activations."""
    h_prev, c_prev, i, f, g, o, tanh_c, weight_hh = cell_cache
    do = dh_t * tanh_c
    dc = dc_t + dh_t * o * (1 - tanh_c * tanh_c)        # through h_t = o * tanh(c_t), and direct
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    da = np.concatenate([di * i * (1 - i),              # sigmoid' = s (1 - s)
                         df * f * (1 - f),
                         dg * (1 - g * g),              # tanh' = 1 - tanh^2
                         do * o * (1 - o)], axis=1)     # (B, 4H)
    dh_prev = da @ weight_hh                            # (B, H)
    return da, dh_prev, dc_prev


# --------------------------------------------------------------------------------------------
# One time step (for teaching)
# --------------------------------------------------------------------------------------------


def lstm_step_forward(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    """One LSTM step (gate order i, f, g, o)::

        a_i, a_f, a_g, a_o = split(x_t W_ih^T + b_ih + h_prev W_hh^T + b_hh)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)
        c_t = f * c_prev + i * g
        h_t = o * tanh(c_t)

    x_t (B, D), h_prev and c_prev (B, H), weight_ih (4H, D), weight_hh (4H, H), biases (4H,).
    Returns ``(h_t, c_t, cache)``.
    """
    check_recurrent_args(LSTM_GATES, x_t, {"h_prev": h_prev, "c_prev": c_prev}, weight_ih,
                         weight_hh, bias_ih, bias_hh, sequence=False)
    xproj_t = project_inputs(x_t, weight_ih, bias_ih)   # (B, 4H)
    h_t, c_t, cell_cache = lstm_cell_forward(xproj_t, h_prev, c_prev, weight_hh, bias_hh)
    return h_t, c_t, (x_t, weight_ih, cell_cache)


def lstm_step_backward(dh_t, dc_t, cache):
    """Backward of :func:`lstm_step_forward` (equations in the module docstring).

    ``dh_t`` and ``dc_t`` (B, H) are the gradients reaching h_t and c_t (None means zeros).
    Returns ``(dx_t, dh_prev, dc_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh)``.
    """
    x_t, weight_ih, cell_cache = cache
    h_prev, c_prev = cell_cache[0], cell_cache[1]
    dh_t = upstream_gradient("dh_t", dh_t, h_prev.shape, cell_cache[2].dtype)
    dc_t = upstream_gradient("dc_t", dc_t, h_prev.shape, cell_cache[2].dtype)
    da, dh_prev, dc_prev = lstm_cell_backward(dh_t, dc_t, cell_cache)
    dx_t, dweight_ih, dweight_hh, dbias_ih, dbias_hh = project_inputs_backward(
        x_t, h_prev, da, da, weight_ih)
    return dx_t, dh_prev, dc_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh


# --------------------------------------------------------------------------------------------
# The whole sequence
# --------------------------------------------------------------------------------------------


def lstm_forward(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    """Run the LSTM over a sequence, as ``torch.nn.LSTM`` with one layer.

    Reference loop::

        h, c = h0, c0
        for t in range(T):
            h, c, _ = lstm_step_forward(x[t], h, c, weight_ih, weight_hh, bias_ih, bias_hh)
            out[t] = h

    Here the input projection ``x W_ih^T + b_ih`` of all T steps is one matrix product before
    the loop, so each step only multiplies by W_hh.

    x (T, B, D), h0 and c0 (B, H), weight_ih (4H, D), weight_hh (4H, H), biases (4H,).
    Returns ``(out, (h_n, c_n), cache)``: out (T, B, H), h_n and c_n (B, H).
    """
    _, _, H, dtype = check_recurrent_args(LSTM_GATES, x, {"h0": h0, "c0": c0}, weight_ih,
                                          weight_hh, bias_ih, bias_hh)
    T, B, _ = x.shape
    xproj = project_inputs(x, weight_ih, bias_ih)       # (T, B, 4H), all steps at once
    out = np.empty((T, B, H), dtype=dtype)              # (T, B, H)
    cell_caches = []
    h, c = h0, c0
    for t in range(T):
        h, c, cell_cache = lstm_cell_forward(xproj[t], h, c, weight_hh, bias_hh)
        out[t] = h
        cell_caches.append(cell_cache)
    return out, (h, c), (x, h0, out, weight_ih, cell_caches)


def lstm_backward(dout, dh_n, dc_n, cache):
    """Backpropagation through time for :func:`lstm_forward`.

    ``dout`` (T, B, H), ``dh_n`` and ``dc_n`` (B, H) are the gradients of the loss with respect
    to ``out``, ``h_n`` and ``c_n``; any of them may be None (zeros). Going backwards in time,
    the gradient reaching h_t is ``dout[t]`` plus ``dh_{t}`` handed back by step t+1, and the
    cell gradient ``dc`` flows back through ``dc_{t-1} = dc * f_t``. The gate gradients of all
    steps are kept, and dx, dW_ih, dW_hh and the biases are then one matrix product each.

    Returns a dict with keys ``x``, ``h0``, ``c0``, ``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``.
    """
    x, h0, out, weight_ih, cell_caches = cache
    T, B, H = out.shape
    dout = upstream_gradient("dout", dout, (T, B, H), out.dtype)
    dh = upstream_gradient("dh_n", dh_n, (B, H), out.dtype)
    dc = upstream_gradient("dc_n", dc_n, (B, H), out.dtype)
    da = np.empty((T, B, 4 * H), dtype=out.dtype)       # (T, B, 4H) gate gradients
    for t in reversed(range(T)):
        da[t], dh, dc = lstm_cell_backward(dout[t] + dh, dc, cell_caches[t])
    h_prev = np.concatenate([h0[None], out[:-1]])       # (T, B, H): h_{t-1} for every step
    dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh = project_inputs_backward(
        x, h_prev, da, da, weight_ih)
    return {"x": dx, "h0": dh, "c0": dc, "weight_ih": dweight_ih, "weight_hh": dweight_hh,
            "bias_ih": dbias_ih, "bias_hh": dbias_hh}
