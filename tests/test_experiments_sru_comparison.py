"""course_pkg.experiments.sru_comparison: FLOP counts against a count by hand from the equations,
timings well formed, the regressor against torch.nn.LSTM, and a tiny training run."""

import pytest
import torch

from course_pkg.experiments.sru_comparison import (
    TIMED_NAMES,
    LastStepRegressor,
    final_mse_rows,
    sequential_flops,
    time_forward_backward,
    train_adding_sru_lstm,
)


def test_flops_by_hand():
    counts = sequential_flops(16, 16)
    # LSTM serial: W_hh (64 x 16) multiply-adds = 2 * 64 * 16; element-wise 9 * 16
    assert counts["lstm"]["serial"] == 2 * 64 * 16 + 9 * 16
    assert counts["sru"]["serial"] == 6 * 16
    # SRU with D = H: 3 blocks of 16 x 16 multiply-adds
    assert counts["sru"]["parallel"] == 2 * 3 * 16 * 16 + 9 * 16
    # D != H adds the highway projection block
    assert sequential_flops(8, 16)["sru"]["parallel"] == 2 * 4 * 16 * 8 + 9 * 16
    # the serial ratio grows linearly in H
    small, big = sequential_flops(32, 32), sequential_flops(256, 256)
    assert (big["lstm"]["serial"] / big["sru"]["serial"]
            > 7 * small["lstm"]["serial"] / small["sru"]["serial"])


def test_timing_is_positive_for_each_length():
    result = time_forward_backward(lengths=(4, 8), batch_size=2, hidden_size=4, repeats=2)
    assert sorted(result) == [4, 8]
    for timings in result.values():
        assert set(timings) == set(TIMED_NAMES)
        assert all(t > 0 for t in timings.values())


def test_lstm_regressor_matches_torch():
    torch.manual_seed(0)
    model = LastStepRegressor("lstm", 2, 5).double()
    reference = torch.nn.LSTM(2, 5).double()
    reference.load_state_dict({k.replace("recurrent.", ""): v
                               for k, v in model.state_dict().items() if "recurrent" in k})
    x = torch.randn(7, 3, 2, dtype=torch.float64)
    h, _ = reference(x)
    expected = model.head(h[-1])
    torch.testing.assert_close(model(x), expected)


def test_tiny_training_runs_and_learns_something():
    runs = train_adding_sru_lstm(("sru", "lstm"), seeds=(0,), length=10, hidden_size=8,
                                 steps=60, eval_every=30, validation_size=64)
    assert [r.kind for r in runs] == ["sru", "lstm"]
    for run in runs:
        assert run.eval_steps == [0, 30, 60]
        assert run.final_mse < run.val_mse[0]
    table = final_mse_rows(runs)
    assert "SRU" in table and "LSTM" in table and f"{runs[0].final_mse:.4f}" in table


def test_bad_arguments():
    with pytest.raises(ValueError, match="hidden_size"):
        sequential_flops(4, 0)
    with pytest.raises(ValueError, match="kind"):
        LastStepRegressor("gru")
    with pytest.raises(ValueError, match="lengths"):
        time_forward_backward(lengths=())
    with pytest.raises(ValueError, match="steps"):
        train_adding_sru_lstm(steps=0)
    with pytest.raises(ValueError, match="runs"):
        final_mse_rows([])
