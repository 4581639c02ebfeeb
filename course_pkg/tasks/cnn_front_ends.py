"""Chapter 17's experiments: a convolution in front of a recurrent network.

1. **Tagging unseen names** (Ma & Hovy 2016, *End-to-end Sequence Labeling via Bi-directional
   LSTM-CNNs-CRF*, without the CRF). `compare_taggers` trains two
   `course_pkg.models.char_cnn_tagger.CharCNNTagger` on the synthetic entity-tagging task of
   `course_pkg.data.entity_tagging`, with the same data, budget and settings: the word-only
   BiLSTM (``use_chars=False``) and the character-CNN + BiLSTM. Their span F1 (CoNLL style) is
   measured on the test split, whose names never occur in training, per seed and per entity type.

2. **Remembering digit pictures** (a CNN + LSTM over frames in the spirit of Donahue et al.
   2015). `compare_frame_models` shows sequences of digit pictures
   (`course_pkg.data.digit_glyphs.digit_sequences`) and asks, at every frame t, for the digit
   shown ``delay`` frames earlier, y_t = d_{t - delay}. The same small CNN
   (`course_pkg.models.image_sequence.FrameEncoder`) is used by a per-frame classifier, which
   sees frame t alone (`course_pkg.models.per_frame_classifier.PerFrameClassifier`), and by
   `FrameSequenceClassifier`, which feeds the
   CNN features to an LSTM. Only the recurrent model can remember; the per-frame CNN trained on
   the current digit (``delay = 0``) shows that the CNN itself reads digits well.

3. **Captioning a picture** (one-to-many, in the spirit of Vinyals et al. 2015).
   `caption_two_digit_numbers` trains `course_pkg.models.image_sequence.ImageCaptioner` to write
   the two digits of a picture of a two-digit number
   (`course_pkg.data.digit_glyphs.two_digit_images`), tens first, with teacher forcing, and
   scores its greedy captions on new pictures.

All use Adam, per-token cross-entropy, minibatches drawn with a seeded generator, and
``torch.manual_seed(seed)`` before each model is built, so every number is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.batching import masked_cross_entropy
from course_pkg.data.digit_glyphs import digit_sequences, two_digit_images
from course_pkg.data.entity_tagging import (
    EntityTaggingData,
    EntityVocabularies,
    encode_sentences,
    entity_tagging,
    span_f1,
)
from course_pkg.models.char_cnn_tagger import CharCNNTagger
from course_pkg.models.image_sequence import FrameSequenceClassifier, ImageCaptioner
from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.per_frame_classifier import PerFrameClassifier
from course_pkg.text_tables import format_mean_spread, seed_cells, text_table
from course_pkg.training import History, random_minibatches, train
from course_pkg.validation import (
    require_in_range,
    require_ndim,
    require_positive_int,
    require_seeds,
)

__all__ = [
    "TAGGER_NAMES", "ENTITY_KINDS", "EntityTaggerRun", "TaggedExample", "TaggerComparison",
    "kind_f1", "tagger_loss", "predict_tags", "score_tagger", "tagger_comparison",
    "compare_taggers", "tag_sentence", "tagger_table",
    "FRAME_MODELS", "FrameRun", "delayed_targets", "frame_loss", "score_frame_model",
    "compare_frame_models", "frame_table",
    "CAPTION_START", "CaptionRun", "caption_two_digit_numbers",
]

TAGGER_NAMES = {"words": "word-only BiLSTM", "chars": "char-CNN + BiLSTM"}
ENTITY_KINDS = ("PER", "LOC")


def _require_budget(learning_rate: float, **sizes: int) -> None:
    """Every size a positive int, the learning rate in (0, 1]."""
    for name, value in sizes.items():
        require_positive_int(name, value)
    require_in_range("learning_rate", learning_rate, 0.0, 1.0)
    if learning_rate == 0:
        raise ValueError("learning_rate: expected a positive number, got 0")


# ----------------------------------------------------------------------------------------------
# 1. tagging unseen names
# ----------------------------------------------------------------------------------------------
def kind_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
            kind: str) -> float:
    """Span F1 restricted to entities of one type: every tag of another type becomes ``O`` in
    both sequences before `span_f1` scores them."""
    if kind not in ENTITY_KINDS:
        raise ValueError(f"kind: expected one of {list(ENTITY_KINDS)}, got {kind!r}")

    def keep(tags):
        return [tag if tag.endswith("-" + kind) else "O" for tag in tags]

    return span_f1([keep(g) for g in gold], [keep(p) for p in predicted]).f1


@dataclass
class EntityTaggerRun:
    """One trained tagger, scored on the valid and test splits (names unseen in training)."""

    model: str                  # a key of TAGGER_NAMES: "words" or "chars"
    seed: int
    test_f1: float              # span F1 on the test split
    valid_f1: float             # span F1 on the valid split
    test_kind_f1: dict[str, float]   # test span F1 per entity type, "PER" and "LOC"
    parameters: int
    history: History            # the training run: losses, gradient norms, seconds

    @property
    def seconds(self) -> float:
        """Training wall time (the steps only)."""
        return self.history.seconds

    @property
    def losses(self) -> list[float]:
        return self.history.losses


@dataclass
class TaggedExample:
    """One test sentence with its gold tags and each tagger's prediction."""

    words: list[str]
    gold: list[str]
    predicted: dict[str, list[str]]     # TAGGER_NAMES key -> tags
    unseen: list[bool]                  # True where the word is not in the training vocabulary


