"""Chapter 7's experiments: reading the future (bidirectional) and stacking layers (depth).

Both train a `course_pkg.models.tagger.RecurrentTagger` on the "bat" sense-tagging task of
:mod:`course_pkg.data.future_context`, where the tag of an ambiguous word is decided by a cue
word *after* it:

- a one-directional and a bidirectional tagger with about the same number of parameters, over
  several seeds (any causal tagger is capped at `~course_pkg.data.future_context.causal_ceiling`;
  the bidirectional one is not), with an LSTM or a GRU cell;
- the same tagger with 1, 2, 3 stacked layers: parameters, measured time per training step,
  training and validation accuracy.

The chapter assembles each run on the page from the parts here and `course_pkg.training.train`::

    torch.manual_seed(seed)                                   # the initial weights
    model = RecurrentTagger(len(WORDS), len(TAGS), 16, hidden_size, num_layers, bidirectional)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = train(model, tagging_batches(data, 64, seed), tagging_loss, optimizer, steps,
                    clip_norm=1.0, seed=seed, eval_every=25,
                    evaluate_fn=lambda m: bat_accuracy(m, data))
    run = tagger_run(model, history, data, seed)              # accuracies, curve, ms/step

`train_tagger` is those lines as one function (the exercises call it). Training is teacher-forced
cross-entropy over all tokens, Adam, global-norm clipping, a fixed number of steps on minibatches
drawn (seeded) from a fixed training set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from course_pkg.data.future_context import TAGS, WORDS, ambiguous_mask, sense_tagging
from course_pkg.models.tagger import RecurrentTagger
from course_pkg.text_tables import text_table
from course_pkg.training import History, evaluating, train
from course_pkg.validation import require_positive_int

__all__ = [
    "TaggingData",
    "TaggerRun",
    "make_tagging_data",
    "tagging_accuracy",
    "tagging_batches",
    "tagging_loss",
    "bat_accuracy",
    "tagger_run",
    "train_tagger",
    "format_runs",
]


@dataclass
class TaggingData:
    """A training and a validation set of the sense-tagging task, time-major ``(T, N)``."""

    train_words: torch.Tensor
    train_tags: torch.Tensor
    validation_words: torch.Tensor
    validation_tags: torch.Tensor


def make_tagging_data(
    num_train: int = 2000,
    num_validation: int = 1000,
    length: int = 16,
    max_gap: int = 4,
    seed: int = 0,
) -> TaggingData:
    """Training sentences from ``seed``, validation sentences from ``seed + 1`` (disjoint draws)."""
    train_words, train_tags = sense_tagging(num_train, length, max_gap, seed=seed)
    validation_words, validation_tags = sense_tagging(num_validation, length, max_gap, seed=seed + 1)
    return TaggingData(train_words, train_tags, validation_words, validation_tags)


@torch.no_grad()
def tagging_accuracy(model: RecurrentTagger, words: torch.Tensor, tags: torch.Tensor) -> tuple[float, float]:
    """``(token accuracy, accuracy on the ambiguous words)`` of ``model`` on ``words`` ``(T, N)``."""
    if tags.shape != words.shape:
        raise ValueError(f"tags: expected the shape of words {tuple(words.shape)}, got {tuple(tags.shape)}")
    with evaluating(model):
        predicted = model(words).argmax(dim=2)  # (T, N)
    correct = predicted == tags  # (T, N)
    bats = ambiguous_mask(words)  # (T, N)
    return correct.float().mean().item(), correct[bats].float().mean().item()


@dataclass
class TaggerRun:
    """One trained tagger and what was measured on it."""

    num_layers: int
    bidirectional: bool
    hidden_size: int
    seed: int
    parameters: int
    history: History
    train_accuracy: float  # token accuracy on the training set
    validation_accuracy: float  # token accuracy on the validation set
    ambiguous_accuracy: float  # validation accuracy on the ambiguous "bat" tokens only
    ms_per_step: float  # measured wall time of one training step (forward, backward, update)
    model: RecurrentTagger
    # (steps so far, training seconds so far, validation accuracy on the ambiguous words)
    curve: list[tuple[int, float, float]]

    def steps_to(self, accuracy: float = 0.99) -> int | None:
        """The first measured step at which the ambiguous-word accuracy reached ``accuracy``."""
        return next((step for step, _, value in self.curve if value >= accuracy), None)

    @property
    def name(self) -> str:
        direction = "bidirectional" if self.bidirectional else "one-directional"
        return f"{direction}, {self.num_layers} layer{'s' if self.num_layers > 1 else ''}, H={self.hidden_size}"


def tagging_batches(data: TaggingData, batch_size: int = 64, seed: int = 0
                    ) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """A function returning the next training minibatch ``(words, tags)``, each ``(T, B)``.

    The ``B = batch_size`` sentences are drawn with replacement by a generator of their own,
    seeded with ``seed``, so the order does not depend on torch's global random state.
    """
    require_positive_int("batch_size", batch_size)
    order = torch.Generator().manual_seed(seed)
    num_train = data.train_words.shape[1]

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        columns = torch.randint(0, num_train, (batch_size,), generator=order)  # (B,)
        return data.train_words[:, columns], data.train_tags[:, columns]  # (T, B) each

    return next_batch


def tagging_loss(model: RecurrentTagger, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over all tokens of ``batch = (words, tags)``, each ``(T, B)``: the
    ``loss_fn`` for `course_pkg.training.train`."""
    words, tags = batch
    scores = model(words)  # (T, B, K)
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), tags.reshape(-1))


