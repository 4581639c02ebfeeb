"""course_pkg.tasks.sorting: the three scores are counted right, the mask setting
at decoding is honoured and restored, and the chapter's training function (run from the page's
own text) reduces the loss deterministically and gives the numbers of the recipe it replaced."""

import math
from pathlib import Path

import pytest
import torch

from course_pkg.data.algorithmic import sort_numbers
from course_pkg.tasks.sorting import (
    SortingRun,
    SortingScore,
    analyse_mistakes,
    format_sorting_table,
    join_histories,
    pointer_loss,
    score_lengths,
    sorting_accuracy,
    sorting_batches,
)
from course_pkg.models.pointer import PointerNetwork
from course_pkg.training import History, train

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "part4" / "10_pointer_networks.md"


def page_sorter(min_length=5, max_length=None, steps=1000, batch_size=256, hidden_size=64,
                learning_rate=1e-2, drop_at=0.7, clip_norm=1.0, seed=0):
    """The chapter's ``train_pointer_sorter``, cut from the page and run on these settings (the
    globals it reads), with the chapter's imports."""
    text = CHAPTER.read_text()
    start = text.index("def train_pointer_sorter(")
    end = text.index("\n\n", start)
    namespace = dict(torch=torch, PointerNetwork=PointerNetwork, sorting_batches=sorting_batches,
                     train=train, pointer_loss=pointer_loss, join_histories=join_histories,
                     SortingRun=SortingRun, min_length=min_length,
                     max_length=min_length if max_length is None else max_length, steps=steps,
                     batch_size=batch_size, hidden_size=hidden_size, learning_rate=learning_rate,
                     drop_at=drop_at, clip_norm=clip_norm, seed=seed)
    exec(text[start:end], namespace)
    return namespace["train_pointer_sorter"]


def previous_train_sorter(min_length, max_length, steps, batch_size, hidden_size, learning_rate,
                          drop_at, clip_norm, seed, mask_chosen=True, score="additive"):
    """The package recipe the chapter called before it assembled the training on the page
    (``train_sorter``, with a drop strictly inside the run), kept as the reference."""
    torch.manual_seed(seed)
    model = PointerNetwork(1, hidden_size, mask_chosen=mask_chosen, score=score)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    batches = sorting_batches(batch_size, min_length, max_length, seed=seed)
    first_steps = round(drop_at * steps)
    history = History()
    for phase, phase_steps in enumerate((first_steps, steps - first_steps)):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate / 10**phase
        part = train(model, batches, pointer_loss, optimizer, phase_steps, clip_norm=clip_norm,
                     seed=seed if phase == 0 else None, progress=False)
        history = join_histories(history, part)
    return SortingRun(model, history, min_length, max_length)



class ScriptedPointer(PointerNetwork):
    """A pointer network whose greedy pointers are given; it records the mask it decoded with."""

    def __init__(self, pointers):
        super().__init__(1, 4)
        self.pointers, self.masks_seen = pointers, []

    def forward(self, inputs, targets=None):
        self.masks_seen.append(self.mask_chosen)
        return None, self.pointers


def test_batches_are_seeded_sorted_and_of_one_length_each():
    first, second = sorting_batches(3, 4, 8, seed=2), sorting_batches(3, 4, 8, seed=2)
    lengths = set()
    for _ in range(20):
        (x, y), (x2, y2) = first(), second()
        assert torch.equal(x, x2) and torch.equal(y, y2)
        assert x.shape[1:] == (3, 1) and y.shape == x.shape[:2]
        for b in range(3):  # the targets are the argsort: reading them gives a sorted list
            in_order = x[y[:, b], b, 0]
            assert torch.all(in_order[1:] >= in_order[:-1])
        lengths.add(x.shape[0])
    assert lengths <= set(range(4, 9)) and len(lengths) > 2


def test_scores_per_position_whole_list_and_repeats():
    # column b holds list b's answer (a permutation of the N = 4 positions)
    targets = torch.tensor([[0, 1, 2, 3], [2, 0, 1, 3], [1, 3, 0, 2], [3, 2, 1, 0]]).t()
    pointers = targets.clone()
    pointers[:, 1] = torch.tensor([2, 0, 3, 1])  # list 1: a wrong permutation, 2 of 4 right
    pointers[:, 2] = torch.tensor([1, 3, 0, 1])  # list 2: repeats position 1, 3 of 4 right
    pointers[:, 3] = torch.tensor([3, 3, 3, 3])  # list 3: repeats position 3, 1 of 4 right
    inputs = torch.rand(4, 4, 1)
    model = ScriptedPointer(pointers)
    score = sorting_accuracy(model, inputs, targets)
    assert isinstance(score, SortingScore)
    assert score.per_position == pytest.approx((4 + 2 + 3 + 1) / 16)
    assert score.whole_sequence == pytest.approx(1 / 4)
    assert score.repeats == pytest.approx(2 / 4)


