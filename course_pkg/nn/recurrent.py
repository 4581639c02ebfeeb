"""Multi-layer, optionally bidirectional RNN, LSTM and GRU modules built from tensor operations.

Drop-in replacements for ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``: the same
constructor arguments, parameter names (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``, suffix ``_reverse`` for the backward direction), shapes, registration order
and initialisation U(-1/sqrt(H), 1/sqrt(H)), and the same ``forward``: padded input (T, B, D),
(B, T, D) with ``batch_first``, unbatched (T, D), or a ``PackedSequence``. So
``course.load_state_dict(torch_module.state_dict())`` gives the same numbers and gradients.
Only ``proj_size`` (LSTM projections) is not implemented.

What one layer does, for each direction (the per-step equations are in
:mod:`course_pkg.nn.cells`)::

    x_proj = x W_ih^T + b_ih (+ b_hh)         # all T steps at once: (T*B, D) @ (D, G*H)
    for t in 0..T-1 (T-1..0 for the reverse direction):
        state = step(x_proj[t], state)        # one (B, H) @ (H, G*H) product + gate arithmetic
        out[t] = h

A stacked network feeds layer k's output (T, B, num_directions * H), the two directions
concatenated, to layer k+1, with dropout in between (not after the last layer) in training mode.
A plain reference loop for one layer and direction::

    h = h0
    for t in range(T):
        h = torch.tanh(x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        out[t] = h

Returns ``(output, h_n)`` (RNN, GRU) or ``(output, (h_n, c_n))`` (LSTM); ``h_n`` is
(num_layers * num_directions, B, H), layer by layer, the forward direction first.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from course_pkg.nn.cells import (
    NONLINEARITIES,
    gru_step,
    lstm_step,
    require_bool,
    require_tensor_like,
    rnn_step,
    uniform_init_,
)
from course_pkg.nn.fused_lstm import fused_lstm_layer
from course_pkg.nn.packing import padded_to_rows, rows_to_padded, run_through_time
from course_pkg.validation import (
    require_choice,
    require_in_range,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["RNN", "LSTM", "GRU"]


class RecurrentBase(nn.Module):
    """Parameters, argument checks and the layer/direction/time loops shared by RNN, LSTM, GRU.

    A subclass sets ``num_gates`` and ``state_names`` and says how to project the inputs
    (`_input_projection`) and how to take one step (`_step_function`).
    """

    num_gates: int = 1
    state_names: tuple[str, ...] = ("hx",)      # names of the initial states in messages

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        require_positive_int("num_layers", num_layers)
        require_bool("bias", bias)
        require_bool("batch_first", batch_first)
        require_bool("bidirectional", bidirectional)
        require_in_range("dropout", dropout, 0.0, 1.0)
        if dropout > 0 and num_layers == 1:     # the same warning as torch
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        num_directions = 2 if bidirectional else 1
        gate_size = self.num_gates * hidden_size
        factory = {"device": device, "dtype": dtype}

        # Registration order of torch.nn.RNNBase: per layer, per direction, w_ih w_hh b_ih b_hh.
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else num_directions * hidden_size
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input_size),   # (GH, D or dirs*H)
                          "weight_hh": (gate_size, hidden_size)}        # (GH, H)
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                for kind, shape in shapes.items():
                    setattr(self, kind + suffix, nn.Parameter(torch.empty(shape, **factory)))
                self._all_weights.append([kind + suffix for kind in shapes])
        self.reset_parameters()

    # -- what differs between RNN, LSTM and GRU -------------------------------------------------
    def _input_projection(self, rows: Tensor, weight_ih: Tensor, bias_ih: Tensor | None,
                          bias_hh: Tensor | None) -> Tensor:
        """``x W_ih^T + b_ih + b_hh`` for all rows at once: (N, D) -> (N, G*H)."""
        both_biases = None if bias_ih is None else bias_ih + bias_hh
        return F.linear(rows, weight_ih, both_biases)

    def _step_function(self, weight_hh: Tensor, bias_hh: Tensor | None):
        raise NotImplementedError

    # -- torch.nn.RNNBase's housekeeping --------------------------------------------------------
    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        uniform_init_(self.parameters(), self.hidden_size)

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The parameters grouped per layer and direction, as in torch."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Nothing to do: kept so code written for torch's modules runs unchanged (torch uses it
        to lay the weights out for cuDNN)."""

    def extra_repr(self) -> str:
        # as torch.nn.RNNBase's (which does not show the RNN's nonlinearity either)
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text

    # -- the forward pass -----------------------------------------------------------------------
    def _check_input(self, input) -> None:
        packed = isinstance(input, PackedSequence)
        x = input.data if packed else input
        require_tensor_like("input", x, self.weight_ih_l0)
        if x.numel() == 0:
            raise ValueError(f"input: expected at least one time step of one sequence, got "
                             f"shape {tuple(x.shape)}")
        if packed:
            require_shape("input", x, ("N", self.input_size),
                          "PackedSequence data (total steps, input_size)")
            return
        require_ndim("input", x, (2, 3), "(T, B, input_size), (B, T, input_size) with "
                     "batch_first, or unbatched (T, input_size)")
        if x.dim() == 2:
            expected, meaning = ("T", self.input_size), "unbatched input (T, input_size)"
        elif self.batch_first:
            expected, meaning = ("B", "T", self.input_size), "batch_first input (B, T, input_size)"
        else:
            expected, meaning = ("T", "B", self.input_size), "time-major input (T, B, input_size)"
        require_shape("input", x, expected, meaning)

    def _initial_states(self, hx, batch: int, unbatched: bool, like: Tensor) -> tuple[Tensor, ...]:
        """The initial states as a tuple of (num_layers * num_directions, B, H) tensors."""
        num_states = len(self.state_names)
        stacked = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            zeros = like.new_zeros(stacked, batch, self.hidden_size)
            return (zeros,) * num_states
        if num_states == 1:
            hx = (hx,)
        elif not isinstance(hx, (tuple, list)) or len(hx) != num_states:
            raise TypeError(f"hx: expected a tuple (h_0, c_0) of two tensors, got "
                            f"{type(hx).__name__}")
        states = []
        for name, state in zip(self.state_names, hx):
            require_tensor_like(name, state, self.weight_ih_l0)
            if unbatched:
                require_shape(name, state, (stacked, self.hidden_size),
                              "num_layers * num_directions, hidden_size; unbatched input")
                state = state.unsqueeze(1)
            else:
                require_shape(name, state, (stacked, batch, self.hidden_size),
                              "num_layers * num_directions, batch, hidden_size")
            states.append(state)
        return tuple(states)

    def _layer_direction(self, rows: Tensor, batch_sizes: list[int], initial: tuple[Tensor, ...],
                         weights: tuple, reverse: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One layer in one direction: rows (N, D) -> outputs (N, H) and the final states."""
        weight_ih, weight_hh, bias_ih, bias_hh = weights
        x_proj = self._input_projection(rows, weight_ih, bias_ih, bias_hh)   # (N, GH)
        x_steps = x_proj.split(batch_sizes)                                   # T blocks (b_t, GH)
        outputs, final = run_through_time(self._step_function(weight_hh, bias_hh), x_steps,
                                          initial, reverse=reverse)
        return torch.cat(outputs), final

    def run_layers(self, input, hx):
        """The whole network; returns (output, tuple of final states (L*dirs, B, H))."""
        self._check_input(input)
        packed = isinstance(input, PackedSequence)
        unbatched = not packed and input.dim() == 2
        if packed:
            rows, batch_sizes = input.data, input.batch_sizes.tolist()      # rows (N, D)
            sorted_indices, unsorted_indices = input.sorted_indices, input.unsorted_indices
        else:
            x = input.unsqueeze(0 if self.batch_first else 1) if unbatched else input
            rows, batch_sizes = padded_to_rows(x, self.batch_first)         # rows (T*B, D)
            sorted_indices = unsorted_indices = None
        batch = batch_sizes[0]
        initial = self._initial_states(hx, batch, unbatched, rows)         # each (L*dirs, B, H)
        if sorted_indices is not None:    # states are given in the user's order, rows sorted
            initial = tuple(s.index_select(1, sorted_indices) for s in initial)

        num_directions = 2 if self.bidirectional else 1
        final_states = []                                  # one state tuple per layer/direction
        layer_input = rows                                 # (N, D), then (N, dirs * H)
        for layer in range(self.num_layers):
            direction_outputs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                # (weight_ih, weight_hh, bias_ih, bias_hh), the biases None without bias
                weights = tuple(self.all_weights[k]) + ((None, None) if not self.bias else ())
                outputs, final = self._layer_direction(
                    layer_input, batch_sizes, tuple(s[k] for s in initial), weights,
                    reverse=direction == 1)
                direction_outputs.append(outputs)                                 # (N, H)
                final_states.append(final)
            layer_input = torch.cat(direction_outputs, dim=1) if num_directions == 2 \
                else direction_outputs[0]                                         # (N, dirs*H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)

        finals = tuple(torch.stack(parts) for parts in zip(*final_states))      # (L*dirs, B, H)
        if unsorted_indices is not None:
            finals = tuple(s.index_select(1, unsorted_indices) for s in finals)
        if packed:
            output = PackedSequence(layer_input, input.batch_sizes, sorted_indices,
                                    unsorted_indices)
        else:
            output = rows_to_padded(layer_input, len(batch_sizes), batch, self.batch_first)
            if unbatched:
                output = output.squeeze(0 if self.batch_first else 1)             # (T, dirs*H)
                finals = tuple(s.squeeze(1) for s in finals)                      # (L*dirs, H)
        return output, finals


class RNN(RecurrentBase):
    """Multi-layer Elman RNN, drop-in for ``torch.nn.RNN``::

        h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),   act = tanh or relu

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None)``.
    ``forward(input, hx=None)`` returns ``(output, h_n)``.
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        require_choice("nonlinearity", nonlinearity, list(NONLINEARITIES))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def _step_function(self, weight_hh, bias_hh):
        # both biases are in x_proj already
        return lambda x_t, h: (rnn_step(x_t, h, weight_hh, self.nonlinearity),)

    def forward(self, input, hx: Tensor | None = None):
        """``input`` (T, B, D), (B, T, D) if batch_first, (T, D) unbatched, or a PackedSequence;
        ``hx`` (num_layers * num_directions, B, H) or None (zeros).
        Returns ``(output, h_n)``: output (T, B, dirs * H) (same layout as the input),
        h_n (num_layers * num_directions, B, H)."""
        output, (h_n,) = self.run_layers(input, hx)
        return output, h_n


