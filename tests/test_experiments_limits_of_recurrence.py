"""Chapter 18's experiments on tiny configurations: structure, value ranges, the counts of
sequential steps and attention scores against their formulas, the attention regressor against
the encoder it wraps, bad input."""


import pytest
import torch

from course_pkg.experiments.adding import BASELINE_MSE
from course_pkg.experiments.limits_of_recurrence import (
    TIMED_MODELS,
    LastStepAttentionRegressor,
    TimingResult,
    attention_vs_lstm_adding,
    crossover_length,
    learning_rate_sweep,
    time_recurrence_vs_attention,
)

torch.set_num_threads(1)


def test_timing_structure_and_counts():
    result = time_recurrence_vs_attention(lengths=(4, 8), batch_size=2, width=8, num_heads=2,
                                          repeats=2, warmup=1)
    assert result.lengths == [4, 8]
    for T in (4, 8):
        assert set(result.seconds[T]) == set(TIMED_MODELS)
        assert all(0 < s < 5 for s in result.seconds[T].values())
        # the recurrence makes T updates in a chain; one attention layer is one step deep
        assert result.sequential_steps[T]["course LSTM"] == T
        assert result.sequential_steps[T]["torch.nn.LSTM"] == T
        assert result.sequential_steps[T]["self-attention"] == 1
        assert result.score_entries[T] == 2 * 2 * T * T
        assert result.ratio(T, "self-attention") == 1.0
        ratio = result.seconds[T]["course LSTM"] / result.seconds[T]["self-attention"]
        assert result.ratio(T, "course LSTM") == pytest.approx(ratio)


def fake_result(seconds):
    lengths = sorted(seconds)
    return TimingResult(lengths, seconds, {T: {} for T in lengths}, {T: 0 for T in lengths},
                        1, 1, 1)


def test_crossover_by_hand():
    seconds = {16: {"torch.nn.LSTM": 1.0, "course LSTM": 5.0, "self-attention": 2.0},
               32: {"torch.nn.LSTM": 2.0, "course LSTM": 9.0, "self-attention": 3.0},
               64: {"torch.nn.LSTM": 4.0, "course LSTM": 16.0, "self-attention": 12.0},
               128: {"torch.nn.LSTM": 8.0, "course LSTM": 30.0, "self-attention": 40.0}}
    result = fake_result(seconds)
    assert crossover_length(result, "torch.nn.LSTM") == 16       # attention slower throughout
    assert crossover_length(result, "course LSTM") == 128
    # a noisy inversion at a short length does not move the crossover
    seconds[16]["course LSTM"] = 1.0
    assert crossover_length(fake_result(seconds), "course LSTM") == 128
    # attention faster at the longest length: no crossover
    seconds[128]["self-attention"] = 20.0
    assert crossover_length(fake_result(seconds), "course LSTM") is None
    with pytest.raises(ValueError, match="model"):
        crossover_length(result, "self-attention")


def test_sweep_grid_shape_and_curves():
    result = learning_rate_sweep(cells=("rnn",), learning_rates=(1e-3, 1e-1), hidden_sizes=(2, 3),
                                 length=4, steps=4, eval_every=2, validation_size=20)
    grid = result.final_mse["rnn"]
    assert len(grid) == 2 and all(len(row) == 2 for row in grid)
    assert all(v >= 0 for row in grid for v in row)
    steps, mse = result.curves["rnn"][(0.1, 3)]
    assert steps == [0, 2, 4] and mse[-1] == grid[1][1]
    # a different learning rate gives a different run
    assert grid[0][1] != grid[1][1]


def test_attention_regressor_reads_the_last_position():
    torch.manual_seed(0)
    model = LastStepAttentionRegressor(d_model=8, num_heads=2, num_layers=1, max_len=10).double()
    x = torch.randn(7, 3, 2, dtype=torch.float64)
    torch.testing.assert_close(model(x), model.encoder(x)[-1])
    assert model(x).shape == (3, 1)
    # no causal mask: the last output depends on the first step
    changed = x.clone()
    changed[0] += 1.0
    assert not torch.allclose(model(x), model(changed))


def test_attention_vs_lstm_structure():
    runs = attention_vs_lstm_adding(seeds=(0,), length=6, steps=4, batch_size=8, lstm_hidden=4,
                                    eval_every=2, validation_size=20,
                                    attention={"d_model": 4, "num_heads": 1, "num_layers": 1,
                                               "ff_size": 4})
    assert [r.model_name for r in runs] == ["LSTM", "self-attention"]
    lstm, attention = runs
    assert isinstance(attention.model, LastStepAttentionRegressor)
    assert lstm.parameters == sum(p.numel() for p in lstm.model.parameters())
    assert lstm.parameters == 4 * 4 * (2 + 4) + 2 * 4 * 4 + 4 + 1   # weights, biases, head
    assert attention.parameters == sum(
        p.numel() for p in LastStepAttentionRegressor(d_model=4, num_heads=1, num_layers=1,
                                                      ff_size=4, max_len=6).parameters())
    for run in runs:
        assert run.eval_steps == [0, 2, 4]
        assert all(0 <= v < 50 for v in run.val_mse) and run.final_mse == run.val_mse[-1]
    assert 0 < BASELINE_MSE < 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="lengths"):
        time_recurrence_vs_attention(lengths=())
    with pytest.raises(ValueError, match="lengths"):
        time_recurrence_vs_attention(lengths=(0,))
    with pytest.raises(ValueError, match="num_heads"):
        time_recurrence_vs_attention(lengths=(4,), width=6, num_heads=4)
    with pytest.raises(TypeError, match="batch_size"):
        time_recurrence_vs_attention(lengths=(4,), batch_size=2.5)
    with pytest.raises(ValueError, match="cells"):
        learning_rate_sweep(cells=("transformer",))
    with pytest.raises(ValueError, match="learning_rates"):
        learning_rate_sweep(learning_rates=(-1.0,))
    with pytest.raises(ValueError, match="hidden_sizes"):
        learning_rate_sweep(hidden_sizes=(0,))
    with pytest.raises(TypeError, match="attention"):
        attention_vs_lstm_adding(attention=[("d_model", 4)])
    with pytest.raises(ValueError, match="steps"):
        attention_vs_lstm_adding(steps=0)