def test_mistakes_are_classified_and_the_gaps_measured():
    numbers = torch.tensor([[0.5, 0.1, 0.3, 0.32], [0.9, 0.2, 0.6, 0.4], [0.1, 0.0, 0.7, 0.2]])
    inputs = numbers.t().unsqueeze(2).contiguous()  # (N=4, B=3, 1), column b = list b
    targets = numbers.t().argsort(dim=0)  # (N, B)
    pointers = targets.clone()
    # list 0 sorted: 0.1 0.3 0.32 0.5 -> exchange the neighbours 0.3 and 0.32 (gap 0.02)
    pointers[1, 0], pointers[2, 0] = targets[2, 0], targets[1, 0]
    # list 1 sorted: 0.2 0.4 0.6 0.9 -> exchange the first and the last (not neighbours)
    pointers[0, 1], pointers[3, 1] = targets[3, 1], targets[0, 1]
    report = analyse_mistakes(ScriptedPointer(pointers), inputs, targets)  # list 2 is right
    assert report.lists == 3 and report.wrong == 2 and report.neighbour_swaps == 1
    assert report.swap_gap == pytest.approx(0.02, abs=1e-6)
    gaps = [0.2, 0.02, 0.18, 0.2, 0.2, 0.3, 0.1, 0.1, 0.5]  # neighbours of the three lists
    assert report.neighbour_gap == pytest.approx(torch.tensor(gaps).median().item(), abs=1e-6)
    perfect = analyse_mistakes(ScriptedPointer(targets), inputs, targets)
    assert perfect.wrong == 0 and perfect.neighbour_swaps == 0 and math.isnan(perfect.swap_gap)


def test_decoding_with_and_without_the_mask_restores_the_setting():
    torch.manual_seed(0)
    inputs, targets = sort_numbers(200, 6, seed=1)
    model = PointerNetwork(1, 8, mask_chosen=True)
    masked = sorting_accuracy(model, inputs, targets)
    assert masked.repeats == 0.0  # the mask makes every output a permutation
    unmasked = sorting_accuracy(model, inputs, targets, mask_chosen=False)
    assert model.mask_chosen is True and model.training  # restored
    with torch.no_grad():  # the unmasked decoding, by hand: one position at a time, no mask
        model.mask_chosen = False
        _, pointers = model(inputs)
        model.mask_chosen = True
    distinct = torch.tensor([len(set(p.tolist())) for p in pointers.t()])
    assert unmasked.repeats == pytest.approx((distinct < 6).float().mean().item())
    assert unmasked.repeats > 0  # an untrained network does point twice
    scripted = ScriptedPointer(targets)
    sorting_accuracy(scripted, inputs, targets, mask_chosen=False)
    sorting_accuracy(scripted, inputs, targets)
    assert scripted.masks_seen == [False, True] and scripted.mask_chosen is True


def test_a_few_dozen_steps_reduce_the_loss_deterministically():
    settings = dict(min_length=4, max_length=6, steps=40, batch_size=32, hidden_size=16,
                    learning_rate=1e-2, seed=4)
    run = page_sorter(**settings)()
    again = page_sorter(**settings)()
    assert run.history.losses == again.history.losses and len(run.history.losses) == 40
    assert sum(run.history.losses[-5:]) / 5 < 0.7 * sum(run.history.losses[:5]) / 5
    inputs, targets = sort_numbers(8, 5, seed=3)  # the loss is the teacher-forced NLL
    log_probs, _ = run.model(inputs, targets)
    expected = -log_probs.gather(2, targets.unsqueeze(2)).mean()
    assert torch.allclose(pointer_loss(run.model, (inputs, targets)), expected)

    scores = score_lengths(run, (4, 6), num_lists=50, masks=(True, False))
    assert set(scores) == {(4, True), (4, False), (6, True), (6, False)}
    assert scores[(4, True)].repeats == 0.0
    table = format_sorting_table([run])
    assert "4..6" in table and f"{scores[(6, False)].per_position:.3f}" in table
    assert table.count("\n") == 1 + 4  # header, rule, four rows


