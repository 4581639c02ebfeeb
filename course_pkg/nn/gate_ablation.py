"""Gate ablation: an LSTM layer with one of its sigmoid gates held open at 1.

Greff et al. (2017), *LSTM: A search space odyssey*, compare variants of the LSTM that each lack
one part. Holding a gate at 1 removes its job from the cell::

    input gate  i_t = 1:  c_t = f_t * c_{t-1} + g_t          every candidate is written
    forget gate f_t = 1:  c_t = c_{t-1} + i_t * g_t          nothing is ever erased (the LSTM of
                                                             Hochreiter & Schmidhuber 1997)
    output gate o_t = 1:  h_t = tanh(c_t)                    the whole memory is always shown

`hold_gate_open` does this to a one-layer ``course_pkg.nn.LSTM`` (or ``torch.nn.LSTM``) in place,
so the layer keeps its fast path. The gate's rows of ``weight_ih_l0``, ``weight_hh_l0`` and
``bias_hh_l0`` are set to 0 and its rows of ``bias_ih_l0`` to ``HELD_PRE_ACTIVATION`` = 30, so
its pre-activation is 30 whatever the input::

    sigmoid(30) = 1 - 9.4e-14,   which rounds to 1.0 in float32 (and differs from 1 by 1e-13 in
                                  float64);

gradient hooks zero the gradient of those rows, so an optimiser (SGD, Adam without weight
decay) never moves them. The layer's other gates train as usual.
"""

from __future__ import annotations

import torch
from torch import nn

from course_pkg.validation import require_choice

__all__ = ["GATE_BLOCKS", "HELD_PRE_ACTIVATION", "hold_gate_open", "gate_rows"]

#: The sigmoid gates of an LSTM and their block index in PyTorch's stacked order i, f, g, o.
GATE_BLOCKS = {"input": 0, "forget": 1, "output": 3}
HELD_PRE_ACTIVATION = 30.0   # sigmoid(30) == 1.0 in float32

_PARAMETERS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def gate_rows(gate: str, hidden_size: int) -> slice:
    """The rows of the stacked LSTM parameters (4H, ...) that belong to ``gate``."""
    require_choice("gate", gate, tuple(GATE_BLOCKS))
    block = GATE_BLOCKS[gate]
    return slice(block * hidden_size, (block + 1) * hidden_size)


def _check_layer(layer) -> int:
    if not isinstance(layer, nn.Module) or not all(hasattr(layer, n) for n in _PARAMETERS):
        raise TypeError(f"layer: expected a one-layer LSTM with biases (parameters "
                        f"{', '.join(_PARAMETERS)}), got {type(layer).__name__}")
    if getattr(layer, "num_layers", 1) != 1 or getattr(layer, "bidirectional", False):
        raise ValueError(f"layer: expected one layer and one direction, got num_layers="
                         f"{layer.num_layers}, bidirectional={layer.bidirectional}")
    hidden_size = layer.weight_hh_l0.shape[1]
    if layer.weight_hh_l0.shape[0] != 4 * hidden_size:
        raise ValueError(f"layer: expected an LSTM, whose weight_hh_l0 has 4 H = "
                         f"{4 * hidden_size} rows, got shape {tuple(layer.weight_hh_l0.shape)}")
    return hidden_size


def hold_gate_open(layer: nn.Module, gate: str) -> nn.Module:
    """Hold ``gate`` (``"input"``, ``"forget"`` or ``"output"``) of a one-layer LSTM at 1.

    Changes ``layer`` in place (see the module doc) and returns it. Call it before creating the
    optimiser or at least before the first step; the gate's rows then stay fixed in training.
    Calling it for two gates holds both.
    """
    require_choice("gate", gate, tuple(GATE_BLOCKS))
    hidden_size = _check_layer(layer)
    rows = gate_rows(gate, hidden_size)
    with torch.no_grad():
        for name in _PARAMETERS:
            parameter = getattr(layer, name)                  # (4H, D), (4H, H) or (4H,)
            parameter[rows] = 0.0
            keep = torch.ones_like(parameter)
            keep[rows] = 0.0                                  # 0 on the held gate's rows
            parameter.register_hook(lambda grad, keep=keep: grad * keep)
        layer.bias_ih_l0[rows] = HELD_PRE_ACTIVATION
    return layer
