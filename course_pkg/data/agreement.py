"""Subject-verb number agreement across a relative clause (chapter 6).

"The cat, which was chased by the dog, ran up the ..." To choose the verb form a reader has to
remember, across the whole relative clause, what the subject was; in English the only trace of
that memory the sentence shows is the verb's *number*: "the cat ... climbs", "the cats ...
climb" (the past tense "ran" shows none, so the generated sentences use the present tense). Linzen
et al. (2016) turned this into a test of recurrent networks, the *number prediction* task: read
a sentence up to its verb, and say whether the verb must be singular or plural. This module
generates such sentences over a small vocabulary (see `WORDS`)::

    the cats which the old dog chased near the tree    ->  plural    ("climb")
    \\_____/ \\_______________________________________/
    subject      relative clause of clause_length words

- the sentence starts with "the" and a **subject** noun, singular or plural (a fair coin);
- then comes the **relative clause**: ``clause_length`` words, "which" followed by short chunks
  (a noun phrase "the [adjective] noun", a prepositional phrase "near the [adjective] noun", a
  verb in the past tense, an adverb) drawn at random until the length is reached. The chunks are
  grammar-shaped, not always grammar; only the rule below matters;
- the nouns inside the clause (the *attractors*) have a number of their own, each a fair coin,
  independent of the subject, so the noun nearest to the verb says nothing about its form;
- every other word of the clause is the same in the singular and the plural (the past tense and
  "the" do not agree), so nothing in the clause repeats the subject's number.

The rule (see `number_by_rule`): *the verb agrees with the subject, the first noun of the
sentence*; the label is `SINGULAR` (0) or `PLURAL` (1), and `VERB_FORMS` gives the verb that goes
with each. With ``clause_length = 0`` the verb follows the subject directly.

Reference: T. Linzen, E. Dupoux, Y. Goldberg, "Assessing the ability of LSTMs to learn
syntax-sensitive dependencies", TACL 4 (2016).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from course_pkg.validation import (
    numpy_rng,
    require_ndim,
    require_positive_int,
    require_word_ids,
)

__all__ = [
    "WORDS",
    "NOUNS",
    "SINGULAR",
    "PLURAL",
    "VERB_FORMS",
    "number_agreement",
    "number_by_rule",
    "nearest_noun_number",
    "encode_words",
    "decode_words",
]

#: (singular, plural) pairs; the first noun of a sentence is its subject, the others attractors.
NOUNS = (("cat", "cats"), ("dog", "dogs"), ("boy", "boys"), ("girl", "girls"),
         ("bird", "birds"), ("tree", "trees"))
ADJECTIVES = ("old", "big", "small", "angry")
PREPOSITIONS = ("near", "behind", "with")
PAST_VERBS = ("chased", "saw", "followed", "liked")
ADVERBS = ("yesterday", "often", "quietly")
#: The vocabulary: word ``WORDS[i]`` has id ``i``.
WORDS = (("the", "which") + tuple(n for pair in NOUNS for n in pair)
         + ADJECTIVES + PREPOSITIONS + PAST_VERBS + ADVERBS)
SINGULAR, PLURAL = 0, 1
#: The verb that ends the sentence, by the label: "the cat ... climbs", "the cats ... climb".
VERB_FORMS = ("climbs", "climb")

_ID = {word: i for i, word in enumerate(WORDS)}
_NOUN_IDS = np.array([[_ID[s], _ID[p]] for s, p in NOUNS])  # (nouns, 2): column = number
_NUMBER_OF_NOUN = {int(_NOUN_IDS[k, n]): n for k in range(len(NOUNS)) for n in (SINGULAR, PLURAL)}


def _noun_phrase(rng: np.random.Generator, room: int) -> list[int]:
    """'the [adjective] noun' in at most ``room`` (>= 2) words; the noun's number a fair coin."""
    noun = int(_NOUN_IDS[rng.integers(len(NOUNS)), rng.integers(2)])
    if room >= 3 and rng.random() < 0.5:
        return [_ID["the"], _ID[ADJECTIVES[rng.integers(len(ADJECTIVES))]], noun]
    return [_ID["the"], noun]


def _clause(rng: np.random.Generator, clause_length: int) -> list[int]:
    """'which' and chunks, exactly ``clause_length`` (>= 1) word ids."""
    words = [_ID["which"]]
    while len(words) < clause_length:
        room = clause_length - len(words)
        kinds = ["verb", "adverb"] + (["noun"] if room >= 2 else []) + (["place"] if room >= 3 else [])
        kind = kinds[rng.integers(len(kinds))]
        if kind == "noun":
            words += _noun_phrase(rng, room)
        elif kind == "place":
            words += [_ID[PREPOSITIONS[rng.integers(len(PREPOSITIONS))]]] + _noun_phrase(rng, room - 1)
        elif kind == "verb":
            words.append(_ID[PAST_VERBS[rng.integers(len(PAST_VERBS))]])
        else:
            words.append(_ID[ADVERBS[rng.integers(len(ADVERBS))]])
    return words