@dataclass
class TaggerComparison:
    """What `compare_taggers` returns."""

    runs: list[EntityTaggerRun]
    examples: list[TaggedExample]       # test sentences, predictions of the first seed's models
    unseen_fraction: float              # fraction of test entity words missing from training
    models: dict = field(default_factory=dict)   # TAGGER_NAMES key -> the first seed's tagger
    vocabularies: EntityVocabularies | None = None  # the first seed's training vocabularies


@torch.no_grad()
def tag_sentence(models: dict, vocabularies: EntityVocabularies, words: Sequence[str],
                 gold: Sequence[str]) -> TaggedExample:
    """One sentence (``words`` and its ``gold`` BIO tags) tagged by every tagger in ``models``
    (TAGGER_NAMES key -> trained `CharCNNTagger`), encoded with the training ``vocabularies``."""
    missing = [key for key in TAGGER_NAMES if key not in models]
    if missing:
        raise ValueError(f"models: expected a tagger for each of {list(TAGGER_NAMES)}, "
                         f"missing {missing}")
    if not isinstance(vocabularies, EntityVocabularies):
        raise TypeError(f"vocabularies: expected EntityVocabularies, got "
                        f"{type(vocabularies).__name__}")
    data = encode_sentences([list(words)], [list(gold)], vocabularies)
    return TaggedExample(words=list(words), gold=list(gold),
                         predicted={key: predict_tags(models[key], data)[0]
                                    for key in TAGGER_NAMES},
                         unseen=[w not in vocabularies.words for w in words])


@torch.no_grad()
def predict_tags(model: CharCNNTagger, data: EntityTaggingData) -> list[list[str]]:
    """The tag sequences ``model`` predicts (argmax per word, in eval mode) for every sentence
    of ``data``."""
    model.eval()
    scores = model(data.words, data.chars, data.lengths)                 # (T, B, K)
    return data.decode_tags(scores.argmax(dim=2))


