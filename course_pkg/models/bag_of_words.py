"""An order-blind baseline: classify a sequence from its token counts alone.

The "bag of words" keeps how often each token occurs and throws the order away::

    c_v = sum_{t < L} [x_t = v]           (counts, one per vocabulary entry)
    logits = W_2 relu(W_1 c + b_1) + b_2

Any reordering of a sequence has the same counts, hence the same prediction. Chapter 1 pits it
against a recurrent network on a task where only the order carries the label.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_pkg.batching import lengths_to_mask
from course_pkg.validation import require_ndim, require_positive_int

__all__ = ["BagOfWords", "token_counts"]


def token_counts(tokens: torch.Tensor, lengths, vocab_size: int) -> torch.Tensor:
    """Counts of each token over the real steps of a padded batch.

    ``tokens`` ``(T, B)`` int64 (time-major, padding anywhere after ``lengths[b]``) ->
    ``(B, vocab_size)`` float counts; padding positions are not counted.
    """
    require_ndim("tokens", tokens, 2, "padded token ids (T, B)")
    if tokens.dtype != torch.int64:
        raise TypeError(f"tokens: expected int64 token ids, got {tokens.dtype}")
    require_positive_int("vocab_size", vocab_size)
    mask = lengths_to_mask(lengths, max_len=tokens.shape[0])  # (T, B) bool
    if mask.shape[1] != tokens.shape[1]:
        raise ValueError(f"lengths: expected {tokens.shape[1]} lengths (one per column of tokens), "
                         f"got {mask.shape[1]}")
    if int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size:
        raise ValueError(f"tokens: expected ids in [0, {vocab_size - 1}], got values in "
                         f"[{int(tokens.min())}, {int(tokens.max())}]")
    one_hot = F.one_hot(tokens, vocab_size).float()  # (T, B, V)
    return (one_hot * mask.unsqueeze(-1).to(one_hot.device)).sum(dim=0)  # (B, V)


class BagOfWords(nn.Module):
    """Token counts -> a one-hidden-layer perceptron -> class scores. Knows nothing of order."""

    def __init__(self, vocab_size: int, num_classes: int, hidden_size: int = 32):
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("num_classes", num_classes)
        require_positive_int("hidden_size", hidden_size)
        self.vocab_size = vocab_size
        self.classifier = nn.Sequential(
            nn.Linear(vocab_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, num_classes)
        )

    def forward(self, tokens: torch.Tensor, lengths) -> torch.Tensor:
        """``tokens`` ``(T, B)`` padded ids, ``lengths`` ``(B,)`` -> logits ``(B, num_classes)``."""
        counts = token_counts(tokens, lengths, self.vocab_size)  # (B, V)
        return self.classifier(counts)  # (B, C)
