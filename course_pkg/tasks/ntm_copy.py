"""Chapter 13's experiment: the copy task of Graves, Wayne & Danihelka (2014), scaled to a CPU.

A network reads ``L`` random binary vectors, then a delimiter, and must write the ``L`` vectors
back out (`course_pkg.data.algorithmic.ntm_copy_task`). We train on short sequences only
(lengths ``min_length..max_length``, drawn at random for each minibatch) and then test on longer
ones. Two models of about the same number of parameters get the same steps and minibatches:

- the `~course_pkg.models.ntm.NeuralTuringMachine`, an LSTM-cell controller with a memory matrix
  it addresses by content and by location;
- a `~course_pkg.models.copy_lstm.CopyLSTM`, an LSTM layer with a linear read-out, which has to
  hold the whole sequence in its state, with as many weights (`matching_lstm_size`).

The loss is the binary cross-entropy of the logits against the target bits on the output steps
only (the loss mask); the score is the **bit error**, the fraction of output bits whose
thresholded prediction (logit > 0) is wrong (`bit_error`).

`train_copier` trains one model in one call; chapter 13 writes the same steps out (`copy_batches`,
Adam, `course_pkg.training.train` with `copy_loss`, a `CopyRun`), with the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.data.algorithmic import ntm_copy_task
from course_pkg.data.length_batches import varied_length_batches
from course_pkg.models.parameter_count import closest_size, count_parameters
from course_pkg.text_tables import text_table
from course_pkg.training import History, evaluating, train
from course_pkg.validation import require_positive_int

__all__ = [
    "CopyBatch",
    "CopyRun",
    "copy_batches",
    "copy_loss",
    "matching_lstm_size",
    "train_copier",
    "bit_error",
    "format_bit_errors",
]

#: One copy-task minibatch: inputs (T, B, bits+1), targets (T, B, bits), loss mask (T, B).
CopyBatch = tuple[Tensor, Tensor, Tensor]


def matching_lstm_size(parameters: int, bits: int = 4) -> int:
    """The hidden size H whose `CopyLSTM` has the number of parameters closest to ``parameters``.

    One LSTM layer has ``4H(D + H) + 8H`` parameters (D = bits + 1), the read-out ``(H + 1) bits``.
    """
    require_positive_int("parameters", parameters)
    require_positive_int("bits", bits)
    inputs = bits + 1
    return closest_size(lambda H: 4 * H * (inputs + H) + 8 * H + (H + 1) * bits, parameters)


def copy_batches(batch_size: int = 32, min_length: int = 1, max_length: int = 5, bits: int = 4,
                 seed: int = 0) -> Callable[[], CopyBatch]:
    """A function that returns a fresh copy-task minibatch at each call.

    Each minibatch has one length, uniform on ``min_length..max_length``, and fresh random bits;
    the lengths and the data come from ``numpy.random.default_rng(seed)``, so the stream is the
    same for every model trained with the same seed.
    """
    require_positive_int("bits", bits)
    return varied_length_batches(
        lambda n, length, seed: ntm_copy_task(n, length, bits=bits, seed=seed),
        batch_size, min_length, max_length, seed, seed_bound=2**31)  # (this stream's bound)


def copy_loss(model: nn.Module, batch: CopyBatch) -> Tensor:
    """Mean binary cross-entropy of the logits on the output steps (where ``mask`` is True)."""
    inputs, targets, mask = batch
    logits = model(inputs)  # (T, B, bits)
    return F.binary_cross_entropy_with_logits(logits[mask], targets[mask])


@dataclass
class CopyRun:
    """One trained copier and its training history."""

    name: str
    model: nn.Module
    parameters: int
    history: History

    @property
    def seconds(self) -> float:
        return self.history.seconds


def train_copier(
    model: nn.Module,
    name: str,
    steps: int = 600,
    batch_size: int = 32,
    min_length: int = 1,
    max_length: int = 5,  # the longest sequence seen in training
    bits: int = 4,
    learning_rate: float = 5e-3,
    clip_norm: float = 10.0,
    seed: int = 0,
) -> CopyRun:
    """Train ``model`` (an NTM or a `CopyLSTM`) with Adam on `copy_batches` from ``seed``:
    `course_pkg.training.train` with `copy_loss`, clipped at ``clip_norm``, seeded with ``seed``."""
    require_positive_int("steps", steps)
    batches = copy_batches(batch_size, min_length, max_length, bits, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = train(model, batches, copy_loss, optimizer, steps, clip_norm=clip_norm, seed=seed,
                    progress=False)
    return CopyRun(name, model, count_parameters(model), history)


@torch.no_grad()
def bit_error(model: nn.Module, length: int, bits: int = 4, num_sequences: int = 200,
              seed: int = 10_000) -> float:
    """Fraction of wrong output bits on ``num_sequences`` fresh sequences of ``length`` vectors.

    A bit is predicted as 1 where the logit is positive. The test data come from ``seed + length``
    (training streams use small seeds, so test sequences are new ones).
    """
    require_positive_int("length", length)
    require_positive_int("num_sequences", num_sequences)
    inputs, targets, mask = ntm_copy_task(num_sequences, length, bits=bits, seed=seed + length)
    with evaluating(model):
        predicted = (model(inputs)[mask] > 0).to(targets.dtype)  # (L * n, bits)
    return (predicted != targets[mask]).float().mean().item()


def format_bit_errors(errors: dict[str, Sequence[float]], lengths: Sequence[int],
                      trained_up_to: int) -> str:
    """A table: one row per test length, one column of bit errors (in %) per model.

    ``errors[name][i]`` is the bit error of model ``name`` at ``lengths[i]``; lengths beyond
    ``trained_up_to`` are marked as never seen in training.
    """
    names = list(errors)
    for name in names:
        if len(errors[name]) != len(lengths):
            raise ValueError(f"errors: expected {len(lengths)} values for {name!r} (one per "
                             f"length), got {len(errors[name])}")
    rows = [[str(length), *(f"{100 * errors[name][i]:.2f}%" for name in names),
             "" if length <= trained_up_to else "(longer than any training sequence)"]
            for i, length in enumerate(lengths)]
    return text_table(["length", *names, ""], rows, rule=True)
