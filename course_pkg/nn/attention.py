"""Attention over a set of keys: additive (Bahdanau), dot-product and bilinear (Luong).

A query ``q`` looks at T keys ``k_1..k_T`` and their values ``v_1..v_T``. Each key gets a score,
the scores become weights with a softmax, and the result is the weighted average of the values::

    e_t = score(q, k_t)                              one number per position
    a_t = exp(e_t) / sum_{t' allowed} exp(e_t')      a_t = 0 exactly where the mask forbids t
    c   = sum_t a_t v_t                              the context vector

The three scores of the course:

- **additive** (Bahdanau, Cho & Bengio 2015, *Neural machine translation by jointly learning to
  align and translate*, eq. 6 and appendix A.1.2)::

      score(q, k) = v^T tanh(W_q q + W_k k)          W_q (H, Dq), W_k (H, Dk), v (H,)

- **dot** (Luong, Pham & Manning 2015, *Effective approaches to attention-based neural machine
  translation*, eq. 8, "dot"), optionally scaled by ``1/sqrt(Dk)`` (Vaswani et al. 2017)::

      score(q, k) = q . k            or   q . k / sqrt(Dk)        needs Dq = Dk

- **bilinear**, Luong's "general" score (eq. 8)::

      score(q, k) = q^T W k                          W (Dq, Dk)

  We give it its own class, `BilinearAttention`, rather than a mode of `DotProductAttention`:
  it has parameters and allows ``Dq != Dk``, the dot score has neither.

Every module has the same interface (a contract the seq2seq decoder, the pointer network and the
assignments rely on)::

    context, weights = attention(query, keys, values, mask=None)
    # query (B, Dq), keys (B, T, Dk), values (B, T, Dv), mask (B, T) bool, True = may attend
    # context (B, Dv), weights (B, T)

and ``attention.scores(query, keys) -> (B, T)`` for the raw scores (a pointer network uses them
as its output distribution). Tensors are batch-first here: one row per query.

Masked positions get a score of ``-inf`` before the softmax, so their weight is exactly 0.0 and the
weights of the other positions are those of a softmax over the allowed positions alone. A row in
which every position is masked has no distribution at all: that raises ``ValueError``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from course_pkg.validation import (
    require_array,
    require_floating,
    require_ndim,
    require_positive_int,
)

__all__ = [
    "masked_softmax",
    "attend",
    "additive_scores",
    "dot_product_scores",
    "bilinear_scores",
    "AdditiveAttention",
    "DotProductAttention",
    "BilinearAttention",
]


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _check_query_keys(query: Tensor, keys: Tensor) -> None:
    """query (B, Dq) and keys (B, T, Dk), floating, with the same batch size."""
    require_ndim("query", query, 2, "(B, Dq): one query per batch row")
    require_ndim("keys", keys, 3, "(B, T, Dk): T keys per batch row")
    require_floating("query", query)
    require_floating("keys", keys)
    if keys.shape[0] != query.shape[0]:
        raise ValueError(f"keys: expected shape ({query.shape[0]}, T, Dk) (batch size of query "
                         f"= {query.shape[0]}), got {tuple(keys.shape)}")


def _check_mask(mask: Tensor | None, batch_size: int, num_keys: int) -> None:
    """mask: None or a bool (B, T) tensor with at least one True per row."""
    if mask is None:
        return
    require_array("mask", mask)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask: expected a bool tensor (True = may attend), got {mask.dtype}")
    if tuple(mask.shape) != (batch_size, num_keys):
        raise ValueError(f"mask: expected shape ({batch_size}, {num_keys}) (B, T), "
                         f"got {tuple(mask.shape)}")
    empty_rows = (~mask.any(dim=1)).nonzero().flatten().tolist()
    if empty_rows:
        raise ValueError(f"mask: expected at least one True (attendable) position per row, "
                         f"got rows with every position masked: {empty_rows[:10]}")


def _check_values(values: Tensor, keys: Tensor) -> None:
    """values (B, T, Dv) with the batch size and length of keys."""
    require_ndim("values", values, 3, "(B, T, Dv): one value per key")
    require_floating("values", values)
    if tuple(values.shape[:2]) != tuple(keys.shape[:2]):
        raise ValueError(f"values: expected shape ({keys.shape[0]}, {keys.shape[1]}, Dv) (the "
                         f"B and T of keys), got {tuple(values.shape)}")


def _check_size(name: str, tensor: Tensor, size: int, meaning: str) -> None:
    if tensor.shape[-1] != size:
        raise ValueError(f"{name}: expected last dimension {size} ({meaning}), "
                         f"got shape {tuple(tensor.shape)}")


# ----------------------------------------------------------------------------------------------
# the steps, as functions
# ----------------------------------------------------------------------------------------------
def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """Softmax over the last dimension of ``scores`` (B, T), restricted to ``mask``.

    ``a_t = exp(e_t) / sum_{t': mask_t'} exp(e_t')`` where ``mask_t`` is True, and exactly 0.0
    where it is False. ``mask`` is a bool (B, T) tensor (None: every position allowed); a row with
    no True raises ValueError.
    """
    require_ndim("scores", scores, 2, "(B, T) attention scores")
    require_floating("scores", scores)
    _check_mask(mask, scores.shape[0], scores.shape[1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)  # exp(-inf) = 0: no weight at all
    return torch.softmax(scores, dim=1)  # (B, T)


def attend(weights: Tensor, values: Tensor) -> Tensor:
    """The context vector ``c = sum_t a_t v_t``: weights (B, T), values (B, T, Dv) -> (B, Dv)."""
    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, 1, T) @ (B, T, Dv)


def additive_scores(query: Tensor, keys: Tensor, weight_query: Tensor, weight_key: Tensor,
                    v: Tensor, projected_keys: Tensor | None = None) -> Tensor:
    """Bahdanau's score ``e_t = v^T tanh(W_q q + W_k k_t)`` for every t.

    query (B, Dq), keys (B, T, Dk), weight_query W_q (H, Dq), weight_key W_k (H, Dk), v (H,).
    ``projected_keys`` (B, T, H) is ``W_k k_t`` if already computed: it does not depend on the
    query, so a decoder that attends over the same keys at every step computes it once (as
    Bahdanau et al. note in their appendix A.1.2). Returns (B, T).
    """
    projected_query = query @ weight_query.t()  # (B, H)
    if projected_keys is None:
        projected_keys = keys @ weight_key.t()  # (B, T, H)
    hidden = torch.tanh(projected_keys + projected_query.unsqueeze(1))  # (B, T, H)
    return hidden @ v  # (B, T)


def dot_product_scores(query: Tensor, keys: Tensor, scaled: bool = True) -> Tensor:
    """Luong's dot score ``e_t = q . k_t`` (divided by ``sqrt(Dk)`` if ``scaled``).

    query (B, D), keys (B, T, D). Returns (B, T).
    """
    scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, T, D) @ (B, D, 1) -> (B, T)
    if scaled:
        scores = scores / math.sqrt(keys.shape[2])
    return scores


def bilinear_scores(query: Tensor, keys: Tensor, weight: Tensor) -> Tensor:
    """Luong's "general" score ``e_t = q^T W k_t``: query (B, Dq), keys (B, T, Dk), W (Dq, Dk).

    Returns (B, T).
    """
    return dot_product_scores(query @ weight, keys, scaled=False)  # (q^T W) (B, Dk) . k_t


# ----------------------------------------------------------------------------------------------
# the modules
# ----------------------------------------------------------------------------------------------
class _Attention(nn.Module):
    """``forward`` shared by the three scores: scores -> masked softmax -> weighted values."""

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError  # each subclass computes its score here

    def forward(self, query: Tensor, keys: Tensor, values: Tensor,
                mask: Tensor | None = None, **score_options) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` (B, Dq) over ``keys`` (B, T, Dk) / ``values`` (B, T, Dv).

        ``mask`` (B, T) bool, True = may attend (None: all). Returns ``(context (B, Dv),
        weights (B, T))``; weights sum to 1 over the allowed positions and are 0.0 elsewhere.
        ``score_options`` go to `scores` (``projected_keys`` for `AdditiveAttention`).
        """
        scores = self.scores(query, keys, **score_options)  # (B, T), checks query and keys
        _check_values(values, keys)
        weights = masked_softmax(scores, mask)  # (B, T), checks mask
        return attend(weights, values), weights  # (B, Dv), (B, T)


class AdditiveAttention(_Attention):
    """Bahdanau (additive, "concat") attention: ``score(q, k) = v^T tanh(W_q q + W_k k)``.

    Parameters: ``query_proj.weight`` = W_q (H, Dq), ``key_proj.weight`` = W_k (H, Dk), ``v`` (H,);
    no biases, as in the paper's equations. ``v`` starts at U(-1/sqrt(H), 1/sqrt(H)), the
    projections at ``nn.Linear``'s default.
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        require_positive_int("query_size", query_size)
        require_positive_int("key_size", key_size)
        require_positive_int("hidden_size", hidden_size)
        self.query_size, self.key_size, self.hidden_size = query_size, key_size, hidden_size
        self.query_proj = nn.Linear(query_size, hidden_size, bias=False)  # W_q (H, Dq)
        self.key_proj = nn.Linear(key_size, hidden_size, bias=False)  # W_k (H, Dk)
        bound = 1.0 / math.sqrt(hidden_size)
        self.v = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))  # (H,)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, " \
               f"hidden_size={self.hidden_size}"

    def project_keys(self, keys: Tensor) -> Tensor:
        """``W_k k_t`` for every key: (B, T, Dk) -> (B, T, H), to pass as ``projected_keys``."""
        require_ndim("keys", keys, 3, "(B, T, Dk): T keys per batch row")
        _check_size("keys", keys, self.key_size, "key_size")
        return self.key_proj(keys)

    def scores(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None = None) -> Tensor:
        """Raw scores ``v^T tanh(W_q q + W_k k_t)``: query (B, Dq), keys (B, T, Dk) -> (B, T).

        ``projected_keys`` (B, T, H): `project_keys` of these keys, computed once beforehand
        (optional; it saves a matrix product per call when the keys stay the same).
        """
        _check_query_keys(query, keys)
        _check_size("query", query, self.query_size, "query_size")
        _check_size("keys", keys, self.key_size, "key_size")
        if projected_keys is not None:
            require_floating("projected_keys", projected_keys)
            if tuple(projected_keys.shape) != (*keys.shape[:2], self.hidden_size):
                raise ValueError(f"projected_keys: expected shape ({keys.shape[0]}, "
                                 f"{keys.shape[1]}, {self.hidden_size}) (B, T, hidden_size), "
                                 f"got {tuple(projected_keys.shape)}")
        return additive_scores(query, keys, self.query_proj.weight, self.key_proj.weight, self.v,
                               projected_keys)


class DotProductAttention(_Attention):
    """Luong's dot attention ``score(q, k) = q . k``, divided by ``sqrt(Dk)`` if ``scaled``.

    No parameters; the query and the keys must have the same size.
    """

    def __init__(self, scaled: bool = True):  # scaled: divide the scores by sqrt(Dk)
        super().__init__()
        if not isinstance(scaled, bool):
            raise TypeError(f"scaled: expected a bool, got {type(scaled).__name__} {scaled!r}")
        self.scaled = scaled

    def extra_repr(self) -> str:
        return f"scaled={self.scaled}"

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Raw scores ``q . k_t`` (/ sqrt(Dk)): query (B, D), keys (B, T, D) -> (B, T)."""
        _check_query_keys(query, keys)
        _check_size("keys", keys, query.shape[1], "the query size Dq: the dot score needs Dk = Dq")
        return dot_product_scores(query, keys, self.scaled)


class BilinearAttention(_Attention):
    """Luong's "general" attention ``score(q, k) = q^T W k``, W (Dq, Dk).

    ``weight`` starts at U(-1/sqrt(Dk), 1/sqrt(Dk)).
    """

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        require_positive_int("query_size", query_size)
        require_positive_int("key_size", key_size)
        self.query_size, self.key_size = query_size, key_size
        bound = 1.0 / math.sqrt(key_size)
        self.weight = nn.Parameter(torch.empty(query_size, key_size).uniform_(-bound, bound))

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}"

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Raw scores ``q^T W k_t``: query (B, Dq), keys (B, T, Dk) -> (B, T)."""
        _check_query_keys(query, keys)
        _check_size("query", query, self.query_size, "query_size")
        _check_size("keys", keys, self.key_size, "key_size")
        return bilinear_scores(query, keys, self.weight)
