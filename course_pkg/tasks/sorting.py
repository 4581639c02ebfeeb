"""Chapter 11's experiment: a pointer network learns to sort numbers.

The task (`course_pkg.data.algorithmic.sort_numbers`): N numbers drawn uniformly from [0, 1);
the answer at output step i is the *input position* of the i-th smallest number. The model
(`course_pkg.models.pointer.PointerNetwork`, Vinyals, Fortunato & Jaitly 2015) outputs at every
step a distribution over the N input positions, the attention weights of its decoder state over
the encoder states::

    p(C_i = j | C_1..C_{i-1}, x) = softmax_j(v^T tanh(W_1 e_j + W_2 d_i))

with the positions already chosen masked out (probability exactly 0) when ``mask_chosen``.

Training (the chapter assembles it from these parts and `course_pkg.training.train`): teacher
forcing with `pointer_loss`, the negative log-likelihood of the right position at every step;
Adam, clipping by global norm, a fixed number of steps, the learning rate divided by 10 after a
fraction of them (a step schedule: one call of ``train`` per rate, joined by `join_histories`).
Every step draws a fresh batch from `sorting_batches`; its length N is drawn uniformly from
``[min_length, max_length]`` (one length per batch), and every draw comes from its ``seed``.

Evaluation decodes greedily (the most probable position at each step, fed back) and reports

- *per-position accuracy*: the fraction of output steps that point at the right input;
- *whole-sequence accuracy*: the fraction of lists whose N pointers are all right, i.e. which
  come out exactly sorted;
- *repeat rate*: the fraction of lists in which some position was pointed at twice (so some
  other number is missing from the output). With the mask on it is 0 by construction.

`sorting_accuracy` can decode a trained model with or without the mask, to measure what the mask
does at test time; `analyse_mistakes` looks at the lists it gets wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from course_pkg.data.algorithmic import sort_numbers
from course_pkg.data.length_batches import varied_length_batches
from course_pkg.models.pointer import PointerNetwork, decoding_with_mask
from course_pkg.text_tables import text_table
from course_pkg.training import History, evaluating
from course_pkg.validation import (
    require_floating,
    require_ndim,
    require_positive_int,
)

__all__ = [
    "SortingScore",
    "SortingRun",
    "sorting_batches",
    "pointer_loss",
    "join_histories",
    "sorting_accuracy",
    "score_lengths",
    "MistakeReport",
    "analyse_mistakes",
    "format_sorting_table",
]


class SortingScore(NamedTuple):
    """What greedy decoding achieved on a set of lists (see the module doc)."""

    per_position: float  # fraction of output steps that point at the right input position
    whole_sequence: float  # fraction of lists sorted without a single mistake
    repeats: float  # fraction of lists in which some position is pointed at more than once


@dataclass
class SortingRun:
    """One trained pointer network and what was measured on it."""

    model: PointerNetwork
    history: History  # loss per step and training seconds
    min_length: int  # the list lengths it was trained on
    max_length: int
    # (N, decoded with the mask) -> score, filled by `score_lengths`
    scores: dict[tuple[int, bool], SortingScore] = field(default_factory=dict)


def sorting_batches(batch_size: int, min_length: int, max_length: int, seed: int = 0):
    """A function returning a fresh batch ``(inputs (N, B, 1), targets (N, B))`` at each call.

    Call k draws N uniformly from ``[min_length, max_length]`` and the numbers, both from a
    generator seeded with ``seed``.
    """
    return varied_length_batches(lambda n, length, seed: sort_numbers(n, length, seed=seed),
                                 batch_size, min_length, max_length, seed)


def pointer_loss(model: PointerNetwork, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Teacher-forced ``-mean_i log p(C_i = target_i)`` over all steps and lists."""
    inputs, targets = batch  # (N, B, 1), (N, B)
    log_probs, _ = model(inputs, targets)  # (N, B, N)
    return F.nll_loss(log_probs.flatten(0, 1), targets.flatten())


def join_histories(*parts: History) -> History:
    """One `History` for consecutive calls of `train` on the same model, e.g. the two phases of
    a step schedule (a call per learning rate).

    The losses and gradient norms are concatenated in the order given and the seconds added; an
    evaluation step of a later part is counted from the start of the first part (a part's step
    k is step ``k + steps of the parts before it``). The parts are not changed.
    """
    joined = History()
    for part in parts:
        if not isinstance(part, History):
            raise TypeError(f"parts: expected History objects (from train), got "
                            f"{type(part).__name__}")
        offset = len(joined.losses)  # steps taken by the parts before this one
        joined.eval_steps += [offset + step for step in part.eval_steps]
        joined.eval_losses += part.eval_losses
        joined.losses += part.losses
        joined.grad_norms += part.grad_norms
        joined.seconds += part.seconds
    return joined


