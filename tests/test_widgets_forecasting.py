"""course_pkg.widgets.forecasting: one view per model and horizon, titled with that view's MAE
and RMSE, and bad input."""

import numpy as np
import pytest

from course_pkg.tasks.sunspots import HorizonForecasts
from course_pkg.widgets.forecasting import forecast_widget


def fake(offset):
    years = np.arange(2000, 2010)
    truth = np.linspace(10, 100, 10)
    return HorizonForecasts(years, truth, np.stack([truth + offset * h for h in (1, 2, 3)]))


def test_one_view_per_model_and_horizon():
    box = forecast_widget({"a": fake(1.0), "b": fake(2.0)}, horizons=(1, 3))
    assert [label for label, _ in box.row_slider.options] == ["a", "b"]
    assert [label for label, _ in box.column_slider.options] == ["1", "3"]
    assert "<img" in box.view(1, 1).value and "horizon 3" in box.view(1, 1).value


def test_bad_input():
    with pytest.raises(ValueError, match="horizons"):
        forecast_widget({"a": fake(1.0)}, horizons=(4,))
    with pytest.raises(TypeError, match="results"):
        forecast_widget({"a": np.zeros(3)})
    with pytest.raises(ValueError, match="results"):
        forecast_widget({})


def test_live_forecasts_any_horizon_in_the_kernel(monkeypatch):
    """Live mode: a horizon the static grid does not hold (5), for a model of a made-up series;
    the shown MAE/RMSE are recomputed here by feeding AR(2) forecasts back by hand."""
    from course_pkg.data.time_series import TimeSeries
    from course_pkg.data.forecasting import prepare_series
    from course_pkg.tasks.sunspots import (
        ar_predictor,
        forecast_test_years,
        persistence,
    )

    monkeypatch.setenv("COURSE_WIDGETS", "live")
    years = np.arange(1800, 1960)
    values = 50 + 40 * np.sin(2 * np.pi * (years - 1800) / 11.0) + np.linspace(0, 5, len(years))
    data = prepare_series(TimeSeries(years, values, "made up"), validation=20, test=20)
    predictors = {"persistence": persistence(), "AR(2)": ar_predictor(data, 2)[0]}
    results = {name: forecast_test_years(data, p, 4) for name, p in predictors.items()}
    box = forecast_widget(results, horizons=(1, 2, 4), predictors=predictors, data=data)
    assert box.mode == "live"
    box.set(1, 5)
    view = box.view.children[0].value
    _, model = ar_predictor(data, 2)
    first = data.test.start
    errors = []
    for t in range(first, data.test.stop):  # forecast of year t made 5 years earlier, by hand
        history = list(data.z[t - 5 - 29:t - 5 + 1])
        for _ in range(5):
            history.append(float(model.predict(np.array([history[-2:]]))[0]))
        errors.append(data.scaler.inverse(np.array(history[-1])) - values[t])
    errors = np.array(errors)
    assert f"AR(2), horizon 5: MAE {np.abs(errors).mean():.2f}, " \
           f"RMSE {np.sqrt((errors ** 2).mean()):.2f}" in view
    with pytest.raises(ValueError, match="predictors, data: expected both"):
        forecast_widget(results, horizons=(1,), predictors=predictors)
    with pytest.raises(ValueError, match=r"missing \['AR\(2\)'\]"):
        forecast_widget(results, horizons=(1,), predictors={"persistence": persistence()},
                        data=data)
