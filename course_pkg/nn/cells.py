"""One time step of the Elman RNN, the LSTM and the GRU, written with plain tensor operations.

The equations follow PyTorch's conventions (``torch.nn.RNNCell``, ``LSTMCell``, ``GRUCell``), so
weights load from torch's cells unchanged. Rows are batch elements, ``x`` is (B, D), ``h`` and
``c`` are (B, H); weights are stacked gate blocks: ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H).

Elman RNN (Elman 1990), G = 1::

    h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)          (or relu)

LSTM (Hochreiter & Schmidhuber 1997, forget gate of Gers et al. 2000), G = 4, blocks i, f, g, o::

    i = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)        input gate
    f = sigmoid(x W_if^T + b_if + h W_hf^T + b_hf)        forget gate
    g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)           candidate cell values
    o = sigmoid(x W_io^T + b_io + h W_ho^T + b_ho)        output gate
    c' = f * c + i * g
    h' = o * tanh(c')

GRU (Cho et al. 2014), G = 3, blocks r, z, n; PyTorch applies the reset gate *after* the matrix
product, ``r * (W_hn h + b_hn)`` (Cho et al. v3 apply it before, ``W_hn (r * h)``)::

    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)        reset gate
    z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)        update gate
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))     candidate state
    h' = (1 - z) * n + z * h                              z near 1 keeps the old memory

The multi-layer modules in :mod:`course_pkg.nn.recurrent` compute the input part
``x W_ih^T + b_ih`` of every time step in one matrix product first, so the step functions here
(`rnn_step`, `lstm_step`, `gru_step`) take that projection, ``x_proj``, and do only the work that
must wait for the previous state: one product with ``W_hh`` and the element-wise gate arithmetic.
`lstm_step_gates` and `gru_step_gates` are the same steps returning every gate as well (the
step functions call them), for the pictures of the gates at work.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.validation import (
    require_array,
    require_choice,
    require_floating,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "rnn_step", "lstm_step", "gru_step",
           "LSTMGates", "GRUGates", "lstm_step_gates", "gru_step_gates"]

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


# ----------------------------------------------------------------------------------------------
# the step functions: the recurrence itself
# ----------------------------------------------------------------------------------------------
def rnn_step(x_proj: Tensor, h: Tensor, weight_hh: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """Elman step ``h' = act(x_proj + h W_hh^T)``.

    ``x_proj`` (B, H) is ``x W_ih^T + b_ih + b_hh`` (both biases already added), ``h`` (B, H),
    ``weight_hh`` (H, H). Returns h' (B, H).
    """
    pre_activation = torch.addmm(x_proj, h, weight_hh.t())      # (B, H)
    return NONLINEARITIES[nonlinearity](pre_activation)


class LSTMGates(NamedTuple):
    """One LSTM step's gates and new states, each (B, H)."""

    i: Tensor   # input gate
    f: Tensor   # forget gate
    g: Tensor   # candidate cell values
    o: Tensor   # output gate
    c: Tensor   # c' = f * c + i * g
    h: Tensor   # h' = o * tanh(c')


class GRUGates(NamedTuple):
    """One GRU step's gates and new state, each (B, H)."""

    r: Tensor   # reset gate
    z: Tensor   # update gate
    n: Tensor   # candidate state
    h: Tensor   # h' = (1 - z) * n + z * h


def lstm_step_gates(x_proj: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor) -> LSTMGates:
    """LSTM step ``c' = f * c + i * g``, ``h' = o * tanh(c')``, returning the gates too.

    ``x_proj`` (B, 4H) is ``x W_ih^T + b_ih + b_hh``, ``h`` and ``c`` (B, H),
    ``weight_hh`` (4H, H). Returns `LSTMGates` (i, f, g, o, c', h'), each (B, H).
    """
    gates = torch.addmm(x_proj, h, weight_hh.t())               # (B, 4H): blocks i, f, g, o
    i, f, g, o = gates.chunk(4, dim=1)                          # each (B, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g                                           # (B, H) the cell state
    h = o * torch.tanh(c)                                       # (B, H)
    return LSTMGates(i, f, g, o, c, h)


