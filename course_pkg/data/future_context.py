"""A tagging task that needs the future: which sense of "bat" is meant? (chapter 7)

In "He said he saw a bat" the word "bat" is ambiguous until later words settle it: "... flying
out of the cave" makes it an animal, "... and a ball" a piece of sports equipment. This module
generates toy sentences with exactly that structure, over a small vocabulary of English words
(the sentences are word salad, not grammar; only the rule below matters).

Words come in four kinds (see `WORDS`):

- **fillers** ("he", "said", "saw", "a", ...): tag ``-``;
- the **ambiguous word** "bat": tag ``ANIMAL`` or ``SPORT``;
- **animal cues** ("cave", "wings", "night", "fly") and **sport cues** ("ball", "swing",
  "hit", "game"): tag ``-``.

The rule: *the sense of a "bat" is the family of the first cue word after it* (see
`tags_by_rule`). A sentence is built from left to right out of segments
``bat, g fillers, cue, f fillers`` with the gap ``g`` uniform in ``[0, max_gap - 1]``, the cue's
family a fair coin, and ``f`` uniform in ``[0, 2]``; fillers pad the end. Every "bat" has its cue
within ``max_gap`` steps after it, and no cue sits between a "bat" and its own cue.

Why a causal model cannot solve it: the family of each cue is drawn independently of everything
that comes before it, so at the position of a "bat" the past (other bats, earlier cues) says
nothing about its sense. A tagger that reads only ``x_1..x_t`` to tag ``x_t`` gets at best half of
the bats right, whereas every other token is easy. The best expected token accuracy of any causal
tagger is therefore ``1 - (number of bats) / (2 * number of tokens)`` (`causal_ceiling`); a
bidirectional tagger, which also reads ``x_t..x_T``, can reach 100 %.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from course_pkg.validation import require_ndim, require_positive_int

__all__ = [
    "WORDS",
    "TAGS",
    "FILLERS",
    "AMBIGUOUS",
    "ANIMAL_CUES",
    "SPORT_CUES",
    "OTHER",
    "ANIMAL",
    "SPORT",
    "sense_tagging",
    "tags_by_rule",
    "ambiguous_mask",
    "causal_ceiling",
    "encode_words",
    "decode_words",
]

FILLERS = ("he", "she", "said", "saw", "a", "the", "big", "small", "near", "and", "then", "it")
AMBIGUOUS = "bat"
ANIMAL_CUES = ("cave", "wings", "night", "fly")
SPORT_CUES = ("ball", "swing", "hit", "game")
#: The vocabulary: word ``WORDS[i]`` has id ``i``.
WORDS = FILLERS + (AMBIGUOUS,) + ANIMAL_CUES + SPORT_CUES
#: The tags: ``TAGS[k]`` is the name of tag id ``k``.
TAGS = ("-", "ANIMAL", "SPORT")
OTHER, ANIMAL, SPORT = 0, 1, 2

_BAT_ID = WORDS.index(AMBIGUOUS)
_FILLER_IDS = np.arange(len(FILLERS))
_CUE_IDS = {  # sense -> ids of its cue words
    ANIMAL: np.array([WORDS.index(w) for w in ANIMAL_CUES]),
    SPORT: np.array([WORDS.index(w) for w in SPORT_CUES]),
}
_SENSE_OF_CUE = {int(i): sense for sense, ids in _CUE_IDS.items() for i in ids}
_MAX_FILLERS_BETWEEN = 2  # f in [0, 2] fillers after each cue


def sense_tagging(
    num_sentences: int,
    length: int = 16,
    max_gap: int = 4,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate ``num_sentences`` sentences of ``length`` words and their tags (time-major).

    Args:
        num_sentences: B, the number of sentences.
        length: T, the words per sentence (>= 2, room for one "bat" and its cue).
        max_gap: a "bat" is followed by 0 .. ``max_gap - 1`` fillers, then its cue, so the cue is
            at most ``max_gap`` steps ahead.
        seed: seeds ``numpy.random.default_rng``.

    Returns:
        ``(words, tags)``: int64 tensors ``(T, B)`` of word ids (into `WORDS`) and tag ids (into
        `TAGS`); ``tags == tags_by_rule(words)``.
    """
    require_positive_int("num_sentences", num_sentences)
    require_positive_int("length", length)
    require_positive_int("max_gap", max_gap)
    if length < 2:
        raise ValueError(f"length: expected >= 2 (a bat and its cue), got {length}")
    rng = np.random.default_rng(seed)
    words = np.empty((length, num_sentences), dtype=np.int64)  # (T, B)
    tags = np.full((length, num_sentences), OTHER, dtype=np.int64)  # (T, B)
    for b in range(num_sentences):
        t = int(rng.integers(0, _MAX_FILLERS_BETWEEN + 1))  # fillers before the first bat
        words[:, b] = rng.choice(_FILLER_IDS, size=length)  # fillers everywhere, then overwrite
        while t + 2 <= length:  # room for "bat" + cue
            gap = int(rng.integers(0, min(max_gap, length - t - 1)))  # fillers between them
            sense = ANIMAL if rng.random() < 0.5 else SPORT
            words[t, b] = _BAT_ID
            tags[t, b] = sense
            words[t + 1 + gap, b] = rng.choice(_CUE_IDS[sense])
            t += 2 + gap + int(rng.integers(0, _MAX_FILLERS_BETWEEN + 1))
    return torch.from_numpy(words), torch.from_numpy(tags)


