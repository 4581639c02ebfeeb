"""Self-attention and a small Transformer-style sequence model (Vaswani et al. 2017, *Attention Is
All You Need*, sections 3.2-3.5), chapter 18: what came after recurrence.

A recurrent network carries information from step s to step t through t - s updates of its
state, one after the other. Self-attention lets every step look at every other step directly,
in one parallel operation. Each step t makes a query, a key and a value from its input
(``d = d_model``, ``n`` heads of ``d_h = d / n`` dimensions each)::

    q_t, k_t, v_t = W_q x_t + b_q,  W_k x_t + b_k,  W_v x_t + b_v      (d,) each, split in n heads
    a_{t,s}       = softmax_s(q_t . k_s / sqrt(d_h))   over the allowed s (per head)
    o_t           = W_o [sum_s a_{t,s} v_s  for each head] + b_o                 (d,)

A **causal mask** allows only s <= t, so step t cannot see the future (needed to predict the
next token); padding positions of a batch are never attended to. Attention alone does not know
the order of the steps, so a **positional encoding** is added to the inputs first (sinusoids of
geometrically spaced wavelengths)::

    PE[t, 2i] = sin(t / 10000^(2i/d)),   PE[t, 2i+1] = cos(t / 10000^(2i/d))

A **pre-norm block** (the layout of GPT-2 and of ``torch.nn.TransformerEncoderLayer`` with
``norm_first=True``) wraps attention and a position-wise feed-forward network in residual
connections::

    x = x + Attention(LayerNorm(x))
    x = x + W_2 relu(W_1 LayerNorm(x) + b_1) + b_2

`SelfAttentionSequenceModel` is an input layer (a linear map of feature vectors, or an embedding
of token ids), the positional encoding, ``num_layers`` blocks, a final LayerNorm and a linear
output layer at every position: many-to-many like the course's recurrent taggers and language
models (take the last step for many-to-one).

The attention module keeps the parameter names of ``torch.nn.MultiheadAttention``
(``in_proj_weight`` (3d, d) with rows W_q, W_k, W_v, ``in_proj_bias``, ``out_proj``) and the
block those of ``torch.nn.TransformerEncoderLayer`` (``self_attn``, ``linear1``, ``linear2``,
``norm1``, ``norm2``), so their state dicts load into torch's modules: that is how the tests check
them. Masks here say where attention is *allowed* (True = may attend), as in
`course_pkg.nn.attention`; torch's ``attn_mask`` says where it is forbidden.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.multihead_attention import (  # causal_mask (T, T): s <= t
    MultiHeadAttention,
    causal_mask,
)
from course_pkg.nn.transformer_layers import TransformerEncoderLayer
from course_pkg.validation import (
    require_floating,
    require_lengths,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["sinusoidal_positions", "causal_mask", "MultiHeadSelfAttention",
           "SelfAttentionBlock", "SelfAttentionSequenceModel"]


def sinusoidal_positions(num_positions: int, d_model: int) -> Tensor:
    """The sinusoidal positional encoding (num_positions, d_model), float32 (see module doc)."""
    require_positive_int("num_positions", num_positions)
    require_positive_int("d_model", d_model)
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]       # (T, 1)
    even = torch.arange(0, d_model, 2, dtype=torch.float64)                      # 2i
    angles = positions / 10000.0 ** (even / d_model)                            # (T, ceil(d/2))
    encoding = torch.zeros(num_positions, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return encoding.float()


class MultiHeadSelfAttention(MultiHeadAttention):
    """Multi-head scaled dot-product self-attention: `course_pkg.nn.MultiHeadAttention` with one
    input for queries, keys and values, projected by one product with the stacked
    ``in_proj_weight``; the heads, the scores and their softmax, and W_o are the parent's
    (`MultiHeadAttention.attend`).

    ``forward(x, allowed=None)``: x (T, B, d); ``allowed`` None, (T, T) or (B, T, T) bool, True
    where query t may attend to key s (every query must be allowed at least one key). Returns
    ``(output, weights)``: output (T, B, d), weights (B, num_heads, T, T) (rows sum to 1).
    """

    def _check_input(self, x: Tensor, allowed: Tensor | None) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
        require_floating("x", x)
        require_shape("x", x, ("T", "B", self.d_model), f"(T, B, d_model = {self.d_model})")
        if allowed is None:
            return
        steps, batch = x.shape[:2]
        if not isinstance(allowed, Tensor) or allowed.dtype != torch.bool:
            raise TypeError(f"allowed: expected a bool tensor, got "
                            f"{getattr(allowed, 'dtype', type(allowed).__name__)}")
        if tuple(allowed.shape) not in ((steps, steps), (batch, steps, steps)):
            raise ValueError(f"allowed: expected shape ({steps}, {steps}) or ({batch}, {steps}, "
                             f"{steps}), got {tuple(allowed.shape)}")

    def forward(self, x: Tensor, allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_input(x, allowed)
        # one product with the stacked [W_q; W_k; W_v] (3d, d), as torch does for self-attention
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        if allowed is not None and allowed.dim() == 3:
            allowed = allowed.unsqueeze(1)                                      # (B, 1, T, T)
        return self.attend(q, k, v, allowed)   # heads, scores, softmax, concatenation, W_o


class SelfAttentionBlock(TransformerEncoderLayer):
    """A pre-norm Transformer block (see module doc): `course_pkg.nn.TransformerEncoderLayer`
    whose attention is `MultiHeadSelfAttention`; ``forward(x, allowed=None)`` -> ``(x', weights)``
    with x, x' (T, B, d), ``allowed`` None, (T, T) or (B, T, T) bool (key padding folded in), and
    the attention weights (B, num_heads, T, T). The residuals, the normalisations, the
    feed-forward network and the dropout are the encoder layer's.
    """

    def __init__(self, d_model: int, num_heads: int, ff_size: int, dropout: float = 0.0) -> None:
        nn.Module.__init__(self)  # not the encoder layer's: the attention is drawn first here,
        # then W_1 and W_2, and in that order chapter 18's seeded runs print their numbers
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self._build_feed_forward(d_model, ff_size, dropout)  # linear1, linear2, dropout

    def forward(self, x: Tensor, allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return super().forward(x, allowed=allowed)

    def self_attention(self, h: Tensor, allowed: Tensor | None,
                       key_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.self_attn(h, allowed)  # key_mask is always None here: padding is in allowed


class SelfAttentionSequenceModel(nn.Module):
    """Input layer + positional encoding + pre-norm self-attention blocks + output per step.

    Args:
        input_size: D, features per step; with ``token_input=True`` the vocabulary size.
        output_size: K, outputs per step (tag scores, next-token logits, a regression value).
        d_model: d, the width of every block.
        num_heads: heads per attention (a divisor of d_model).
        num_layers: blocks (one or two are plenty for the course's tasks).
        ff_size: hidden units of the feed-forward networks (default 4 d).
        causal: if True, step t attends to steps s <= t only.
        max_len: the longest sequence (the positional encoding is precomputed up to it).
        dropout: after attention, in and after the feed-forward network.
        token_input: inputs are (T, B) token ids (an embedding) instead of (T, B, D) features.

    ``forward(x, lengths=None)`` -> (T, B, K); ``lengths`` (B,) for a padded batch: no step
    attends to padding, and padded positions get zero outputs. `attention_maps` returns the
    weights of every block.
    """

    def __init__(self, input_size: int, output_size: int, d_model: int = 64, num_heads: int = 4,
                 num_layers: int = 2, ff_size: int | None = None, causal: bool = False,
                 max_len: int = 512, dropout: float = 0.0, token_input: bool = False) -> None:
        super().__init__()
        for name, value in [("input_size", input_size), ("output_size", output_size),
                            ("num_layers", num_layers), ("max_len", max_len)]:
            require_positive_int(name, value)
        for name, value in [("causal", causal), ("token_input", token_input)]:
            if not isinstance(value, bool):
                raise TypeError(f"{name}: expected a bool, got {value!r}")
        self.input_size, self.causal, self.token_input = input_size, causal, token_input
        self.max_len = max_len
        self.input = nn.Embedding(input_size, d_model) if token_input \
            else nn.Linear(input_size, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model),
                             persistent=False)                                   # (max_len, d)
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(d_model, num_heads, ff_size or 4 * d_model, dropout)
            for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, output_size)

    def _check(self, x: Tensor, lengths) -> Tensor | None:
        if not isinstance(x, Tensor):
            raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
        if self.token_input:
            require_ndim("x", x, 2, "(T, B) token ids")
            if x.dtype.is_floating_point or x.dtype == torch.bool:
                raise TypeError(f"x: expected integer token ids, got {x.dtype}")
            if x.numel() and (x.min() < 0 or x.max() >= self.input_size):
                raise ValueError(f"x: expected ids in [0, {self.input_size - 1}], got values in "
                                 f"[{x.min().item()}, {x.max().item()}]")
        else:
            require_floating("x", x)
            require_ndim("x", x, 3, "(T, B, input_size) time-major features")
            require_shape("x", x, ("T", "B", self.input_size),
                          f"(T, B, input_size) time-major features, input_size {self.input_size}")
        if not 1 <= x.shape[0] <= self.max_len:
            raise ValueError(f"x: expected 1 to max_len = {self.max_len} steps, got "
                             f"{x.shape[0]} (shape {tuple(x.shape)})")
        if lengths is None:
            return None
        return require_lengths(lengths, batch=x.shape[1], steps=x.shape[0]).to(x.device)

    def _run(self, x: Tensor, lengths) -> tuple[Tensor, list[Tensor], Tensor | None]:
        lengths = self._check(x, lengths)
        steps = x.shape[0]
        h = self.input(x) + self.positions[:steps, None, :]                     # (T, B, d)
        allowed = causal_mask(steps, h.device) if self.causal else None         # (T, T)
        real = None
        if lengths is not None:
            real = torch.arange(steps, device=h.device)[None, :] < lengths[:, None]   # (B, T)
            keys = real[:, None, :].expand(-1, steps, -1)                      # (B, T, T)
            allowed = keys if allowed is None else allowed[None] & keys         # (B, T, T)
        maps = []
        for block in self.blocks:
            h, weights = block(h, allowed)
            maps.append(weights)
        out = self.output(self.final_norm(h))                                   # (T, B, K)
        if real is not None:
            out = out * real.T.unsqueeze(2)
        return out, maps, real

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self._run(x, lengths)[0]

    @torch.no_grad()
    def attention_maps(self, x: Tensor, lengths: Tensor | None = None) -> list[Tensor]:
        """The attention weights of every block, each (B, num_heads, T, T)."""
        return self._run(x, lengths)[1]
