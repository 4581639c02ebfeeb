"""A character-CNN + BiLSTM sequence tagger in the style of Ma & Hovy (2016), *End-to-end
Sequence Labeling via Bi-directional LSTM-CNNs-CRF* (figures 1-2, without the CRF), chapter 17.

A word-level tagger knows a word only through its row of the embedding table, so a word never
seen in training is the unknown token ``<unk>`` and all unseen names look alike. Ma & Hovy add a
representation built from the word's characters: embed each character, run a 1-D convolution
over the characters, and keep the largest response of each filter over the word (max-pooling)::

    e_{t,j}  = E_char[char_j of word t]                     (B, L, E_c) per position t
    m_{t,j}  = W_conv [e_{t,j-k//2} ; ... ; e_{t,j+k//2}] + b    filters over k characters
    z_t      = max_j m_{t,j}                                 (F,) over the word's characters
    x_t      = [E_word[w_t] ; z_t]                           word embedding and char features
    h_t      = [LSTM_fwd(x)_t ; LSTM_bwd(x)_t]               BiLSTM, `course_pkg.nn.LSTM`
    s_t      = W_out h_t + b_out                             (K,) tag scores

A filter that responds to "holm" or "ova" fires for every word containing it, seen in training or
not. Padding characters are left out of the max (a word's features do not depend on how long
the other words of the batch are); a padding token gets z = 0. Ma & Hovy feed the scores to a
CRF; here they are trained with per-token cross-entropy
(`course_pkg.batching.masked_cross_entropy`).

``use_chars=False`` gives the word-only BiLSTM baseline (x_t = E_word[w_t]). ``word_dropout``
replaces each real word by ``<unk>`` with that probability during training, so the ``<unk>``
embedding learns what an unseen word in a given context tends to be.

Inputs are time-major: word ids (T, B), character ids (T, B, L) (0 = padding), optional
``lengths`` (B,); the output is tag scores (T, B, K), zero at padded positions.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_pkg.nn.recurrent import LSTM
from course_pkg.validation import (
    require_in_range, require_lengths, require_ndim, require_positive_int,
)

__all__ = ["CharCNNTagger"]


def _require_ids(name: str, ids: Tensor, vocab_size: int, meaning: str, ndim: int) -> None:
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of ids, got {type(ids).__name__}")
    require_ndim(name, ids, ndim, meaning)
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer ids, got {ids.dtype}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{name}: expected ids in [0, {vocab_size - 1}], got values in "
                         f"[{ids.min().item()}, {ids.max().item()}]")


class CharCNNTagger(nn.Module):
    """Character CNN + word embedding -> BiLSTM -> tag scores per token (see module docstring).

    Args:
        word_vocab_size, char_vocab_size: sizes of the vocabularies (id 0 = padding).
        num_tags: K.
        word_dim: E_w, the word embedding size.
        char_dim: E_c, the character embedding size.
        char_filters: F, the number of convolution filters (char features per word).
        char_kernel_size: k, characters per filter window (odd; 'same' padding).
        hidden_size: H per direction of the BiLSTM (the output layer reads 2H).
        use_chars: False for the word-only baseline.
        word_dropout: probability of replacing a word by ``unk_id`` in training mode.
        dropout: dropout on the BiLSTM's input and output (Ma & Hovy use 0.5).
        unk_id, pad_id: ids of the unknown word and of padding in the word vocabulary.
    """

    def __init__(self, word_vocab_size: int, char_vocab_size: int, num_tags: int,
                 word_dim: int = 32, char_dim: int = 16, char_filters: int = 32,
                 char_kernel_size: int = 3, hidden_size: int = 64, use_chars: bool = True,
                 word_dropout: float = 0.0, dropout: float = 0.0, unk_id: int = 1,
                 pad_id: int = 0) -> None:
        super().__init__()
        for name, value in [("word_vocab_size", word_vocab_size),
                            ("char_vocab_size", char_vocab_size), ("num_tags", num_tags),
                            ("word_dim", word_dim), ("char_dim", char_dim),
                            ("char_filters", char_filters),
                            ("char_kernel_size", char_kernel_size),
                            ("hidden_size", hidden_size)]:
            require_positive_int(name, value)
        if char_kernel_size % 2 == 0:
            raise ValueError(f"char_kernel_size: expected an odd int ('same' padding), got "
                             f"{char_kernel_size}")
        if not isinstance(use_chars, bool):
            raise TypeError(f"use_chars: expected a bool, got {use_chars!r}")
        require_in_range("word_dropout", word_dropout, 0.0, 1.0)
        require_in_range("dropout", dropout, 0.0, 1.0)
        for name, value in [("unk_id", unk_id), ("pad_id", pad_id)]:
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 0 <= value < word_vocab_size:
                raise ValueError(f"{name}: expected an id in [0, {word_vocab_size - 1}], "
                                 f"got {value!r}")
        self.word_vocab_size, self.char_vocab_size = word_vocab_size, char_vocab_size
        self.use_chars = use_chars
        self.word_dropout, self.unk_id, self.pad_id = word_dropout, unk_id, pad_id
        self.word_embedding = nn.Embedding(word_vocab_size, word_dim, padding_idx=pad_id)
        features = word_dim
        if use_chars:
            self.char_embedding = nn.Embedding(char_vocab_size, char_dim, padding_idx=0)
            self.char_conv = nn.Conv1d(char_dim, char_filters, char_kernel_size,
                                       padding=char_kernel_size // 2)
            features += char_filters
        self.dropout = nn.Dropout(dropout)
        self.recurrent = LSTM(features, hidden_size, bidirectional=True)
        self.output = nn.Linear(2 * hidden_size, num_tags)

    def char_features(self, chars: Tensor) -> Tensor:
        """Character ids (T, B, L) -> z, the max-pooled convolution features (T, B, F)."""
        steps, batch, longest = chars.shape
        flat = chars.reshape(steps * batch, longest)                      # (N, L) one word a row
        embedded = self.char_embedding(flat).transpose(1, 2)              # (N, E_c, L)
        responses = self.char_conv(embedded)                              # (N, F, L)
        is_char = (flat != 0).unsqueeze(1)                                # (N, 1, L)
        pooled = responses.masked_fill(~is_char, float("-inf")).amax(dim=2)   # (N, F)
        has_chars = is_char.any(dim=2)                                    # (N, 1)
        pooled = torch.where(has_chars, pooled, torch.zeros_like(pooled))  # padding words: 0
        return pooled.view(steps, batch, -1)                              # (T, B, F)

    def _check(self, words: Tensor, chars: Tensor | None, lengths) -> Tensor | None:
        _require_ids("words", words, self.word_vocab_size, "time-major (T, B) word ids", 2)
        if self.use_chars:
            if chars is None:
                raise ValueError("chars: expected character ids (T, B, L), got None (only the "
                                 "word-only tagger, use_chars=False, works without them)")
            _require_ids("chars", chars, self.char_vocab_size, "(T, B, L) character ids", 3)
            if tuple(chars.shape[:2]) != tuple(words.shape):
                raise ValueError(f"chars: expected shape ({words.shape[0]}, {words.shape[1]}, L) "
                                 f"like words' (T, B), got {tuple(chars.shape)}")
        if lengths is None:
            return None
        return require_lengths(lengths, batch=words.shape[1], steps=words.shape[0])

    def forward(self, words: Tensor, chars: Tensor | None = None,
                lengths: Tensor | None = None) -> Tensor:
        """Tag scores (T, B, K) for word ids (T, B), character ids (T, B, L) and optional
        ``lengths`` (B,) (padded positions then get zero scores)."""
        lengths = self._check(words, chars, lengths)
        if self.training and self.word_dropout > 0:
            dropped = torch.rand(words.shape, device=words.device) < self.word_dropout
            words = words.masked_fill(dropped & (words != self.pad_id), self.unk_id)
        features = self.word_embedding(words)                             # (T, B, E_w)
        if self.use_chars:
            features = torch.cat([features, self.char_features(chars)], dim=2)  # (T, B, E_w+F)
        features = self.dropout(features)
        if lengths is None:
            states, _ = self.recurrent(features)                          # (T, B, 2H)
            return self.output(self.dropout(states))                      # (T, B, K)
        packed = pack_padded_sequence(features, lengths.cpu(), enforce_sorted=False)
        states, _ = pad_packed_sequence(self.recurrent(packed)[0], total_length=words.shape[0])
        mask = torch.arange(words.shape[0], device=words.device)[:, None] < \
            lengths.to(words.device)[None, :]                             # (T, B)
        return self.output(self.dropout(states)) * mask.unsqueeze(2)      # (T, B, K)
