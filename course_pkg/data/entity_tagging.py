"""Synthetic named-entity sentences with BIO tags, whose test names are never seen in training
(chapter 17: the character-CNN + BiLSTM tagger), and span-level F1.

Sentences come from templates such as ``yesterday {PER} met {PER} in {LOC} .``. Names are built
from syllables, and the two kinds are spelled differently: a person's first name is two
syllables of one set plus an ending ("Tamia", "Belo"), optionally followed by a surname
(two such syllables plus a surname ending: "Kaviren"); a place is one or two syllables of another
set plus a place ending ("Dornholm", "Grimvikstad"), optionally followed by a word such as "Bay".
Some templates say which kind of name fills a slot ("met {PER} in {LOC}"), others do not
(``{ANY}``: "everyone talks about {ANY} ."), so that there only the spelling tells a person
from a place.

Every possible first name, surname and place is put in one of three disjoint pools, "train",
"valid" and "test" (a fixed shuffle, 70/15/15 %, the same whatever the seed), and a sentence of a
split takes its names from that split's pool only. The test names are therefore unseen in
training: a word-level model sees them as the unknown word ``<unk>``, a character-level model
sees their syllables and endings.

BIO tags (Ramshaw & Marcus 1995): ``B-X`` begins an entity of type X, ``I-X`` continues it,
``O`` is outside any entity; "Anna Berg met ..." is tagged ``B-PER I-PER O ...``.

`entity_tagging` returns the sentences and, as time-major tensors for the tagger, word ids
(T, B), character ids (T, B, L), tag ids (T, B), lengths (B,) and the vocabularies (built from the
sentences themselves unless given: pass the training vocabularies when encoding test sentences).
Index 0 is padding and index 1 the unknown token in the word and character vocabularies.

`span_f1` scores predicted tag sequences against gold ones at the level of entities, as the
CoNLL evaluation script does: an entity counts as found only if its type, first and last token
all match.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from course_pkg.validation import require_choice, require_positive_int

__all__ = [
    "PAD", "UNK", "TAGS", "SPLITS", "TEMPLATES",
    "Vocabulary", "EntityVocabularies", "EntityTaggingData",
    "entity_sentences", "build_vocabularies", "encode_sentences", "entity_tagging",
    "bio_spans", "SpanScores", "span_f1",
]

PAD, UNK = "<pad>", "<unk>"           # indices 0 and 1 of the word and character vocabularies
TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
SPLITS = ("train", "valid", "test")

# Spelling: disjoint syllable sets and endings for people and places.
PERSON_SYLLABLES = ("ta", "mi", "ra", "be", "lo", "ka", "vi", "na", "so", "le", "ma", "ri",
                    "do", "fe", "zu", "ne")
FIRST_NAME_ENDINGS = ("", "a", "o", "ia", "el")
SURNAME_ENDINGS = ("ren", "ski", "ova", "ini")
PLACE_SYLLABLES = ("dorn", "grim", "vik", "brek", "holt", "mar", "sund", "kast", "tor", "wend")
PLACE_ENDINGS = ("holm", "stad", "burg", "ford", "mouth")
PLACE_WORDS = ("Bay", "Falls", "Hills")       # "Dornholm Bay": a two-word place

TEMPLATES = (
    "yesterday {PER} met {PER} in {LOC} .",
    "{PER} moved to {LOC} last year .",
    "the train from {LOC} to {LOC} was late again .",
    "{PER} and {PER} visited {LOC} .",
    "we wrote a long letter to {PER} .",
    "{PER} was born in {LOC} .",
    "everyone talks about {ANY} .",
    "{ANY} was in the news again .",
    "have you ever heard of {ANY} ?",
    "{PER} said that {ANY} is wonderful .",
)

_POOL_SEED = 1234                      # the split of the names; independent of ``seed``
_POOL_FRACTIONS = (0.70, 0.15)         # train, valid; test gets the rest


def _capitalised(parts: Sequence[str]) -> str:
    return "".join(parts).capitalize()


def _name_pools() -> dict[str, dict[str, list[str]]]:
    """All first names, surnames and places, each list split into disjoint train/valid/test."""
    every = {
        "first": [_capitalised(p) for p in itertools.product(
            PERSON_SYLLABLES, PERSON_SYLLABLES, FIRST_NAME_ENDINGS)],
        "surname": [_capitalised(p) for p in itertools.product(
            PERSON_SYLLABLES, PERSON_SYLLABLES, SURNAME_ENDINGS)],
        "place": [_capitalised(p) for p in itertools.product(PLACE_SYLLABLES, PLACE_ENDINGS)]
        + [_capitalised(p) for p in itertools.product(PLACE_SYLLABLES, PLACE_SYLLABLES,
                                                      PLACE_ENDINGS)],
    }
    shuffler = random.Random(_POOL_SEED)
    pools: dict[str, dict[str, list[str]]] = {split: {} for split in SPLITS}
    for kind, names in every.items():
        names = sorted(set(names))
        shuffler.shuffle(names)
        first_cut = int(len(names) * _POOL_FRACTIONS[0])
        second_cut = first_cut + int(len(names) * _POOL_FRACTIONS[1])
        pools["train"][kind] = names[:first_cut]
        pools["valid"][kind] = names[first_cut:second_cut]
        pools["test"][kind] = names[second_cut:]
    return pools


_POOLS = _name_pools()


def _entity(kind: str, pool: dict[str, list[str]], rng: random.Random) -> tuple[list[str], str]:
    """The words of one person ("PER") or place ("LOC") name from ``pool``, and its type."""
    if kind == "PER":
        words = [rng.choice(pool["first"])]
        if rng.random() < 0.4:
            words.append(rng.choice(pool["surname"]))
    else:
        words = [rng.choice(pool["place"])]
        if rng.random() < 0.25:
            words.append(rng.choice(PLACE_WORDS))
    return words, kind


def entity_sentences(num_sentences: int, split: str = "train",
                     seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """``num_sentences`` tagged sentences of ``split``: (words, tags), two lists of lists of
    str, one word (or punctuation mark) per token and one BIO tag per token."""
    require_positive_int("num_sentences", num_sentences)
    require_choice("split", split, SPLITS)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed!r}")
    rng = random.Random(f"{split}-{seed}")           # a stream of its own per split and seed
    pool = _POOLS[split]
    sentences, tag_sequences = [], []
    for _ in range(num_sentences):
        words, tags = [], []
        for token in rng.choice(TEMPLATES).split():
            if token in ("{PER}", "{LOC}", "{ANY}"):
                kind = token[1:-1] if token != "{ANY}" else rng.choice(("PER", "LOC"))
                entity_words, kind = _entity(kind, pool, rng)
                words += entity_words
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(entity_words) - 1)
            else:
                words.append(token)
                tags.append("O")
        sentences.append(words)
        tag_sequences.append(tags)
    return sentences, tag_sequences


# ----------------------------------------------------------------------------------------------
# vocabularies and tensors
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vocabulary:
    """Tokens and their indices; ``encode`` maps an unseen token to ``<unk>`` if there is one."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def index(self, token: str) -> int:
        if token in self._index:
            return self._index[token]
        if UNK in self._index:
            return self._index[UNK]
        raise KeyError(f"token: {token!r} is not in the vocabulary (which has no {UNK})")

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index(t) for t in tokens]

    def decode(self, indices: Sequence[int]) -> list[str]:
        return [self.tokens[int(i)] for i in indices]