@torch.no_grad()
def sorting_accuracy(model: PointerNetwork, inputs: torch.Tensor, targets: torch.Tensor,
                     mask_chosen: bool | None = None) -> SortingScore:
    """Decode ``inputs`` (N, B, 1) greedily and score the pointers against ``targets`` (N, B).

    ``mask_chosen``: decode with (True) or without (False) the mask over positions already
    chosen, whatever the model was trained with; None keeps the model's own setting.
    """
    require_ndim("inputs", inputs, 3, "time-major (N, B, 1) numbers")
    require_floating("inputs", inputs)
    require_ndim("targets", targets, 2, "time-major (N, B) positions")
    if tuple(targets.shape) != tuple(inputs.shape[:2]):
        raise ValueError(f"targets: expected shape {tuple(inputs.shape[:2])} (the N, B of "
                         f"inputs), got {tuple(targets.shape)}")
    with evaluating(model), decoding_with_mask(model, mask_chosen):
        _, pointers = model(inputs)  # (N, B) greedy choices
    correct = pointers == targets  # (N, B)
    in_order = pointers.sort(dim=0).values  # (N, B): a permutation becomes 0..N-1
    repeated = (in_order[1:] == in_order[:-1]).any(dim=0)  # (B,) some position twice
    return SortingScore(
        per_position=correct.float().mean().item(),
        whole_sequence=correct.all(dim=0).float().mean().item(),
        repeats=repeated.float().mean().item(),
    )


def score_lengths(run: SortingRun, lengths: Sequence[int], num_lists: int = 1000,
                  masks: Sequence[bool] = (True,), seed: int = 54321) -> dict:
    """`sorting_accuracy` on ``num_lists`` fresh lists of each length N in ``lengths``, decoded
    with each setting of the mask in ``masks``; stored in ``run.scores[(N, mask)]``.

    The test lists of length N come from ``seed + N``, a seed outside the training draws.
    """
    require_positive_int("num_lists", num_lists)
    for length in lengths:
        require_positive_int("length", length)
        inputs, targets = sort_numbers(num_lists, length, seed=seed + length)
        for mask in masks:
            run.scores[(length, bool(mask))] = sorting_accuracy(run.model, inputs, targets, mask)
    return run.scores


class MistakeReport(NamedTuple):
    """What the wrong lists of a greedy decoding have in common (see `analyse_mistakes`)."""

    lists: int  # lists decoded
    wrong: int  # lists not exactly sorted
    neighbour_swaps: int  # wrong lists that are the sorted list with two neighbours exchanged
    swap_gap: float  # median difference between the two exchanged numbers (nan if none)
    neighbour_gap: float  # median difference between neighbours in the sorted lists


@torch.no_grad()
def analyse_mistakes(model: PointerNetwork, inputs: torch.Tensor,
                     targets: torch.Tensor) -> MistakeReport:
    """Decode ``inputs`` (N, B, 1) greedily (with the model's mask setting) and classify the
    mistakes: how many wrong lists are the right answer with one pair of *neighbouring* outputs
    exchanged, and how close in value the exchanged numbers are, compared with the typical gap
    between neighbours of a sorted list."""
    require_ndim("inputs", inputs, 3, "time-major (N, B, 1) numbers")
    require_floating("inputs", inputs)
    if tuple(targets.shape) != tuple(inputs.shape[:2]):
        raise ValueError(f"targets: expected shape {tuple(inputs.shape[:2])} (the N, B of "
                         f"inputs), got {tuple(targets.shape)}")
    with evaluating(model):
        _, pointers = model(inputs)  # (N, B)
    numbers = inputs[:, :, 0]  # (N, B)
    batch_index = torch.arange(inputs.shape[1])
    swaps, swap_gaps = 0, []
    wrong_lists = (pointers != targets).any(dim=0).nonzero().flatten().tolist()
    for b in wrong_lists:
        differ = (pointers[:, b] != targets[:, b]).nonzero().flatten().tolist()
        if len(differ) != 2 or differ[1] != differ[0] + 1:
            continue  # not two neighbouring steps
        first, second = targets[differ[0], b], targets[differ[1], b]  # the right positions
        if pointers[differ[0], b] == second and pointers[differ[1], b] == first:  # exchanged
            swaps += 1
            swap_gaps.append(abs(numbers[first, b] - numbers[second, b]).item())
    in_order = numbers[targets, batch_index]  # (N, B) each list sorted
    neighbour_gaps = (in_order[1:] - in_order[:-1]).flatten()  # (N-1) * B
    return MistakeReport(
        lists=inputs.shape[1],
        wrong=len(wrong_lists),
        neighbour_swaps=swaps,
        swap_gap=float(np.median(swap_gaps)) if swap_gaps else float("nan"),
        neighbour_gap=float(np.median(neighbour_gaps.numpy())),
    )


def format_sorting_table(runs: Sequence[SortingRun]) -> str:
    """An aligned text table: one row per (run, N, mask setting at decoding).

    "train mask" says whether the run was trained with the mask over chosen positions, "decode
    mask" whether it was on when the row was measured.
    """
    header = ["trained on N", "train mask", "steps", "seconds", "test N", "decode mask",
              "per position", "whole list", "repeats"]
    rows = []
    for run in runs:
        trained = (f"{run.min_length}" if run.min_length == run.max_length
                   else f"{run.min_length}..{run.max_length}")
        for (length, mask), score in sorted(run.scores.items(),
                                            key=lambda item: (item[0][0], not item[0][1])):
            rows.append([trained, "on" if run.model.mask_chosen else "off",
                         str(len(run.history.losses)), f"{run.history.seconds:.1f}", str(length),
                         "on" if mask else "off", f"{score.per_position:.3f}",
                         f"{score.whole_sequence:.3f}", f"{score.repeats:.3f}"])
    return text_table(header, rows, rule=True)
