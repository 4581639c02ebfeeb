"""A recurrent sequence tagger, one- or two-directional, one or more layers (chapter 7).

Many-to-many, aligned: one tag per token, as in part-of-speech tagging or named-entity
recognition. With ``bidirectional=True`` (Schuster & Paliwal, 1997) a second recurrent layer reads
the sentence from right to left, and the two states of each position are concatenated::

    e_t          = E[x_t]                                          (B, E)
    h_fwd_t      = RNN_fwd(e_t, h_fwd_{t-1})     reads x_1 .. x_t   (B, H)
    h_bwd_t      = RNN_bwd(e_t, h_bwd_{t+1})     reads x_t .. x_T   (B, H)
    s_t          = W [h_fwd_t ; h_bwd_t] + b     tag scores         (B, K)

The one-directional tagger has only ``h_fwd_t``, so its tag for ``x_t`` cannot depend on any word
after ``x_t``. With ``num_layers > 1`` the layers are stacked: layer ``l`` reads the (concatenated)
states of layer ``l - 1``, with dropout in between (as in ``torch.nn.LSTM``).

The recurrent part is `course_pkg.nn.LSTM` (or ``GRU``, ``RNN``). For a padded batch, pass
``lengths``: the batch is packed so that the backward direction of each sentence starts at its
own last word, not at the padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_pkg.nn import GRU, LSTM, RNN
from course_pkg.validation import (
    require_choice,
    require_floating,
    require_in_range,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["RecurrentTagger", "CELLS"]

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class RecurrentTagger(nn.Module):
    """Embedding -> (bi)directional stacked recurrent layers -> a linear layer per position.

    Args:
        vocab_size: the number of word ids.
        num_tags: K, the number of tags.
        embedding_dim: E.
        hidden_size: H, units per layer *and per direction*.
        num_layers: stacked recurrent layers.
        bidirectional: add the right-to-left direction (the output layer then reads 2H features).
        dropout: dropout on the outputs of every layer but the last (needs ``num_layers > 1``).
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.

    Word ids are time-major ``(T, B)``; the output is ``(T, B, K)`` tag scores (logits).
    """

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        embedding_dim: int = 16,
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        cell: str = "lstm",
    ) -> None:
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("num_tags", num_tags)
        require_positive_int("embedding_dim", embedding_dim)
        require_positive_int("hidden_size", hidden_size)
        require_positive_int("num_layers", num_layers)
        require_in_range("dropout", dropout, 0.0, 1.0)
        require_choice("cell", cell, tuple(CELLS))
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)  # (V, E)
        self.recurrent = CELLS[cell](
            embedding_dim, hidden_size, num_layers=num_layers, dropout=dropout,
            bidirectional=bidirectional,
        )
        directions = 2 if bidirectional else 1
        self.output = nn.Linear(directions * hidden_size, num_tags)  # (K, D*H)

    def embed(self, words: Tensor) -> Tensor:
        """Word ids ``(T, B)`` -> embedded vectors ``(T, B, E)``."""
        require_ndim("words", words, 2, "time-major (T, B) word ids")
        if words.dtype.is_floating_point or words.dtype == torch.bool:
            raise TypeError(f"words: expected integer word ids, got {words.dtype}")
        if words.numel() and (words.min() < 0 or words.max() >= self.vocab_size):
            raise ValueError(f"words: expected ids in [0, {self.vocab_size - 1}], got a value outside")
        return self.embedding(words)

    def scores_from_embeddings(self, embedded: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Tag scores ``(T, B, K)`` from embedded words ``(T, B, E)`` (handy for gradients).

        ``lengths`` ``(B,)``: the real length of each sentence of a padded batch; the scores at
        padded positions are zeros.
        """
        require_ndim("embedded", embedded, 3, "time-major (T, B, E) word vectors")
        require_floating("embedded", embedded)
        if lengths is None:
            states, _ = self.recurrent(embedded)  # (T, B, D*H)
            return self.output(states)  # (T, B, K)
        lengths = torch.as_tensor(lengths)
        require_shape("lengths", lengths, (embedded.shape[1],), "one length per sentence (B,)")
        if lengths.min() < 1 or lengths.max() > embedded.shape[0]:
            raise ValueError(f"lengths: expected values in [1, {embedded.shape[0]}], got {lengths.tolist()}")
        packed = pack_padded_sequence(embedded, lengths.cpu(), enforce_sorted=False)
        packed_states, _ = self.recurrent(packed)
        states, _ = pad_packed_sequence(packed_states, total_length=embedded.shape[0])  # (T, B, D*H)
        mask = torch.arange(embedded.shape[0])[:, None] < lengths[None, :]  # (T, B)
        return self.output(states) * mask[:, :, None]  # (T, B, K)

    def forward(self, words: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Tag scores ``(T, B, K)`` of word ids ``(T, B)`` (see `scores_from_embeddings`)."""
        return self.scores_from_embeddings(self.embed(words), lengths)