def test_the_score_and_the_mask_are_passed_to_the_network_and_the_defaults_unchanged():
    train_pointer_sorter = page_sorter(min_length=4, steps=3, batch_size=8, hidden_size=8, seed=2)
    additive, default = train_pointer_sorter(score="additive"), train_pointer_sorter()
    assert default.model.score == "additive" and default.model.mask_chosen is True
    assert additive.history.losses == default.history.losses  # same weights, same batches
    dot = train_pointer_sorter(score="dot")
    assert dot.model.score == "dot" and len(dot.history.losses) == 3
    assert not any(name.startswith("pointer.") for name, _ in dot.model.named_parameters())
    assert train_pointer_sorter(mask_chosen=False).model.mask_chosen is False


def test_the_learning_rate_drops_by_ten_after_the_given_fraction_of_steps():
    settings = dict(min_length=3, max_length=4, steps=10, batch_size=8, hidden_size=6, seed=1)
    late = page_sorter(drop_at=0.9, **settings)().history.losses  # nine steps at the full rate
    dropped = page_sorter(drop_at=0.5, **settings)().history.losses
    assert len(dropped) == 10
    # the first five steps (and the loss of step 6, measured before its update) are the same
    assert dropped[:6] == late[:6] and dropped[6:] != late[6:]


def test_joined_histories_run_on_and_count_evaluations_from_the_first_step():
    first = History(losses=[3.0, 2.0, 1.5], grad_norms=[9.0, 4.0, 2.0], seconds=0.25,
                    eval_steps=[0, 3], eval_losses=[3.1, 1.6])
    second = History(losses=[1.25, 1.0], grad_norms=[1.5, 1.0], seconds=0.5,
                     eval_steps=[0, 2], eval_losses=[1.6, 1.1])
    joined = join_histories(first, second)
    assert joined.losses == [3.0, 2.0, 1.5, 1.25, 1.0]
    assert joined.grad_norms == [9.0, 4.0, 2.0, 1.5, 1.0]
    assert joined.seconds == 0.75
    # the second part's steps 0 and 2 are steps 3 and 5 of the whole run
    assert joined.eval_steps == [0, 3, 3, 5] and joined.eval_losses == [3.1, 1.6, 1.6, 1.1]
    assert first.losses == [3.0, 2.0, 1.5] and second.eval_steps == [0, 2]  # left as they were
    assert join_histories() == History() and join_histories(second) == second
    with pytest.raises(TypeError, match="parts"):
        join_histories(first, [1.0, 2.0])


@pytest.mark.parametrize("variant", [dict(), dict(mask_chosen=False), dict(score="dot")])
def test_the_page_s_training_gives_the_previous_recipe_s_run_exactly(variant):
    # chapter 11 assembles the experiment on the page: the step schedule is two calls of train,
    # the second at a tenth of the rate on the same batch generator, not reseeded; its variants
    # change one argument of the page's function
    settings = dict(min_length=3, max_length=5, steps=10, batch_size=8, hidden_size=6,
                    learning_rate=1e-2, drop_at=0.7, clip_norm=1.0, seed=5)
    previous = previous_train_sorter(**settings, **variant)
    page = page_sorter(**settings)(**variant)
    assert page.history.losses == previous.history.losses and len(page.history.losses) == 10
    assert page.history.grad_norms == previous.history.grad_norms
    assert (page.min_length, page.max_length) == (3, 5)
    for mine, theirs in zip(page.model.parameters(), previous.model.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    score_lengths(page, (4,), num_lists=20, masks=(True, False))
    score_lengths(previous, (4,), num_lists=20, masks=(True, False))
    assert page.scores == previous.scores


def test_bad_input():
    model = PointerNetwork(1, 4)
    inputs, targets = sort_numbers(3, 5)
    with pytest.raises(ValueError, match="max_length"):
        sorting_batches(4, 6, 5)
    with pytest.raises(ValueError, match="inputs"):
        sorting_accuracy(model, inputs[:, :, 0], targets)
    with pytest.raises(TypeError, match="inputs"):
        sorting_accuracy(model, inputs.long(), targets)
    with pytest.raises(ValueError, match="targets"):
        sorting_accuracy(model, inputs, targets[:4])
    with pytest.raises(TypeError, match="mask_chosen"):
        sorting_accuracy(model, inputs, targets, mask_chosen="yes")
    with pytest.raises(ValueError, match="num_lists"):
        score_lengths(SortingRun(model, History(), 5, 5), (5,), num_lists=0)
