"""A pointer network: attention over the input positions *is* the output distribution.

Vinyals, Fortunato & Jaitly (2015), *Pointer networks*, eq. (3). An LSTM encoder reads the inputs
``x_1..x_N`` into states ``e_1..e_N``; an LSTM decoder, started from the encoder's final state,
reads at step i the input it pointed to at step i-1 (a learned start vector at i = 1) and has state
``d_i``. Instead of a softmax over a fixed vocabulary, the output is a distribution over the N
input positions::

    u_ij = v^T tanh(W_1 e_j + W_2 d_i)          additive attention scores, j = 1..N
    p(C_i = j | C_1..C_{i-1}, x) = softmax_j(u_ij)

so the "vocabulary" grows with the input, as sorting or a convex hull need. ``score="dot"``
replaces the additive score by the plain dot product of the two states, ``u_ij = d_i^T e_j``
(the ``a_i = softmax(s^T h_i)`` form, with no parameters of its own; H must be shared by the
encoder and the decoder, which it is here).

Masking (`pointer_step`): positions already chosen at steps ``1..i-1`` get score ``-inf``, i.e.
probability exactly 0, so the output is always a permutation. The mask is not part of eq. (3);
``mask_chosen=False`` turns it off, to measure what it buys.

Shapes: inputs time-major ``(N, B, D)``, pointers ``(N, B)`` (the layout of
`course_pkg.data.algorithmic.sort_numbers`), log-probabilities ``(N, B, N)`` (step, batch,
input position).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.attention import AdditiveAttention, DotProductAttention
from course_pkg.nn.cells import LSTMCell
from course_pkg.nn.recurrent import LSTM
from course_pkg.validation import (require_choice, require_floating, require_ndim,
                                   require_positive_int)

__all__ = ["pointer_step", "PointerNetwork", "decoding_with_mask"]


def pointer_step(scores: Tensor, chosen: Tensor | None = None) -> Tensor:
    """Log-probabilities of pointing at each input position, never at one already chosen.

    ``log p_j = scores_j - log sum_{k not chosen} exp(scores_k)`` for positions j not chosen,
    ``-inf`` (probability exactly 0) for chosen ones. scores (B, N) attention scores ``u_ij``,
    chosen (B, N) bool, True = already pointed at (None: nothing masked). A row with every
    position chosen raises ValueError. Returns (B, N).
    """
    require_ndim("scores", scores, 2, "(B, N) scores over the N input positions")
    require_floating("scores", scores)
    if chosen is None:
        return F.log_softmax(scores, dim=1)
    if not isinstance(chosen, Tensor) or chosen.dtype != torch.bool:
        raise TypeError(f"chosen: expected a bool tensor (True = already chosen), got "
                        f"{getattr(chosen, 'dtype', type(chosen).__name__)}")
    if tuple(chosen.shape) != tuple(scores.shape):
        raise ValueError(f"chosen: expected shape {tuple(scores.shape)} (that of scores), "
                         f"got {tuple(chosen.shape)}")
    if bool(chosen.all(dim=1).any()):
        raise ValueError("chosen: expected at least one position not yet chosen in every row, "
                         "got a row with every position chosen")
    return F.log_softmax(scores.masked_fill(chosen, -math.inf), dim=1)  # (B, N)


POINTER_SCORES = ("additive", "dot")


class PointerNetwork(nn.Module):
    """Ptr-Net with LSTM encoder and decoder and an attention score as the pointer.

    Args:
        input_size: D, features per input element (1 for a list of numbers).
        hidden_size: H of the LSTMs and of the attention.
        mask_chosen: never point twice at one position (see `pointer_step`).
        score: ``"additive"``, ``u_ij = v^T tanh(W_1 e_j + W_2 d_i)`` (the paper's), or
            ``"dot"``, ``u_ij = d_i^T e_j`` (unscaled, no parameters).
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 64, mask_chosen: bool = True,
                 score: str = "additive"):
        super().__init__()
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        require_choice("score", score, POINTER_SCORES)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.mask_chosen = bool(mask_chosen)
        self.score = score
        self.encoder = LSTM(input_size, hidden_size)
        self.decoder = LSTMCell(input_size, hidden_size)
        self.start = nn.Parameter(torch.zeros(input_size).uniform_(-1, 1))  # first decoder input
        if score == "additive":
            self.pointer = AdditiveAttention(hidden_size, hidden_size, hidden_size)  # u_ij
        else:
            self.pointer = DotProductAttention(scaled=False)  # u_ij = d_i . e_j

    def forward(self, inputs: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Point N times into ``inputs`` (N, B, D).

        With ``targets`` (N, B) (teacher forcing) the decoder reads the targeted inputs and the
        mask marks the targets of earlier steps; without, it decodes greedily (argmax) from its
        own choices. Returns ``(log_probs (N, B, N), pointers (N, B))``, pointers the targets or
        the greedy choices.
        """
        require_ndim("inputs", inputs, 3, "time-major (N, B, D)")
        require_floating("inputs", inputs)
        num_inputs, batch_size, _ = inputs.shape
        if inputs.shape[2] != self.input_size:
            raise ValueError(f"inputs: expected shape (N, B, {self.input_size}) (input_size = "
                             f"{self.input_size}), got {tuple(inputs.shape)}")
        if targets is not None:
            require_ndim("targets", targets, 2, "time-major positions (N, B)")
            if tuple(targets.shape) != (num_inputs, batch_size):
                raise ValueError(f"targets: expected shape ({num_inputs}, {batch_size}) (N, B), "
                                 f"got {tuple(targets.shape)}")
            if targets.dtype != torch.int64:
                raise TypeError(f"targets: expected int64 positions, got {targets.dtype}")

        encoder_states, (h, c) = self.encoder(inputs)  # (N, B, H), final (1, B, H) each
        keys = encoder_states.transpose(0, 1)  # (B, N, H)
        state = (h[0], c[0])  # (B, H) each: d_0 = the encoder's final state
        batch_index = torch.arange(batch_size)
        decoder_input = self.start.expand(batch_size, -1)  # (B, D)
        chosen = torch.zeros(batch_size, num_inputs, dtype=torch.bool)  # (B, N)
        all_log_probs, pointers = [], []
        for i in range(num_inputs):
            state = self.decoder(decoder_input, state)
            scores = self.pointer.scores(state[0], keys)  # (B, N): u_ij
            log_probs = pointer_step(scores, chosen if self.mask_chosen else None)  # (B, N)
            pointer = targets[i] if targets is not None else log_probs.argmax(dim=1)  # (B,)
            chosen = chosen.clone()
            chosen[batch_index, pointer] = True
            decoder_input = inputs[pointer, batch_index]  # (B, D): the element pointed at
            all_log_probs.append(log_probs)
            pointers.append(pointer)
        return torch.stack(all_log_probs), torch.stack(pointers)  # (N, B, N), (N, B)


@contextmanager
def decoding_with_mask(model: PointerNetwork, mask_chosen: bool | None) -> Iterator[PointerNetwork]:
    """``with decoding_with_mask(model, mask_chosen):`` decodes with ``model.mask_chosen`` set to
    ``mask_chosen`` (None: the model's own setting), and puts the model's setting back after the
    block, also when it raises."""
    if mask_chosen is not None and not isinstance(mask_chosen, bool):
        raise TypeError(f"mask_chosen: expected True, False or None, got {mask_chosen!r}")
    trained_mask = model.mask_chosen
    if mask_chosen is not None:
        model.mask_chosen = mask_chosen
    try:
        yield model
    finally:
        model.mask_chosen = trained_mask