def tagger_loss(data: EntityTaggingData):
    """The loss for `course_pkg.training.train` on minibatches of sentences of ``data``:
    ``loss_fn(model, rows)``, the masked cross-entropy of the tags of sentences ``rows`` (B,)
    (e.g. from `random_minibatches`)."""

    def loss_fn(model: CharCNNTagger, rows: Tensor) -> Tensor:
        lengths = data.lengths[rows]                                      # (B,)
        longest = int(lengths.max())
        words = data.words[:longest, rows]                                # (T, B)
        chars = data.chars[:longest, rows]                                # (T, B, L)
        tags = data.tags[:longest, rows]                                  # (T, B)
        mask = torch.arange(longest)[:, None] < lengths[None, :]          # (T, B)
        return masked_cross_entropy(model(words, chars, lengths), tags, mask)

    return loss_fn


def score_tagger(model: CharCNNTagger, model_key: str, seed: int, history: History,
                 valid_data: EntityTaggingData, test_data: EntityTaggingData) -> EntityTaggerRun:
    """The :class:`EntityTaggerRun` of a trained tagger: span F1 on ``valid_data`` and
    ``test_data`` (and per entity type on the test split), its size, and its training
    ``history``."""
    test_predicted = predict_tags(model, test_data)
    gold = test_data.tag_sequences
    return EntityTaggerRun(
        model=model_key, seed=seed,
        test_f1=span_f1(gold, test_predicted).f1,
        valid_f1=span_f1(valid_data.tag_sequences, predict_tags(model, valid_data)).f1,
        test_kind_f1={kind: kind_f1(gold, test_predicted, kind) for kind in ENTITY_KINDS},
        parameters=count_parameters(model), history=history)


def tagger_comparison(runs: Sequence[EntityTaggerRun], models: dict,
                      test_data: EntityTaggingData, num_examples: int = 8) -> TaggerComparison:
    """Gather ``runs`` into a :class:`TaggerComparison`, with the first seed's ``models``
    (TAGGER_NAMES key -> trained tagger) and its ``test_data``: the fraction of test entity words
    missing from the training vocabulary, and the first ``num_examples`` test sentences tagged
    by both models."""
    require_positive_int("num_examples", num_examples)
    vocabularies = test_data.vocabularies
    predictions = {key: predict_tags(models[key], test_data) for key in TAGGER_NAMES}
    entity_words = [w for sentence, tags in zip(test_data.sentences, test_data.tag_sequences)
                    for w, tag in zip(sentence, tags) if tag != "O"]
    unseen_fraction = sum(w not in vocabularies.words for w in entity_words) / \
        max(1, len(entity_words))
    examples = [TaggedExample(words=test_data.sentences[i], gold=test_data.tag_sequences[i],
                              predicted={key: predictions[key][i] for key in TAGGER_NAMES},
                              unseen=[w not in vocabularies.words for w in test_data.sentences[i]])
                for i in range(min(num_examples, len(test_data.sentences)))]
    return TaggerComparison(list(runs), examples, unseen_fraction, dict(models), vocabularies)