def lstm_step(x_proj: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM step ``c' = f * c + i * g``, ``h' = o * tanh(c')`` (`lstm_step_gates` without the
    gates). Returns (h', c'), each (B, H)."""
    step = lstm_step_gates(x_proj, h, c, weight_hh)
    return step.h, step.c


def gru_step_gates(x_proj: Tensor, h: Tensor, weight_hh: Tensor,
                   bias_hh: Tensor | None) -> GRUGates:
    """GRU step ``h' = (1 - z) * n + z * h`` with ``n = tanh(x_n + r * (h W_hn^T + b_hn))``,
    returning the gates too.

    ``x_proj`` (B, 3H) is ``x W_ih^T + b_ih`` (input bias only: ``b_hn`` must stay inside the
    reset gate's product), ``h`` (B, H), ``weight_hh`` (3H, H), ``bias_hh`` (3H,) or None.
    Returns `GRUGates` (r, z, n, h'), each (B, H).
    """
    if bias_hh is None:
        h_proj = h.mm(weight_hh.t())                            # (B, 3H)
    else:
        h_proj = torch.addmm(bias_hh, h, weight_hh.t())         # (B, 3H)
    x_r, x_z, x_n = x_proj.chunk(3, dim=1)                      # each (B, H)
    h_r, h_z, h_n = h_proj.chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)                                # reset gate
    z = torch.sigmoid(x_z + h_z)                                # update gate
    n = torch.tanh(x_n + r * h_n)                               # candidate state
    return GRUGates(r, z, n, torch.lerp(n, h, z))               # n + z (h - n) = (1-z) n + z h


def gru_step(x_proj: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """GRU step ``h' = (1 - z) * n + z * h`` (`gru_step_gates` without the gates). Returns
    h' (B, H)."""
    return gru_step_gates(x_proj, h, weight_hh, bias_hh).h


# ----------------------------------------------------------------------------------------------
# argument checks shared with course_pkg.nn.recurrent
# ----------------------------------------------------------------------------------------------
def require_bool(name: str, value) -> None:
    """Refuse anything but True/False (``bias=1`` is a mistake torch refuses too)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")


def require_tensor_like(name: str, value: Tensor, reference: Tensor) -> None:
    """``value`` must be a floating tensor with the dtype (and device) of the parameters."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    require_floating(name, value)
    if value.dtype != reference.dtype:
        raise TypeError(f"{name}: expected dtype {reference.dtype} (the dtype of the parameters), "
                        f"got {value.dtype}")
    if value.device != reference.device:
        raise ValueError(f"{name}: expected a tensor on {reference.device} (the device of the "
                         f"parameters), got {value.device}")


def uniform_init_(parameters, hidden_size: int) -> None:
    """PyTorch's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), in registration
    order, so a module built after ``torch.manual_seed(s)`` equals torch's built after the same
    seed."""
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for parameter in parameters:
            parameter.uniform_(-bound, bound)


# ----------------------------------------------------------------------------------------------
# the cell modules
# ----------------------------------------------------------------------------------------------
class _CellBase(nn.Module):
    """Parameters and argument checks shared by the three cells (``num_gates`` blocks of H)."""

    num_gates: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        require_bool("bias", bias)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = self.num_gates * hidden_size
        factory = {"device": device, "dtype": dtype}
        # registration order weight_ih, weight_hh, bias_ih, bias_hh, as in torch.nn.RNNCellBase
        self.weight_ih = nn.Parameter(torch.empty(gate_size, input_size, **factory))   # (GH, D)
        self.weight_hh = nn.Parameter(torch.empty(gate_size, hidden_size, **factory))  # (GH, H)
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gate_size, **factory))              # (GH,)
            self.bias_hh = nn.Parameter(torch.empty(gate_size, **factory))              # (GH,)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        uniform_init_(self.parameters(), self.hidden_size)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text

    def _check_input(self, input: Tensor) -> bool:
        """Check ``input`` (B, D) or unbatched (D,); return whether it is batched."""
        require_array("input", input)
        require_ndim("input", input, (1, 2), "(batch, input_size) or unbatched (input_size,)")
        require_tensor_like("input", input, self.weight_ih)
        batched = input.dim() == 2
        expected = ("B", self.input_size) if batched else (self.input_size,)
        require_shape("input", input, expected, "input_size = %d" % self.input_size)
        return batched

    def _check_state(self, name: str, state: Tensor, input: Tensor, batched: bool) -> Tensor:
        """Check a state (B, H) / unbatched (H,) against the input; return it batched."""
        require_array(name, state)
        require_tensor_like(name, state, self.weight_ih)
        expected = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        require_shape(name, state, expected, "(batch, hidden_size)" if batched
                      else "(hidden_size,) for unbatched input")
        return state if batched else state.unsqueeze(0)

    def _batched_input_and_state(self, input: Tensor, hx: Tensor | None):
        """Checked ``(x (B, D), h (B, H), batched)``; a missing state starts at zeros."""
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(0)                        # (B, D)
        if hx is None:
            return x, x.new_zeros(x.shape[0], self.hidden_size), batched    # (B, H)
        return x, self._check_state("hx", hx, input, batched), batched

    def _project_input(self, input: Tensor, bias: Tensor | None) -> Tensor:
        """``x W_ih^T + bias`` for one step: (B, D) -> (B, G*H)."""
        return F.linear(input, self.weight_ih, bias)


class RNNCell(_CellBase):
    """Elman RNN cell, drop-in for ``torch.nn.RNNCell``: ``h' = act(x W_ih^T + b_ih + h W_hh^T
    + b_hh)`` with act tanh or relu.

    ``forward(input, hx=None)``: input (B, D) or (D,), hx (B, H) or (H,) (zeros if None);
    returns h' with hx's shape.
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        require_choice("nonlinearity", nonlinearity, list(NONLINEARITIES))
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._batched_input_and_state(input, hx)            # (B, D), (B, H)
        both_biases = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        h = rnn_step(self._project_input(x, both_biases), h, self.weight_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """LSTM cell, drop-in for ``torch.nn.LSTMCell`` (gate blocks i, f, g, o).

    ``forward(input, hx=None)``: input (B, D) or (D,), hx a tuple (h, c) of (B, H) or (H,)
    (zeros if None); returns (h', c').
    """

    num_gates = 4

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(0)                        # (B, D)
        if hx is None:
            h = c = x.new_zeros(x.shape[0], self.hidden_size)               # (B, H)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx: expected a tuple (h, c) of two tensors, got "
                                f"{type(hx).__name__}")
            h = self._check_state("hx[0]", hx[0], input, batched)
            c = self._check_state("hx[1]", hx[1], input, batched)
        both_biases = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        h, c = lstm_step(self._project_input(x, both_biases), h, c, self.weight_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """GRU cell, drop-in for ``torch.nn.GRUCell`` (gate blocks r, z, n, reset applied to
    ``h W_hn^T + b_hn``).

    ``forward(input, hx=None)``: input (B, D) or (D,), hx (B, H) or (H,) (zeros if None);
    returns h'.
    """

    num_gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._batched_input_and_state(input, hx)            # (B, D), (B, H)
        h = gru_step(self._project_input(x, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
