"""Chapter 12's experiment: a memory network and an LSTM answer bAbI-style task-1 questions.

Both models see the same 1000 generated stories (`course_pkg.data.babi`, "Where is X?" answered by
X's latest place) and get the same training budget: the same number of Adam steps on minibatches
of the same size, drawn in the same seeded order.

- The memory network (`~course_pkg.models.memory_network.EndToEndMemoryNetwork`, Sukhbaatar et al.
  2015) keeps every sentence as a memory and attends over them with the question.
- The `~course_pkg.models.story_reader.StoryReader` reads the story and the question word by
  word, as one flat sequence (`~course_pkg.data.babi.flatten_stories`), and answers from its last
  state.

The stories come as a `~course_pkg.data.babi_splits.BabiData` (`make_babi_data` of
`course_pkg.data.babi_splits`), a training and a test split in every form the two models read.

Chapter 12 assembles both recipes on the page from the parts here: the minibatch functions
(`story_minibatches` for the memory network, `flat_story_minibatches` for the reader), the loss
functions (`memory_network_loss`, `story_reader_loss`) and the error measures; the wrappers
`train_memory_network` and `train_story_reader` are the same recipes in one call.

Besides the test error, the experiment measures where the memory network looks: for every hop,
how often its largest attention weight falls on the supporting fact (`supporting_fact_rates`),
and how the errors spread over the *age* of the supporting fact (`error_by_age`), i.e. how many
sentences were told after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.data.babi import VOCABULARY, BabiBatch
from course_pkg.data.babi_splits import BabiData
from course_pkg.models.memory_network import EndToEndMemoryNetwork
from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.story_reader import StoryReader
from course_pkg.text_tables import text_table
from course_pkg.training import History, evaluating, random_minibatches, train
from course_pkg.validation import require_positive_int

__all__ = [
    "QARun",
    "story_minibatches",
    "flat_story_minibatches",
    "memory_network_loss",
    "story_reader_loss",
    "train_memory_network",
    "train_story_reader",
    "memory_network_error",
    "story_reader_error",
    "answers_and_hop_attention",
    "hop_attention",
    "supporting_fact_rates",
    "error_by_age",
    "format_runs",
]


@dataclass
class QARun:
    """One trained question-answering model and what was measured on it."""

    name: str
    model: nn.Module
    parameters: int
    history: History  # losses per step and the training time
    train_error: float  # fraction of wrong answers on the training stories
    test_error: float  # fraction of wrong answers on the test stories

    @property
    def seconds(self) -> float:
        return self.history.seconds


FlatBatch = tuple[Tensor, Tensor, Tensor]  # tokens (T, B), lengths (B,), answers (B,)


def story_minibatches(data: BabiData, batch_size: int, seed: int) -> Callable[[], BabiBatch]:
    """A function returning the next minibatch of ``batch_size`` training stories of ``data``, a
    `BabiBatch` with stories (B, S, W), questions (B, Wq) and answers, supporting, lengths (B,).

    The stories are drawn with replacement by
    ``course_pkg.training.random_minibatches(len(data.train_stories), batch_size, seed)``, so the
    memory network and the reader (`flat_story_minibatches`) see the same stories in the same
    order for the same seed.
    """
    next_indices = random_minibatches(len(data.train_stories), batch_size, seed)

    def next_batch() -> BabiBatch:
        indices = next_indices()  # (B,)
        return BabiBatch(*(field[indices] for field in data.train))

    return next_batch


def flat_story_minibatches(data: BabiData, batch_size: int, seed: int) -> Callable[[], FlatBatch]:
    """A function returning the next minibatch of ``batch_size`` flattened training stories of
    ``data``: ``(tokens, lengths, answers)``, tokens (T, B) cut after the longest sequence of the
    minibatch, lengths (B,) and answers (B,). Same draws as `story_minibatches` with that seed.
    """
    next_indices = random_minibatches(len(data.train_stories), batch_size, seed)

    def next_batch() -> FlatBatch:
        indices = next_indices()  # (B,)
        lengths = data.train_token_lengths[indices]  # (B,)
        tokens = data.train_tokens[: int(lengths.max()), indices]  # (T, B)
        return tokens, lengths, data.train.answers[indices]

    return next_batch


def memory_network_loss(model: EndToEndMemoryNetwork, batch: BabiBatch) -> Tensor:
    """The ``loss_fn`` of `course_pkg.training.train` for a memory network: the mean
    cross-entropy ``-ln p(answer)`` over the questions of ``batch`` (a scalar)."""
    logits = model(batch.stories, batch.questions)  # (B, V)
    return F.cross_entropy(logits, batch.answers)


def story_reader_loss(model: StoryReader, batch: FlatBatch) -> Tensor:
    """The ``loss_fn`` of `course_pkg.training.train` for a `StoryReader`: the mean cross-entropy
    ``-ln p(answer)`` over a batch ``(tokens (T, B), lengths (B,), answers (B,))`` (a scalar)."""
    tokens, lengths, answers = batch
    return F.cross_entropy(model(tokens, lengths), answers)  # logits (B, V)


@torch.no_grad()
def _wrong_answers(logits_fn: Callable[[], Tensor], model: nn.Module, answers: Tensor) -> Tensor:
    """(N,) bool, True where the model's answer (argmax of its logits, eval mode) is wrong."""
    with evaluating(model):
        return logits_fn().argmax(dim=1) != answers