def compare_taggers(seeds: Sequence[int] = (0, 1, 2), num_train: int = 800,
                    num_test: int = 400, steps: int = 150, batch_size: int = 32,
                    learning_rate: float = 1e-2, word_dim: int = 32, char_filters: int = 32,
                    hidden_size: int = 32, word_dropout: float = 0.1,
                    num_examples: int = 8) -> TaggerComparison:
    """Train the word-only and the char-CNN tagger per seed on the same data; score span F1.

    For each seed: ``num_train`` training sentences (``entity_tagging(..., "train", seed)``),
    ``num_test`` valid and test sentences encoded with the training vocabularies (their names
    become ``<unk>`` for the word embedding), then both taggers with the same sizes, the same
    ``word_dropout`` and the same ``steps`` minibatches of ``batch_size`` sentences
    (`random_minibatches` seeded with the seed, Adam, `tagger_loss`). Returns a
    :class:`TaggerComparison` with one :class:`EntityTaggerRun` per (seed, model)
    (`score_tagger`) and the first ``num_examples`` test sentences tagged by the first seed's two
    models (`tagger_comparison`).
    """
    seeds = require_seeds(seeds)
    _require_budget(learning_rate, num_train=num_train, num_test=num_test, steps=steps,
                    batch_size=batch_size, word_dim=word_dim, char_filters=char_filters,
                    hidden_size=hidden_size, num_examples=num_examples)
    require_in_range("word_dropout", word_dropout, 0.0, 1.0)

    runs, first_models, first_test = [], {}, None
    for seed in seeds:
        train_data = entity_tagging(num_train, "train", seed=seed)
        vocabularies = train_data.vocabularies
        valid_data = entity_tagging(num_test, "valid", seed=seed, vocabularies=vocabularies)
        test_data = entity_tagging(num_test, "test", seed=seed, vocabularies=vocabularies)
        for model_key in TAGGER_NAMES:
            torch.manual_seed(seed)
            model = CharCNNTagger(len(vocabularies.words), len(vocabularies.chars),
                                  len(vocabularies.tags), word_dim=word_dim,
                                  char_filters=char_filters, hidden_size=hidden_size,
                                  use_chars=model_key == "chars", word_dropout=word_dropout)
            optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
            history = train(model, random_minibatches(num_train, batch_size, seed),
                            tagger_loss(train_data), optimizer, steps, progress=False)
            runs.append(score_tagger(model, model_key, seed, history, valid_data, test_data))
            if seed == seeds[0]:
                first_models[model_key], first_test = model, test_data
    return tagger_comparison(runs, first_models, first_test, num_examples)


def tagger_table(runs: Sequence[EntityTaggerRun]) -> str:
    """An aligned text table: per model, test span F1 per seed, then mean +- spread of test F1,
    valid F1 and the per-type test F1."""
    if not runs:
        raise ValueError("runs: expected at least one EntityTaggerRun, got none")
    seeds = sorted({run.seed for run in runs})
    header = ["model", *(f"seed {s}" for s in seeds), "test F1", "valid F1",
              *(f"{kind} (test)" for kind in ENTITY_KINDS)]
    rows = []
    for key, name in TAGGER_NAMES.items():
        mine = [run for run in runs if run.model == key]
        if not mine:
            continue
        by_seed = {run.seed: run.test_f1 for run in mine}
        rows.append([name, *seed_cells(by_seed, seeds),
                     format_mean_spread([r.test_f1 for r in mine]),
                     format_mean_spread([r.valid_f1 for r in mine]),
                     *(format_mean_spread([r.test_kind_f1[k] for r in mine])
                       for k in ENTITY_KINDS)])
    return text_table(header, rows)


# ----------------------------------------------------------------------------------------------
# 2. remembering digit pictures
# ----------------------------------------------------------------------------------------------
FRAME_MODELS = {"cnn": "CNN per frame", "cnn_lstm": "CNN + LSTM"}


@dataclass
class FrameRun:
    """One trained frame model, scored on held-out sequences."""

    model: str            # "cnn" or "cnn_lstm"
    delay: int            # the target at frame t is the digit of frame t - delay
    seed: int
    accuracy: float       # on held-out sequences, frames t >= delay
    parameters: int
    history: History      # the training run

    @property
    def losses(self) -> list[float]:
        return self.history.losses


def delayed_targets(digits: Tensor, delay: int) -> tuple[Tensor, Tensor]:
    """The targets of the delayed task, ``targets[t] = digits[t - delay]`` (T, B), and the mask
    (T, B) of the frames that have one, ``t >= delay`` (``targets`` is 0 before them)."""
    require_ndim("digits", digits, 2, "time-major (T, B) digits")
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay < digits.shape[0]:
        raise ValueError(f"delay: expected an int in [0, {digits.shape[0] - 1}] (less than the "
                         f"number of frames), got {delay!r}")
    targets = torch.zeros_like(digits)
    targets[delay:] = digits[:digits.shape[0] - delay]
    mask = torch.zeros(digits.shape, dtype=torch.bool)
    mask[delay:] = True
    return targets, mask


