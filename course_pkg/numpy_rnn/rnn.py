"""The vanilla (Elman) RNN in numpy, with a hand-written backward pass (BPTT).

Elman, "Finding structure in time" (1990), in PyTorch's layout (``torch.nn.RNN``)::

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh      # pre-activation, (B, H)
    h_t = f(a_t),        f = tanh  or  relu

Backpropagation through time walks the steps backwards. With ``dh_t`` the gradient reaching
``h_t`` (from the output at step t plus from step t+1)::

    da_t      = dh_t * f'(a_t)        tanh' = 1 - h_t^2,   relu' = [h_t > 0]
    dh_{t-1}  = da_t W_hh             (passed on to step t-1)
    dW_ih    += da_t^T x_t            dW_hh += da_t^T h_{t-1}
    db_ih    += sum_b da_t            db_hh += sum_b da_t
    dx_t      = da_t W_ih

Shapes: x (T, B, D) time-major, h (B, H), weight_ih (G*H, D), weight_hh (G*H, H) with G gate
blocks stacked along the rows (G = 1 here, 4 for the LSTM, 3 for the GRU).

This module also holds the pieces the three cells share: the argument checks, the input
projection ``x W_ih^T + b_ih`` done for all time steps in one matrix product, and its backward.
"""

from __future__ import annotations

import numpy as np

from course_pkg.validation import (
    require_choice,
    require_floating,
    require_ndim,
    require_positive_int,
    require_shape,
)

NONLINEARITIES = ("tanh", "relu")


# --------------------------------------------------------------------------------------------
# Shared by rnn.py, lstm.py and gru.py
# --------------------------------------------------------------------------------------------


def check_recurrent_args(gate_names, x, states, weight_ih, weight_hh, bias_ih, bias_hh,
                         *, sequence=True):
    """Check the arguments of a recurrent layer (or of one step of it).

    ``gate_names`` names the G row blocks of the weights, e.g. ``("i", "f", "g", "o")``;
    ``x`` is (T, B, D) when ``sequence`` else (B, D) (named ``x_t``); ``states`` maps a name
    such as ``"h0"`` to a (B, H) array. The hidden size H is read from ``weight_hh`` (G*H, H),
    the input size D from ``weight_ih`` (G*H, D).

    Returns ``(B, D, H, dtype)`` where dtype is the dtype the computation runs in.
    """
    x_name = "x" if sequence else "x_t"
    arrays = {x_name: x, **states, "weight_ih": weight_ih, "weight_hh": weight_hh,
              "bias_ih": bias_ih, "bias_hh": bias_hh}
    for name, value in arrays.items():
        require_floating(name, value)

    G = len(gate_names)
    rows = f"{G}H" if G > 1 else "H"
    blocks = f"gate blocks {', '.join(gate_names)} stacked" if G > 1 else "one block"
    require_ndim("weight_hh", weight_hh, 2, f"{rows} x H, {blocks}")
    H = weight_hh.shape[1]
    require_positive_int("weight_hh.shape[1] (hidden size H)", H)
    require_shape("weight_hh", weight_hh, (G * H, H), f"{rows} x H with H = {H}, {blocks}")

    require_ndim("weight_ih", weight_ih, 2, f"{rows} x D, {blocks}")
    D = weight_ih.shape[1]
    require_positive_int("weight_ih.shape[1] (input size D)", D)
    require_shape("weight_ih", weight_ih, (G * H, "D"), f"{rows} x D with H = {H}, {blocks}")

    if sequence:
        require_ndim("x", x, 3, "time-major input, T x B x D")
        require_positive_int("x.shape[0] (sequence length T)", x.shape[0])
        require_shape("x", x, ("T", "B", D), f"time-major input, T x B x D with D = {D}")
    else:
        require_ndim("x_t", x, 2, "input at one time step, B x D")
        require_shape("x_t", x, ("B", D), f"input at one time step, B x D with D = {D}")
    B = x.shape[-2]
    require_positive_int(f"{x_name}.shape[{x.ndim - 2}] (batch size B)", B)

    for name, value in states.items():
        require_shape(name, value, (B, H), f"state, B x H with B = {B}, H = {H}")
    require_shape("bias_ih", bias_ih, (G * H,), f"{rows} with H = {H}")
    require_shape("bias_hh", bias_hh, (G * H,), f"{rows} with H = {H}")
    return B, D, H, np.result_type(*arrays.values())


