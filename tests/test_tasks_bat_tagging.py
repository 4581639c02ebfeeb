"""course_pkg.tasks.bat_tagging: accuracy is measured right, and reading the future pays."""

import pytest
import torch

from course_pkg.data.future_context import OTHER, TAGS, WORDS, ambiguous_mask, causal_ceiling
from course_pkg.tasks.bat_tagging import (
    bat_accuracy,
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
    uni = train_tagger(data, 16, bidirectional=False, steps=150, eval_every=50, seed=0)
    bi = train_tagger(data, 10, bidirectional=True, steps=150, eval_every=50, seed=0)
    assert not uni.bidirectional and bi.bidirectional
    assert bi.ambiguous_accuracy > 0.95 and bi.validation_accuracy > causal_ceiling(data.validation_words)
    assert uni.ambiguous_accuracy < 0.6  # about half: a coin flip on every "bat"
    assert bi.steps_to(0.95) is not None and uni.steps_to(0.95) is None
    assert [step for step, _, _ in bi.curve] == [0, 50, 100, 150]


def test_training_is_deterministic_and_depth_adds_parameters_and_time(data):
    first = train_tagger(data, 6, steps=6, eval_every=3, seed=4)
    second = train_tagger(data, 6, steps=6, eval_every=3, seed=4)
    assert first.history.losses == second.history.losses and len(first.history.losses) == 6
    runs = [train_tagger(data, 6, num_layers=depth, bidirectional=True, steps=4, eval_every=4)
            for depth in (1, 2)]
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


def page_run(data, hidden_size, seed, steps, num_layers=1, bidirectional=True, cell="lstm"):
    """One training run as chapter 7 assembles it on the page (its three training cells differ
    only in the hidden size, the depth, the direction and the cell)."""
    torch.manual_seed(seed)
    model = RecurrentTagger(len(WORDS), len(TAGS), embedding_dim=16, hidden_size=hidden_size,
                            num_layers=num_layers, bidirectional=bidirectional, cell=cell)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batches = tagging_batches(data, batch_size=64, seed=seed)
    history = train(model, batches, tagging_loss, optimizer, steps=steps, clip_norm=1.0,
                    seed=seed, progress=False,
                    eval_every=3, evaluate_fn=lambda m: bat_accuracy(m, data))
    return tagger_run(model, history, data, seed)


def assert_same_run(mine, theirs, steps):
    assert mine.name == theirs.name and mine.seed == theirs.seed
    assert mine.history.losses == theirs.history.losses
    assert mine.history.grad_norms == theirs.history.grad_norms
    assert [(step, value) for step, _, value in mine.curve] == \
        [(step, value) for step, _, value in theirs.curve]
    assert [step for step, _, _ in mine.curve] == sorted({*range(0, steps, 3), steps})
    assert (mine.parameters, mine.train_accuracy, mine.validation_accuracy,
            mine.ambiguous_accuracy) == (theirs.parameters, theirs.train_accuracy,
                                         theirs.validation_accuracy, theirs.ambiguous_accuracy)


def test_the_chapter_direction_cell_reproduces_train_tagger(data):
    """The direction experiment of chapter 7 written out, against `train_tagger`, tiny settings."""
    for seed in (0, 1):
        for bidirectional, hidden_size in ((False, 7), (True, 5)):
            mine = page_run(data, hidden_size, seed, steps=7, bidirectional=bidirectional)
            theirs = train_tagger(data, hidden_size, bidirectional=bidirectional, steps=7,
                                  eval_every=3, seed=seed)
            assert_same_run(mine, theirs, steps=7)


def test_the_chapter_bigru_cell_reproduces_train_tagger(data):
    """The BiGRU cell of chapter 7 (it replaced ``train_tagger(..., cell="gru")``)."""
    for seed in (0, 2):
        mine = page_run(data, 5, seed, steps=5, cell="gru")
        theirs = train_tagger(data, 5, bidirectional=True, cell="gru", steps=5, eval_every=3,
                              seed=seed)
        assert_same_run(mine, theirs, steps=5)
        assert isinstance(mine.model.recurrent, type(theirs.model.recurrent))


def test_the_chapter_depth_cell_reproduces_the_depth_sweep(data):
    """The depth cell of chapter 7: the same seed for every depth, as the former ``depth_sweep``
    (one `train_tagger` call per depth) did."""
    for num_layers in (1, 2, 3):
        mine = page_run(data, 4, seed=0, steps=4, num_layers=num_layers)
        theirs = train_tagger(data, 4, num_layers=num_layers, bidirectional=True, steps=4,
                              eval_every=3, seed=0)
        assert_same_run(mine, theirs, steps=4)
        assert mine.num_layers == num_layers
