"""Chapter 15's experiment module, on a tiny corpus: the matched LSTM width is the closest in
parameters, the statistics by hand, and the chapter's recipe against the wrapper."""

import itertools
import math

import pytest
import torch

from course_pkg.data.text import CharCorpus
from course_pkg.tasks.char_lm import CarriedStateLoss, cross_entropy_nats
from course_pkg.tasks.char_lm_comparison import (
    ComparisonConfig,
    ComparisonResult,
    comparison_table,
    gap_exceeds_spread,
    matched_lstm_hidden_size,
    run_comparison,
    seed_statistics,
    validation_bits,
)
from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.recurrent_char_lm import MODEL_KINDS, RecurrentCharLM
from course_pkg.training import train

TEXT = "the quick brown fox jumps over the lazy dog. " * 40



def test_matched_hidden_size_is_the_closest():
    V, E, H = 30, 7, 9
    target = count_parameters(RecurrentCharLM("mogrifier", V, E, H))
    best = matched_lstm_hidden_size(V, E, H)
    gap = abs(count_parameters(RecurrentCharLM("lstm", V, E, best)) - target)
    for other in (best - 1, best + 1):
        assert abs(count_parameters(RecurrentCharLM("lstm", V, E, other)) - target) >= gap
    assert best > H


def test_seed_statistics_by_hand():
    stats = seed_statistics([1.0, 2.0, 4.0])
    assert stats["mean"] == pytest.approx(7 / 3)
    assert stats["std"] == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2
                                                    + (4 - 7 / 3) ** 2) / 2))
    assert stats["range"] == 3.0
    assert seed_statistics([2.5])["std"] == 0.0
    with pytest.raises(ValueError, match="values"):
        seed_statistics([])


def test_run_comparison_tiny_and_deterministic():
    corpus = CharCorpus(TEXT, validation_fraction=0.2)
    config = ComparisonConfig(embedding_dim=4, mogrifier_hidden=6, seq_len=8, batch_size=4,
                              steps=6, eval_every=3, validation_chars=64, seeds=(0, 1))
    result = run_comparison(corpus, config)
    assert result.eval_steps == [3, 6]
    for kind in ("lstm", "mogrifier"):
        assert len(result.curves[kind]) == 2 and all(len(c) == 2 for c in result.curves[kind])
        assert all(0 < b < 2 * math.log2(len(corpus.vocabulary)) for c in result.curves[kind]
                   for b in c)
    again = run_comparison(corpus, config)
    assert again.curves == result.curves
    assert result.curves["lstm"][0] != result.curves["lstm"][1]          # seeds differ
    gap, spread, exceeds = gap_exceeds_spread(result)
    lstm, mog = result.final_bits("lstm"), result.final_bits("mogrifier")
    assert gap == pytest.approx(sum(lstm) / 2 - sum(mog) / 2)
    assert spread == pytest.approx(max(max(lstm) - min(lstm), max(mog) - min(mog)))
    assert exceeds == (abs(gap) > spread)
    table = comparison_table(result)
    assert f"{result.parameter_counts['mogrifier']}" in table
    assert ("exceeds" in table) == exceeds


def test_bad_arguments():
    with pytest.raises(TypeError, match="corpus"):
        run_comparison("not a corpus")
    corpus = CharCorpus(TEXT)
    with pytest.raises(ValueError, match="config.steps"):
        run_comparison(corpus, ComparisonConfig(steps=0))
    with pytest.raises(ValueError, match="config.seeds"):
        run_comparison(corpus, ComparisonConfig(seeds=()))


def test_validation_bits_is_the_cross_entropy_in_bits():
    corpus = CharCorpus(TEXT, validation_fraction=0.2)
    torch.manual_seed(0)
    model = RecurrentCharLM("mogrifier", len(corpus.vocabulary), 4, 6)
    ids = corpus.validation_ids[:100]  # (N,)
    nats = cross_entropy_nats(model, ids, seq_len=64, batch_size=16)
    assert validation_bits(model, ids) == pytest.approx(nats / math.log(2))
    # an untrained model is close to uniform over the vocabulary
    assert abs(validation_bits(model, ids) - math.log2(len(corpus.vocabulary))) < 1.0


def test_the_chapter_recipe_reproduces_run_comparison():
    """The training cell of chapter 14 written out, against the wrapper, on a tiny setting."""
    corpus = CharCorpus(TEXT, validation_fraction=0.2)
    config = ComparisonConfig(embedding_dim=4, mogrifier_hidden=6, seq_len=8, batch_size=4,
                              steps=7, eval_every=3, validation_chars=64, seeds=(0, 1))
    V = len(corpus.vocabulary)
    hidden_sizes = {"lstm": matched_lstm_hidden_size(V, config.embedding_dim,
                                                     config.mogrifier_hidden, config.rounds,
                                                     config.rank),
                    "mogrifier": config.mogrifier_hidden}
    validation_ids = corpus.validation_ids[:config.validation_chars]
    result = ComparisonResult(config, hidden_sizes, parameter_counts={}, eval_steps=[])
    for kind in MODEL_KINDS:
        result.curves[kind] = []
        for seed in config.seeds:
            torch.manual_seed(seed)
            model = RecurrentCharLM(kind, V, config.embedding_dim, hidden_sizes[kind],
                                    config.rounds, config.rank)
            optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
            batches = itertools.cycle(corpus.batches("train", config.seq_len, config.batch_size))
            history = train(model, batches, CarriedStateLoss(), optimizer, steps=config.steps,
                            clip_norm=config.clip_norm, seed=seed, progress=False,
                            eval_every=config.eval_every,
                            evaluate_fn=lambda m: validation_bits(m, validation_ids))
            result.curves[kind].append(history.eval_losses[1:])
            result.parameter_counts[kind] = count_parameters(model)
    result.eval_steps = history.eval_steps[1:]
    wrapped = run_comparison(corpus, config)
    assert result.eval_steps == wrapped.eval_steps == [3, 6, 7]
    assert result.curves == wrapped.curves
    assert result.hidden_sizes == wrapped.hidden_sizes
    assert result.parameter_counts == wrapped.parameter_counts
    assert comparison_table(result) == comparison_table(wrapped)