def frame_loss(frames: Tensor, targets: Tensor, mask: Tensor):
    """The loss for `course_pkg.training.train` on minibatches of sequences: ``loss_fn(model,
    rows)``, the cross-entropy of the labels of sequences ``rows`` (B,) (e.g. from
    `random_minibatches`) on the frames where ``mask`` is True, from ``frames`` (T, N, C, S, S),
    ``targets`` (T, N) and ``mask`` (T, N) (see `delayed_targets`)."""

    def loss_fn(model: nn.Module, rows: Tensor) -> Tensor:
        logits = model(frames[:, rows])                                   # (T, B, K)
        return masked_cross_entropy(logits, targets[:, rows], mask[:, rows])

    return loss_fn


@torch.no_grad()
def score_frame_model(model: nn.Module, model_key: str, delay: int, seed: int, history: History,
                      frames: Tensor, targets: Tensor, mask: Tensor) -> FrameRun:
    """The :class:`FrameRun` of a trained frame model: its accuracy (argmax per frame, in eval
    mode) on the held-out ``frames`` (T, N, C, S, S) against ``targets`` (T, N) where ``mask``
    (T, N) is True, its size and its training ``history``."""
    if model_key not in FRAME_MODELS:
        raise ValueError(f"model_key: expected one of {list(FRAME_MODELS)}, got {model_key!r}")
    model.eval()
    predicted = model(frames).argmax(dim=2)                               # (T, N)
    accuracy = (predicted == targets)[mask].float().mean().item()
    return FrameRun(model_key, delay, seed, accuracy, count_parameters(model), history)


def compare_frame_models(seeds: Sequence[int] = (0, 1), delays: Sequence[int] = (0, 2),
                         length: int = 8, num_train: int = 1024, num_test: int = 256,
                         steps: int = 300, batch_size: int = 32, learning_rate: float = 3e-3,
                         frame_size: int = 8, noise: float = 0.25,
                         hidden_size: int = 48) -> list[FrameRun]:
    """Per seed and delay: train the per-frame CNN and the CNN + LSTM to name, at each frame t,
    the digit shown at frame t - delay; return test accuracies (frames t >= delay).

    Training sequences come from ``digit_sequences(num_train, length, seed=seed)``, test
    sequences from a separate seed (``seed + 1000``), the targets from `delayed_targets`. Both
    models get the same CNN sizes, the same ``steps`` minibatches (`random_minibatches` seeded
    with the seed, Adam, `frame_loss`) and the same learning rate; `score_frame_model` scores
    them. The chapter writes the same loops out on the page.
    """
    seeds = require_seeds(seeds)
    delays = list(delays)
    if not delays:
        raise ValueError("delays: expected at least one delay, got none")
    require_positive_int("length", length)
    for delay in delays:
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay < length:
            raise ValueError(f"delays: expected ints in [0, {length - 1}] (less than length), "
                             f"got {delay!r}")
    _require_budget(learning_rate, num_train=num_train, num_test=num_test, steps=steps,
                    batch_size=batch_size, hidden_size=hidden_size)

    runs = []
    for seed in seeds:
        train_frames, train_digits = digit_sequences(num_train, length, frame_size, noise, seed)
        test_frames, test_digits = digit_sequences(num_test, length, frame_size, noise,
                                                   seed + 1000)
        for delay in delays:
            train_targets, train_mask = delayed_targets(train_digits, delay)    # (T, N)
            test_targets, test_mask = delayed_targets(test_digits, delay)
            for key in FRAME_MODELS:
                torch.manual_seed(seed)
                if key == "cnn":
                    model = PerFrameClassifier(10, frame_size=frame_size)
                else:
                    model = FrameSequenceClassifier(10, frame_size=frame_size,
                                                    hidden_size=hidden_size)
                optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
                history = train(model, random_minibatches(num_train, batch_size, seed),
                                frame_loss(train_frames, train_targets, train_mask), optimizer,
                                steps, progress=False)
                runs.append(score_frame_model(model, key, delay, seed, history, test_frames,
                                              test_targets, test_mask))
    return runs


