"""course_pkg.widgets.forecasting: one view per model and horizon, titled with that view's MAE
and RMSE, and bad input."""

import numpy as np
import pytest

from course_pkg.experiments.sunspot_forecasting import HorizonForecasts
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
