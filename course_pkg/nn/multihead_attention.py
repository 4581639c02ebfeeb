"""Scaled dot-product attention and multi-head attention (Vaswani et al. 2017, *Attention Is All
You Need*, sections 3.2.1 and 3.2.2), for queries and keys from the same or different sequences.

**Scaled dot-product attention.** Queries ``Q`` (Tq, d_k), keys ``K`` (Tk, d_k), values ``V``
(Tk, d_v)::

    A = softmax(Q K^T / sqrt(d_k))        (Tq, Tk), each row a distribution over the keys
    attention(Q, K, V) = A V              (Tq, d_v)

A mask says which (query, key) pairs are *allowed*; a forbidden pair gets the score ``-inf``
before the softmax, so its weight is exactly 0. Two masks are common:

- the **causal mask** (`causal_mask`): query t may attend to keys s <= t only, so a decoder that
  is trained on a whole target sequence at once cannot peek at the tokens it must predict;
- the **padding mask** (`padding_mask`): in a batch of sequences of different lengths, no query
  attends to the padding after a sequence's end.

**Multi-head attention** runs ``h`` attentions side by side on learned projections of width
``d_k = d_model / h`` and mixes their outputs::

    head_i = attention(Q W_i^Q, K W_i^K, V W_i^V)          i = 1..h
    MultiHead(Q, K, V) = [head_1; ...; head_h] W^O + b^O

(with biases on the projections too, as PyTorch has them). Each head can look at different
positions for a different reason.

`MultiHeadAttention` keeps the parameter names and layout of ``torch.nn.MultiheadAttention``
(``in_proj_weight`` (3 d_model, d_model) stacking W^Q, W^K, W^V row-wise, ``in_proj_bias``
(3 d_model,), ``out_proj`` a Linear(d_model, d_model)), so a state dict moves between the two and
the tests compare outputs and gradients on the same weights. Tensors are time-major,
``(T, B, d_model)``, like torch's default ``batch_first=False`` and the rest of the course.
Masks here say where attention is *allowed* (True = may attend), as in
`course_pkg.nn.attention`; torch's ``attn_mask`` and ``key_padding_mask`` say where it is
forbidden.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.validation import require_floating, require_ndim, require_positive_int

__all__ = ["causal_mask", "padding_mask", "scaled_dot_product_attention", "MultiHeadAttention"]


def causal_mask(num_steps: int, device=None) -> Tensor:
    """(T, T) bool, True where query t may attend to key s, that is s <= t."""
    require_positive_int("num_steps", num_steps)
    return torch.ones(num_steps, num_steps, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Tensor, num_steps: int) -> Tensor:
    """(B, T) bool, True at the real positions t < lengths[b] of each padded sequence."""
    require_positive_int("num_steps", num_steps)
    if not isinstance(lengths, Tensor) or lengths.dim() != 1 or lengths.dtype.is_floating_point:
        raise ValueError(f"lengths: expected a 1-D integer tensor (B,), got "
                         f"{getattr(lengths, 'shape', type(lengths).__name__)}")
    if lengths.numel() and (lengths.min() < 1 or lengths.max() > num_steps):
        raise ValueError(f"lengths: expected values in [1, {num_steps}], got {lengths.tolist()}")
    return torch.arange(num_steps, device=lengths.device)[None, :] < lengths[:, None]


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor,
                                 allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``softmax(q k^T / sqrt(d_k)) v`` over the last two dimensions.

    q (..., Tq, d_k), k (..., Tk, d_k), v (..., Tk, d_v); ``allowed`` a bool tensor that
    broadcasts to (..., Tq, Tk), True = may attend (None: all). Every query must be allowed at
    least one key. Returns ``(output (..., Tq, d_v), weights (..., Tq, Tk))``.
    """
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_floating(name, tensor)
        if tensor.dim() < 2:
            raise ValueError(f"{name}: expected at least 2 dimensions (..., T, d), got shape "
                             f"{tuple(tensor.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"k: expected last dimension d_k = {q.shape[-1]} (that of q), got shape "
                         f"{tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"v: expected {k.shape[-2]} positions (one value per key), got shape "
                         f"{tuple(v.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if allowed is not None:
        if allowed.dtype != torch.bool:
            raise TypeError(f"allowed: expected a bool tensor (True = may attend), got "
                            f"{allowed.dtype}")
        try:
            allowed = torch.broadcast_to(allowed, scores.shape)
        except RuntimeError:
            raise ValueError(f"allowed: expected a shape that broadcasts to {tuple(scores.shape)}"
                             f" (..., Tq, Tk), got {tuple(allowed.shape)}") from None
        if not allowed.any(dim=-1).all():
            raise ValueError("allowed: expected every query to be allowed at least one key, got "
                             "a query with none")
        scores = scores.masked_fill(~allowed, float("-inf"))  # weight exactly 0 there
    weights = torch.softmax(scores, dim=-1)  # (..., Tq, Tk)
    return weights @ v, weights  # (..., Tq, d_v)


class MultiHeadAttention(nn.Module):
    """Multi-head attention from ``query`` to ``key``/``value`` (see the module doc).

    ``forward(query, key, value, allowed=None, key_mask=None)``: query (Tq, B, d), key and value
    (Tk, B, d); ``allowed`` (Tq, Tk) or (B, Tq, Tk) bool, True where query t may attend to key s;
    ``key_mask`` (B, Tk) bool, True at real (not padding) keys. Returns ``(output (Tq, B, d),
    weights (B, num_heads, Tq, Tk))``.
    """

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        require_positive_int("d_model", d_model)
        require_positive_int("num_heads", num_heads)
        if d_model % num_heads:
            raise ValueError(f"num_heads: expected a divisor of d_model = {d_model}, "
                             f"got {num_heads}")
        self.d_model, self.num_heads = d_model, num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))  # W^Q; W^K; W^V
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)  # W^O, b^O
        nn.init.xavier_uniform_(self.in_proj_weight)  # torch's initialisation
        nn.init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, num_heads={self.num_heads}"

    def _check(self, name: str, x: Tensor) -> None:
        require_ndim(name, x, 3, f"(T, B, d_model = {self.d_model}) time-major")
        require_floating(name, x)
        if x.shape[2] != self.d_model:
            raise ValueError(f"{name}: expected shape (T, B, {self.d_model}) (d_model = "
                             f"{self.d_model}), got {tuple(x.shape)}")

    def _split(self, x: Tensor) -> Tensor:
        """(T, B, d) -> (B, heads, T, d_k)."""
        steps, batch, _ = x.shape
        return x.reshape(steps, batch, self.num_heads, -1).permute(1, 2, 0, 3)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, allowed: Tensor | None = None,
                key_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        for name, x in (("query", query), ("key", key), ("value", value)):
            self._check(name, x)
        (tq, batch, d), tk = query.shape, key.shape[0]
        if key.shape[1] != batch or tuple(value.shape[:2]) != tuple(key.shape[:2]):
            raise ValueError(f"key, value: expected shapes ({tk}, {batch}, {d}), got "
                             f"{tuple(key.shape)} and {tuple(value.shape)}")
        mask = None  # broadcasts to (B, heads, Tq, Tk)
        if allowed is not None:
            if allowed.dtype != torch.bool or tuple(allowed.shape) not in ((tq, tk),
                                                                           (batch, tq, tk)):
                raise ValueError(f"allowed: expected a bool tensor of shape ({tq}, {tk}) or "
                                 f"({batch}, {tq}, {tk}), got {allowed.dtype} "
                                 f"{tuple(allowed.shape)}")
            mask = allowed if allowed.dim() == 2 else allowed[:, None]  # (Tq, Tk) or (B,1,Tq,Tk)
        if key_mask is not None:
            if key_mask.dtype != torch.bool or tuple(key_mask.shape) != (batch, tk):
                raise ValueError(f"key_mask: expected a bool tensor of shape ({batch}, {tk}) "
                                 f"(B, Tk), got {key_mask.dtype} {tuple(key_mask.shape)}")
            keys_ok = key_mask[:, None, None, :]  # (B, 1, 1, Tk)
            mask = keys_ok if mask is None else mask & keys_ok
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)  # (d, d) each
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        return self.attend(F.linear(query, w_q, b_q), F.linear(key, w_k, b_k),
                           F.linear(value, w_v, b_v), mask)

    def attend(self, q: Tensor, k: Tensor, v: Tensor,
               mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The heads of projected queries q (Tq, B, d) and keys and values k, v (Tk, B, d):
        scaled dot-product attention per head (``mask`` broadcasts to (B, h, Tq, Tk), True =
        may attend), the heads concatenated, then W^O. Returns ``(output (Tq, B, d), weights
        (B, h, Tq, Tk))``."""
        tq, batch, d = q.shape
        heads, weights = scaled_dot_product_attention(  # (B, h, Tq, d_k)
            self._split(q), self._split(k), self._split(v), mask)
        mixed = heads.permute(2, 0, 1, 3).reshape(tq, batch, d)  # concatenate: (Tq, B, d)
        return self.out_proj(mixed), weights
