"""Short reviews whose opinion may turn at a contrastive "but" (chapter 6).

"The movie was terrible ... but the ending was amazing." This module generates reviews of that
shape over a small vocabulary (see `WORDS`) and labels each one positive or negative by a rule
that is written down, so that what counts as the right reading is not left to the model::

    the plot was dull and the acting was awful but the ending was amazing i saw it on sunday
    \\______ first part (one opinion) ______/     \\___ after "but" ___/ \\___ neutral tail ___/

- a **statement** is "the ASPECT was OPINION" (4 words), the opinion word positive or negative;
- the **first part** is one to three statements joined by "and", all of one polarity (a fair
  coin);
- with probability ``turn_probability`` the review **turns**: "but" and one statement of the
  opposite polarity follow;
- a **tail** of neutral words (`TAIL_WORDS`, no opinion) fills the review up to ``length`` words.

The labelling rule (`sentiment_by_rule`): *a review's sentiment is that of the opinion words after
its last "but"; a review without "but" has the sentiment of its opinion words* (which all agree).
This is the "A but B" rule of sentiment analysis: the clause after a contrastive "but" carries
the writer's verdict (Hu et al. 2016 build it into a network as a logic rule). It is a choice of
task: a scale with a "mixed" class, or one verdict per aspect, would label the same reviews
differently; chapter 6 argues for this one.

Every review of a call has the same number of words, so a batch needs no padding; reviews of
different lengths come from calls with different ``length``.

Reference: Z. Hu, X. Ma, Z. Liu, E. Hovy, E. Xing, "Harnessing deep neural networks with logic
rules", ACL 2016.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from course_pkg.validation import (
    numpy_rng,
    require_in_range,
    require_ndim,
    require_positive_int,
    require_word_ids,
)

__all__ = [
    "WORDS",
    "POSITIVE_WORDS",
    "NEGATIVE_WORDS",
    "TAIL_WORDS",
    "NEGATIVE",
    "POSITIVE",
    "SENTIMENTS",
    "MIN_LENGTH",
    "reviews_with_turns",
    "sentiment_by_rule",
    "has_turn",
    "words_after_last_opinion",
    "opinion_balance",
    "encode_words",
    "decode_words",
]

ASPECTS = ("movie", "plot", "acting", "ending", "music", "story")
POSITIVE_WORDS = ("amazing", "great", "superb", "lovely")
NEGATIVE_WORDS = ("terrible", "awful", "dull", "boring")
#: Neutral words of the tail (none of them an opinion, a turn or part of a statement).
TAIL_WORDS = ("i", "saw", "it", "with", "friends", "on", "sunday", "we", "went", "home", "later")
#: The vocabulary: word ``WORDS[i]`` has id ``i``.
WORDS = (("the", "was", "and", "but") + ASPECTS + POSITIVE_WORDS + NEGATIVE_WORDS + TAIL_WORDS)
NEGATIVE, POSITIVE = 0, 1
SENTIMENTS = ("negative", "positive")
#: The shortest review with a turn: "the movie was terrible but the ending was amazing".
MIN_LENGTH = 9

_ID = {word: i for i, word in enumerate(WORDS)}
_OPINION_IDS = {NEGATIVE: np.array([_ID[w] for w in NEGATIVE_WORDS]),
                POSITIVE: np.array([_ID[w] for w in POSITIVE_WORDS])}
_POLARITY = {int(i): polarity for polarity, ids in _OPINION_IDS.items() for i in ids}
_ASPECT_IDS = np.array([_ID[w] for w in ASPECTS])
_TAIL_IDS = np.array([_ID[w] for w in TAIL_WORDS])
_BUT = _ID["but"]
_MAX_FIRST = 3  # statements in the first part


def _statement(rng: np.random.Generator, polarity: int) -> list[int]:
    """'the ASPECT was OPINION' as 4 ids."""
    opinions = _OPINION_IDS[polarity]
    return [_ID["the"], int(rng.choice(_ASPECT_IDS)), _ID["was"], int(rng.choice(opinions))]


def reviews_with_turns(
    num_reviews: int,
    length: int = 16,
    turn_probability: float = 0.5,
    seed: int | np.random.Generator = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_reviews`` reviews of ``length`` words each, and their sentiment by the rule.

    Args:
        num_reviews: B.
        length: T, words per review, at least `MIN_LENGTH` (9), the length of the shortest review
            with a turn. The first part has as many statements (1 to 3) as fit, drawn uniformly.
        turn_probability: the chance that a review turns at "but".
        seed: an int for ``numpy.random.default_rng``, or a ``numpy.random.Generator`` to draw
            from (so that successive calls give fresh reviews).

    Returns:
        ``(words, sentiments)``: int64 word ids ``(T, B)`` (time-major, into `WORDS`) and the
        label of each review ``(B,)``, `NEGATIVE` (0) or `POSITIVE` (1); ``sentiments ==
        sentiment_by_rule(words)``.
    """
    require_positive_int("num_reviews", num_reviews)
    require_positive_int("length", length)
    if length < MIN_LENGTH:
        raise ValueError(f"length: expected at least {MIN_LENGTH} words (room for a turn), got {length}")
    require_in_range("turn_probability", turn_probability, 0.0, 1.0)
    rng = numpy_rng(seed)
    words = np.empty((length, num_reviews), dtype=np.int64)  # (T, B)
    sentiments = np.empty(num_reviews, dtype=np.int64)  # (B,)
    for b in range(num_reviews):
        turns = bool(rng.random() < turn_probability)
        room = length - (5 if turns else 0)  # "but" + one statement take 5 words
        # n statements joined by "and" take 5n - 1 words
        first = int(rng.integers(1, min(_MAX_FIRST, (room + 1) // 5) + 1))
        polarity = int(rng.integers(2))
        review = _statement(rng, polarity)
        for _ in range(first - 1):
            review += [_ID["and"]] + _statement(rng, polarity)
        if turns:
            polarity = 1 - polarity
            review += [_BUT] + _statement(rng, polarity)
        review += rng.choice(_TAIL_IDS, size=length - len(review)).tolist()  # neutral tail
        words[:, b] = review
        sentiments[b] = polarity
    return torch.from_numpy(words), torch.from_numpy(sentiments)


def _check_words(words) -> torch.Tensor:
    return require_word_ids("words", words, len(WORDS))  # (T, B)


def sentiment_by_rule(words) -> torch.Tensor:
    """The label by the rule: the polarity of the opinion words after the last "but" (of all of
    them if there is none). ``(T, B)`` ids -> ``(B,)`` int64; ``(T,)`` gives ``(1,)``. Raises
    ValueError where the deciding words are missing or disagree."""
    columns = _check_words(words).T.tolist()  # B lists of T ids
    labels = []
    for b, review in enumerate(columns):
        start = max((t + 1 for t, w in enumerate(review) if w == _BUT), default=0)
        polarities = {_POLARITY[w] for w in review[start:] if w in _POLARITY}
        if len(polarities) != 1:
            found = "no opinion word" if not polarities else "opinions of both polarities"
            raise ValueError(f"words: review {b} has {found} after its last 'but' (or in all)")
        labels.append(polarities.pop())
    return torch.tensor(labels, dtype=torch.int64)


def has_turn(words) -> torch.Tensor:
    """Bool ``(B,)``: whether each review (column of ``(T, B)`` ids) contains "but"."""
    return (_check_words(words) == _BUT).any(dim=0)


def words_after_last_opinion(words) -> torch.Tensor:
    """int64 ``(B,)``: how many words follow the last opinion word of each review, i.e. how long
    a reader must hold the verdict before the review ends (``T`` if there is no opinion word)."""
    words = _check_words(words)
    is_opinion = torch.zeros_like(words, dtype=torch.bool)
    for i in _POLARITY:
        is_opinion |= words == i
    T = words.shape[0]
    positions = torch.arange(T)[:, None].expand_as(words)  # (T, B)
    last = torch.where(is_opinion, positions, torch.full_like(positions, -1)).max(dim=0).values
    return torch.where(last >= 0, T - 1 - last, torch.full_like(last, T))


def opinion_balance(words) -> torch.Tensor:
    """int64 ``(B,)``: positive minus negative opinion words of each review, all weighed alike.

    This is the "balanced" reading that keeps every opinion and ignores order and "but": its
    sign is the verdict of a reader that counts, 0 a tie ("mixed")."""
    words = _check_words(words)
    balance = torch.zeros(words.shape[1], dtype=torch.int64)
    for i, polarity in _POLARITY.items():
        balance += (words == i).sum(dim=0) * (1 if polarity == POSITIVE else -1)
    return balance


def encode_words(review: str | Sequence[str]) -> torch.Tensor:
    """``"the movie was terrible but the ending was amazing"`` (or a list) -> int64 ids ``(T,)``."""
    tokens = review.split() if isinstance(review, str) else list(review)
    unknown = [w for w in tokens if w not in _ID]
    if unknown:
        raise ValueError(f"review: unknown words {unknown}; the vocabulary is {list(WORDS)}")
    return torch.tensor([_ID[w] for w in tokens], dtype=torch.int64)


def decode_words(words) -> str:
    """Word ids ``(T,)`` of one review -> the review as a string."""
    words = torch.as_tensor(words)
    require_ndim("words", words, 1, "(T,) word ids of one review")
    _check_words(words)
    return " ".join(WORDS[i] for i in words.tolist())
