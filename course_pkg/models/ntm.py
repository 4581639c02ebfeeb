"""A neural Turing machine: an LSTM controller with a memory matrix it reads and writes.

Graves, Wayne & Danihelka (2014), *Neural Turing machines*, section 3. The memory ``M`` holds N
rows ("slots") of width M. A head produces a weighting ``w`` over the N slots in four steps
(figure 2 of the paper), each a small function below:

1. `content_addressing`, eq. (5)-(6): ``w^c_i = softmax_i(beta * K(k, M_i))``, K the cosine
   similarity, ``beta >= 0`` the key strength;
2. `interpolate`, eq. (7): ``w^g = g * w^c + (1 - g) * w_prev``, the gate ``g in [0, 1]`` keeps
   the previous weighting (g = 0) or takes the content weighting (g = 1);
3. `circular_shift`, eq. (8): ``w~_i = sum_j w^g_j s(i - j mod N)``, a circular convolution with
   a shift weighting ``s`` over the offsets ``-R..R``;
4. `sharpen`, eq. (9): ``w_i = w~_i^gamma / sum_j w~_j^gamma`` with ``gamma >= 1``.

A read head returns `memory_read`, eq. (2): ``r = sum_i w_i M_i``; the write head applies
`memory_write`, eq. (3)-(4): erase ``M_i <- M_i * (1 - w_i e)`` then add ``M_i <- M_i + w_i a``.

All the functions are batch-first: ``memory (B, N, M)``, weightings ``(B, N)``, scalars per row
``(B, 1)``. The model, `NeuralTuringMachine`, reads time-major inputs ``(T, B, D)`` like the
recurrent layers of the package.

Design choices the paper leaves open: the memory starts as a small constant (1e-6 everywhere,
which Collier & Beel 2018, *Implementing neural Turing machines*, found to train best); every
head starts on slot 0 (one-hot weighting); the initial read vectors are learned; one step reads
from the memory left by the previous step, then writes. The head parameters come from one
linear layer on the controller output, squashed as: key as is, ``beta = softplus``,
``g = sigmoid``, ``s = softmax`` over the offsets, ``gamma = 1 + softplus``, erase
``e = sigmoid``, add ``a = tanh``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.cells import LSTMCell
from course_pkg.validation import (
    require_floating,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = [
    "content_addressing",
    "interpolate",
    "circular_shift",
    "sharpen",
    "address",
    "memory_read",
    "memory_write",
    "NTMState",
    "NTMTrace",
    "NeuralTuringMachine",
]

COSINE_EPS = 1e-8  # guards the cosine similarity of an all-zero row or key
SHARPEN_EPS = 1e-12  # sharpen works on log(max(w, eps)), so a zero weight has a finite gradient


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _check_memory(memory: Tensor) -> None:
    require_ndim("memory", memory, 3, "(B, N, M): N slots of width M per batch row")
    require_floating("memory", memory)


def _check_weighting(name: str, w: Tensor, batch_size: int, num_slots: int) -> None:
    require_floating(name, w)
    require_shape(name, w, (batch_size, num_slots), f"(B, N) weighting over N = {num_slots} slots")


def _check_per_row(name: str, value: Tensor, batch_size: int, meaning: str) -> None:
    require_floating(name, value)
    require_shape(name, value, (batch_size, 1), meaning)


# ----------------------------------------------------------------------------------------------
# addressing, one function per step of figure 2
# ----------------------------------------------------------------------------------------------
def content_addressing(memory: Tensor, key: Tensor, beta: Tensor) -> Tensor:
    """Content weighting, eq. (5)-(6): ``w^c_i = exp(beta K(k, M_i)) / sum_j exp(beta K(k, M_j))``.

    ``K(u, v) = u . v / (|u| |v|)`` is the cosine similarity (the denominator is kept above
    1e-8). memory (B, N, M), key (B, M), beta (B, 1) >= 0. Returns (B, N).
    """
    _check_memory(memory)
    batch_size, _, width = memory.shape
    require_floating("key", key)
    require_shape("key", key, (batch_size, width), f"(B, M) with M = {width}, the memory width")
    _check_per_row("beta", beta, batch_size, "(B, 1) key strength")
    dots = torch.bmm(memory, key.unsqueeze(2)).squeeze(2)  # (B, N): M_i . k
    norms = memory.norm(dim=2) * key.norm(dim=1, keepdim=True)  # (B, N): |M_i| |k|
    cosine = dots / norms.clamp_min(COSINE_EPS)  # (B, N) in [-1, 1]
    return torch.softmax(beta * cosine, dim=1)  # (B, N)


def interpolate(w_content: Tensor, w_prev: Tensor, g: Tensor) -> Tensor:
    """Interpolation gate, eq. (7): ``w^g = g w^c + (1 - g) w_prev``.

    w_content, w_prev (B, N), g (B, 1) in [0, 1]. Returns (B, N).
    """
    require_ndim("w_content", w_content, 2, "(B, N) content weighting")
    _check_weighting("w_prev", w_prev, *w_content.shape)
    _check_per_row("g", g, w_content.shape[0], "(B, 1) interpolation gate")
    return g * w_content + (1 - g) * w_prev


def circular_shift(w: Tensor, s: Tensor) -> Tensor:
    """Convolutional shift, eq. (8): ``w~_i = sum_j w_j s(i - j)``, indices modulo N.

    ``s`` (B, 2R+1) weights the offsets ``-R, ..., 0, ..., +R`` (column ``R + o`` is offset o);
    offset +1 moves the weight of slot j to slot j+1 (slot N-1 wraps round to slot 0).
    w (B, N); needs 2R+1 <= N. Returns (B, N).
    """
    require_ndim("w", w, 2, "(B, N) weighting")
    require_floating("w", w)
    require_ndim("s", s, 2, "(B, 2R+1) shift weighting over offsets -R..R")
    require_floating("s", s)
    batch_size, num_slots = w.shape
    num_offsets = s.shape[1]
    if s.shape[0] != batch_size or num_offsets % 2 == 0 or num_offsets > num_slots:
        raise ValueError(f"s: expected shape ({batch_size}, 2R+1) with an odd number of offsets "
                         f"at most N = {num_slots}, got {tuple(s.shape)}")
    radius = num_offsets // 2
    shifted = torch.stack(
        [torch.roll(w, shifts=offset, dims=1) for offset in range(-radius, radius + 1)], dim=2
    )  # (B, N, 2R+1): shifted[:, i, R + o] = w[:, i - o]
    return torch.bmm(shifted, s.unsqueeze(2)).squeeze(2)  # (B, N)


def sharpen(w: Tensor, gamma: Tensor) -> Tensor:
    """Sharpening, eq. (9): ``w_i = w_i^gamma / sum_j w_j^gamma``, gamma (B, 1) >= 1.

    Computed as ``softmax(gamma * log w)`` (the same numbers, without underflow of
    ``w^gamma``); weights below 1e-12 count as 1e-12. w (B, N). Returns (B, N).
    """
    require_ndim("w", w, 2, "(B, N) weighting")
    require_floating("w", w)
    _check_per_row("gamma", gamma, w.shape[0], "(B, 1) sharpening exponent")
    return torch.softmax(gamma * torch.log(w.clamp_min(SHARPEN_EPS)), dim=1)  # (B, N)


def address(memory: Tensor, w_prev: Tensor, key: Tensor, beta: Tensor, g: Tensor, s: Tensor,
            gamma: Tensor) -> Tensor:
    """The whole addressing of one head (figure 2): content, interpolate, shift, sharpen.

    memory (B, N, M), w_prev (B, N), key (B, M), beta / g / gamma (B, 1), s (B, 2R+1).
    Returns the new weighting (B, N).
    """
    w_content = content_addressing(memory, key, beta)  # (B, N)
    w_gated = interpolate(w_content, w_prev, g)  # (B, N)
    w_shifted = circular_shift(w_gated, s)  # (B, N)
    return sharpen(w_shifted, gamma)  # (B, N)


def memory_read(memory: Tensor, w: Tensor) -> Tensor:
    """Read vector, eq. (2): ``r = sum_i w_i M_i``. memory (B, N, M), w (B, N). Returns (B, M)."""
    _check_memory(memory)
    _check_weighting("w", w, memory.shape[0], memory.shape[1])
    return torch.bmm(w.unsqueeze(1), memory).squeeze(1)  # (B, 1, N) @ (B, N, M)


def memory_write(memory: Tensor, w: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Erase then add, eq. (3)-(4): ``M_i <- M_i * (1 - w_i e) + w_i a``.

    memory (B, N, M), w (B, N), erase e (B, M) in [0, 1], add a (B, M). Returns the new memory
    (B, N, M); the old one is left as it was.
    """
    _check_memory(memory)
    batch_size, num_slots, width = memory.shape
    _check_weighting("w", w, batch_size, num_slots)
    for name, vector in (("erase", erase), ("add", add)):
        require_floating(name, vector)
        require_shape(name, vector, (batch_size, width), f"(B, M) with M = {width}")
    w = w.unsqueeze(2)  # (B, N, 1)
    erased = memory * (1 - w * erase.unsqueeze(1))  # (B, N, M)
    return erased + w * add.unsqueeze(1)  # (B, N, M)


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------
class NTMState(NamedTuple):
    """Everything the NTM carries from one step to the next."""

    controller: tuple[Tensor, Tensor]  # LSTM (h, c), each (B, H)
    memory: Tensor  # (B, N, M)
    read_vectors: Tensor  # (B, R, M) what the R read heads read last step
    read_weights: Tensor  # (B, R, N)
    write_weights: Tensor  # (B, N)