def frame_table(runs: Sequence[FrameRun]) -> str:
    """An aligned text table: per model and delay, test accuracy per seed and mean +- spread
    (chance is 0.100)."""
    if not runs:
        raise ValueError("runs: expected at least one FrameRun, got none")
    seeds = sorted({run.seed for run in runs})
    delays = sorted({run.delay for run in runs})
    header = ["model", "target", "params", *(f"seed {s}" for s in seeds), "mean +- sd"]
    rows = []
    for delay in delays:
        target = "current digit" if delay == 0 else f"digit {delay} frames ago"
        for key, name in FRAME_MODELS.items():
            mine = [run for run in runs if run.model == key and run.delay == delay]
            if not mine:
                continue
            by_seed = {run.seed: run.accuracy for run in mine}
            rows.append([name, target, str(mine[0].parameters), *seed_cells(by_seed, seeds),
                         format_mean_spread([r.accuracy for r in mine])])
    return text_table(header, rows)


# ----------------------------------------------------------------------------------------------
# 3. one-to-many: captioning a picture of a number
# ----------------------------------------------------------------------------------------------
CAPTION_START = 10            # token ids 0-9 are the digits, 10 starts every caption


@dataclass
class CaptionRun:
    """One trained captioner and its greedy captions of the test pictures."""

    seed: int
    both_right: float           # fraction of test pictures whose whole caption is right
    position_accuracy: list[float]   # accuracy of the first (tens) and second (ones) token
    test_images: Tensor         # (N, 1, 2S, 2S) the test pictures
    test_digits: Tensor         # (2, N) their digits
    written: Tensor             # (2, N) the greedy captions
    history: History            # the training run

    @property
    def losses(self) -> list[float]:
        return self.history.losses


def caption_two_digit_numbers(seeds: Sequence[int] = (0,), num_train: int = 2048,
                              num_test: int = 500, steps: int = 400, batch_size: int = 64,
                              learning_rate: float = 3e-3,
                              hidden_size: int = 64) -> list[CaptionRun]:
    """Train `ImageCaptioner` per seed to write the two digits of a number's picture.

    The decoder's inputs are ``[CAPTION_START, tens]`` and its targets ``[tens, ones]``
    (teacher forcing); the loss is the cross-entropy of both tokens. Test pictures come from
    seed ``seed + 1000`` and are captioned by ``generate`` (greedy, 2 tokens).
    """
    seeds = require_seeds(seeds)
    _require_budget(learning_rate, num_train=num_train, num_test=num_test, steps=steps,
                    batch_size=batch_size, hidden_size=hidden_size)
    runs = []
    for seed in seeds:
        images, digits = two_digit_images(num_train, seed=seed)           # (N, 1, 16, 16), (2, N)
        inputs = torch.cat([torch.full((1, num_train), CAPTION_START), digits[:1]])   # (2, N)
        torch.manual_seed(seed)
        model = ImageCaptioner(vocab_size=11, frame_size=images.shape[-1],
                               hidden_size=hidden_size)
        def loss_fn(model: ImageCaptioner, rows: Tensor) -> Tensor:
            logits = model(images[rows], inputs[:, rows])                  # (2, B, 11)
            return F.cross_entropy(logits.flatten(0, 1), digits[:, rows].flatten())

        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        history = train(model, random_minibatches(num_train, batch_size, seed), loss_fn,
                        optimizer, steps, progress=False)
        model.eval()
        test_images, test_digits = two_digit_images(num_test, seed=seed + 1000)
        written = model.generate(test_images, CAPTION_START, max_length=2)   # (2, N)
        right = written == test_digits                                     # (2, N)
        runs.append(CaptionRun(seed, right.all(dim=0).float().mean().item(),
                               right.float().mean(dim=1).tolist(), test_images, test_digits,
                               written, history))
    return runs
