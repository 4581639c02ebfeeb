"""course_pkg.tasks.sunspots: recursive forecasts against the closed-form k-step
forecast of AR(1), the baselines' definitions, the bookkeeping of origins and horizons, and a
short recurrent training run."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.forecasting import as_sequences, prepare_series
from course_pkg.data.time_series import TimeSeries, sliding_windows
from course_pkg.models.autoregressive import AutoRegression
from course_pkg.models.sequence_regressor import SequenceRegressor
from course_pkg.tasks.sunspots import (
    choose_ar_order,
    forecast_test_years,
    horizon_errors,
    one_step_mse,
    persistence,
    recurrent_predictor,
    recurrent_run,
    recursive_forecast,
    seasonal_naive,
    sequence_predictor,
    train_recurrent_forecaster,
)
from course_pkg.training import BestWeights, train

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "part3" / "08b_time_series.md"


def test_recursive_ar1_matches_the_closed_form():
    c, phi, y0, k = 0.5, 0.8, 2.0, 6
    forecasts = recursive_forecast(lambda w: c + phi * w[:, -1], np.array([[0.0, y0]]), k)
    # y_hat_{o+h} = c (1 + phi + ... + phi^(h-1)) + phi^h y_o
    expected = [c * (1 - phi ** h) / (1 - phi) + phi ** h * y0 for h in range(1, k + 1)]
    assert np.allclose(forecasts[0], expected)


def test_baselines_fed_back():
    window = np.arange(24.0)[None, :]  # values 0..23, latest 23
    assert np.all(recursive_forecast(persistence(), window, 5) == 23)
    seasonal = recursive_forecast(seasonal_naive(11), window, 14)[0]
    assert seasonal[:11].tolist() == list(range(13, 24))  # one cycle back
    assert seasonal[11:].tolist() == [13, 14, 15]  # two cycles back (its own forecasts)


def synthetic_data(n=120, test=20, validation=20):
    years = np.arange(1900, 1900 + n)
    values = 50 + 40 * np.sin(2 * np.pi * np.arange(n) / 11)
    series = TimeSeries(years, values, "sine")
    return prepare_series(series, validation=validation, test=test)


def test_horizon_bookkeeping_uses_origin_t_minus_h():
    data = synthetic_data()
    seen = []

    def spy(windows):  # records the last observed index of each window by its value
        seen.append(windows[:, -1].copy())
        return windows[:, -1]

    result = forecast_test_years(data, spy, horizon=3, context=12)
    assert result.forecasts.shape == (3, 20)
    # persistence at horizon h must equal the value at t - h
    for h in (1, 2, 3):
        assert np.allclose(result.forecasts[h - 1], data.series.values[100 - h:120 - h])
    mae, rmse = horizon_errors(result)
    assert np.all(rmse >= mae)


def test_seasonal_naive_is_exact_on_a_periodic_series():
    data = synthetic_data()
    result = forecast_test_years(data, seasonal_naive(11), horizon=11, context=12)
    assert np.allclose(horizon_errors(result)[0], 0, atol=1e-9)


def test_short_recurrent_run_learns_and_keeps_the_best_validation_step():
    data = synthetic_data()
    run = train_recurrent_forecaster(data, "gru", 6, window=12, steps=60, eval_every=20, seed=0)
    assert [s for s, _ in run.validation_curve] == [0, 20, 40, 60]
    assert run.validation_mse == min(m for _, m in run.validation_curve)
    assert (run.best_step, run.validation_mse) in run.validation_curve
    assert run.history.losses[-1] < run.history.losses[0]
    predictions = recurrent_predictor(run)(np.zeros((4, 12)))
    assert predictions.shape == (4,)
    with pytest.raises(ValueError, match="windows"):
        recurrent_predictor(run)(np.zeros((4, 5)))


def previous_training_loop(data, cell, hidden_size, window, steps, learning_rate, eval_every,
                           seed):
    """The loop train_recurrent_forecaster ran before the chapter wrote it out: training in
    chunks of eval_every steps, measuring the validation MSE after each chunk (not before the
    first step) and keeping the best weights. Returns (model, losses, grad norms, curve, kept
    step, kept MSE)."""
    inputs, targets = sliding_windows(data.z[data.train], window)
    x = torch.as_tensor(inputs.T[:, :, None], dtype=torch.float32)
    y = torch.as_tensor(targets, dtype=torch.float32)[:, None]
    torch.manual_seed(seed)
    model = SequenceRegressor(cell, input_size=1, hidden_size=hidden_size, output_size=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses, norms, curve = [], [], []
    best_state, best_step, best_mse = None, 0, float("inf")
    for done in range(0, steps, eval_every):
        chunk = train(model, lambda: (x, y),
                      lambda m, batch: F.mse_loss(m(batch[0]), batch[1]),
                      optimizer, min(eval_every, steps - done), clip_norm=1.0,
                      seed=seed if done == 0 else None, progress=False)
        losses += chunk.losses
        norms += chunk.grad_norms
        val_inputs = np.stack([data.z[t - window:t]
                               for t in range(data.validation.start, data.validation.stop)])
        model.eval()
        with torch.no_grad():
            predicted = model(torch.as_tensor(val_inputs.T[:, :, None], dtype=torch.float32))
        mse = float(np.mean((predicted[:, 0].double().numpy() - data.z[data.validation]) ** 2))
        curve.append((done + len(chunk.losses), mse))
        if mse < best_mse or best_state is None:
            best_mse, best_step = mse, done + len(chunk.losses)
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, losses, norms, curve, best_step, best_mse


@pytest.mark.parametrize("cell, hidden_size, seed", [("rnn", 5, 0), ("gru", 4, 1), ("lstm", 3, 2)])
def test_the_chapter_cell_reproduces_the_previous_loop_and_the_wrapper(cell, hidden_size, seed):
    """The training cell of chapter 9, cut from the page and run on the sunspots with a tiny
    budget, gives the numbers of the chunked loop it replaced and of train_recurrent_forecaster.
    The page's loop also measures the untrained weights (step 0); they are never the best here,
    so the kept step and error are the previous ones."""
    data = prepare_series(validation=40, test=40)
    window, steps, learning_rate, eval_every = 12, 25, 1e-2, 10
    text = CHAPTER.read_text()
    start = text.index("CELLS = {")
    end = text.index("\n", text.index("runs[name].append(", start))
    recipe = text[start:end].split("\n")
    assert recipe[2].startswith("window, steps, learning_rate, eval_every = ")
    knobs = [f"CELLS = {{'X': ({cell!r}, {hidden_size})}}", f"SEEDS = ({seed},)",
             f"window, steps, learning_rate, eval_every = {window}, {steps}, {learning_rate}, "
             f"{eval_every}"]
    namespace = dict(data=data, torch=torch, F=F, as_sequences=as_sequences,
                     one_step_mse=one_step_mse, sequence_predictor=sequence_predictor,
                     SequenceRegressor=SequenceRegressor, BestWeights=BestWeights, train=train,
                     recurrent_run=recurrent_run)
    exec("\n".join(knobs + recipe[3:]), namespace)
    [run] = namespace["runs"]["X"]

    before, losses, norms, curve, best_step, best_mse = previous_training_loop(
        data, cell, hidden_size, window, steps, learning_rate, eval_every, seed)
    assert run.history.losses == losses and run.history.grad_norms == norms
    assert run.validation_curve[1:] == curve and run.validation_curve[0][0] == 0
    assert (run.best_step, run.validation_mse) == (best_step, best_mse) and best_step > 0
    for (name, mine), theirs in zip(run.model.state_dict().items(), before.state_dict().values()):
        assert torch.equal(mine, theirs), name
    wrapped = train_recurrent_forecaster(data, cell, hidden_size, window=window, steps=steps,
                                         learning_rate=learning_rate, eval_every=eval_every,
                                         seed=seed)
    assert wrapped.history.losses == losses and wrapped.validation_curve == run.validation_curve
    assert (wrapped.best_step, wrapped.validation_mse, wrapped.parameters) == \
        (run.best_step, run.validation_mse, run.parameters)
    forecasts = [forecast_test_years(data, recurrent_predictor(r), 3).forecasts
                 for r in (run, wrapped)]
    assert np.array_equal(*forecasts)


def test_windows_of_a_part_reach_back_before_it():
    data = synthetic_data()  # 80 training, 20 validation, 20 test years
    inputs, targets = data.windows(data.validation, 12)
    assert inputs.shape == (20, 12) and np.array_equal(targets, data.z[80:100])
    assert np.array_equal(inputs[0], data.z[68:80]) and np.array_equal(inputs[-1], data.z[87:99])
    train_inputs, train_targets = data.windows(data.train, 12)
    expected_inputs, expected_targets = sliding_windows(data.z[data.train], 12)
    assert np.array_equal(train_inputs, expected_inputs)
    assert np.array_equal(train_targets, expected_targets)
    assert as_sequences(inputs).shape == (12, 20, 1) and as_sequences(inputs).dtype == torch.float32
    column = torch.as_tensor(inputs[3], dtype=torch.float32)
    assert torch.equal(as_sequences(inputs)[:, 3, 0], column)
    with pytest.raises(ValueError, match="window"):
        data.windows(data.train, 80)
    with pytest.raises(ValueError, match="part"):
        data.windows(np.arange(3), 2)
    with pytest.raises(ValueError, match="windows"):
        as_sequences(np.zeros(5))


def test_choose_ar_order_scores_validation_windows_as_before():
    data = prepare_series(validation=40, test=40)  # the sunspots: 229, 40, 40 years
    order, errors = choose_ar_order(data, (1, 2, 9))
    for p in (1, 2, 9):  # the validation windows written out by hand
        model = AutoRegression(p).fit(*sliding_windows(data.z[data.train], p))
        val_inputs = np.stack([data.z[t - p:t] for t in range(229, 269)])
        assert errors[p] == float(np.mean((model.predict(val_inputs) - data.z[229:269]) ** 2))
    assert order == min(errors, key=errors.get)
    with pytest.raises(ValueError, match="targets"):
        one_step_mse(persistence(), np.zeros((3, 2)), np.zeros(4))


def test_best_weights_keeps_the_lowest_and_the_earliest_of_ties():
    model = torch.nn.Linear(1, 1)
    values = iter([3.0, 1.0, 2.0, 1.0])
    best = BestWeights(lambda m: next(values))
    kept = None
    for call in range(4):
        with torch.no_grad():
            model.weight.fill_(float(call))
        best(model)
        kept = model.weight.clone() if call == 1 else kept
    assert (best.value, best.index, best.calls) == (1.0, 1, 4)
    best.restore(model)
    assert torch.equal(model.weight, kept)
    with pytest.raises(RuntimeError, match="BestWeights"):
        BestWeights(lambda m: 0.0).restore(model)
    with pytest.raises(TypeError, match="measure"):
        BestWeights(3.0)
