"""Stories in the style of bAbI task 1, "single supporting fact" (Weston et al. 2015, *Towards
AI-complete question answering: a set of prerequisite toy tasks*), made here from scratch.

A story is a list of moves, each "<actor> <verb> the <place>."; a question "Where is <actor>?"
about one actor of the story is answered by the place of that actor's *latest* move, and that
sentence is the supporting fact::

    0 Mary moved to the bathroom.
    1 John went to the hallway.
    2 Mary travelled to the office.        <- supporting fact (Mary's latest move)
    3 Daniel journeyed to the garden.
    Where is Mary?  office

Actors John, Mary, Sandra, Daniel; places bedroom, kitchen, garden, hallway, bathroom, office;
verbs "went to", "journeyed to", "moved to", "travelled to", "went back to".

Encoding (`encode_stories`): lower-case words without punctuation, ids from the fixed vocabulary
`VOCABULARY` (0 is padding), so stories made with different seeds share one vocabulary::

    stories    (B, S, W) int64   sentence s of story b, word by word, 0-padded in both S and W
    questions  (B, Wq)   int64   "where is <actor>"
    answers    (B,)      int64   the id of the answer place
    supporting (B,)      int64   index of the supporting sentence in the story
    lengths    (B,)      int64   number of sentences of each story

Stories keep their sentences in the order told (oldest first); a model that needs the order,
like the memory network's temporal encoding, reads it from the position and ``lengths``.
`flatten_stories` writes a story and its question as one time-major token sequence, for a
recurrent network that reads the story word by word.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

from course_pkg.data.padding import PAD
from course_pkg.validation import require_positive_int

__all__ = [
    "ACTORS",
    "PLACES",
    "VERBS",
    "VOCABULARY",
    "PAD",
    "BabiStory",
    "BabiBatch",
    "generate_stories",
    "encode_stories",
    "flatten_stories",
    "tokenize",
    "encode_words",
    "decode_words",
]

ACTORS = ("John", "Mary", "Sandra", "Daniel")
PLACES = ("bedroom", "kitchen", "garden", "hallway", "bathroom", "office")
VERBS = ("went to", "journeyed to", "moved to", "travelled to", "went back to")

#: The most words a generated sentence has ("<actor> went back to the <place>"): every batch
#: pads its sentences to this width, so a memory network's position encoding (which depends on
#: the padded width) sees the same width in training, testing and the widgets.
SENTENCE_WIDTH = 3 + max(len(verb.split()) for verb in VERBS)
#: Every word the stories use, padding first; ``VOCABULARY[i]`` is the word with id i.
VOCABULARY = ("<pad>",) + tuple(sorted(
    {a.lower() for a in ACTORS} | set(PLACES)
    | {word for verb in VERBS for word in verb.split()} | {"the", "where", "is"}
))
_WORD_ID = {word: i for i, word in enumerate(VOCABULARY)}


class BabiStory(NamedTuple):
    """One story as text (see the module doc)."""

    sentences: tuple[str, ...]  # "John went to the kitchen." ...
    question: str  # "Where is John?"
    answer: str  # "kitchen"
    supporting_fact: int  # index into sentences of the actor's latest move


class BabiBatch(NamedTuple):
    """Stories encoded as tensors (layout in the module doc)."""

    stories: torch.Tensor  # (B, S, W) int64
    questions: torch.Tensor  # (B, Wq) int64
    answers: torch.Tensor  # (B,) int64, word ids of places
    supporting: torch.Tensor  # (B,) int64
    lengths: torch.Tensor  # (B,) int64


def tokenize(sentence: str) -> list[str]:
    """``"John went to the kitchen."`` -> ``["john", "went", "to", "the", "kitchen"]``."""
    return sentence.lower().replace(".", " ").replace("?", " ").split()


def encode_words(words: Sequence[str]) -> list[int]:
    """Word ids of ``words`` (lower-case); an unknown word raises ValueError naming it."""
    try:
        return [_WORD_ID[word] for word in words]
    except KeyError as error:
        raise ValueError(f"words: {error.args[0]!r} is not in the vocabulary") from None


def decode_words(ids) -> str:
    """Word ids back to text, padding skipped: ``[8, 17, ...]`` -> ``"john went to ..."``."""
    return " ".join(VOCABULARY[i] for i in torch.as_tensor(ids).flatten().tolist() if i != PAD)


def generate_stories(
    n: int,
    min_sentences: int = 2,
    max_sentences: int = 10,
    seed: int = 0,
) -> list[BabiStory]:
    """``n`` random task-1 stories of ``min_sentences..max_sentences`` moves, with a question.

    Each move picks an actor, a verb and a place uniformly (the place differs from where the
    actor already is). The question asks about an actor chosen uniformly among those who moved.
    """
    require_positive_int("n", n)
    require_positive_int("min_sentences", min_sentences)
    require_positive_int("max_sentences", max_sentences)
    if max_sentences < min_sentences:
        raise ValueError(f"max_sentences: expected >= min_sentences = {min_sentences}, "
                         f"got {max_sentences}")
    rng = np.random.default_rng(seed)
    stories = []
    for _ in range(n):
        length = int(rng.integers(min_sentences, max_sentences + 1))
        sentences = []
        location: dict[str, str] = {}  # actor -> latest place
        latest_move: dict[str, int] = {}  # actor -> index of that sentence
        for index in range(length):
            actor = ACTORS[rng.integers(len(ACTORS))]
            choices = [p for p in PLACES if p != location.get(actor)]
            place = choices[rng.integers(len(choices))]
            verb = VERBS[rng.integers(len(VERBS))]
            sentences.append(f"{actor} {verb} the {place}.")
            location[actor], latest_move[actor] = place, index
        movers = sorted(location, key=ACTORS.index)
        actor = movers[rng.integers(len(movers))]
        stories.append(BabiStory(tuple(sentences), f"Where is {actor}?", location[actor],
                                 latest_move[actor]))
    return stories


def encode_stories(stories: Sequence[BabiStory], max_sentences: int | None = None,
                   sentence_width: int = SENTENCE_WIDTH) -> BabiBatch:
    """Encode text stories as tensors (N, S, W); ``max_sentences`` fixes S (default: the longest
    story), ``sentence_width`` fixes W (default `SENTENCE_WIDTH`, the same for every batch).

    A story longer than ``max_sentences`` raises ValueError (the supporting fact could be lost),
    as does a sentence longer than ``sentence_width``.
    """
    if len(stories) == 0:
        raise ValueError("stories: expected at least one story, got none")
    longest = max(len(story.sentences) for story in stories)
    if max_sentences is None:
        max_sentences = longest
    require_positive_int("max_sentences", max_sentences)
    require_positive_int("sentence_width", sentence_width)
    if longest > max_sentences:
        raise ValueError(f"max_sentences: expected >= the longest story ({longest} sentences), "
                         f"got {max_sentences}")
    encoded = [[encode_words(tokenize(s)) for s in story.sentences] for story in stories]
    questions = [encode_words(tokenize(story.question)) for story in stories]
    max_words = max(len(words) for story in encoded for words in story)
    if max_words > sentence_width:
        raise ValueError(f"sentence_width: expected >= the longest sentence ({max_words} words), "
                         f"got {sentence_width}")
    story_ids = torch.zeros(len(stories), max_sentences, sentence_width,
                            dtype=torch.int64)                                      # (B, S, W)
    question_ids = torch.zeros(len(stories), max(map(len, questions)), dtype=torch.int64)
    for b, (story, question) in enumerate(zip(encoded, questions)):
        for s, words in enumerate(story):
            story_ids[b, s, : len(words)] = torch.tensor(words)
        question_ids[b, : len(question)] = torch.tensor(question)
    return BabiBatch(
        stories=story_ids,
        questions=question_ids,
        answers=torch.tensor([_WORD_ID[story.answer] for story in stories]),
        supporting=torch.tensor([story.supporting_fact for story in stories]),
        lengths=torch.tensor([len(story.sentences) for story in stories]),
    )


def flatten_stories(batch: BabiBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Each story's words followed by its question's, as one time-major token sequence.

    Returns ``tokens`` (T, B) int64, 0-padded after each sequence, and ``lengths`` (B,) int64,
    ready for a recurrent reader (e.g. an LSTM read out at its last real step).
    """
    sequences = []
    for story, question in zip(batch.stories, batch.questions):
        words = torch.cat([story.flatten(), question])
        sequences.append(words[words != PAD])
    lengths = torch.tensor([len(s) for s in sequences])
    tokens = torch.zeros(int(lengths.max()), len(sequences), dtype=torch.int64)  # (T, B)
    for b, sequence in enumerate(sequences):
        tokens[: len(sequence), b] = sequence
    return tokens, lengths
