"""The convolutional LSTM (ConvLSTM) of Shi et al. (2015), *Convolutional LSTM Network: A Machine
Learning Approach for Precipitation Nowcasting*, eq. 3.

A fully connected LSTM reads a frame as one long vector, so it forgets which pixel sits next to
which. ConvLSTM keeps the picture: the input ``X_t`` (B, C, H, W), the hidden state ``H_t`` and
the cell state ``C_t`` (both (B, F, H, W), F = ``hidden_channels``) are images with channels, and
every matrix product of the LSTM becomes a convolution ``*``. Gate blocks in the order i, f, g, o
of `course_pkg.nn.LSTMCell`::

    i_t = sigmoid(W_xi * X_t + W_hi * H_{t-1} + b_i  [+ w_ci o C_{t-1}])     input gate
    f_t = sigmoid(W_xf * X_t + W_hf * H_{t-1} + b_f  [+ w_cf o C_{t-1}])     forget gate
    g_t = tanh(W_xg * X_t + W_hg * H_{t-1} + b_g)                            candidate
    C_t = f_t o C_{t-1} + i_t o g_t
    o_t = sigmoid(W_xo * X_t + W_ho * H_{t-1} + b_o  [+ w_co o C_t])         output gate
    H_t = o_t o tanh(C_t)

(``o`` is the element-wise product.) Every convolution uses 'same' padding (``kernel_size // 2``
on each side, odd kernels only), so the states keep the size of the frame and a pixel of
``H_t`` sees a ``kernel_size x kernel_size`` neighbourhood of ``X_t`` and ``H_{t-1}``: the
receptive field grows by ``kernel_size // 2`` pixels per time step.

Peepholes (the bracketed terms) are **off by default**, as in `torch.nn.LSTM`. With
``peepholes=True`` the cell adds them, but with one weight per channel, ``w_c?`` of shape
(F, 1, 1) broadcast over the grid, where Shi et al. learn one weight per channel *and pixel*
(F, H, W): ours works on frames of any size and stays translation-equivariant like the
convolutions.

Parameters follow `torch.nn.LSTMCell` with one more pair of dimensions for the kernel:
``weight_ih`` (4F, C, k, k), ``weight_hh`` (4F, F, k, k), ``bias_ih`` and ``bias_hh`` (4F,).
So a ConvLSTM with a 1x1 kernel on a 1x1 grid *is* an LSTM cell: reshape ``weight_ih`` to
(4F, C) and ``weight_hh`` to (4F, F) and `torch.nn.LSTMCell` gives the same numbers (the tests
check outputs and gradients). Initialisation: every parameter ~ U(-1/sqrt(F k^2), 1/sqrt(F k^2)),
PyTorch's LSTM rule with the kernel's fan-in, the same as `LSTMCell`'s when k = 1.

`ConvLSTM` stacks layers over a sequence (T, B, C, H, W). Like `course_pkg.nn.LSTM` it convolves
the inputs of all T steps at once (one ``conv2d`` over T*B frames) and leaves only the
convolution of ``H_{t-1}`` and the gate arithmetic inside the loop over time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.cells import require_bool, require_tensor_like
from course_pkg.validation import require_ndim, require_positive_int, require_shape

__all__ = ["conv_lstm_step", "ConvLSTMCell", "ConvLSTM"]


def conv_lstm_step(x_proj: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor,
                   peephole_weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One ConvLSTM step from the convolved input ``x_proj = W_x * X_t + b_ih + b_hh``.

    ``x_proj`` (B, 4F, H, W), ``h`` and ``c`` (B, F, H, W), ``weight_hh`` (4F, F, k, k),
    ``peephole_weights`` None or (3, F, 1, 1) holding w_ci, w_cf, w_co. Returns (h', c').
    """
    padding = weight_hh.shape[-1] // 2
    gates = x_proj + F.conv2d(h, weight_hh, padding=padding)      # (B, 4F, H, W): i, f, g, o
    i, f, g, o = gates.chunk(4, dim=1)                            # each (B, F, H, W)
    if peephole_weights is not None:
        i = i + peephole_weights[0] * c                           # the gates peek at C_{t-1}
        f = f + peephole_weights[1] * c
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)   # (B, F, H, W)
    if peephole_weights is not None:
        o = o + peephole_weights[2] * c                           # ... and o at C_t
    h = torch.sigmoid(o) * torch.tanh(c)                          # (B, F, H, W)
    return h, c