def bat_accuracy(model: RecurrentTagger, data: TaggingData) -> float:
    """Validation accuracy on the ambiguous "bat" tokens only: the learning-curve measurement,
    e.g. ``evaluate_fn=lambda m: bat_accuracy(m, data)`` for `course_pkg.training.train`."""
    return tagging_accuracy(model, data.validation_words, data.validation_tags)[1]


def tagger_run(model: RecurrentTagger, history: History, data: TaggingData, seed: int) -> TaggerRun:
    """The `TaggerRun` record of a tagger trained by `course_pkg.training.train`.

    ``history`` must come from a run with ``evaluate_fn`` = `bat_accuracy`: its
    ``eval_steps``/``eval_losses`` become ``curve``. The training seconds of each curve point are
    those of the steps before it at the run's mean time per step (evaluations are not timed).
    """
    if not history.losses or not history.eval_steps:
        raise ValueError("history: expected training steps and evaluations (train with "
                         "eval_every= and evaluate_fn=), got none")
    seconds_per_step = history.seconds / len(history.losses)
    train_accuracy, _ = tagging_accuracy(model, data.train_words, data.train_tags)
    validation_accuracy, ambiguous_accuracy = tagging_accuracy(
        model, data.validation_words, data.validation_tags)
    return TaggerRun(
        num_layers=model.recurrent.num_layers,
        bidirectional=model.recurrent.bidirectional,
        hidden_size=model.recurrent.hidden_size,
        seed=seed,
        parameters=sum(p.numel() for p in model.parameters()),
        history=history,
        train_accuracy=train_accuracy,
        validation_accuracy=validation_accuracy,
        ambiguous_accuracy=ambiguous_accuracy,
        ms_per_step=1000 * seconds_per_step,
        model=model,
        curve=[(step, step * seconds_per_step, accuracy)
               for step, accuracy in zip(history.eval_steps, history.eval_losses)],
    )


def train_tagger(
    data: TaggingData,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,  # between stacked layers
    steps: int = 200,
    batch_size: int = 64,
    learning_rate: float = 1e-2,
    embedding_dim: int = 16,
    seed: int = 0,
    cell: str = "lstm",
    eval_every: int = 25,  # steps between two measurements of the learning curve
) -> TaggerRun:
    """Train one tagger with a fixed seed (initial weights and minibatch order) and measure it.

    The accuracy on the ambiguous validation words (`bat_accuracy`) is measured before the first
    step, every ``eval_every`` steps and after the last one, and recorded in ``curve``.
    """
    require_positive_int("steps", steps)
    require_positive_int("batch_size", batch_size)
    require_positive_int("eval_every", eval_every)
    torch.manual_seed(seed)
    model = RecurrentTagger(len(WORDS), len(TAGS), embedding_dim, hidden_size, num_layers,
                            bidirectional, dropout, cell)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = train(model, tagging_batches(data, batch_size, seed), tagging_loss, optimizer, steps,
                    clip_norm=1.0, seed=seed, progress=False, eval_every=eval_every,
                    evaluate_fn=lambda trained: bat_accuracy(trained, data))
    return tagger_run(model, history, data, seed)


def _steps_text(steps: int | None) -> str:
    return "not reached" if steps is None else str(steps)


def format_runs(runs: Sequence[TaggerRun]) -> str:
    """An aligned text table of runs, one row each; "bat acc" is the validation accuracy on the
    ambiguous words, "steps to 99%" the first measured step where it reached 0.99."""
    header = ["model", "seed", "params", "ms/step", "train acc", "valid acc", "bat acc",
              "steps to 99%"]
    rows = [[run.name, str(run.seed), str(run.parameters), f"{run.ms_per_step:.1f}",
             f"{run.train_accuracy:.3f}", f"{run.validation_accuracy:.3f}",
             f"{run.ambiguous_accuracy:.3f}", _steps_text(run.steps_to(0.99))] for run in runs]
    return text_table(header, rows, rule=True)
