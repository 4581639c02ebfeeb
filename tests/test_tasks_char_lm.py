"""course_pkg.tasks.char_lm: the measures are right, the state is carried, training works."""

import collections
import math

import pytest
import torch

from course_pkg.data.text import BPTTBatches, CharCorpus
from course_pkg.tasks.char_lm import (
    CarriedStateLoss,
    CharLMConfig,
    CharLMResult,
    cross_entropy_nats,
    nats_to_bits,
    train_char_lm,
    unigram_entropy_bits,
)
from course_pkg.models.char_lm import CharLM
from course_pkg.training import train



def test_unigram_entropy_against_counting():
    text = "abracadabra, said the cat"
    ids = torch.tensor([ord(c) for c in text])
    counts = collections.Counter(text)
    expected = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    assert unigram_entropy_bits(ids, 128) == pytest.approx(expected, rel=1e-12)
    assert unigram_entropy_bits(torch.arange(4).repeat(10), 4) == pytest.approx(2.0)
    assert nats_to_bits(math.log(2.0)) == pytest.approx(1.0)


def test_cross_entropy_of_a_unigram_model_is_the_unigram_entropy():
    """A model whose logits are the log-frequencies, whatever the context, scores the entropy."""
    torch.manual_seed(0)
    ids = torch.randint(0, 6, (1 + 4 * 50,)) ** 2 % 6  # skewed frequencies; (N - 1) % B == 0
    model = CharLM(6, 3, 5).double()
    targets = ids[1:]
    frequencies = torch.bincount(targets, minlength=6).double() / targets.numel()
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(torch.log(frequencies.clamp_min(1e-300)))
    nats = cross_entropy_nats(model, ids, seq_len=7, batch_size=4)
    assert nats == pytest.approx(unigram_entropy_bits(targets, 6) * math.log(2), rel=1e-9)


def test_cross_entropy_carries_the_state_through_each_stream():
    torch.manual_seed(1)
    model = CharLM(5, 3, 6).double()
    ids = torch.randint(0, 5, (61,))
    short = cross_entropy_nats(model, ids, seq_len=3, batch_size=3)
    # the outside reference: each whole stream through the model at once, mean -log p of targets
    batches = BPTTBatches(ids, 1000, 3)
    inputs, targets = next(iter(batches))
    logits, _ = model(inputs)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1)).item()
    assert short == pytest.approx(expected, rel=1e-10)


def test_carried_state_loss_continues_the_previous_batch_and_detaches():
    torch.manual_seed(2)
    model = CharLM(5, 3, 6).double()
    ids = torch.randint(0, 4, (2, 8, 3))  # two consecutive (T=8, B=3) chunks of inputs
    ids[0, 0, 0] = 4  # character 4 occurs only in the first chunk
    targets = torch.randint(0, 5, (2, 8, 3))
    loss_fn = CarriedStateLoss()
    first = loss_fn(model, (ids[0], targets[0]))
    second = loss_fn(model, (ids[1], targets[1]))
    assert not loss_fn.state[0].requires_grad and not loss_fn.state[1].requires_grad
    whole, _ = model.loss(torch.cat([ids[0], ids[1]]), torch.cat([targets[0], targets[1]]))
    assert ((first + second) / 2).item() == pytest.approx(whole.item(), rel=1e-10)
    second.backward()  # only through the second chunk: the carried state is a constant
    assert torch.all(model.embedding.weight.grad[4] == 0)
    model.zero_grad()
    whole.backward()  # without the cut, the gradient does reach character 4
    assert model.embedding.weight.grad[4].abs().sum() > 0


def test_training_beats_the_unigram_baseline_and_is_deterministic():
    corpus = CharCorpus("the cat sat on the mat and the dog sat on the log. " * 40, end_token=False)
    config = CharLMConfig(embedding_dim=8, hidden_size=24, seq_len=16, batch_size=8, steps=40,
                          learning_rate=1e-2, seed=0)
    first = train_char_lm(corpus, config)
    short = CharLMConfig(**{**config.__dict__, "steps": 4})
    assert train_char_lm(corpus, short).history.losses == train_char_lm(corpus, short).history.losses
    assert train_char_lm(corpus, short).history.losses == first.history.losses[:4]
    assert first.validation_bits == pytest.approx(first.validation_nats / math.log(2))
    assert first.validation_perplexity == pytest.approx(2 ** first.validation_bits)
    assert first.validation_bits < first.unigram_bits - 1.0
    assert first.unigram_bits == pytest.approx(unigram_entropy_bits(corpus.train_ids, len(corpus.vocabulary)))


def test_the_parts_spelled_out_give_the_wrapper_s_result_exactly():
    # chapter 8 assembles the experiment on the page from these parts; the wrapper is that recipe
    corpus = CharCorpus("a stitch in time saves nine, said the tailor to the cat. " * 30,
                        end_token=True)
    config = CharLMConfig(embedding_dim=6, hidden_size=10, seq_len=12, batch_size=4, steps=7,
                          learning_rate=1e-2, clip_norm=0.5, seed=4)
    wrapped = train_char_lm(corpus, config)
    vocab_size = len(corpus.vocabulary)
    torch.manual_seed(4)
    model = CharLM(vocab_size, 6, 10, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batches = corpus.batches("train", 12, 4)
    history = train(model, batches, CarriedStateLoss(), optimizer, 7, clip_norm=0.5, seed=4,
                    progress=False)
    result = CharLMResult(model, config, history, cross_entropy_nats(model, corpus.validation_ids),
                          unigram_entropy_bits(corpus.train_ids, vocab_size))
    assert result.history.losses == wrapped.history.losses and len(history.losses) == 7
    assert result.history.grad_norms == wrapped.history.grad_norms
    assert result.validation_nats == wrapped.validation_nats
    assert result.unigram_bits == wrapped.unigram_bits
    for mine, theirs in zip(model.parameters(), wrapped.model.parameters()):
        assert torch.equal(mine, theirs)


def test_bad_input():
    with pytest.raises(ValueError, match=r"ids: expected a 1-D"):
        unigram_entropy_bits(torch.zeros(2, 2, dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="vocab_size"):
        unigram_entropy_bits(torch.zeros(2, dtype=torch.int64), 0)
    with pytest.raises(ValueError, match=r"ids: expected a 1-D"):
        cross_entropy_nats(CharLM(3), torch.zeros(2, 2, dtype=torch.int64))


def test_sequence_log_prob_against_numpy():
    import numpy as np

    from course_pkg.tasks.char_lm import sequence_log_prob

    torch.manual_seed(3)
    model = CharLM(6, 3, 5).double()
    seed, new = torch.tensor([1, 4, 2]), torch.tensor([0, 5, 5, 3])
    logits = model(torch.cat([seed, new])[:, None])[0][:, 0].detach().numpy()  # (7, V)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = sum(log_softmax[len(seed) - 1 + i, token] for i, token in enumerate(new.tolist()))
    assert sequence_log_prob(model, seed, new) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="seed_ids: expected at least one"):
        sequence_log_prob(model, torch.tensor([], dtype=torch.int64), new)
