"""Looking inside the gates: every gate value of an LSTM or a GRU layer at every time step.

``torch.nn.LSTM``/``GRU`` (and `course_pkg.nn`'s drop-ins) return only the hidden states. The
gates at step t depend on the input ``x_t`` and the previous state ``h_{t-1}``, both of which we
have, so one matrix product per weight recovers them all (PyTorch's gate order and equations,
as in `course_pkg.nn.cells`)::

    LSTM:  [a_i, a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
           i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
           c_t = f * c_{t-1} + i * g

    GRU:   [x_r, x_z, x_n] = x_t W_ih^T + b_ih;   [h_r, h_z, h_n] = h_{t-1} W_hh^T + b_hh
           r = sigmoid(x_r + h_r);   z = sigmoid(x_z + h_z);   n = tanh(x_n + r * h_n)

The hidden states come from running the layer itself, and the cell states of the LSTM from the
recursion above; `lstm_gate_trace` and `gru_gate_trace` return them with the gates, as numpy
arrays of shape (T, B, H), for plotting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

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


def _previous_states(hidden):
    """h_0 = 0, h_1, ..., h_{T-1}: the state each step starts from. (T, B, H) -> (T, B, H)."""
    return torch.cat([torch.zeros_like(hidden[:1]), hidden[:-1]])


@torch.no_grad()
def lstm_gate_trace(lstm, x) -> LSTMTrace:
    """Run ``lstm`` (one layer, ``torch.nn.LSTM`` or `course_pkg.nn.LSTM`) on ``x`` (T, B, D)
    from zero states and return every gate and state as an `LSTMTrace`."""
    H = _check_layer_and_input(lstm, x, 4, "LSTM")
    hidden, _ = lstm(x)                                                  # (T, B, H)
    a = (x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0
         + _previous_states(hidden) @ lstm.weight_hh_l0.T + lstm.bias_hh_l0)   # (T, B, 4H)
    i, f, g, o = a.split(H, dim=2)                                       # each (T, B, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    cells = torch.empty_like(hidden)                                     # (T, B, H)
    c = torch.zeros_like(hidden[0])                                      # (B, H) c_0
    for t in range(x.shape[0]):
        c = f[t] * c + i[t] * g[t]
        cells[t] = c
    return LSTMTrace(_as_numpy(i), _as_numpy(f), _as_numpy(g), _as_numpy(o), _as_numpy(cells),
                     _as_numpy(hidden))


@torch.no_grad()
def gru_gate_trace(gru, x) -> GRUTrace:
    """Run ``gru`` (one layer, ``torch.nn.GRU`` or `course_pkg.nn.GRU`) on ``x`` (T, B, D) from
    a zero state and return its gates and states as a `GRUTrace`."""
    H = _check_layer_and_input(gru, x, 3, "GRU")
    hidden, _ = gru(x)                                                   # (T, B, H)
    x_r, x_z, x_n = (x @ gru.weight_ih_l0.T + gru.bias_ih_l0).split(H, dim=2)
    h_r, h_z, h_n = (_previous_states(hidden) @ gru.weight_hh_l0.T
                     + gru.bias_hh_l0).split(H, dim=2)                   # each (T, B, H)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return GRUTrace(_as_numpy(r), _as_numpy(z), _as_numpy(n), _as_numpy(hidden))
