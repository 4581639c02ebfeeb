"""A character language model whose recurrent layer is an LSTM or a Mogrifier LSTM.

Chapter 15 compares the two layers inside the same model: the character LM of chapter 8
(`course_pkg.models.char_lm.CharLM`), one layer deep, with the recurrent layer chosen by name
(`MODEL_KINDS`). Everything around the layer (embedding, read-out, loss) is the same for both,
so a difference in the measured bits per character comes from the layer and its width.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn import LSTM
from course_pkg.nn.mogrifier import MogrifierLSTM
from course_pkg.validation import require_choice, require_ndim, require_positive_int

__all__ = ["MODEL_KINDS", "RecurrentCharLM"]

#: The recurrent layers `RecurrentCharLM` can hold, by name.
MODEL_KINDS = ("lstm", "mogrifier")


class RecurrentCharLM(nn.Module):
    """Embedding ``(V, E)`` -> one recurrent layer ``(E -> H)`` -> Linear ``(H -> V)``.

    For the characters ``x_1..x_T`` of B streams::

        e_t = E[x_t]                                 embedding, E (V, E)          (B, E)
        h_t, c_t = core(e_t, (h_{t-1}, c_{t-1}))     core = LSTM or Mogrifier     (B, H)
        s_t = W h_t + b                              W (V, H), b (V,)             (B, V)
        p(x_{t+1} = v | x_1..x_t) = softmax(s_t)_v

    The Mogrifier (Melis et al. 2019) first lets ``e_t`` and ``h_{t-1}`` gate each other for
    ``rounds`` rounds, then takes an ordinary LSTM step on the results.

    ``kind`` is ``"lstm"`` (`course_pkg.nn.LSTM`) or ``"mogrifier"``
    (`course_pkg.nn.mogrifier.MogrifierLSTM` with ``rounds`` and ``rank``). Ids are time-major
    ``(T, B)``; ``loss(inputs, targets, state)`` has the signature of `CharLM.loss`, so the
    training and evaluation helpers of chapter 8 drive it unchanged.

    Args:
        kind: one of `MODEL_KINDS`.
        vocab_size: V, the number of characters.
        embedding_dim: E, the size of a character's vector.
        hidden_size: H, the units of the recurrent layer.
        rounds: the Mogrifier's rounds (ignored by ``"lstm"``).
        rank: the rank of the Mogrifier's round matrices, None for full rank (ignored by
            ``"lstm"``).
    """

    def __init__(self, kind: str, vocab_size: int, embedding_dim: int, hidden_size: int,
                 rounds: int = 5, rank: int | None = None) -> None:
        super().__init__()
        require_choice("kind", kind, MODEL_KINDS)
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("embedding_dim", embedding_dim)
        require_positive_int("hidden_size", hidden_size)
        self.kind, self.vocab_size = kind, vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)             # (V, E)
        if kind == "lstm":
            self.recurrent = LSTM(embedding_dim, hidden_size)
        else:
            self.recurrent = MogrifierLSTM(embedding_dim, hidden_size, rounds, rank)
        self.output = nn.Linear(hidden_size, vocab_size)                     # (V, H), (V,)

    def forward(self, ids: Tensor, state=None):
        """``ids`` (T, B) -> ``(logits (T, B, V), (h_T, c_T) each (1, B, H))``."""
        require_ndim("ids", ids, 2, "time-major (T, B) character ids")
        states, new_state = self.recurrent(self.embedding(ids), state)       # (T, B, H)
        return self.output(states), new_state                                # (T, B, V)

    def loss(self, inputs: Tensor, targets: Tensor, state=None):
        """Mean cross-entropy (nats per character) of ``targets`` (T, B), and the final state."""
        if targets.shape != inputs.shape:
            raise ValueError(f"targets: expected the shape of inputs {tuple(inputs.shape)}, "
                             f"got {tuple(targets.shape)}")
        logits, new_state = self(inputs, state)                              # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1))
        return loss, new_state