@dataclass(frozen=True)
class EntityVocabularies:
    words: Vocabulary          # <pad>, <unk>, then the words of the training sentences, sorted
    chars: Vocabulary          # <pad>, <unk>, then their characters, sorted
    tags: Vocabulary           # TAGS, in that order (padding positions are tagged 0, "O")


def build_vocabularies(sentences: Sequence[Sequence[str]]) -> EntityVocabularies:
    """Word and character vocabularies of ``sentences`` (usually the training split)."""
    if not sentences:
        raise ValueError("sentences: expected at least one sentence, got none")
    words = sorted({w for sentence in sentences for w in sentence})
    chars = sorted({ch for w in words for ch in w})
    return EntityVocabularies(words=Vocabulary((PAD, UNK, *words)),
                              chars=Vocabulary((PAD, UNK, *chars)), tags=Vocabulary(TAGS))


@dataclass
class EntityTaggingData:
    """Tagged sentences, as text and as padded time-major tensors."""

    sentences: list[list[str]]
    tag_sequences: list[list[str]]
    words: Tensor              # (T, B) int64 word ids, 0 = padding, 1 = unknown word
    chars: Tensor              # (T, B, L) int64 character ids of each word, 0 = padding
    tags: Tensor               # (T, B) int64 tag ids (0 = "O" on padding too: use the mask)
    lengths: Tensor            # (B,) int64 tokens per sentence
    vocabularies: EntityVocabularies

    @property
    def mask(self) -> Tensor:
        """(T, B) bool, True on real tokens."""
        steps = self.words.shape[0]
        return torch.arange(steps)[:, None] < self.lengths[None, :]

    def decode_tags(self, tag_ids: Tensor) -> list[list[str]]:
        """Tag ids (T, B) (e.g. ``scores.argmax(-1)``) -> one list of tags per sentence, cut to
        the sentence's length."""
        if tuple(tag_ids.shape) != tuple(self.words.shape):
            raise ValueError(f"tag_ids: expected shape {tuple(self.words.shape)} (T, B), got "
                             f"{tuple(tag_ids.shape)}")
        return [self.vocabularies.tags.decode(tag_ids[:n, b].tolist())
                for b, n in enumerate(self.lengths.tolist())]


