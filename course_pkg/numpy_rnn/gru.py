"""The GRU in numpy, with a hand-written backward pass.

Cho et al., "Learning phrase representations using RNN encoder-decoder for statistical machine
translation" (2014), in PyTorch's layout and gate order r, z, n (``torch.nn.GRU``)::

    xr, xz, xn = split(x_t W_ih^T + b_ih)               # (B, H) each
    hr, hz, hn = split(h_{t-1} W_hh^T + b_hh)           # (B, H) each
    r_t = sigmoid(xr + hr)                              reset gate
    z_t = sigmoid(xz + hz)                              update gate
    n_t = tanh(xn + r_t * hn)                           candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

PyTorch applies the reset gate to ``W_hn h + b_hn``, after the matrix product; Cho et al. (v3)
apply it before, ``W_hn (r * h)``. This module follows PyTorch, so its weights load unchanged.
z near 1 keeps the old state.

Backward, with dh_t the gradient reaching h_t::

    dn   = dh_t * (1 - z),   dz = dh_t * (h_{t-1} - n),   dh_{t-1} gets dh_t * z directly
    da_n = dn * (1 - n^2)                               gradient of xn + r * hn
    dr   = da_n * hn
    da_r = dr * r(1-r),      da_z = dz * z(1-z)
    d(x-projection) = [da_r, da_z, da_n]
    d(h-projection) = [da_r, da_z, da_n * r]            the reset gate scales the hn path
    dh_{t-1} = dh_t * z + d(h-projection) W_hh

Shapes: x (T, B, D) time-major, h (B, H), weight_ih (3H, D), weight_hh (3H, H).
"""

from __future__ import annotations

import numpy as np

from course_pkg.numpy_rnn.lstm import sigmoid
from course_pkg.numpy_rnn.rnn import (
    check_recurrent_args,
    project_inputs,
    project_inputs_backward,
    upstream_gradient,
)

GRU_GATES = ("r", "z", "n")


# --------------------------------------------------------------------------------------------
# The GRU cell: the loop body shared by the step functions and the sequence functions
# --------------------------------------------------------------------------------------------


def gru_cell_forward(xproj_t, h_prev, weight_hh, bias_hh):
    """One GRU update given xproj_t = x_t W_ih^T + b_ih (B, 3H). Returns (h_t, cache)."""
    H = h_prev.shape[1]
    hproj = h_prev @ weight_hh.T + bias_hh              # (B, 3H)
    r = sigmoid(xproj_t[:, 0 * H:1 * H] + hproj[:, 0 * H:1 * H])   # (B, H) reset gate
    z = sigmoid(xproj_t[:, 1 * H:2 * H] + hproj[:, 1 * H:2 * H])   # (B, H) update gate
    hn = hproj[:, 2 * H:3 * H]                          # (B, H) W_hn h + b_hn
    n = np.tanh(xproj_t[:, 2 * H:3 * H] + r * hn)       # (B, H) candidate
    h_t = (1 - z) * n + z * h_prev                      # (B, H)
    return h_t, (h_prev, r, z, n, hn, weight_hh)


def gru_cell_backward(dh_t, cell_cache):
    """Returns (d_xproj, d_hproj, dh_prev): gradients of the two projections (B, 3H) and h_prev."""
    h_prev, r, z, n, hn, weight_hh = cell_cache
    dn = dh_t * (1 - z)
    dz = dh_t * (h_prev - n)
    da_n = dn * (1 - n * n)                             # tanh' = 1 - tanh^2
    da_r = da_n * hn * r * (1 - r)                      # sigmoid' = s (1 - s)
    da_z = dz * z * (1 - z)
    d_xproj = np.concatenate([da_r, da_z, da_n], axis=1)        # (B, 3H)
    d_hproj = np.concatenate([da_r, da_z, da_n * r], axis=1)    # (B, 3H)
    dh_prev = dh_t * z + d_hproj @ weight_hh            # (B, H)
    return d_xproj, d_hproj, dh_prev


# --------------------------------------------------------------------------------------------
# One time step (for teaching)
# --------------------------------------------------------------------------------------------


