"""Looking inside the gates: every gate value of an LSTM or a GRU layer at every time step.

``torch.nn.LSTM``/``GRU`` (and `course_pkg.nn`'s drop-ins) return only the hidden states. The
traces here run the layer's own weights through the package's step functions that also return
the gates, `course_pkg.nn.cells.lstm_step_gates` and `gru_step_gates` (PyTorch's gate order and
equations)::

    LSTM:  [a_i, a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
           i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
           c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

    GRU:   [x_r, x_z, x_n] = x_t W_ih^T + b_ih;   [h_r, h_z, h_n] = h_{t-1} W_hh^T + b_hh
           r = sigmoid(x_r + h_r);   z = sigmoid(x_z + h_z);   n = tanh(x_n + r * h_n)
           h_t = (1 - z) * n + z * h_{t-1}

from zero states; `lstm_gate_trace` and `gru_gate_trace` return the gates with the states, as
numpy arrays of shape (T, B, H), for plotting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from course_pkg.nn.cells import gru_step_gates, lstm_step_gates
from course_pkg.validation import require_floating, require_ndim

__all__ = ["LSTMTrace", "GRUTrace", "lstm_gate_trace", "gru_gate_trace"]


@dataclass
class LSTMTrace:
    """Gates and states of a one-layer LSTM over a sequence; every array is (T, B, H)."""

    input_gate: np.ndarray    # i_t
    forget_gate: np.ndarray   # f_t
    candidate: np.ndarray     # g_t
    output_gate: np.ndarray   # o_t
    cell: np.ndarray          # c_t
    hidden: np.ndarray        # h_t


@dataclass
class GRUTrace:
    """Gates and states of a one-layer GRU over a sequence; every array is (T, B, H)."""

    reset_gate: np.ndarray    # r_t
    update_gate: np.ndarray   # z_t
    candidate: np.ndarray     # n_t
    hidden: np.ndarray        # h_t


def _check_layer_and_input(layer, x, num_gates, kind):
    for attribute in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        if not hasattr(layer, attribute):
            raise TypeError(f"layer: expected a one-layer {kind} with biases (parameters "
                            f"weight_ih_l0 ... bias_hh_l0), got {type(layer).__name__}")
    if getattr(layer, "num_layers", 1) != 1 or getattr(layer, "bidirectional", False):
        raise ValueError(f"layer: expected one layer, one direction, got num_layers="
                         f"{layer.num_layers}, bidirectional={layer.bidirectional}")
    if getattr(layer, "batch_first", False):
        raise ValueError("layer: expected batch_first=False (time-major input)")
    H = layer.weight_hh_l0.shape[1]
    if layer.weight_hh_l0.shape[0] != num_gates * H:
        raise ValueError(f"layer: expected {num_gates} gate blocks of H = {H} rows in "
                         f"weight_hh_l0 ({kind}), got shape {tuple(layer.weight_hh_l0.shape)}")
    require_ndim("x", x, 3, "time-major input (T, B, D)")
    require_floating("x", x)
    D = layer.weight_ih_l0.shape[1]
    if x.shape[2] != D:
        raise ValueError(f"x: expected shape (T, B, {D}) (time-major input with D = {D}), "
                         f"got {tuple(x.shape)}")
    return H


def _as_numpy(tensor):
    return tensor.detach().cpu().numpy()


@torch.no_grad()
def lstm_gate_trace(lstm, x) -> LSTMTrace:
    """Run the weights of ``lstm`` (one layer, ``torch.nn.LSTM`` or `course_pkg.nn.LSTM`) over
    ``x`` (T, B, D) from zero states, step by step with `lstm_step_gates`, and return every gate
    and state as an `LSTMTrace`."""
    H = _check_layer_and_input(lstm, x, 4, "LSTM")
    x_proj = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0   # (T, B, 4H)
    h = c = x.new_zeros(x.shape[1], H)                                     # (B, H) h_0, c_0
    steps = []
    for t in range(x.shape[0]):
        step = lstm_step_gates(x_proj[t], h, c, lstm.weight_hh_l0)
        h, c = step.h, step.c
        steps.append(step)
    i, f, g, o, cells, hidden = (_as_numpy(torch.stack(values)) for values in zip(*steps))
    return LSTMTrace(i, f, g, o, cells, hidden)


@torch.no_grad()
def gru_gate_trace(gru, x) -> GRUTrace:
    """Run the weights of ``gru`` (one layer, ``torch.nn.GRU`` or `course_pkg.nn.GRU`) over ``x``
    (T, B, D) from a zero state, step by step with `gru_step_gates`, and return its gates and
    states as a `GRUTrace`."""
    H = _check_layer_and_input(gru, x, 3, "GRU")
    x_proj = x @ gru.weight_ih_l0.T + gru.bias_ih_l0                       # (T, B, 3H)
    h = x.new_zeros(x.shape[1], H)                                         # (B, H) h_0
    steps = []
    for t in range(x.shape[0]):
        step = gru_step_gates(x_proj[t], h, gru.weight_hh_l0, gru.bias_hh_l0)
        h = step.h
        steps.append(step)
    r, z, n, hidden = (_as_numpy(torch.stack(values)) for values in zip(*steps))
    return GRUTrace(r, z, n, hidden)
