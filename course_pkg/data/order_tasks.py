"""Small token-sequence tasks about order and memory, for chapters 1 and 2.

All three generators draw from a seeded ``numpy.random.default_rng(seed)``, so the same seed gives
the same data. Token 0 is reserved for padding and never appears inside a sequence.

- `which_comes_first` (many-to-one, variable length): each sequence holds the marker ``A`` once
  and the marker ``B`` once among filler tokens; the label says whether ``A`` comes first. Both
  classes contain exactly the same multiset of counts (one ``A``, one ``B``, fillers drawn the
  same way), so a model that only counts tokens (a bag of words) cannot beat 50 %: only the order
  tells the classes apart, as in "Mom is in the kitchen cooking chicken" against a reordering of
  the same words.
- `recall_first_token` (many-to-one, variable length): which token came first? The answer is
  read at the end, so the network has to carry it in its hidden state through the sequence.
- `delayed_echo` (many-to-many, aligned): the target at step ``t`` is the input at step
  ``t - delay``; the first ``delay`` steps have no target (masked out).
"""

from __future__ import annotations

import numpy as np
import torch

from course_pkg.data.padding import PAD
from course_pkg.validation import require_positive_int

__all__ = [
    "PAD",
    "ORDER_VOCABULARY",
    "which_comes_first",
    "recall_first_token",
    "delayed_echo",
    "decode_tokens",
]

#: How the tokens of `which_comes_first` are written: 0 padding, 1 the marker A, 2 the marker B,
#: then the fillers.
ORDER_VOCABULARY = ("·", "A", "B", "c", "d", "e", "f", "g", "h")
_MARKER_A, _MARKER_B = 1, 2


def _check_lengths(min_length: int, max_length: int, shortest_allowed: int) -> None:
    require_positive_int("min_length", min_length)
    require_positive_int("max_length", max_length)
    if min_length < shortest_allowed:
        raise ValueError(f"min_length: expected >= {shortest_allowed}, got {min_length}")
    if max_length < min_length:
        raise ValueError(f"max_length: expected >= min_length = {min_length}, got {max_length}")


def decode_tokens(tokens, vocabulary=ORDER_VOCABULARY) -> str:
    """Write a 1-D sequence of token ids as text, e.g. ``"c A e B d"``."""
    return " ".join(vocabulary[int(t)] for t in tokens)


def which_comes_first(
    num_sequences: int,
    min_length: int = 4,
    max_length: int = 10,
    seed: int = 0,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Sequences with one ``A`` (token 1) and one ``B`` (token 2); label 1 iff ``A`` comes first.

    Lengths are uniform in ``[min_length, max_length]``; the other positions hold fillers drawn
    uniformly from tokens 3..8. Half of the sequences (in random order) have label 1: the two
    marker positions are drawn at random and the label decides which marker goes first, so the
    token counts carry no information about the label.

    Returns ``(sequences, labels)``: a list of int64 tensors of shape ``(L_i,)`` and an int64
    tensor ``(num_sequences,)``.
    """
    require_positive_int("num_sequences", num_sequences)
    _check_lengths(min_length, max_length, 2)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num_sequences) % 2)  # exactly balanced
    num_tokens = len(ORDER_VOCABULARY)
    sequences = []
    for label in labels:
        length = int(rng.integers(min_length, max_length + 1))
        tokens = rng.integers(_MARKER_B + 1, num_tokens, size=length)  # fillers
        first, second = np.sort(rng.choice(length, size=2, replace=False))
        tokens[first], tokens[second] = (_MARKER_A, _MARKER_B) if label == 1 else (_MARKER_B, _MARKER_A)
        sequences.append(torch.from_numpy(tokens.astype(np.int64)))
    return sequences, torch.from_numpy(labels.astype(np.int64))


def recall_first_token(
    num_sequences: int,
    min_length: int = 3,
    max_length: int = 12,
    vocab_size: int = 4,
    seed: int = 0,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Sequences of uniform tokens ``1..vocab_size``; the label is the *first* token (minus 1).

    A many-to-one network reads the label at the end of the sequence, so it must carry the first
    token in its hidden state through the whole sequence. Lengths are uniform in
    ``[min_length, max_length]``. Returns ``(sequences, labels)``: int64 tensors ``(L_i,)`` and
    ``(num_sequences,)`` with labels in ``0..vocab_size - 1``.
    """
    require_positive_int("num_sequences", num_sequences)
    require_positive_int("vocab_size", vocab_size)
    _check_lengths(min_length, max_length, 1)
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(num_sequences):
        length = int(rng.integers(min_length, max_length + 1))
        tokens = rng.integers(1, vocab_size + 1, size=length)  # (L,) tokens 1..V
        sequences.append(torch.from_numpy(tokens.astype(np.int64)))
    labels = torch.stack([seq[0] - 1 for seq in sequences])  # (N,) classes 0..V-1
    return sequences, labels


def delayed_echo(
    num_sequences: int,
    length: int = 12,
    delay: int = 2,
    vocab_size: int = 4,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Aligned many-to-many task: repeat the input ``delay`` steps later.

    Returns time-major ``(inputs, targets, mask)``, each ``(length, num_sequences)``:
    ``inputs`` uniform tokens ``1..vocab_size``; ``targets[t] = inputs[t - delay]`` for
    ``t >= delay`` (and ``PAD`` before); ``mask[t] = t >= delay`` (bool).
    """
    require_positive_int("num_sequences", num_sequences)
    require_positive_int("length", length)
    require_positive_int("vocab_size", vocab_size)
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"delay: expected an int >= 0, got {delay!r}")
    if delay >= length:
        raise ValueError(f"delay: expected < length = {length} (some step must have a target), got {delay}")
    rng = np.random.default_rng(seed)
    inputs = rng.integers(1, vocab_size + 1, size=(length, num_sequences))  # (T, N)
    targets = np.full_like(inputs, PAD)
    targets[delay:] = inputs[: length - delay]
    mask = np.arange(length)[:, None] >= delay  # (T, 1)
    mask = np.broadcast_to(mask, inputs.shape).copy()  # (T, N)
    return (torch.from_numpy(inputs.astype(np.int64)), torch.from_numpy(targets.astype(np.int64)),
            torch.from_numpy(mask))