def gru_step_forward(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    """One GRU step (gate order r, z, n, PyTorch's placement of the reset gate)::

        r = sigmoid(x_t W_ir^T + b_ir + h_prev W_hr^T + b_hr)
        z = sigmoid(x_t W_iz^T + b_iz + h_prev W_hz^T + b_hz)
        n = tanh(x_t W_in^T + b_in + r * (h_prev W_hn^T + b_hn))
        h_t = (1 - z) * n + z * h_prev

    x_t (B, D), h_prev (B, H), weight_ih (3H, D), weight_hh (3H, H), biases (3H,).
    Returns ``(h_t, cache)``.
    """
    check_recurrent_args(GRU_GATES, x_t, {"h_prev": h_prev}, weight_ih, weight_hh, bias_ih,
                         bias_hh, sequence=False)
    xproj_t = project_inputs(x_t, weight_ih, bias_ih)   # (B, 3H)
    h_t, cell_cache = gru_cell_forward(xproj_t, h_prev, weight_hh, bias_hh)
    return h_t, (x_t, weight_ih, cell_cache)


def gru_step_backward(dh_t, cache):
    """Backward of :func:`gru_step_forward` (equations in the module docstring).

    ``dh_t`` (B, H) is the gradient reaching h_t (None means zeros).
    Returns ``(dx_t, dh_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh)``.
    """
    x_t, weight_ih, cell_cache = cache
    h_prev, r = cell_cache[0], cell_cache[1]
    dh_t = upstream_gradient("dh_t", dh_t, h_prev.shape, r.dtype)
    d_xproj, d_hproj, dh_prev = gru_cell_backward(dh_t, cell_cache)
    dx_t, dweight_ih, dweight_hh, dbias_ih, dbias_hh = project_inputs_backward(
        x_t, h_prev, d_xproj, d_hproj, weight_ih)
    return dx_t, dh_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh


# --------------------------------------------------------------------------------------------
# The whole sequence
# --------------------------------------------------------------------------------------------


def gru_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh):
    """Run the GRU over a sequence, as ``torch.nn.GRU`` with one layer.

    Reference loop::

        h = h0
        for t in range(T):
            h, _ = gru_step_forward(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh)
            out[t] = h

    Here the input projection ``x W_ih^T + b_ih`` of all T steps is one matrix product before
    the loop, so each step only multiplies by W_hh.

    x (T, B, D), h0 (B, H), weight_ih (3H, D), weight_hh (3H, H), biases (3H,).
    Returns ``(out, h_n, cache)``: out (T, B, H), h_n (B, H).
    """
    _, _, H, dtype = check_recurrent_args(GRU_GATES, x, {"h0": h0}, weight_ih, weight_hh,
                                          bias_ih, bias_hh)
    T, B, _ = x.shape
    xproj = project_inputs(x, weight_ih, bias_ih)       # (T, B, 3H), all steps at once
    out = np.empty((T, B, H), dtype=dtype)              # (T, B, H)
    cell_caches = []
    h = h0
    for t in range(T):
        h, cell_cache = gru_cell_forward(xproj[t], h, weight_hh, bias_hh)
        out[t] = h
        cell_caches.append(cell_cache)
    return out, h, (x, h0, out, weight_ih, cell_caches)


def gru_backward(dout, dh_n, cache):
    """Backpropagation through time for :func:`gru_forward`.

    ``dout`` (T, B, H) and ``dh_n`` (B, H) are the gradients of the loss with respect to ``out``
    and ``h_n``; either may be None (zeros). Going backwards in time, the gradient reaching h_t
    is ``dout[t]`` plus what step t+1 hands back. The projection gradients of all steps are
    kept, and dx, dW_ih, dW_hh and the biases are then one matrix product each.

    Returns a dict with keys ``x``, ``h0``, ``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``.
    """
    x, h0, out, weight_ih, cell_caches = cache
    T, B, H = out.shape
    dout = upstream_gradient("dout", dout, (T, B, H), out.dtype)
    dh = upstream_gradient("dh_n", dh_n, (B, H), out.dtype)
    d_xproj = np.empty((T, B, 3 * H), dtype=out.dtype)  # (T, B, 3H)
    d_hproj = np.empty((T, B, 3 * H), dtype=out.dtype)  # (T, B, 3H)
    for t in reversed(range(T)):
        d_xproj[t], d_hproj[t], dh = gru_cell_backward(dout[t] + dh, cell_caches[t])
    h_prev = np.concatenate([h0[None], out[:-1]])       # (T, B, H): h_{t-1} for every step
    dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh = project_inputs_backward(
        x, h_prev, d_xproj, d_hproj, weight_ih)
    return {"x": dx, "h0": dh, "weight_ih": dweight_ih, "weight_hh": dweight_hh,
            "bias_ih": dbias_ih, "bias_hh": dbias_hh}