def encode_sentences(sentences: Sequence[Sequence[str]], tag_sequences: Sequence[Sequence[str]],
                     vocabularies: EntityVocabularies) -> EntityTaggingData:
    """Pad and encode sentences with ``vocabularies`` (unseen words and characters -> 1)."""
    if len(sentences) != len(tag_sequences) or not sentences:
        raise ValueError(f"tag_sequences: expected one tag sequence per sentence "
                         f"({len(sentences)}), got {len(tag_sequences)}")
    for i, (sentence, tags) in enumerate(zip(sentences, tag_sequences)):
        if len(sentence) != len(tags) or not sentence:
            raise ValueError(f"tag_sequences[{i}]: expected {len(sentence)} tags (one per word, "
                             f"at least one), got {len(tags)}")
        unknown = [t for t in tags if t not in vocabularies.tags]
        if unknown:
            raise ValueError(f"tag_sequences[{i}]: expected tags from {list(TAGS)}, got "
                             f"{unknown[0]!r}")
    batch = len(sentences)
    steps = max(len(s) for s in sentences)
    longest_word = max(len(w) for s in sentences for w in s)
    words = torch.zeros(steps, batch, dtype=torch.int64)
    chars = torch.zeros(steps, batch, longest_word, dtype=torch.int64)
    tags = torch.zeros(steps, batch, dtype=torch.int64)
    for b, (sentence, tag_sequence) in enumerate(zip(sentences, tag_sequences)):
        words[:len(sentence), b] = torch.tensor(vocabularies.words.encode(sentence))
        tags[:len(sentence), b] = torch.tensor(vocabularies.tags.encode(tag_sequence))
        for t, word in enumerate(sentence):
            chars[t, b, :len(word)] = torch.tensor(vocabularies.chars.encode(list(word)))
    lengths = torch.tensor([len(s) for s in sentences], dtype=torch.int64)
    return EntityTaggingData([list(s) for s in sentences], [list(t) for t in tag_sequences],
                             words, chars, tags, lengths, vocabularies)


def entity_tagging(num_sentences: int, split: str = "train", seed: int = 0,
                   vocabularies: EntityVocabularies | None = None) -> EntityTaggingData:
    """`entity_sentences` encoded with `encode_sentences`; the vocabularies are built from these
    sentences when not given (give the training split's for the valid and test splits)."""
    sentences, tag_sequences = entity_sentences(num_sentences, split, seed)
    if vocabularies is None:
        vocabularies = build_vocabularies(sentences)
    elif not isinstance(vocabularies, EntityVocabularies):
        raise TypeError(f"vocabularies: expected EntityVocabularies or None, got "
                        f"{type(vocabularies).__name__}")
    return encode_sentences(sentences, tag_sequences, vocabularies)


# ----------------------------------------------------------------------------------------------
# span-level evaluation
# ----------------------------------------------------------------------------------------------
def bio_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one BIO tag sequence as ``(type, start, end)``, end exclusive.

    As in the CoNLL evaluation script, an ``I-X`` that does not continue an entity of type X
    (after ``O``, at the start, or after an entity of another type) starts a new entity.
    """
    spans, current = [], None                        # current = [type, start]
    for position, tag in enumerate(list(tags) + ["O"]):  # a final "O" closes the last entity
        if tag != "O" and (len(tag) < 3 or tag[:2] not in ("B-", "I-")):
            raise ValueError(f"tags[{position}]: expected 'O', 'B-<type>' or 'I-<type>', "
                             f"got {tag!r}")
        prefix, kind = (tag[:1], tag[2:]) if tag != "O" else ("O", None)
        continues = prefix == "I" and current is not None and current[0] == kind
        if current is not None and not continues:
            spans.append((current[0], current[1], position))
            current = None
        if prefix in ("B", "I") and not continues:
            current = [kind, position]
    return spans


class SpanScores(NamedTuple):
    precision: float          # correct / predicted entities (0 if none predicted)
    recall: float             # correct / gold entities (0 if there are none)
    f1: float                 # 2 P R / (P + R) (0 if P + R = 0)
    correct: int
    predicted: int
    gold: int


def span_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> SpanScores:
    """Entity-level precision, recall and F1 over a list of sentences' tag sequences.

    A predicted entity is correct when an entity of the same type starts and ends at the same
    tokens of the same sentence in ``gold``.
    """
    if isinstance(gold, str) or isinstance(predicted, str):
        raise TypeError("gold: expected a list of tag sequences (one list per sentence), got str")
    if len(gold) != len(predicted):
        raise ValueError(f"predicted: expected {len(gold)} tag sequences (one per gold "
                         f"sentence), got {len(predicted)}")
    correct = num_predicted = num_gold = 0
    for i, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"predicted[{i}]: expected {len(gold_tags)} tags like gold[{i}], "
                             f"got {len(predicted_tags)}")
        gold_spans, predicted_spans = set(bio_spans(gold_tags)), set(bio_spans(predicted_tags))
        correct += len(gold_spans & predicted_spans)
        num_predicted += len(predicted_spans)
        num_gold += len(gold_spans)
    precision = correct / num_predicted if num_predicted else 0.0
    recall = correct / num_gold if num_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return SpanScores(precision, recall, f1, correct, num_predicted, num_gold)