def memory_network_error(model: EndToEndMemoryNetwork, batch: BabiBatch) -> float:
    """Fraction of the questions of ``batch`` the memory network answers wrongly."""
    wrong = _wrong_answers(lambda: model(batch.stories, batch.questions), model, batch.answers)
    return wrong.float().mean().item()


def story_reader_error(model: StoryReader, tokens: Tensor, lengths: Tensor,
                       answers: Tensor) -> float:
    """Fraction of the flattened stories ``tokens`` (T, N) the reader answers wrongly."""
    if tuple(answers.shape) != (tokens.shape[1],):
        raise ValueError(f"answers: expected shape ({tokens.shape[1]},), "
                         f"got {tuple(answers.shape)}")
    return _wrong_answers(lambda: model(tokens, lengths), model, answers).float().mean().item()


def train_memory_network(
    data: BabiData,
    embedding_size: int = 20,  # d
    hops: int = 3,  # K
    steps: int = 1000,
    batch_size: int = 32,
    learning_rate: float = 1e-2,
    clip_norm: float = 40.0,  # the paper clips the gradient norm at 40
    seed: int = 0,
    position_encoding: bool = True,  # False: a plain bag of words per sentence
    temporal_encoding: bool = True,  # False: the memories carry no order
) -> QARun:
    """Train an `EndToEndMemoryNetwork` with Adam on ``data.train``; measure both errors.

    The recipe: seed torch, build the network, `story_minibatches`, Adam, ``train`` with
    `memory_network_loss`, then `memory_network_error` on both splits."""
    require_positive_int("steps", steps)
    require_positive_int("batch_size", batch_size)
    torch.manual_seed(seed)
    model = EndToEndMemoryNetwork(len(VOCABULARY), embedding_size,
                                  max_memories=data.train.stories.shape[1], hops=hops,
                                  position_encoding=position_encoding,
                                  temporal_encoding=temporal_encoding)
    batches = story_minibatches(data, batch_size, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = train(model, batches, memory_network_loss, optimizer, steps, clip_norm=clip_norm,
                    seed=seed, progress=False)
    name = f"memory network, {hops} hop{'s' if hops > 1 else ''}, d={embedding_size}"
    if not temporal_encoding:
        name += ", no temporal enc."
    if not position_encoding:
        name += ", no position enc."
    return QARun(
        name=name,
        model=model,
        parameters=count_parameters(model),
        history=history,
        train_error=memory_network_error(model, data.train),
        test_error=memory_network_error(model, data.test),
    )


def train_story_reader(
    data: BabiData,
    embedding_size: int = 20,
    hidden_size: int = 50,
    steps: int = 1000,
    batch_size: int = 32,
    learning_rate: float = 1e-2,
    clip_norm: float = 1.0,
    seed: int = 0,
    lstm: type[nn.Module] = nn.LSTM,
) -> QARun:
    """Train a `StoryReader` on the flattened training stories, same budget as the memory
    network (steps, batch size, minibatch order); measure both errors.

    The recipe: seed torch, build the reader, `flat_story_minibatches`, Adam, ``train`` with
    `story_reader_loss`, then `story_reader_error` on both splits."""
    require_positive_int("steps", steps)
    require_positive_int("batch_size", batch_size)
    torch.manual_seed(seed)
    model = StoryReader(len(VOCABULARY), embedding_size, hidden_size, lstm=lstm)
    batches = flat_story_minibatches(data, batch_size, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = train(model, batches, story_reader_loss, optimizer, steps, clip_norm=clip_norm,
                    seed=seed, progress=False)
    return QARun(
        name=f"LSTM reading the story, H={hidden_size}",
        model=model,
        parameters=count_parameters(model),
        history=history,
        train_error=story_reader_error(model, data.train_tokens, data.train_token_lengths,
                                       data.train.answers),
        test_error=story_reader_error(model, data.test_tokens, data.test_token_lengths,
                                      data.test.answers),
    )


@torch.no_grad()
def answers_and_hop_attention(model: EndToEndMemoryNetwork, batch: BabiBatch
                              ) -> tuple[Tensor, Tensor]:
    """The answer probabilities (N, V) and the attention of every hop over the sentences
    (N, K, S) of ``model`` on ``batch``, computed in eval mode."""
    with evaluating(model):
        logits, attention = model(batch.stories, batch.questions, return_attention=True)
    return torch.softmax(logits, dim=1), attention


def hop_attention(model: EndToEndMemoryNetwork, batch: BabiBatch) -> Tensor:
    """The attention of every hop over the sentences, (N, K, S), computed in eval mode."""
    return answers_and_hop_attention(model, batch)[1]


def supporting_fact_rates(attention: Tensor, supporting: Tensor) -> list[float]:
    """For each hop k, the fraction of stories whose largest attention weight ``argmax_i p_i``
    is on the supporting fact. attention (N, K, S), supporting (N,) sentence indices."""
    if attention.ndim != 3:
        raise ValueError(f"attention: expected shape (N, K, S), got {tuple(attention.shape)}")
    if tuple(supporting.shape) != (attention.shape[0],):
        raise ValueError(f"supporting: expected shape ({attention.shape[0]},) (one index per "
                         f"story), got {tuple(supporting.shape)}")
    on_fact = attention.argmax(dim=2) == supporting.unsqueeze(1)  # (N, K)
    return on_fact.float().mean(dim=0).tolist()


def error_by_age(model: EndToEndMemoryNetwork, batch: BabiBatch) -> list[tuple[int, int, int]]:
    """``(age, questions, wrong answers)`` for every age of the supporting fact in ``batch``.

    The age of the supporting fact is the number of sentences told after it (0: the last one).
    """
    wrong = _wrong_answers(lambda: model(batch.stories, batch.questions), model, batch.answers)
    ages = batch.lengths - 1 - batch.supporting  # (N,)
    return [(age, int((ages == age).sum()), int(wrong[ages == age].sum()))
            for age in sorted(set(ages.tolist()))]


def format_runs(runs: Sequence[QARun]) -> str:
    """An aligned text table: model, parameters, training time, training and test error."""
    header = ["model", "params", "seconds", "train error", "test error"]
    rows = [[run.name, str(run.parameters), f"{run.seconds:.1f}",
             f"{100 * run.train_error:.1f}%", f"{100 * run.test_error:.1f}%"] for run in runs]
    return text_table(header, rows, rule=True)