def upstream_gradient(name, value, shape, dtype):
    """An upstream gradient checked against ``shape``, or zeros when it is None."""
    if value is None:
        return np.zeros(shape, dtype=dtype)
    require_floating(name, value)
    meaning = "same shape as the output it is the gradient of"
    require_shape(name, value, shape, meaning)
    return np.asarray(value).astype(dtype, copy=False)


def project_inputs(x, weight_ih, bias_ih):
    """The input projection ``x W_ih^T + b_ih`` as one matrix product over all leading axes.

    x (..., D) -> (..., G*H). Called once on the whole sequence (T, B, D) before the time loop,
    which is what makes the numpy layers fast: only ``h W_hh^T`` has to wait for the previous step.
    """
    x2d = x.reshape(-1, x.shape[-1])                     # (T*B, D)
    projected = x2d @ weight_ih.T + bias_ih              # (T*B, G*H)
    return projected.reshape(*x.shape[:-1], -1)          # (..., G*H)


def project_inputs_backward(x, h_prev, d_xproj, d_hproj, weight_ih):
    """Gradients of the two projections ``x W_ih^T + b_ih`` and ``h_prev W_hh^T + b_hh``.

    ``d_xproj`` / ``d_hproj`` (..., G*H) are the gradients reaching the two projections (equal
    for the RNN and LSTM; for the GRU the reset gate sits between ``W_hn h`` and the sum).
    Leading axes (T, B) or (B,) are summed over, so a whole sequence costs one matrix product each::

        dx = d_xproj W_ih           dW_ih = d_xproj^T x       db_ih = sum d_xproj
                                    dW_hh = d_hproj^T h_prev  db_hh = sum d_hproj

    Returns ``(dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh)``.
    """
    GH = d_xproj.shape[-1]
    dx2d_proj = d_xproj.reshape(-1, GH)                  # (T*B, G*H)
    dh2d_proj = d_hproj.reshape(-1, GH)                  # (T*B, G*H)
    dx = (dx2d_proj @ weight_ih).reshape(x.shape)        # (..., D)
    dweight_ih = dx2d_proj.T @ x.reshape(-1, x.shape[-1])            # (G*H, D)
    dweight_hh = dh2d_proj.T @ h_prev.reshape(-1, h_prev.shape[-1])  # (G*H, H)
    return dx, dweight_ih, dweight_hh, dx2d_proj.sum(axis=0), dh2d_proj.sum(axis=0)


# --------------------------------------------------------------------------------------------
# The RNN cell: the loop body shared by the step functions and the sequence functions
# --------------------------------------------------------------------------------------------


def rnn_cell_forward(xproj_t, h_prev, weight_hh, bias_hh, nonlinearity):
    """h_t = f(xproj_t + h_prev W_hh^T + b_hh), with xproj_t = x_t W_ih^T + b_ih already done."""
    a = xproj_t + h_prev @ weight_hh.T + bias_hh        # (B, H)
    h_t = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return h_t, (h_prev, h_t, weight_hh, nonlinearity)


def rnn_cell_backward(dh_t, cell_cache):
    """Returns (da, dh_prev): the gradient of the pre-activation a_t and of h_{t-1}."""
    h_prev, h_t, weight_hh, nonlinearity = cell_cache
    if nonlinearity == "tanh":
        da = dh_t * (1 - h_t * h_t)                      # tanh'(a) = 1 - tanh(a)^2
    else:
        da = dh_t * (h_t > 0)                            # relu'(a) = [a > 0]
    dh_prev = da @ weight_hh                             # (B, H)
    return da, dh_prev


# --------------------------------------------------------------------------------------------
# One time step (for teaching)
# --------------------------------------------------------------------------------------------


