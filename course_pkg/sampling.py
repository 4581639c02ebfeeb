"""Decoding a sequence model: sampling with temperature and top-k, a generation loop, beam search.

A language model gives, at each step, logits ``s`` over a vocabulary of size V. We pick the next
token from ``p = softmax(s / tau)``:

- temperature ``tau``: ``tau < 1`` sharpens the distribution (conservative text), ``tau > 1``
  flattens it (creative, more mistakes), ``tau -> 0`` is greedy decoding (``argmax s``);
- top-k (Fan et al. 2018): keep only the k largest logits, renormalise, sample among them;
- beam search: keep the ``beam_width`` most probable partial sequences at each step, scored by
  ``log p(y_1..y_t) = sum_t log p(y_t | y_<t)``; width 1 is greedy decoding.

The model is seen through one small protocol, ``model_step``::

    logits, state = model_step(input_ids, state)
    # input_ids: LongTensor (B,)   the token fed at this step, one per sequence
    # state:     None at the start, afterwards whatever model_step returned last (opaque here)
    # logits:    FloatTensor (B, V) unnormalised scores of the *next* token

``model_step`` must return a new state rather than change the old one in place: beam search
hands the same state to several continuations.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from course_pkg.validation import (
    require_floating,
    require_in_range,
    require_ndim,
    require_positive_int,
    require_shape,
)

ModelStep = Callable[[torch.Tensor, Any], "tuple[torch.Tensor, Any]"]


def _check_top_k(top_k: int | None, vocab_size: int) -> None:
    if top_k is None:
        return
    require_positive_int("top_k", top_k)
    if top_k > vocab_size:
        raise ValueError(f"top_k: expected at most the vocabulary size {vocab_size}, got {top_k}")


def sample(
    logits: torch.Tensor,
    temperature: float = 1.0,  # 0 greedy, <1 sharper, >1 flatter
    top_k: int | None = None,  # keep only the k largest logits
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row from ``softmax(logits / temperature)``, optionally top-k truncated.

    Args:
        logits: (B, V) floating scores; ``-inf`` marks a forbidden token, NaN and ``+inf`` are
            refused.
        temperature: ``tau >= 0``; ``0`` returns ``argmax`` (greedy) and ignores ``top_k``.
        top_k: if given, ``1 <= k <= V``; tokens below the k-th largest logit of their row get
            probability 0 (ties with the k-th are all kept).
        generator: a ``torch.Generator`` for reproducible draws.

    Returns:
        LongTensor (B,) of token ids.
    """
    require_ndim("logits", logits, 2, "(B, V) scores over the vocabulary")
    require_floating("logits", logits)
    require_in_range("temperature", temperature, 0.0, math.inf)
    _check_top_k(top_k, logits.shape[1])
    if torch.isnan(logits).any() or torch.isposinf(logits).any():
        raise ValueError("logits: expected finite values or -inf, got NaN or +inf")
    row_max = logits.max(dim=1, keepdim=True).values  # (B, 1)
    if torch.isneginf(row_max).any():
        raise ValueError("logits: expected at least one finite value per row, got a row of -inf")

    if temperature == 0:
        return logits.argmax(dim=1)  # (B,)
    # Subtracting the row maximum first keeps a tiny temperature from overflowing to inf.
    scaled = (logits - row_max) / temperature  # (B, V), max 0 per row
    if top_k is not None:
        kth_largest = torch.topk(scaled, top_k, dim=1).values[:, -1:]  # (B, 1)
        scaled = scaled.masked_fill(scaled < kth_largest, -math.inf)
    probs = torch.softmax(scaled, dim=1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # (B,)


def _as_seed_matrix(seed_ids: Any) -> tuple[torch.Tensor, bool]:
    """Seed ids as a time-major LongTensor (S, B), and whether the caller gave a 1-D seed."""
    seed = torch.as_tensor(seed_ids)
    require_ndim("seed_ids", seed, (1, 2), "(S,) or time-major (S, B) token ids")
    if seed.shape[0] == 0:
        raise ValueError("seed_ids: expected at least one token to start from, got 0")
    if seed.dtype.is_floating_point or seed.dtype == torch.bool or seed.dtype.is_complex:
        raise TypeError(f"seed_ids: expected integer token ids, got {seed.dtype}")
    if seed.min() < 0:
        raise ValueError(f"seed_ids: expected token ids >= 0, got {seed.min().item()}")
    one_dimensional = seed.ndim == 1
    return (seed.long().unsqueeze(1) if one_dimensional else seed.long()), one_dimensional


def _check_end_id(end_id: int | None) -> None:
    if end_id is not None:
        require_in_range("end_id", end_id, 0, math.inf)
        if int(end_id) != end_id:
            raise TypeError(f"end_id: expected an int token id, got {end_id!r}")


def _step(model_step: ModelStep, ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
    """Call ``model_step`` and check that it kept its side of the protocol."""
    logits, state = model_step(ids, state)
    require_shape("logits returned by model_step", logits, (ids.shape[0], "V"))
    return logits, state


@torch.no_grad()
def generate(
    model_step: ModelStep,
    seed_ids: Sequence[int] | torch.Tensor,
    max_length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    end_id: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample a continuation of ``seed_ids`` token by token, feeding each sample back in.

    1. Feed the seed one token at a time (``state`` starts as ``None``); the logits after the
       last seed token give the distribution of the first new token.
    2. Repeat: sample ``y_t`` with :func:`sample`, append it, feed it to ``model_step``.
    3. Stop after ``max_length`` new tokens, or once every sequence has produced ``end_id``
       (a sequence that has ended is padded with ``end_id`` while the others go on).

    Args:
        model_step: ``(input_ids (B,), state) -> (logits (B, V), state)``, see the module doc.
        seed_ids: (S,) ids, or time-major (S, B) for B sequences at once; S >= 1.
        max_length: the most new tokens to generate (>= 1).
        temperature, top_k, generator: as in :func:`sample`.
        end_id: the end token, included in the output when drawn.

    Returns:
        The new tokens only (not the seed): LongTensor (N,) for a 1-D seed, (N, B) otherwise,
        with ``N <= max_length``.
    """
    seed, one_dimensional = _as_seed_matrix(seed_ids)  # (S, B)
    require_positive_int("max_length", max_length)
    require_in_range("temperature", temperature, 0.0, math.inf)
    _check_end_id(end_id)

    state = None
    for token_ids in seed:  # (B,) per step
        logits, state = _step(model_step, token_ids, state)
    finished = torch.zeros(seed.shape[1], dtype=torch.bool)  # (B,)
    new_ids = []
    while True:
        next_ids = sample(logits, temperature, top_k, generator)  # (B,)
        if end_id is not None:
            next_ids = torch.where(finished, torch.full_like(next_ids, end_id), next_ids)
            finished |= next_ids == end_id
        new_ids.append(next_ids)
        if len(new_ids) == max_length or bool(finished.all()):
            break
        logits, state = _step(model_step, next_ids, state)
    generated = torch.stack(new_ids)  # (N, B)
    return generated[:, 0] if one_dimensional else generated


@torch.no_grad()
def beam_search(
    model_step: ModelStep,
    seed_ids: Sequence[int] | torch.Tensor,
    beam_width: int,
    max_length: int,
    end_id: int | None = None,
    length_normalise: bool = False,  # rank by mean log-prob per token instead of the sum
) -> list[tuple[list[int], float]]:
    """Find probable continuations of one seed by beam search.

    Each beam is a partial continuation ``y_1..y_t`` with score
    ``log p(y_1..y_t | seed) = sum_t log_softmax(logits_t)[y_t]``. At every step each live beam is
    extended by every token, and the ``beam_width`` best extensions (by summed log-probability;
    they all have the same length) are kept. An extension that ends with ``end_id`` is finished
    and leaves the beam; the search stops when no beam is live or after ``max_length`` tokens.

    Beams are run one at a time through ``model_step`` with B = 1, so the state can be anything.

    Args:
        model_step: ``(input_ids (B,), state) -> (logits (B, V), state)``, see the module doc.
        seed_ids: (S,) ids of a single seed, S >= 1.
        beam_width: how many partial sequences to keep (1 is greedy decoding).
        max_length: the most new tokens per sequence.
        end_id: the end token (kept at the end of the finished sequences).
        length_normalise: if True the *final* ranking uses ``log_prob / len(ids)`` so that longer
            finished sequences are not penalised for their length; the returned ``log_prob`` is
            always the plain sum.

    Returns:
        Up to ``beam_width`` pairs ``(ids, log_prob)``, best first, with ``ids`` the new tokens.
    """
    seed_meaning = "one seed (S,): beam search decodes one sequence"
    require_ndim("seed_ids", torch.as_tensor(seed_ids), 1, seed_meaning)
    seed, _ = _as_seed_matrix(seed_ids)  # (S, 1)
    require_positive_int("beam_width", beam_width)
    require_positive_int("max_length", max_length)
    _check_end_id(end_id)

    def next_log_probs(logits: torch.Tensor) -> list[float]:  # (1, V) -> V floats
        return torch.log_softmax(logits[0].double(), dim=0).tolist()

    state = None
    for token_ids in seed:  # (1,) per step
        logits, state = _step(model_step, token_ids, state)

    # A live beam: (new ids, summed log-prob, log-probs of its next token, model state).
    live = [([], 0.0, next_log_probs(logits), state)]
    finished: list[tuple[list[int], float]] = []
    for t in range(max_length):
        candidates = [
            (score + token_log_prob, ids, token, beam_state)
            for ids, score, log_probs, beam_state in live
            for token, token_log_prob in enumerate(log_probs)
        ]
        candidates.sort(key=lambda c: c[0], reverse=True)
        live = []
        for score, ids, token, beam_state in candidates[:beam_width]:
            if token == end_id or t == max_length - 1:  # ended, or out of length
                finished.append((ids + [token], score))
            else:
                logits, new_state = _step(model_step, torch.tensor([token]), beam_state)
                live.append((ids + [token], score, next_log_probs(logits), new_state))
        if not live:
            break

    def rank(result: tuple[list[int], float]) -> float:
        ids, log_prob = result
        return log_prob / len(ids) if length_normalise else log_prob

    return sorted(finished, key=rank, reverse=True)[:beam_width]