def _check_words(words: torch.Tensor) -> torch.Tensor:
    words = torch.as_tensor(words)
    require_ndim("words", words, (1, 2), "(T,) or time-major (T, B) word ids")
    if words.dtype.is_floating_point or words.dtype == torch.bool:
        raise TypeError(f"words: expected integer word ids, got {words.dtype}")
    if words.numel() and (words.min() < 0 or words.max() >= len(WORDS)):
        raise ValueError(f"words: expected ids in [0, {len(WORDS) - 1}], got a value outside")
    return words


def tags_by_rule(words: torch.Tensor) -> torch.Tensor:
    """The tags the rule gives: a "bat" takes the family of the first cue after it, others ``-``.

    Args:
        words: word ids ``(T,)`` or time-major ``(T, B)``.

    Returns:
        int64 tags of the same shape. Raises ValueError if some "bat" has no cue after it.
    """
    words = _check_words(words)
    columns = words.reshape(words.shape[0], -1).tolist()  # T rows of B ids
    tags = torch.full((words.shape[0], len(columns[0]) if columns else 0), OTHER, dtype=torch.int64)
    for b in range(tags.shape[1]):
        next_sense = None  # the family of the nearest cue to the right, scanning backwards
        for t in range(words.shape[0] - 1, -1, -1):
            word = columns[t][b]
            if word in _SENSE_OF_CUE:
                next_sense = _SENSE_OF_CUE[word]
            elif word == _BAT_ID:
                if next_sense is None:
                    raise ValueError(f"words: the bat at position {t} of sentence {b} has no cue after it")
                tags[t, b] = next_sense
    return tags.reshape(words.shape)


def ambiguous_mask(words: torch.Tensor) -> torch.Tensor:
    """Bool mask, same shape as ``words``: True where the word is the ambiguous "bat"."""
    return _check_words(words) == _BAT_ID


def causal_ceiling(words: torch.Tensor) -> float:
    """The best expected token accuracy of a tagger that reads only the past and present.

    Every token but "bat" has a fixed tag; a bat's sense is a fair coin independent of the past,
    so a causal tagger expects half of them right: ``1 - n_bat / (2 * n_tokens)``.
    """
    words = _check_words(words)
    return 1.0 - ambiguous_mask(words).sum().item() / (2 * words.numel())


def encode_words(sentence: str | Sequence[str]) -> torch.Tensor:
    """``"he saw a bat near the cave"`` (or a list of words) -> int64 ids ``(T,)``."""
    tokens = sentence.split() if isinstance(sentence, str) else list(sentence)
    unknown = [w for w in tokens if w not in WORDS]
    if unknown:
        raise ValueError(f"sentence: unknown words {unknown}; the vocabulary is {list(WORDS)}")
    return torch.tensor([WORDS.index(w) for w in tokens], dtype=torch.int64)


def decode_words(words: torch.Tensor) -> str:
    """Word ids ``(T,)`` -> the sentence as a string."""
    words = _check_words(words)
    require_ndim("words", words, 1, "(T,) word ids of one sentence")
    return " ".join(WORDS[i] for i in words.tolist())
