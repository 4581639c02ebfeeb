"""course_pkg.tasks.ntm_copy: the loss, the bit error and the sizes are right, and both
copiers learn something in a few dozen steps."""

import math

import pytest
import torch
from torch import nn

from course_pkg.data.algorithmic import ntm_copy_task
from course_pkg.models.copy_lstm import CopyLSTM
from course_pkg.models.ntm import NeuralTuringMachine
from course_pkg.models.parameter_count import count_parameters
from course_pkg.tasks.ntm_copy import (
    CopyRun,
    bit_error,
    copy_batches,
    copy_loss,
    format_bit_errors,
    matching_lstm_size,
    train_copier,
)
from course_pkg.training import train



def seeded_ntm(bits: int, seed: int = 0, **sizes) -> NeuralTuringMachine:
    """An NTM for ``bits``-bit copying (``bits + 1`` inputs with the delimiter), as the chapter
    builds it: the seed, then the model."""
    torch.manual_seed(seed)
    return NeuralTuringMachine(bits + 1, bits, **sizes)


def seeded_lstm(bits: int, hidden_size: int, seed: int = 0) -> CopyLSTM:
    torch.manual_seed(seed)
    return CopyLSTM(bits + 1, bits, hidden_size)


class PerfectCopier(nn.Module):
    """Logits of +-5 that spell out the copy (read from the input), zero before the copy phase."""

    def __init__(self, bits, wrong_bits=0):
        super().__init__()
        self.bits, self.wrong_bits = bits, wrong_bits

    def forward(self, inputs):
        length = (inputs.shape[0] - 1) // 2
        logits = torch.zeros(inputs.shape[0], inputs.shape[1], self.bits)
        logits[length + 1:] = 5 * (2 * inputs[:length, :, : self.bits] - 1)
        logits[length + 1:, :, : self.wrong_bits] *= -1  # flip the first wrong_bits channels
        return logits


class AlwaysZero(nn.Module):
    """Predicts 0 for every bit (negative logits)."""

    def forward(self, inputs):
        return torch.full((inputs.shape[0], inputs.shape[1], 4), -1.0)


def test_copy_batches_are_seeded_and_keep_to_the_length_range():
    first, second = copy_batches(4, 2, 3, bits=3, seed=5), copy_batches(4, 2, 3, bits=3, seed=5)
    lengths = set()
    for _ in range(12):
        (x1, y1, m1), (x2, y2, m2) = first(), second()
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(m1, m2)
        length = (x1.shape[0] - 1) // 2
        assert x1.shape == (2 * length + 1, 4, 4) and y1.shape == (2 * length + 1, 4, 3)
        lengths.add(length)
    assert lengths == {2, 3}


def test_copy_loss_is_the_binary_cross_entropy_on_the_output_steps():
    torch.manual_seed(0)
    batch = ntm_copy_task(3, 4, bits=5, seed=1)
    inputs, targets, mask = batch
    model = CopyLSTM(6, 5, 7)
    p = torch.sigmoid(model(inputs))  # (T, B, 5)
    by_hand = -(targets * p.log() + (1 - targets) * (1 - p).log())  # (T, B, 5)
    expected = by_hand[mask].mean()  # only the last L steps
    torch.testing.assert_close(copy_loss(model, batch), expected)


def test_bit_error_of_a_perfect_and_of_a_partly_wrong_copier():
    assert bit_error(PerfectCopier(4), length=6, bits=4, num_sequences=20) == 0.0
    assert bit_error(PerfectCopier(4, wrong_bits=1), length=6, bits=4, num_sequences=20) == 0.25
    _, targets, mask = ntm_copy_task(20, 6, bits=4, seed=10_000 + 6)  # the test data it uses
    assert bit_error(AlwaysZero(), length=6, bits=4, num_sequences=20) == pytest.approx(
        targets[mask].mean().item())  # every 1 is missed


