"""A story reader: an LSTM that reads a bAbI story and its question as one word sequence.

Chapter 12's baseline for question answering over a story (`course_pkg.data.babi`). Where the
memory network (`course_pkg.models.memory_network`) keeps every sentence as a memory and looks
back at it, this model reads the story and then the question word by word, once, as one flat
sequence (`course_pkg.data.babi.flatten_stories`), and answers from its state after the last
word: everything the answer needs must survive in that state.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from course_pkg.data.padding import PAD
from course_pkg.validation import require_positive_int

__all__ = ["StoryReader"]


class StoryReader(nn.Module):
    """An LSTM that reads a story and its question word by word and answers from its last state.

    ``logits = W h_{T_b} + w`` where ``h_{T_b}`` is the state after the last real word of
    sequence b (the padding after it is never read into the answer)::

        e_t = E[x_t]                                word embedding, E[PAD] = 0    (T, B, E)
        h_t, c_t = LSTM(e_t, (h_{t-1}, c_{t-1}))    h_0 = c_0 = 0                 (T, B, H)
        logits[b] = W h_{T_b}[b] + w                T_b = lengths[b]; W (A, H)    (B, A)

    and the answer to question b is ``argmax logits[b]``, one of A = ``answer_size`` classes.

    Args:
        vocab_size: V word ids (0 is padding).
        embedding_size: E.
        hidden_size: H.
        answer_size: number of answer classes (default V).
        lstm: the LSTM class, ``torch.nn.LSTM`` or its drop-in ``course_pkg.nn.LSTM`` (same
            initialisation and numbers; torch's own is faster on long sequences).
    """

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int,
                 answer_size: int | None = None, lstm: type[nn.Module] = nn.LSTM):
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("embedding_size", embedding_size)
        require_positive_int("hidden_size", hidden_size)
        answer_size = vocab_size if answer_size is None else answer_size
        require_positive_int("answer_size", answer_size)
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD)
        self.lstm = lstm(embedding_size, hidden_size)
        self.answer = nn.Linear(hidden_size, answer_size)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """tokens (T, B) int64, lengths (B,) of the real words -> answer logits (B, answer_size)."""
        if tokens.ndim != 2 or tokens.dtype != torch.int64:
            raise ValueError(f"tokens: expected a (T, B) int64 tensor of word ids, got shape "
                             f"{tuple(tokens.shape)} and dtype {tokens.dtype}")
        if tuple(lengths.shape) != (tokens.shape[1],):
            raise ValueError(f"lengths: expected shape ({tokens.shape[1]},) (one per sequence), "
                             f"got {tuple(lengths.shape)}")
        if int(lengths.min()) < 1 or int(lengths.max()) > tokens.shape[0]:
            raise ValueError(f"lengths: expected values in [1, {tokens.shape[0]}], got "
                             f"min {int(lengths.min())} and max {int(lengths.max())}")
        states, _ = self.lstm(self.embedding(tokens))  # (T, B, H)
        last = states[lengths - 1, torch.arange(tokens.shape[1])]  # (B, H)
        return self.answer(last)  # (B, answer_size)