class LSTM(RecurrentBase):
    """Multi-layer LSTM, drop-in for ``torch.nn.LSTM`` (gate blocks i, f, g, o)::

        i, f, g, o = split(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)   # (B, 4H) -> 4 x (B, H)
        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
        h_t = sigmoid(o) * tanh(c_t)

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0, device=None, dtype=None)``; ``proj_size`` must be 0.
    ``forward(input, hx=None)`` with ``hx = (h_0, c_0)`` returns ``(output, (h_n, c_n))``.

    Fast path: float32 batches on the CPU whose sequences all have the same length run each layer
    and direction through :func:`course_pkg.nn.fused_lstm.fused_lstm_layer`, the same equations
    with backpropagation through time written by hand, as torch's fused kernels do (about twice
    as fast here; differentiable once, not twice). Set the attribute ``fused = False`` to use the
    step-by-step path above, whose backward pass autograd derives, for every input.
    """

    fused: bool = True

    num_gates = 4
    state_names = ("hx[0]", "hx[1]")                  # h_0, c_0

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        if proj_size != 0:
            raise ValueError(f"proj_size: expected 0 (LSTM projections are not implemented in "
                             f"course_pkg.nn.LSTM), got {proj_size!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.mode = "LSTM"

    def _step_function(self, weight_hh, bias_hh):
        # both biases are in x_proj already
        return lambda x_t, h, c: lstm_step(x_t, h, c, weight_hh)

    def _layer_direction(self, rows, batch_sizes, initial, weights, reverse):
        if not (self.fused and rows.dtype == torch.float32 and rows.device.type == "cpu"
                and rows.shape[0] > 0 and len(set(batch_sizes)) == 1):
            return super()._layer_direction(rows, batch_sizes, initial, weights, reverse)
        weight_ih, weight_hh, bias_ih, bias_hh = weights
        steps, batch = len(batch_sizes), batch_sizes[0]
        bias = None if bias_ih is None else bias_ih + bias_hh
        out, h_n, c_n = fused_lstm_layer(rows.reshape(steps, batch, rows.shape[1]), *initial,
                                         weight_ih, weight_hh, bias, reverse)   # (T, B, H)
        return out.view(steps * batch, self.hidden_size), (h_n, c_n)

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None):
        """``input`` (T, B, D), (B, T, D) if batch_first, (T, D) unbatched, or a PackedSequence;
        ``hx = (h_0, c_0)``, each (num_layers * num_directions, B, H), or None (zeros).
        Returns ``(output, (h_n, c_n))``: output (T, B, dirs * H) (same layout as the input)."""
        output, (h_n, c_n) = self.run_layers(input, hx)
        return output, (h_n, c_n)


