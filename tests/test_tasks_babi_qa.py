"""course_pkg.tasks.babi_qa: errors, attention rates and ages are measured right, and
both models learn something in a few dozen steps."""

import math

import pytest
import torch
from torch import nn

from course_pkg.data.babi import VOCABULARY, BabiBatch, tokenize
from course_pkg.data.babi_splits import make_babi_data
from course_pkg.tasks.babi_qa import (
    QARun,
    error_by_age,
    flat_story_minibatches,
    format_runs,
    hop_attention,
    memory_network_error,
    memory_network_loss,
    story_minibatches,
    story_reader_error,
    story_reader_loss,
    supporting_fact_rates,
    train_memory_network,
    train_story_reader,
)
from course_pkg.models.memory_network import EndToEndMemoryNetwork
from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.story_reader import StoryReader
from course_pkg.training import train



@pytest.fixture(scope="module")
def data():
    return make_babi_data(num_train=60, num_test=40, max_sentences=6, seed=3)


class FixedAnswers(nn.Module):
    """A stand-in model whose answers are given: logits one-hot on ``answers``."""

    def __init__(self, answers):
        super().__init__()
        self.answers = answers

    def forward(self, *inputs):
        return nn.functional.one_hot(self.answers, len(VOCABULARY)).float()  # (N, V)


def test_errors_of_an_oracle_and_of_a_constant_answer(data):
    oracle = FixedAnswers(data.test.answers)
    assert memory_network_error(oracle, data.test) == 0.0
    kitchen = VOCABULARY.index("kitchen")
    constant = FixedAnswers(torch.full_like(data.test.answers, kitchen))
    expected = sum(story.answer != "kitchen" for story in data.test_stories) / len(data.test_stories)
    assert memory_network_error(constant, data.test) == pytest.approx(expected)
    assert story_reader_error(constant, data.test_tokens, data.test_token_lengths,
                              data.test.answers) == pytest.approx(expected)


def test_error_by_age_counts_the_ages_of_the_supporting_facts(data):
    table = error_by_age(FixedAnswers(data.test.answers), data.test)
    ages = [len(s.sentences) - 1 - s.supporting_fact for s in data.test_stories]
    assert [(age, count) for age, count, _ in table] == [(a, ages.count(a)) for a in sorted(set(ages))]
    assert all(wrong == 0 for _, _, wrong in table)


def test_supporting_fact_rates_on_hand_made_attention():
    attention = torch.tensor([
        [[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]],  # story 0: hop 1 on sentence 1, hop 2 on sentence 0
        [[0.2, 0.5, 0.3], [0.1, 0.8, 0.1]],  # story 1: both hops on sentence 1
    ])  # (N=2, K=2, S=3)
    assert supporting_fact_rates(attention, torch.tensor([1, 1])) == [1.0, 0.5]
    assert supporting_fact_rates(attention, torch.tensor([0, 2])) == [0.0, 0.5]
    with pytest.raises(ValueError, match="supporting"):
        supporting_fact_rates(attention, torch.tensor([1, 1, 1]))
    with pytest.raises(ValueError, match="attention"):
        supporting_fact_rates(attention[0], torch.tensor([1, 1]))


def test_memory_network_learns_and_training_is_deterministic(data):
    first = train_memory_network(data, embedding_size=12, steps=40, batch_size=16, seed=1)
    again = train_memory_network(data, embedding_size=12, steps=40, batch_size=16, seed=1)
    assert first.history.losses == again.history.losses and len(first.history.losses) == 40
    losses = first.history.losses
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert first.parameters == sum(p.numel() for p in first.model.parameters())
    attention = hop_attention(first.model, data.test)
    assert attention.shape == (40, 3, 6)
    torch.testing.assert_close(attention.sum(dim=2), torch.ones(40, 3))
    assert first.model.training  # hop_attention restores the mode
    unordered = train_memory_network(data, embedding_size=12, steps=1, batch_size=4,
                                     temporal_encoding=False, position_encoding=False)
    assert not unordered.model.use_temporal_encoding and not unordered.model.use_position_encoding
    assert "no temporal enc." in unordered.name and "no position enc." in unordered.name


def test_story_reader_learns(data):
    run = train_story_reader(data, embedding_size=8, hidden_size=12, steps=40, batch_size=16, seed=1)
    losses = run.history.losses
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert 0.0 <= run.test_error <= 1.0 and 0.0 <= run.train_error <= 1.0
    table = format_runs([run])
    assert "LSTM reading the story, H=12" in table and str(run.parameters) in table