def _require_odd_kernel(kernel_size) -> None:
    require_positive_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size: expected an odd int ('same' padding of kernel_size // 2 "
                         f"on each side), got {kernel_size}")


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step (see the module docstring for the equations).

    ``ConvLSTMCell(input_channels, hidden_channels, kernel_size, bias=True, peepholes=False)``;
    ``forward(input, hx=None)``: input (B, C, H, W), ``hx = (h, c)`` each (B, F, H, W) or None
    (zeros); returns ``(h', c')``.
    """

    def __init__(self, input_channels: int, hidden_channels: int, kernel_size: int,
                 bias: bool = True, peepholes: bool = False) -> None:
        super().__init__()
        require_positive_int("input_channels", input_channels)
        require_positive_int("hidden_channels", hidden_channels)
        _require_odd_kernel(kernel_size)
        require_bool("bias", bias)
        require_bool("peepholes", peepholes)
        self.input_channels = input_channels
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.bias = bias
        self.peepholes = peepholes
        k, gate_channels = kernel_size, 4 * hidden_channels
        # the layout of torch.nn.LSTMCell, with a (k, k) kernel on each weight
        self.weight_ih = nn.Parameter(torch.empty(gate_channels, input_channels, k, k))
        self.weight_hh = nn.Parameter(torch.empty(gate_channels, hidden_channels, k, k))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gate_channels))           # (4F,)
            self.bias_hh = nn.Parameter(torch.empty(gate_channels))           # (4F,)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if peepholes:
            self.peephole_weights = nn.Parameter(torch.empty(3, hidden_channels, 1, 1))
        else:
            self.register_parameter("peephole_weights", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(F k^2), 1/sqrt(F k^2)) (torch's LSTMCell rule when k=1)."""
        bound = 1.0 / math.sqrt(self.hidden_channels * self.kernel_size ** 2)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.input_channels}, {self.hidden_channels}, kernel_size={self.kernel_size}"
        if not self.bias:
            text += ", bias=False"
        if self.peepholes:
            text += ", peepholes=True"
        return text

    def project_input(self, frames: Tensor) -> Tensor:
        """``W_x * X + b_ih + b_hh`` for a stack of frames: (N, C, H, W) -> (N, 4F, H, W)."""
        both_biases = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.conv2d(frames, self.weight_ih, both_biases, padding=self.kernel_size // 2)

    def step(self, x_proj: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """`conv_lstm_step` with this cell's weights."""
        return conv_lstm_step(x_proj, h, c, self.weight_hh, self.peephole_weights)

    def check_state(self, name: str, state: Tensor, like: tuple[int, ...]) -> None:
        """``state`` must be a floating tensor shaped ``like`` = (B, F, H, W)."""
        require_tensor_like(name, state, self.weight_ih)
        require_shape(name, state, like, "(batch, hidden_channels, height, width)")

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        require_tensor_like("input", input, self.weight_ih)
        require_ndim("input", input, 4, "(batch, channels, height, width)")
        require_shape("input", input, ("B", self.input_channels, "H", "W"),
                      f"(batch, channels, height, width) with {self.input_channels} channels")
        batch, _, height, width = input.shape
        state_shape = (batch, self.hidden_channels, height, width)
        if hx is None:
            h = c = input.new_zeros(state_shape)                        # (B, F, H, W)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx: expected a tuple (h, c) of two tensors, got "
                                f"{type(hx).__name__}")
            h, c = hx
            self.check_state("hx[0]", h, state_shape)
            self.check_state("hx[1]", c, state_shape)
        return self.step(self.project_input(input), h, c)


class ConvLSTM(nn.Module):
    """A stack of ConvLSTM layers over a sequence of frames; layer k+1 reads layer k's H_t.

    ``ConvLSTM(input_channels, hidden_channels, kernel_size, num_layers=1, batch_first=False,
    bias=True, peepholes=False)``; the layers are ``self.cells[k]``, `ConvLSTMCell` s.

    ``forward(input, hx=None)``: input (T, B, C, H, W) ((B, T, C, H, W) with ``batch_first``),
    ``hx = (h_0, c_0)`` each (num_layers, B, F, H, W) or None (zeros). Returns
    ``(output, (h_n, c_n))`` like `torch.nn.LSTM`: output (T, B, F, H, W) (same layout as the
    input) holds the last layer's H_t at every step, ``h_n`` and ``c_n`` (num_layers, B, F, H, W)
    the final states of every layer.
    """

    def __init__(self, input_channels: int, hidden_channels: int, kernel_size: int,
                 num_layers: int = 1, batch_first: bool = False, bias: bool = True,
                 peepholes: bool = False) -> None:
        super().__init__()
        require_positive_int("num_layers", num_layers)
        require_bool("batch_first", batch_first)
        self.input_channels = input_channels
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.cells = nn.ModuleList(
            ConvLSTMCell(input_channels if layer == 0 else hidden_channels, hidden_channels,
                         kernel_size, bias=bias, peepholes=peepholes)
            for layer in range(num_layers))

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}, batch_first={self.batch_first}"

    def _initial_states(self, hx, like: tuple[int, ...], input: Tensor) -> tuple[Tensor, Tensor]:
        stacked_shape = (self.num_layers, *like)                        # (L, B, F, H, W)
        if hx is None:
            zeros = input.new_zeros(stacked_shape)
            return zeros, zeros
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx: expected a tuple (h_0, c_0) of two tensors, got "
                            f"{type(hx).__name__}")
        for name, state in zip(("hx[0]", "hx[1]"), hx):
            require_tensor_like(name, state, self.cells[0].weight_ih)
            require_shape(name, state, stacked_shape,
                          "(num_layers, batch, hidden_channels, height, width)")
        return hx[0], hx[1]

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        require_tensor_like("input", input, self.cells[0].weight_ih)
        if self.batch_first:
            layout, expected = "(B, T, C, H, W) with batch_first", ("B", "T")
        else:
            layout, expected = "(T, B, C, H, W)", ("T", "B")
        require_ndim("input", input, 5, layout)
        require_shape("input", input, (*expected, self.input_channels, "H", "W"),
                      f"{layout} with C = input_channels = {self.input_channels}")
        x = input.transpose(0, 1) if self.batch_first else input        # (T, B, C, H, W)
        steps, batch, _, height, width = x.shape
        h_0, c_0 = self._initial_states(hx, (batch, self.hidden_channels, height, width), input)

        h_finals, c_finals = [], []
        layer_input = x                                                 # (T, B, C_k, H, W)
        for layer, cell in enumerate(self.cells):
            # the input convolution of all T steps at once: (T*B, C_k, H, W) -> (T*B, 4F, H, W)
            x_proj = cell.project_input(layer_input.flatten(0, 1))
            x_proj = x_proj.view(steps, batch, *x_proj.shape[1:])      # (T, B, 4F, H, W)
            h, c = h_0[layer], c_0[layer]                               # (B, F, H, W)
            outputs = []
            for x_proj_t in x_proj.unbind(0):
                h, c = cell.step(x_proj_t, h, c)
                outputs.append(h)
            layer_input = torch.stack(outputs)                          # (T, B, F, H, W)
            h_finals.append(h)
            c_finals.append(c)
        output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        return output, (torch.stack(h_finals), torch.stack(c_finals))
