"""course_pkg.experiments.bidirectional: accuracy is measured right, and reading the future pays."""

import pytest
import torch

from course_pkg.data.future_context import OTHER, TAGS, WORDS, ambiguous_mask, causal_ceiling
from course_pkg.experiments.bidirectional import (
    bat_accuracy,
    compare_directions,
    depth_sweep,
    format_runs,
    make_tagging_data,
    tagger_run,
    tagging_accuracy,
    tagging_batches,
    tagging_loss,
    train_tagger,
)
from course_pkg.models.tagger import RecurrentTagger
from course_pkg.training import History, train


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


def test_batches_are_seeded_columns_of_the_training_set(data):
    words, tags = tagging_batches(data, batch_size=5, seed=3)()
    again_words, again_tags = tagging_batches(data, batch_size=5, seed=3)()
    assert words.shape == tags.shape == (data.train_words.shape[0], 5)
    assert torch.equal(words, again_words) and torch.equal(tags, again_tags)
    for b in range(5):  # every column is a whole training sentence with its tags
        matches = (data.train_words == words[:, b:b + 1]).all(dim=0) & \
            (data.train_tags == tags[:, b:b + 1]).all(dim=0)
        assert matches.any()
    with pytest.raises(ValueError, match="batch_size"):
        tagging_batches(data, batch_size=0)


def test_loss_and_bat_accuracy(data):
    oracle = FixedTagger(lambda words: data.validation_tags)
    assert bat_accuracy(oracle, data) == 1.0
    torch.manual_seed(0)
    model = RecurrentTagger(len(WORDS), len(TAGS), hidden_size=5)
    batch = (data.train_words[:, :4], data.train_tags[:, :4])  # (T, 4) each
    scores = model(batch[0])  # (T, 4, K)
    expected = torch.nn.functional.cross_entropy(scores.reshape(-1, len(TAGS)), batch[1].reshape(-1))
    assert torch.allclose(tagging_loss(model, batch), expected)
    assert bat_accuracy(model, data) == tagging_accuracy(model, data.validation_words,
                                                         data.validation_tags)[1]


def test_tagger_run_needs_evaluations(data):
    model = RecurrentTagger(len(WORDS), len(TAGS), hidden_size=5)
    with pytest.raises(ValueError, match="history"):
        tagger_run(model, History(losses=[1.0], grad_norms=[1.0], seconds=0.1), data, seed=0)


def test_the_chapter_recipe_reproduces_compare_directions(data):
    """The training cell of chapter 7 written out, against the wrapper, on a tiny setting."""
    runs = []
    for seed in (0, 1):
        for bidirectional, hidden_size in ((False, 7), (True, 5)):
            torch.manual_seed(seed)
            model = RecurrentTagger(len(WORDS), len(TAGS), embedding_dim=16, hidden_size=hidden_size,
                                    bidirectional=bidirectional)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
            batches = tagging_batches(data, batch_size=64, seed=seed)
            history = train(model, batches, tagging_loss, optimizer, steps=7, clip_norm=1.0,
                            seed=seed, progress=False,
                            eval_every=3, evaluate_fn=lambda m: bat_accuracy(m, data))
            runs.append(tagger_run(model, history, data, seed))
    wrapped = compare_directions(data, seeds=(0, 1), one_directional_hidden=7,
                                 bidirectional_hidden=5, steps=7, eval_every=3)
    for mine, theirs in zip(runs, wrapped, strict=True):
        assert mine.name == theirs.name and mine.seed == theirs.seed
        assert mine.history.losses == theirs.history.losses
        assert mine.history.grad_norms == theirs.history.grad_norms
        assert [(step, value) for step, _, value in mine.curve] == \
            [(step, value) for step, _, value in theirs.curve]
        assert [step for step, _, _ in mine.curve] == [0, 3, 6, 7]
        assert (mine.parameters, mine.train_accuracy, mine.validation_accuracy,
                mine.ambiguous_accuracy) == (theirs.parameters, theirs.train_accuracy,
                                             theirs.validation_accuracy, theirs.ambiguous_accuracy)
