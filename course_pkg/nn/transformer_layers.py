"""Pre-norm Transformer encoder and decoder layers (Vaswani et al. 2017, section 3.1, with the
layer normalisation moved in front of each sub-layer as in Xiong et al. 2020, *On layer
normalization in the Transformer architecture*).

An **encoder layer** refines every source position with self-attention over the whole source,
then a position-wise feed-forward network, each inside a residual connection::

    x = x + SelfAttention(LN_1(x))                          padding keys masked
    x = x + W_2 relu(W_1 LN_2(x) + b_1) + b_2

A **decoder layer** adds attention to the encoder's output (the *memory*) between the two::

    y = y + SelfAttention(LN_1(y))                          causal: position t sees y_1..y_t
    y = y + CrossAttention(LN_2(y), memory)                 padding of the source masked
    y = y + W_2 relu(W_1 LN_3(y) + b_1) + b_2

The cross-attention is the encoder-decoder attention of `course_pkg.models.seq2seq` with several
heads and dot-product scores: the decoder's positions are the queries, the encoder's states the
keys and values.

Putting the normalisation first (pre-norm) leaves an identity path from the input to the output
of every layer; it trains without the learning-rate warm-up the original post-norm layout
needs. The parameter names are those of ``torch.nn.TransformerEncoderLayer`` /
``TransformerDecoderLayer`` (``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``,
``norm1``..``norm3``): with ``norm_first=True``, ``activation="relu"`` and no dropout, torch's
layers compute the same function from the same state dict (the tests check it).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.multihead_attention import MultiHeadAttention
from course_pkg.validation import require_in_range, require_positive_int

__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer"]


class _FeedForward(nn.Module):
    """The feed-forward half shared by both layers, and the dropout of every sub-layer::

        FF(x) = dropout(W_2 dropout(relu(W_1 x + b_1)) + b_2)

    With the default ``dropout = 0`` the dropout returns its input itself (no random draw).
    """

    def __init__(self, d_model: int, ff_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        self._build_feed_forward(d_model, ff_size, dropout)

    def _build_feed_forward(self, d_model: int, ff_size: int, dropout: float) -> None:
        require_positive_int("ff_size", ff_size)
        require_in_range("dropout", dropout, 0.0, 1.0)
        self.linear1 = nn.Linear(d_model, ff_size)  # W_1 (ff, d), b_1
        self.linear2 = nn.Linear(ff_size, d_model)  # W_2 (d, ff), b_2
        self.dropout = nn.Dropout(dropout)

    def feed_forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(F.relu(self.linear1(x)))  # (T, B, d) -> (T, B, ff)
        return self.dropout(self.linear2(hidden))       # (T, B, d)


class TransformerEncoderLayer(_FeedForward):
    """Pre-norm encoder layer; ``forward(x, key_mask=None, allowed=None)`` -> ``(x', weights)``.

    x, x' (S, B, d_model); ``key_mask`` (B, S) bool, True at real source positions; ``allowed``
    None or (S, S) bool, True where position t may attend to position s (a causal mask); weights
    of the self-attention (B, num_heads, S, S). ``dropout`` (default 0) acts on the attention's
    output and inside and after the feed-forward network, in training mode only.
    """

    def __init__(self, d_model: int, num_heads: int, ff_size: int, dropout: float = 0.0) -> None:
        super().__init__(d_model, ff_size, dropout)
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, key_mask: Tensor | None = None,
                allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
        attended, weights = self.self_attention(self.norm1(x), allowed, key_mask)  # (S, B, d)
        x = x + self.dropout(attended)
        return x + self.feed_forward(self.norm2(x)), weights

    def self_attention(self, h: Tensor, allowed: Tensor | None,
                       key_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """The attention sub-layer on the normalised input h (S, B, d): queries, keys and values
        are all h."""
        return self.self_attn(h, h, h, allowed, key_mask)


class TransformerDecoderLayer(_FeedForward):
    """Pre-norm decoder layer; ``forward(y, memory, allowed=None, key_mask=None,
    memory_mask=None)`` -> ``(y', self weights, cross weights)``.

    y, y' (T, B, d_model), memory (S, B, d_model); ``allowed`` (T, T) bool for the
    self-attention (the causal mask in training); ``key_mask`` (B, T) True at real target
    positions; ``memory_mask`` (B, S) True at real source positions. Weights (B, heads, T, T) and
    (B, heads, T, S). ``dropout`` as in `TransformerEncoderLayer`, after each of the three
    sub-layers.
    """

    def __init__(self, d_model: int, num_heads: int, ff_size: int, dropout: float = 0.0) -> None:
        super().__init__(d_model, ff_size, dropout)
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.multihead_attn = MultiHeadAttention(d_model, num_heads)  # to the memory
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(self, y: Tensor, memory: Tensor, allowed: Tensor | None = None,
                key_mask: Tensor | None = None,
                memory_mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        h = self.norm1(y)
        attended, self_weights = self.self_attn(h, h, h, allowed, key_mask)  # (T, B, d)
        y = y + self.dropout(attended)
        attended, cross_weights = self.multihead_attn(self.norm2(y), memory, memory,
                                                      key_mask=memory_mask)  # (T, B, d)
        y = y + self.dropout(attended)
        return y + self.feed_forward(self.norm3(y)), self_weights, cross_weights