def rnn_step_forward(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity="tanh"):
    """One step of the Elman RNN: ``h_t = f(x_t W_ih^T + b_ih + h_prev W_hh^T + b_hh)``.

    x_t (B, D), h_prev (B, H), weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,);
    ``nonlinearity`` is ``"tanh"`` or ``"relu"``. Returns ``(h_t, cache)`` with h_t (B, H).
    """
    check_recurrent_args(("h",), x_t, {"h_prev": h_prev}, weight_ih, weight_hh, bias_ih,
                         bias_hh, sequence=False)
    require_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    xproj_t = project_inputs(x_t, weight_ih, bias_ih)   # (B, H)
    h_t, cell_cache = rnn_cell_forward(xproj_t, h_prev, weight_hh, bias_hh, nonlinearity)
    return h_t, (x_t, weight_ih, cell_cache)


def rnn_step_backward(dh_t, cache):
    """Backward of :func:`rnn_step_forward`.

    ``da = dh_t * f'(a)``; ``dx_t = da W_ih``, ``dh_prev = da W_hh``, ``dW_ih = da^T x_t``,
    ``dW_hh = da^T h_prev``, ``db_ih = db_hh = sum_b da``.

    Returns ``(dx_t, dh_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh)``.
    """
    x_t, weight_ih, cell_cache = cache
    h_prev, h_t = cell_cache[0], cell_cache[1]
    dh_t = upstream_gradient("dh_t", dh_t, h_t.shape, h_t.dtype)
    da, dh_prev = rnn_cell_backward(dh_t, cell_cache)
    dx_t, dweight_ih, dweight_hh, dbias_ih, dbias_hh = project_inputs_backward(
        x_t, h_prev, da, da, weight_ih)
    return dx_t, dh_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh


# --------------------------------------------------------------------------------------------
# The whole sequence
# --------------------------------------------------------------------------------------------


def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity="tanh"):
    """Run the Elman RNN over a sequence: ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Reference loop (what this computes, as in ``torch.nn.RNN`` with one layer)::

        h = h0
        for t in range(T):
            h = tanh(x[t] @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
            out[t] = h

    x (T, B, D), h0 (B, H), weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
    Returns ``(out, h_n, cache)``: out (T, B, H) all hidden states, h_n (B, H) the last one.
    The input projection of all T steps is one matrix product before the loop.
    """
    _, _, H, dtype = check_recurrent_args(("h",), x, {"h0": h0}, weight_ih, weight_hh,
                                          bias_ih, bias_hh)
    require_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    T, B, _ = x.shape
    xproj = project_inputs(x, weight_ih, bias_ih)       # (T, B, H), all steps at once
    out = np.empty((T, B, H), dtype=dtype)              # (T, B, H)
    cell_caches = []
    h = h0
    for t in range(T):
        h, cell_cache = rnn_cell_forward(xproj[t], h, weight_hh, bias_hh, nonlinearity)
        out[t] = h
        cell_caches.append(cell_cache)
    return out, h, (x, h0, out, weight_ih, cell_caches)


def rnn_backward(dout, dh_n, cache):
    """Backpropagation through time for :func:`rnn_forward`.

    ``dout`` (T, B, H) is the gradient of the loss with respect to ``out`` and ``dh_n`` (B, H)
    with respect to ``h_n``; either may be None (no loss on it: zeros). Going backwards in time,
    with ``dh`` starting at ``dh_n``::

        dh_t = dout[t] + dh           # from the output at t, and from step t+1 through W_hh
        da_t = dh_t * f'(a_t)
        dh   = da_t W_hh              # handed to step t-1; after step 0 it is the gradient of h0

    then, after the loop, one matrix product each for dx, dW_ih and dW_hh (see
    :func:`project_inputs_backward`). Returns a dict with keys ``x``, ``h0``, ``weight_ih``,
    ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, h0, out, weight_ih, cell_caches = cache
    T, B, H = out.shape
    dout = upstream_gradient("dout", dout, (T, B, H), out.dtype)
    dh = upstream_gradient("dh_n", dh_n, (B, H), out.dtype)
    da = np.empty_like(out)                             # (T, B, H) pre-activation gradients
    for t in reversed(range(T)):
        da[t], dh = rnn_cell_backward(dout[t] + dh, cell_caches[t])
    h_prev = np.concatenate([h0[None], out[:-1]])       # (T, B, H): h_{t-1} for every step
    dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh = project_inputs_backward(
        x, h_prev, da, da, weight_ih)
    return {"x": dx, "h0": dh, "weight_ih": dweight_ih, "weight_hh": dweight_hh,
            "bias_ih": dbias_ih, "bias_hh": dbias_hh}