def test_matching_lstm_size_is_the_closest_parameter_count():
    for bits, target in ((4, 7640), (6, 3000), (2, 500)):
        hidden = matching_lstm_size(target, bits)
        gap = abs(count_parameters(CopyLSTM(bits + 1, bits, hidden)) - target)
        for other in (hidden - 1, hidden + 1):
            if other >= 1:
                assert gap <= abs(count_parameters(CopyLSTM(bits + 1, bits, other)) - target)


def test_ntm_and_lstm_learn_and_training_is_deterministic():
    kwargs = dict(steps=60, batch_size=8, max_length=2, bits=3, learning_rate=1e-2, seed=2)
    ntm_run = train_copier(seeded_ntm(3, controller_size=16, memory_slots=8, memory_width=6),
                           "NTM", **kwargs)
    again = train_copier(seeded_ntm(3, controller_size=16, memory_slots=8, memory_width=6),
                         "NTM", **kwargs)
    assert ntm_run.history.losses == again.history.losses
    lstm_run = train_copier(seeded_lstm(3, 16), "LSTM", **kwargs)
    for run in (ntm_run, lstm_run):
        losses = run.history.losses
        assert len(losses) == 60 and all(math.isfinite(v) for v in losses)
        assert sum(losses[-8:]) / 8 < 0.8 * math.log(2)  # below chance, 0.693 nats per bit
        assert run.parameters == count_parameters(run.model)


def test_the_chapters_recipe_reproduces_train_copier():
    """Chapter 13's cell (models, copy_batches, Adam, train) gives train_copier's numbers."""
    def recipe():
        ntm = seeded_ntm(3, controller_size=12, memory_slots=6, memory_width=5, seed=1)
        lstm = seeded_lstm(3, 10, seed=1)
        runs = []
        for name, model, steps, lr in (("NTM", ntm, 12, 5e-3), ("LSTM", lstm, 20, 1e-2)):
            batches = copy_batches(batch_size=6, min_length=1, max_length=3, bits=3, seed=1)
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            history = train(model, batches, copy_loss, optimizer, steps=steps, clip_norm=10.0,
                            seed=1, progress=False)
            runs.append(CopyRun(name, model, count_parameters(model), history))
        return runs

    ntm = seeded_ntm(3, controller_size=12, memory_slots=6, memory_width=5, seed=1)
    lstm = seeded_lstm(3, 10, seed=1)
    settings = dict(batch_size=6, min_length=1, max_length=3, bits=3, clip_norm=10.0, seed=1)
    expected = [train_copier(ntm, "NTM", steps=12, learning_rate=5e-3, **settings),
                train_copier(lstm, "LSTM", steps=20, learning_rate=1e-2, **settings)]
    for mine, theirs in zip(recipe(), expected):
        assert mine.name == theirs.name and mine.parameters == theirs.parameters
        assert mine.history.losses == theirs.history.losses
        assert mine.history.grad_norms == theirs.history.grad_norms
        for a, b in zip(mine.model.parameters(), theirs.model.parameters()):
            assert torch.equal(a, b)
        assert bit_error(mine.model, 4, bits=3, num_sequences=20) == bit_error(
            theirs.model, 4, bits=3, num_sequences=20)


def test_format_bit_errors():
    table = format_bit_errors({"NTM": [0.0, 0.0123], "LSTM": [0.1, 0.4]}, [5, 10], trained_up_to=5)
    lines = table.splitlines()
    assert "NTM" in lines[0] and "LSTM" in lines[0]
    assert "1.23%" in lines[3] and "40.00%" in lines[3] and "longer than any" in lines[3]
    assert "longer than any" not in lines[2]
    with pytest.raises(ValueError, match="errors"):
        format_bit_errors({"NTM": [0.0]}, [5, 10], trained_up_to=5)


def test_bad_input():
    with pytest.raises(ValueError, match="max_length"):
        copy_batches(4, min_length=5, max_length=3)
    with pytest.raises(ValueError, match="steps"):
        train_copier(seeded_lstm(4, 40), "LSTM", steps=0)
    with pytest.raises(ValueError, match="length"):
        bit_error(PerfectCopier(4), length=0)