def number_agreement(
    num_sentences: int,
    clause_length: int,
    seed: int | np.random.Generator = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_sentences`` sentences up to the verb, all with a clause of ``clause_length`` words.

    Args:
        num_sentences: B.
        clause_length: the words between the subject and the verb (0: none; else "which" and
            ``clause_length - 1`` more). Every sentence has ``T = clause_length + 2`` words.
        seed: an int for ``numpy.random.default_rng``, or a ``numpy.random.Generator`` to draw
            from (so that successive calls give fresh sentences).

    Returns:
        ``(words, numbers)``: int64 word ids ``(T, B)`` (time-major, into `WORDS`) and the
        number each verb must have ``(B,)``, `SINGULAR` or `PLURAL`; ``numbers ==
        number_by_rule(words)``.
    """
    require_positive_int("num_sentences", num_sentences)
    if isinstance(clause_length, bool) or not isinstance(clause_length, (int, np.integer)):
        raise TypeError(f"clause_length: expected an int >= 0, got {type(clause_length).__name__} "
                        f"{clause_length!r}")
    if clause_length < 0:
        raise ValueError(f"clause_length: expected an int >= 0, got {clause_length}")
    rng = numpy_rng(seed)
    T = int(clause_length) + 2
    words = np.empty((T, num_sentences), dtype=np.int64)  # (T, B)
    numbers = rng.integers(0, 2, size=num_sentences)  # (B,) the subject's number, a fair coin
    for b in range(num_sentences):
        subject = int(_NOUN_IDS[rng.integers(len(NOUNS)), numbers[b]])
        clause = _clause(rng, int(clause_length)) if clause_length > 0 else []
        words[:, b] = [_ID["the"], subject] + clause
    return torch.from_numpy(words), torch.from_numpy(numbers.astype(np.int64))


def _check_words(words) -> torch.Tensor:
    return require_word_ids("words", words, len(WORDS))  # (T, B)


def _noun_numbers(words: torch.Tensor) -> list[list[int]]:
    """For each sentence (column), the numbers of its nouns in reading order."""
    columns = words.T.tolist()  # B lists of T ids
    return [[_NUMBER_OF_NOUN[w] for w in column if w in _NUMBER_OF_NOUN] for column in columns]


def number_by_rule(words) -> torch.Tensor:
    """The number the verb must have: that of the first noun. ``(T, B)`` ids -> ``(B,)`` int64
    (a single sentence ``(T,)`` gives ``(1,)``). Raises ValueError for a sentence with no noun."""
    nouns = _noun_numbers(_check_words(words))
    for b, numbers in enumerate(nouns):
        if not numbers:
            raise ValueError(f"words: sentence {b} has no noun, so no subject")
    return torch.tensor([numbers[0] for numbers in nouns], dtype=torch.int64)


def nearest_noun_number(words) -> torch.Tensor:
    """The number of the noun nearest to the verb (the last one read): what a reader that
    agrees with the most recent noun would choose. ``(T, B)`` ids -> ``(B,)`` int64."""
    nouns = _noun_numbers(_check_words(words))
    for b, numbers in enumerate(nouns):
        if not numbers:
            raise ValueError(f"words: sentence {b} has no noun")
    return torch.tensor([numbers[-1] for numbers in nouns], dtype=torch.int64)


def encode_words(sentence: str | Sequence[str]) -> torch.Tensor:
    """``"the cats which the dog chased"`` (or a list of words) -> int64 ids ``(T,)``."""
    tokens = sentence.split() if isinstance(sentence, str) else list(sentence)
    unknown = [w for w in tokens if w not in _ID]
    if unknown:
        raise ValueError(f"sentence: unknown words {unknown}; the vocabulary is {list(WORDS)}")
    return torch.tensor([_ID[w] for w in tokens], dtype=torch.int64)


def decode_words(words, number: int | None = None) -> str:
    """Word ids ``(T,)`` -> the sentence; with ``number`` (0 or 1), followed by its verb."""
    words = torch.as_tensor(words)
    require_ndim("words", words, 1, "(T,) word ids of one sentence")
    _check_words(words)
    text = " ".join(WORDS[i] for i in words.tolist())
    if number is None:
        return text
    if int(number) not in (SINGULAR, PLURAL):
        raise ValueError(f"number: expected {SINGULAR} (singular) or {PLURAL} (plural), got {number!r}")
    return f"{text} {VERB_FORMS[int(number)]}"
