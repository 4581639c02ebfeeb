"""Chapter 10's experiment: reversing digit strings with and without attention.

The task (`course_pkg.data.algorithmic.digit_strings`, ``task="reverse"``): read ``L`` random
digits, write them back in reverse order. The model (`course_pkg.models.seq2seq.Seq2Seq`) is a
GRU encoder-decoder; the only difference between the two runs is the context ``c_t`` the decoder
reads at step t:

- without attention, ``c_t = h_S``, the encoder's last state, at every step: the whole string
  must pass through one vector of H numbers (Cho et al. 2014; Sutskever et al. 2014);
- with attention (Bahdanau, Cho & Bengio 2015), ``c_t = sum_j a_tj h_j`` with weights
  ``a_t = softmax_j(score(s_{t-1}, h_j))``: the decoder can look up the one source digit it needs.

Training: teacher forcing, cross-entropy over the real target tokens
(`course_pkg.batching.masked_cross_entropy`), Adam, clipping by global norm, a fixed number of
steps. Every step draws a fresh batch whose strings all have one length, drawn uniformly from
``[min_length, max_length]`` (a batch of one length wastes no time on padding). Every random
draw comes from ``seed``, so a run is reproducible.

Evaluation is free-running: `Seq2Seq.greedy_decode` feeds back its own outputs, and the
*token accuracy* is the fraction of the L output digits that equal the reversed source,
position by position; the *sequence accuracy* the fraction of strings reversed without a single
mistake.

Every function also takes ``task="copy"`` (write the digits back in the same order), the
variation of the chapter's exercises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from course_pkg.batching import masked_cross_entropy
from course_pkg.data.algorithmic import DIGIT_VOCABULARY, START, DigitBatch, digit_strings
from course_pkg.data.length_batches import varied_length_batches
from course_pkg.models.seq2seq import ATTENTION_KINDS, Seq2Seq
from course_pkg.text_tables import text_table
from course_pkg.training import History, evaluating, train
from course_pkg.validation import require_choice, require_positive_int

__all__ = [
    "VOCAB_SIZE",
    "ReversalRun",
    "reversal_batches",
    "reversal_loss",
    "train_reverser",
    "reversal_accuracy",
    "mirror_attention",
    "accuracy_by_length",
    "format_length_table",
]

VOCAB_SIZE = len(DIGIT_VOCABULARY)  # 13: <pad>, <s>, </s> and the ten digits
TASKS = ("reverse", "copy")


def _attention_name(attention: str | None) -> str:
    return "no attention" if attention is None else f"{attention} attention"


@dataclass
class ReversalRun:
    """One trained reverser and what was measured on it."""

    attention: str | None  # "additive", "dot", "general" or None
    model: Seq2Seq
    history: History  # loss per training step, and the training time in seconds
    task: str = "reverse"  # or "copy"
    # length -> (token accuracy, sequence accuracy), filled by `accuracy_by_length`
    accuracy: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        name = _attention_name(self.attention)
        return name if self.task == "reverse" else f"{name}, {self.task}"


def reversal_batches(batch_size: int, min_length: int, max_length: int, seed: int = 0,
                     task: str = "reverse"):
    """A function returning a fresh batch at each call: ``batch_size`` strings of one length.

    Call k draws its length uniformly from ``[min_length, max_length]`` and its digits, both from
    a generator seeded with ``seed``: the same seed gives the same sequence of batches.
    """
    require_choice("task", task, TASKS)
    return varied_length_batches(
        lambda n, length, seed: digit_strings(n, length, task=task, seed=seed),
        batch_size, min_length, max_length, seed)


def reversal_loss(model: Seq2Seq, batch: DigitBatch) -> torch.Tensor:
    """Teacher-forced cross-entropy over the real target tokens (digits and ``</s>``), the mean
    over those tokens; the ``loss_fn`` that `course_pkg.training.train` is given."""
    # batch.src (L, B), batch.tgt_in and batch.tgt_out (L+1, B): <s> + target, target + </s>
    logits = model(batch.src, batch.tgt_in, batch.src_lengths)  # (L+1, B, V)
    return masked_cross_entropy(logits, batch.tgt_out, batch.tgt_mask)


def train_reverser(
    attention: str | None = "additive",
    steps: int = 1200,
    batch_size: int = 64,
    min_length: int = 5,
    max_length: int = 22,
    embedding_size: int = 16,
    hidden_size: int = 64,
    learning_rate: float = 5e-3,  # Adam
    clip_norm: float = 1.0,  # global gradient norm
    seed: int = 0,  # initial weights and every batch
    task: str = "reverse",  # or "copy"
) -> ReversalRun:
    """Train a `Seq2Seq` reverser for ``steps`` steps; see the module doc for the set-up.

    The defaults are chapter 10's: about half a minute on one CPU core with attention.
    """
    require_choice("attention", attention, ATTENTION_KINDS)
    require_positive_int("steps", steps)
    batches = reversal_batches(batch_size, min_length, max_length, seed=seed, task=task)
    torch.manual_seed(seed)
    model = Seq2Seq(VOCAB_SIZE, VOCAB_SIZE, embedding_size, hidden_size, attention=attention)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = train(model, batches, reversal_loss, optimizer, steps, clip_norm=clip_norm,
                    seed=seed, progress=False)
    return ReversalRun(attention, model, history, task)


@torch.no_grad()
def reversal_accuracy(model: Seq2Seq, batch: DigitBatch) -> tuple[float, float]:
    """``(token accuracy, sequence accuracy)`` of greedy decoding on ``batch``.

    Token accuracy: the fraction of target digits (``</s>`` not counted) that the decoder, fed
    its own outputs, writes right at the right position. Sequence accuracy: the fraction of
    strings with every digit right.
    """
    if not isinstance(batch, DigitBatch):
        raise TypeError(f"batch: expected a DigitBatch (from digit_strings), got "
                        f"{type(batch).__name__}")
    with evaluating(model):
        max_length = batch.src.shape[0]
        tokens = model.greedy_decode(batch.src, START, max_length,
                                     src_lengths=batch.src_lengths)  # (L, B)
    digits = batch.tgt_out[:max_length]  # (L, B) the target digits, 0-padded
    real = torch.arange(max_length).unsqueeze(1) < batch.src_lengths.unsqueeze(0)  # (L, B)
    correct = (tokens == digits) & real  # (L, B)
    token_accuracy = correct.sum().item() / real.sum().item()
    sequence_accuracy = (correct | ~real).all(dim=0).float().mean().item()
    return token_accuracy, sequence_accuracy


@torch.no_grad()
def mirror_attention(model: Seq2Seq, batch: DigitBatch, offset: int = 0) -> float:
    """The mean weight that decoder step t gives to source position ``L + 1 - t + offset``.

    With ``offset = 0`` that position holds the digit step t must write: for reversal the ideal
    alignment is the anti-diagonal, and this number is 1 for a model that follows it exactly
    (``1 / L`` for uniform weights). Other offsets measure the diagonals beside it (a position
    outside the string contributes 0). Weights from teacher forcing, averaged over the L digit
    steps of every string of ``batch`` (the step that writes ``</s>`` is left out).
    """
    if model.attention is None:
        raise ValueError("model: expected a Seq2Seq with attention, got attention=None")
    if not isinstance(batch, DigitBatch):
        raise TypeError(f"batch: expected a DigitBatch (from digit_strings), got "
                        f"{type(batch).__name__}")
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise TypeError(f"offset: expected an int, got {type(offset).__name__} {offset!r}")
    with evaluating(model):
        _, weights = model(batch.src, batch.tgt_in, batch.src_lengths, return_attention=True)  # weights (L+1, B, S)
    total, count = 0.0, 0
    for b, length in enumerate(batch.src_lengths.tolist()):
        steps = torch.arange(length)  # decoder steps t = 0..L-1 (0-based)
        positions = length - 1 - steps + offset  # the mirror position, shifted (0-based)
        inside = (positions >= 0) & (positions < length)
        total += weights[steps[inside], b, positions[inside]].sum().item()
        count += length
    return total / count


def accuracy_by_length(run: ReversalRun, lengths: Sequence[int], num_strings: int = 500,
                       seed: int = 12345) -> dict[int, tuple[float, float]]:
    """`reversal_accuracy` on ``num_strings`` fresh strings of each length (of the run's task);
    stored in ``run.accuracy``.

    The test strings of length L come from ``seed + L``, a seed the training batches (drawn from
    one generator seeded with the run's seed) are unlikely to share; with 10^L possible strings,
    a test string of length 10 or more has practically never been seen in training.
    """
    require_positive_int("num_strings", num_strings)
    for length in lengths:
        require_positive_int("length", length)
        batch = digit_strings(num_strings, length, task=run.task, seed=seed + length)
        run.accuracy[length] = reversal_accuracy(run.model, batch)
    return run.accuracy


def format_length_table(runs: Sequence[ReversalRun]) -> str:
    """An aligned text table: one row per string length, token and sequence accuracy per run."""
    lengths = sorted(set().union(*(run.accuracy for run in runs)))
    header = ["length", *(cell for run in runs for cell in ("", run.name))]
    subheader = ["", *(cell for _ in runs for cell in ("tokens", "sequences"))]
    rows = []
    for length in lengths:
        cells = [f"{value:.3f}" if length in run.accuracy else "-"
                 for run in runs for value in run.accuracy.get(length, (0.0, 0.0))]
        rows.append([str(length), *cells])
    footer = ["train", *(cell for run in runs for cell in
                         (f"{len(run.history.losses)} steps", f"{run.history.seconds:.1f} s"))]
    return text_table(header, rows, rule=True, subheader=subheader, footer=[footer])
