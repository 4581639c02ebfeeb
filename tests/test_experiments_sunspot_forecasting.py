"""course_pkg.experiments.sunspot_forecasting: recursive forecasts against the closed-form k-step
forecast of AR(1), the baselines' definitions, the bookkeeping of origins and horizons, and a
short recurrent training run."""

import numpy as np
import pytest

from course_pkg.data.time_series import TimeSeries
from course_pkg.experiments.sunspot_forecasting import (
    forecast_test_years,
    horizon_errors,
    persistence,
    prepare_series,
    recurrent_predictor,
    recursive_forecast,
    seasonal_naive,
    train_recurrent_forecaster,
)


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
    assert [s for s, _ in run.validation_curve] == [20, 40, 60]
    assert run.validation_mse == min(m for _, m in run.validation_curve)
    assert run.history.losses[-1] < run.history.losses[0]
    predictions = recurrent_predictor(run)(np.zeros((4, 12)))
    assert predictions.shape == (4,)
    with pytest.raises(ValueError, match="windows"):
        recurrent_predictor(run)(np.zeros((4, 5)))
