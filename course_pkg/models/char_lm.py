"""A character-level language model: embedding, LSTM, and a softmax over the next character.

Following Karpathy's char-rnn and Graves, "Generating sequences with recurrent neural networks"
(2013). Given the characters ``x_1 .. x_t`` the model gives the distribution of ``x_{t+1}``::

    e_t = E[x_t]                                    embedding lookup            (B, E)
    h_t, c_t = LSTM(e_t, (h_{t-1}, c_{t-1}))        course_pkg.nn.LSTM          (B, H)
    s_t = W_hy h_t + b_y                            logits over the vocabulary  (B, V)
    p(x_{t+1} = v | x_1..x_t) = softmax(s_t)_v

Trained with teacher forcing: the input at every step is the *true* previous character, and the
loss is the mean cross-entropy ``-log p(x_{t+1} | x_1..x_t)`` over all positions (in nats; divide
by ``ln 2`` for bits per character).

`CharLM.step` runs one time step and fits the ``model_step`` protocol of
:mod:`course_pkg.sampling`, so `generate` and `beam_search` drive the model directly.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn import LSTM
from course_pkg.validation import require_in_range, require_ndim, require_positive_int

__all__ = ["CharLM", "LSTMState"]

#: The LSTM state ``(h, c)``, each ``(num_layers, B, H)``; ``None`` means zeros.
LSTMState = Optional[tuple[Tensor, Tensor]]


class CharLM(nn.Module):
    """Embedding ``(V, E)`` -> `course_pkg.nn.LSTM` ``(E -> H, num_layers)`` -> Linear ``(H -> V)``.

    Args:
        vocab_size: V, the number of characters.
        embedding_dim: E, the size of a character's vector.
        hidden_size: H, the LSTM units per layer.
        num_layers: stacked LSTM layers.
        dropout: dropout between stacked layers (as in ``torch.nn.LSTM``; needs ``num_layers > 1``).

    Ids are time-major, ``(T, B)``.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 32,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("embedding_dim", embedding_dim)
        require_positive_int("hidden_size", hidden_size)
        require_positive_int("num_layers", num_layers)
        require_in_range("dropout", dropout, 0.0, 1.0)
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)  # E: (V, E)
        self.lstm = LSTM(embedding_dim, hidden_size, num_layers=num_layers, dropout=dropout)
        self.output = nn.Linear(hidden_size, vocab_size)  # W_hy (V, H), b_y (V,)

    def _check_ids(self, name: str, ids: Tensor, ndim: int, meaning: str) -> None:
        require_ndim(name, ids, ndim, meaning)
        if ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise TypeError(f"{name}: expected integer character ids, got {ids.dtype}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"{name}: expected ids in [0, {self.vocab_size - 1}], got a value outside")

    def forward(self, ids: Tensor, state: LSTMState = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits of the next character at every position.

        Args:
            ids: LongTensor ``(T, B)`` of input characters.
            state: ``(h, c)`` each ``(num_layers, B, H)`` to continue from, or None (zeros).

        Returns:
            ``(logits (T, B, V), (h_T, c_T))``.
        """
        self._check_ids("ids", ids, 2, "time-major (T, B) character ids")
        embedded = self.embedding(ids)  # (T, B, E)
        states, new_state = self.lstm(embedded, state)  # (T, B, H); (h, c) each (L, B, H)
        return self.output(states), new_state  # (T, B, V)

    def step(self, input_ids: Tensor, state: LSTMState = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One time step, the ``model_step`` of :mod:`course_pkg.sampling`.

        ``input_ids`` ``(B,)`` -> ``(logits (B, V), new state)``; the old state is not modified.
        """
        self._check_ids("input_ids", input_ids, 1, "(B,) one character id per sequence")
        logits, new_state = self(input_ids[None, :], state)  # (1, B, V)
        return logits[0], new_state

    def loss(self, inputs: Tensor, targets: Tensor, state: LSTMState = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Teacher-forced mean cross-entropy in nats, and the final state.

        ``L = -(1 / (T B)) sum_{t, b} log softmax(s_{t, b})[targets[t, b]]`` with
        ``inputs``, ``targets`` both ``(T, B)`` (``targets`` = inputs shifted by one character).
        """
        self._check_ids("targets", targets, 2, "time-major (T, B) character ids")
        if targets.shape != inputs.shape:
            raise ValueError(f"targets: expected the shape of inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}")
        logits, new_state = self(inputs, state)  # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1))
        return loss, new_state