def test_minibatches_draw_the_same_training_stories_for_both_models(data):
    stories = story_minibatches(data, 5, seed=7)
    flat = flat_story_minibatches(data, 5, seed=7)
    order = torch.Generator().manual_seed(7)  # the reference: the draws of random_minibatches
    for _ in range(3):
        indices = torch.randint(0, 60, (5,), generator=order)
        batch, (tokens, lengths, answers) = stories(), flat()
        assert isinstance(batch, BabiBatch) and batch.stories.shape[:2] == (5, 6)
        for name in BabiBatch._fields:
            assert torch.equal(getattr(batch, name), getattr(data.train, name)[indices])
        assert torch.equal(answers, batch.answers)
        # the flattened story, rebuilt from its text: the story's words, then the question's
        assert tokens.shape == (int(lengths.max()), 5)
        for b, i in enumerate(indices.tolist()):
            story = data.train_stories[i]
            words = [w for s in story.sentences for w in tokenize(s)] + tokenize(story.question)
            assert lengths[b].item() == len(words)
            assert [VOCABULARY[t] for t in tokens[: len(words), b].tolist()] == words
            assert torch.all(tokens[len(words):, b] == 0)


class GivenLogits(nn.Module):
    """A stand-in model that returns fixed logits, whatever it reads."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, *inputs):
        return self.logits


def test_losses_are_the_mean_negative_log_probability_of_the_answers(data):
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], dtype=torch.float64)  # (B=2, V=3)
    answers = torch.tensor([0, 1])
    # by hand: -ln(e^2 / (e^2 + 1 + e^-1)) and -ln(e^0.5 / (2 e^0.5 + e^3)), averaged
    first = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1)))
    second = -math.log(math.exp(0.5) / (2 * math.exp(0.5) + math.exp(3)))
    expected = (first + second) / 2
    batch = BabiBatch(data.train.stories[:2], data.train.questions[:2], answers,
                      data.train.supporting[:2], data.train.lengths[:2])
    assert memory_network_loss(GivenLogits(logits), batch).item() == pytest.approx(expected,
                                                                                    rel=1e-12)
    flat = (data.train_tokens[:, :2], data.train_token_lengths[:2], answers)
    assert story_reader_loss(GivenLogits(logits), flat).item() == pytest.approx(expected, rel=1e-12)


def test_the_parts_spelled_out_give_the_wrappers_runs_exactly(data):
    # chapter 12 assembles both experiments on the page from these parts; the wrappers must be
    # those recipes
    wrapped = train_memory_network(data, embedding_size=8, hops=2, steps=6, batch_size=8,
                                   seed=2, temporal_encoding=False)
    torch.manual_seed(2)
    model = EndToEndMemoryNetwork(len(VOCABULARY), 8, max_memories=6, hops=2,
                                  temporal_encoding=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = train(model, story_minibatches(data, 8, 2), memory_network_loss, optimizer, 6,
                    clip_norm=40.0, seed=2, progress=False)
    run = QARun(wrapped.name, model, count_parameters(model), history,
                memory_network_error(model, data.train), memory_network_error(model, data.test))
    assert history.losses == wrapped.history.losses and history.grad_norms == wrapped.history.grad_norms
    assert (run.parameters, run.train_error, run.test_error) == (
        wrapped.parameters, wrapped.train_error, wrapped.test_error)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), wrapped.model.parameters()))

    wrapped = train_story_reader(data, embedding_size=5, hidden_size=7, steps=6, batch_size=8,
                                 seed=2)
    torch.manual_seed(2)
    model = StoryReader(len(VOCABULARY), 5, 7)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = train(model, flat_story_minibatches(data, 8, 2), story_reader_loss, optimizer, 6,
                    clip_norm=1.0, seed=2, progress=False)
    assert history.losses == wrapped.history.losses and history.grad_norms == wrapped.history.grad_norms
    assert count_parameters(model) == wrapped.parameters
    assert story_reader_error(model, data.test_tokens, data.test_token_lengths,
                              data.test.answers) == wrapped.test_error
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), wrapped.model.parameters()))


def test_bad_input(data):
    with pytest.raises(ValueError, match="steps"):
        train_memory_network(data, steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_story_reader(data, batch_size=0)
    reader = StoryReader(len(VOCABULARY), 4, 4)
    with pytest.raises(ValueError, match="answers"):
        story_reader_error(reader, data.test_tokens, data.test_token_lengths, data.test.answers[:3])
