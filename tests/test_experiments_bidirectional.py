"""course_pkg.experiments.bidirectional: accuracy is measured right, and reading the future pays."""

import pytest
import torch

from course_pkg.data.future_context import OTHER, TAGS, WORDS, ambiguous_mask, causal_ceiling
from course_pkg.experiments.bidirectional import (
    compare_directions,
    depth_sweep,
    format_runs,
    make_tagging_data,
    tagging_accuracy,
    train_tagger,
)
from course_pkg.models.tagger import RecurrentTagger


class FixedTagger(RecurrentTagger):
    """Scores that pick given tags: the true ones (an oracle) or always OTHER."""

    def __init__(self, answer):
        super().__init__(len(WORDS), len(TAGS))
        self.answer = answer

    def forward(self, words, lengths=None):
        return torch.nn.functional.one_hot(self.answer(words), len(TAGS)).float()  # (T, N, K)



@pytest.fixture(scope="module")
def data():
    return make_tagging_data(num_train=400, num_validation=300, length=12, seed=0)


def test_accuracy_of_an_oracle_and_of_always_other(data):
    oracle = FixedTagger(lambda words: data.validation_tags)
    assert tagging_accuracy(oracle, data.validation_words, data.validation_tags) == (1.0, 1.0)
    lazy = FixedTagger(lambda words: torch.full_like(words, OTHER))
    token, ambiguous = tagging_accuracy(lazy, data.validation_words, data.validation_tags)
    share_of_bats = ambiguous_mask(data.validation_words).float().mean().item()
    assert token == pytest.approx(1 - share_of_bats) and ambiguous == 0.0


def test_bidirectional_beats_the_causal_ceiling_one_directional_cannot(data):
    uni, bi = compare_directions(data, seeds=(0,), one_directional_hidden=16,
                                 bidirectional_hidden=10, steps=150, eval_every=50)
    assert not uni.bidirectional and bi.bidirectional
    assert bi.ambiguous_accuracy > 0.95 and bi.validation_accuracy > causal_ceiling(data.validation_words)
    assert uni.ambiguous_accuracy < 0.6  # about half: a coin flip on every "bat"
    assert bi.steps_to(0.95) is not None and uni.steps_to(0.95) is None
    assert [step for step, _, _ in bi.curve] == [0, 50, 100, 150]


def test_training_is_deterministic_and_depth_adds_parameters_and_time(data):
    first = train_tagger(data, 6, steps=6, eval_every=3, seed=4)
    second = train_tagger(data, 6, steps=6, eval_every=3, seed=4)
    assert first.history.losses == second.history.losses and len(first.history.losses) == 6
    runs = depth_sweep(data, depths=(1, 2), hidden_size=6, steps=4, eval_every=4)
    assert [run.num_layers for run in runs] == [1, 2]
    assert runs[0].parameters < runs[1].parameters
    assert all(run.ms_per_step > 0 for run in runs)
    table = format_runs(runs)
    assert "bidirectional, 2 layers, H=6" in table and f"{runs[1].parameters}" in table


def test_bad_input(data):
    with pytest.raises(ValueError, match="steps"):
        train_tagger(data, 4, steps=0)
    with pytest.raises(ValueError, match="eval_every"):
        train_tagger(data, 4, steps=2, eval_every=0)
    with pytest.raises(ValueError, match="tags: expected the shape of words"):
        tagging_accuracy(RecurrentTagger(len(WORDS), len(TAGS)), data.validation_words,
                         data.validation_tags[:, :3])