class GRU(RecurrentBase):
    """Multi-layer GRU, drop-in for ``torch.nn.GRU`` (gate blocks r, z, n)::

        r_t = sigmoid(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
        z_t = sigmoid(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
        n_t = tanh(x_t W_in^T + b_in + r_t * (h_{t-1} W_hn^T + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, device=None, dtype=None)``.
    ``forward(input, hx=None)`` returns ``(output, h_n)``.
    """

    num_gates = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.mode = "GRU"

    def _input_projection(self, rows, weight_ih, bias_ih, bias_hh):
        # only b_ih: b_hn sits inside the reset gate's product, so b_hh stays in the step
        return F.linear(rows, weight_ih, bias_ih)                               # (N, 3H)

    def _step_function(self, weight_hh, bias_hh):
        return lambda x_t, h: (gru_step(x_t, h, weight_hh, bias_hh),)

    def forward(self, input, hx: Tensor | None = None):
        """``input`` (T, B, D), (B, T, D) if batch_first, (T, D) unbatched, or a PackedSequence;
        ``hx`` (num_layers * num_directions, B, H) or None (zeros).
        Returns ``(output, h_n)``: output (T, B, dirs * H) (same layout as the input)."""
        output, (h_n,) = self.run_layers(input, hx)
        return output, h_n