class NTMTrace(NamedTuple):
    """The weightings of every step, for pictures of the memory access."""

    read_weights: Tensor  # (T, B, R, N)
    write_weights: Tensor  # (T, B, N)


class NeuralTuringMachine(nn.Module):
    """An NTM with an LSTM-cell controller, R read heads and one write head.

    At step t, with ``r_{t-1}`` the read vectors of the previous step (R of width M)::

        (h_t, c_t) = LSTMCell([x_t, r_{t-1}], (h_{t-1}, c_{t-1}))
        every head: its parameters from h_t, then w_t = address(M_{t-1}, w_{t-1}, ...)
        r_t = memory_read(M_{t-1}, w_t^read)           for each read head
        M_t = memory_write(M_{t-1}, w_t^write, e_t, a_t)
        y_t = W_y [h_t, r_t] + b_y                     logits (e.g. of bits, for BCE)

    Args:
        input_size: D, features of ``x_t``.
        output_size: O, logits per step.
        controller_size: H, units of the LSTM cell.
        memory_slots: N, rows of the memory.
        memory_width: M, width of a row.
        read_heads: R.
        shift_radius: the shift weighting covers offsets ``-shift_radius..shift_radius``.
    """

    def __init__(self, input_size: int, output_size: int, controller_size: int = 100,
                 memory_slots: int = 32, memory_width: int = 16, read_heads: int = 1,
                 shift_radius: int = 1):
        super().__init__()
        for name, value in (("input_size", input_size), ("output_size", output_size),
                            ("controller_size", controller_size), ("memory_slots", memory_slots),
                            ("memory_width", memory_width), ("read_heads", read_heads),
                            ("shift_radius", shift_radius)):
            require_positive_int(name, value)
        if 2 * shift_radius + 1 > memory_slots:
            raise ValueError(f"shift_radius: expected 2 * shift_radius + 1 <= memory_slots = "
                             f"{memory_slots}, got {shift_radius}")
        self.input_size, self.output_size = input_size, output_size
        self.memory_slots, self.memory_width = memory_slots, memory_width
        self.read_heads, self.shift_radius = read_heads, shift_radius
        self.controller = LSTMCell(input_size + read_heads * memory_width, controller_size)
        # per head: key (M), beta, g, shift (2R+1), gamma; then the write head's erase and add (M)
        self.addressing_size = memory_width + 3 + (2 * shift_radius + 1)
        num_heads = read_heads + 1
        self.head_params = nn.Linear(controller_size,
                                     num_heads * self.addressing_size + 2 * memory_width)
        self.output = nn.Linear(controller_size + read_heads * memory_width, output_size)
        self.initial_read = nn.Parameter(torch.randn(read_heads, memory_width) * 0.01)  # (R, M)

    def initial_state(self, batch_size: int) -> NTMState:
        """Zero controller state, memory of 1e-6, every head on slot 0, learned read vectors."""
        require_positive_int("batch_size", batch_size)
        like = self.initial_read
        zeros = like.new_zeros(batch_size, self.controller.hidden_size)  # (B, H)
        memory = like.new_full((batch_size, self.memory_slots, self.memory_width), 1e-6)
        on_first_slot = like.new_zeros(batch_size, self.read_heads + 1, self.memory_slots)
        on_first_slot[:, :, 0] = 1.0  # (B, R+1, N)
        return NTMState(
            controller=(zeros, zeros),
            memory=memory,
            read_vectors=self.initial_read.unsqueeze(0).expand(batch_size, -1, -1),  # (B, R, M)
            read_weights=on_first_slot[:, : self.read_heads],  # (B, R, N)
            write_weights=on_first_slot[:, self.read_heads],  # (B, N)
        )

    def step(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """One time step: x (B, D) -> logits (B, O) and the new state."""
        batch_size = x.shape[0]
        num_heads, width, slots = self.read_heads + 1, self.memory_width, self.memory_slots
        controller_input = torch.cat([x, state.read_vectors.flatten(1)], dim=1)  # (B, D + R*M)
        h, c = self.controller(controller_input, state.controller)  # (B, H) each

        params = self.head_params(h)  # (B, (R+1)*P + 2M)
        addressing = params[:, : num_heads * self.addressing_size]
        addressing = addressing.reshape(batch_size * num_heads, -1)  # (B*(R+1), P)
        key, beta, g, shift, gamma = addressing.split([width, 1, 1, 2 * self.shift_radius + 1, 1],
                                                      dim=1)
        erase, add = params[:, num_heads * self.addressing_size :].split([width, width], dim=1)

        # address all R+1 heads at once: the batch of heads is (B*(R+1)), head-major within a row
        memory_per_head = state.memory.unsqueeze(1).expand(-1, num_heads, -1, -1)
        previous = torch.cat([state.read_weights, state.write_weights.unsqueeze(1)], dim=1)
        weights = address(
            memory_per_head.reshape(batch_size * num_heads, slots, width),
            previous.reshape(batch_size * num_heads, slots),
            key, F.softplus(beta), torch.sigmoid(g), torch.softmax(shift, dim=1),
            1 + F.softplus(gamma),
        ).view(batch_size, num_heads, slots)  # (B, R+1, N)
        read_weights, write_weights = weights[:, : self.read_heads], weights[:, self.read_heads]

        read_vectors = torch.stack(
            [memory_read(state.memory, read_weights[:, r]) for r in range(self.read_heads)], dim=1
        )  # (B, R, M), read before this step's write
        memory = memory_write(state.memory, write_weights, torch.sigmoid(erase), torch.tanh(add))
        logits = self.output(torch.cat([h, read_vectors.flatten(1)], dim=1))  # (B, O)
        return logits, NTMState((h, c), memory, read_vectors, read_weights, write_weights)

    def forward(self, inputs: Tensor, state: NTMState | None = None, return_trace: bool = False):
        """Run over time-major ``inputs`` (T, B, D) from ``state`` (default `initial_state`).

        Returns ``logits`` (T, B, O), or ``(logits, trace)`` with an `NTMTrace` if
        ``return_trace``.
        """
        require_ndim("inputs", inputs, 3, "time-major (T, B, D)")
        require_floating("inputs", inputs)
        if inputs.shape[2] != self.input_size:
            raise ValueError(f"inputs: expected shape (T, B, {self.input_size}) (input_size = "
                             f"{self.input_size}), got {tuple(inputs.shape)}")
        if state is None:
            state = self.initial_state(inputs.shape[1])
        outputs, reads, writes = [], [], []
        for x in inputs:  # (B, D) per step
            logits, state = self.step(x, state)
            outputs.append(logits)
            reads.append(state.read_weights)
            writes.append(state.write_weights)
        logits = torch.stack(outputs)  # (T, B, O)
        if return_trace:
            return logits, NTMTrace(torch.stack(reads), torch.stack(writes))
        return logits
