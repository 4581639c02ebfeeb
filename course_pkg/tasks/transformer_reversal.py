"""The Transformer chapter's experiment: the attention chapter's digit reversal with a
Transformer beside the GRU encoder-decoder with attention, and the cost of each against the
sequence length.

Training reuses the attention chapter's parts unchanged
(`course_pkg.tasks.reversal`): the same batches (`reversal_batches`: one length
per batch, drawn from a seeded generator), the same teacher-forced loss (`reversal_loss`), the
same greedy evaluation (`accuracy_by_length`). Only the model differs:
`course_pkg.models.transformer.TransformerSeq2Seq`.

The timing (`time_by_length`) measures, for each model and sequence length L, on one batch of
strings of length L:

- **a training pass**: teacher-forced forward and backward. The recurrent encoder and decoder
  take L steps each, one after the other; the Transformer computes every position of the encoder
  and of the decoder in one pass (the causal mask hides the future);
- **generation**: greedy decoding of the L digits. Both models are sequential here, one token at
  a time; the Transformer's decoder also re-reads its whole prefix at every step (no key-value
  cache), so its work per token grows with the position.

The models take turns (`course_pkg.timing.interleaved_times`), and the median of the
repeats is kept. The clock is the CPU time of this process (``time.process_time``), so that
other programs on a shared machine, which take the CPU away for a while, do not count; with
torch on one thread it is the time the work itself took.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
from torch import nn

from course_pkg.data.algorithmic import START, digit_strings
from course_pkg.tasks.reversal import (
    VOCAB_SIZE,
    ReversalRun,
    reversal_batches,
    reversal_loss,
)
from course_pkg.timing import interleaved_times
from course_pkg.models.transformer import TransformerSeq2Seq
from course_pkg.training import train
from course_pkg.validation import require_positive_int

__all__ = ["TransformerRun", "train_transformer_reverser", "LengthTimings", "time_by_length"]


@dataclass
class TransformerRun(ReversalRun):
    """A trained Transformer reverser (the fields of `ReversalRun`) and its CPU time."""

    cpu_seconds: float = 0.0  # process time of the training loop

    @property
    def name(self) -> str:
        return "Transformer" if self.task == "reverse" else f"Transformer, {self.task}"


def train_transformer_reverser(
    steps: int = 800,
    batch_size: int = 32,
    min_length: int = 3,
    max_length: int = 12,
    d_model: int = 32,
    num_heads: int = 4,
    num_layers: int = 1,
    ff_size: int = 64,
    learning_rate: float = 5e-3,  # Adam
    clip_norm: float = 1.0,  # global gradient norm
    seed: int = 0,  # initial weights and every batch
    task: str = "reverse",  # or "copy"
    max_len: int = 128,  # the longest string the positional encoding covers
) -> TransformerRun:
    """Train a `TransformerSeq2Seq` on the attention chapter's batches and loss for ``steps``
    steps; the process time of the training loop is kept in ``cpu_seconds``."""
    require_positive_int("steps", steps)
    batches = reversal_batches(batch_size, min_length, max_length, seed=seed, task=task)
    torch.manual_seed(seed)
    model = TransformerSeq2Seq(VOCAB_SIZE, VOCAB_SIZE, d_model, num_heads, num_layers, ff_size,
                               max_len=max_len)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    start = time.process_time()
    history = train(model, batches, reversal_loss, optimizer, steps, clip_norm=clip_norm,
                    seed=seed, progress=False)
    return TransformerRun("transformer", model, history, task,
                          cpu_seconds=time.process_time() - start)


@dataclass
class LengthTimings:
    """Median seconds per model and length, of a training pass and of generation."""

    lengths: list[int]
    batch_size: int
    training: dict[str, dict[int, float]] = field(default_factory=dict)  # name -> L -> s
    generation: dict[str, dict[int, float]] = field(default_factory=dict)


def time_by_length(models: Mapping[str, nn.Module], lengths: Sequence[int], batch_size: int = 32,
                   repeats: int = 3, seed: int = 0) -> LengthTimings:
    """Time a teacher-forced forward + backward pass and greedy generation of L tokens for each
    model (a `Seq2Seq` or a `TransformerSeq2Seq`) at each length L (see the module doc)."""
    if not models:
        raise ValueError("models: expected at least one model to time, got none")
    require_positive_int("batch_size", batch_size)
    require_positive_int("repeats", repeats)
    result = LengthTimings(list(lengths), batch_size,
                           {name: {} for name in models}, {name: {} for name in models})
    for length in lengths:
        require_positive_int("length", length)
        batch = digit_strings(batch_size, length, seed=seed + length)

        def training_pass(model):
            model.zero_grad(set_to_none=True)
            reversal_loss(model, batch).backward()

        def generation(model):
            with torch.no_grad():
                model.greedy_decode(batch.src, START, length, src_lengths=batch.src_lengths)

        for kind, store, work in (("training", result.training, training_pass),
                                  ("generation", result.generation, generation)):
            runs = {name: (lambda m=model, w=work: w(m)) for name, model in models.items()}
            times = interleaved_times(runs, repeats=repeats, warmup=1, seed=seed,
                                      clock=time.process_time)
            for name in models:
                store[name][length] = statistics.median(times[name])
    for model in models.values():
        model.zero_grad(set_to_none=True)
    return result
