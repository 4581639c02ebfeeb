"""The forecasting chapter's widget: a model slider and a horizon slider over the test years.

Each view shows, for one forecaster and one horizon h, the observed test years and the forecast
of each of them made h years earlier (from the data up to year t - h only), with that
combination's MAE and RMSE. The views come from
`course_pkg.tasks.sunspots.HorizonForecasts` computed by the chapter, and are
drawn once when the widget is built (`course_pkg.widgets.precomputed_grid`), so both sliders
work in the static HTML book.

In a live kernel (`course_pkg.widgets.live.widget_mode`), given each model's one-step
``predictors`` and the ``data``, the horizon slider takes any h from 1 to ``max_horizon`` and the
chosen model's k-step forecasts are computed there, feeding its predictions back
(`course_pkg.tasks.sunspots.forecast_test_years`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets
import numpy as np

from course_pkg.data.forecasting import ForecastData
from course_pkg.tasks.sunspots import (
    HorizonForecasts,
    forecast_test_years,
    horizon_errors,
)
from course_pkg.validation import require_positive_int
from course_pkg.widgets.live import LiveChoice, LiveRange, live_controls, widget_mode
from course_pkg.widgets.precomputed import png_data_uri
from course_pkg.widgets.precomputed_grid import precomputed_grid

__all__ = ["forecast_widget"]


class _Canvas:
    """One figure, redrawn for every view (making a figure per view costs more than drawing)."""

    def __init__(self, years: np.ndarray, top: float) -> None:
        import matplotlib.pyplot as plt

        self.fig, ax = plt.subplots(figsize=(5.2, 2.0))
        self.truth, = ax.plot(years, np.zeros(len(years)), color="black", lw=1.5,
                              label="observed")
        self.forecast, = ax.plot(years, np.zeros(len(years)), color="C1", marker=".", lw=1.2,
                                 label="forecast made h years earlier")
        ax.set_ylim(0, top)
        ax.set_xlabel("year")
        ax.set_ylabel("sunspot number")
        ax.legend(fontsize=8, loc="upper right")
        ax.set_title(" ", fontsize=10)  # room for the titles set later
        self.fig.tight_layout()  # once: every view has the same layout
        self.ax = ax
        plt.close(self.fig)  # drawn into PNGs only, never shown

    def render(self, name: str, result: HorizonForecasts, h: int) -> str:
        import io

        mae, rmse = horizon_errors(result)
        self.truth.set_ydata(result.truth)
        self.forecast.set_ydata(result.forecasts[h - 1])
        self.ax.set_title(f"{name}, horizon {h}: MAE {mae[h - 1]:.1f}, RMSE {rmse[h - 1]:.1f}",
                          fontsize=10)
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=80)
        return (f"<img src='{png_data_uri(buffer.getvalue())}' alt='{name} forecasts at "
                f"horizon {h}' style='max-width:100%'/>")


def forecast_widget(results: Mapping[str, HorizonForecasts],
                    horizons: Sequence[int] = (1, 2, 4, 8),
                    predictors: Mapping | None = None, data: ForecastData | None = None,
                    max_horizon: int = 20, context: int = 30) -> widgets.VBox:
    """Sliders over ``results`` (name -> forecasts of one model) and ``horizons``.

    With ``predictors`` (name -> one-step predictor, one per name of ``results``) and ``data``,
    live mode forecasts at any horizon from 1 to ``max_horizon`` (cut to what the years before the
    test period allow with ``context`` values) in the kernel; without them, live mode walks the
    precomputed views."""
    if not results:
        raise ValueError("results: expected at least one model's forecasts, got none")
    for name, result in results.items():
        if not isinstance(result, HorizonForecasts):
            raise TypeError(f"results[{name!r}]: expected HorizonForecasts, got "
                            f"{type(result).__name__}")
    available = min(r.forecasts.shape[0] for r in results.values())
    for h in horizons:
        require_positive_int("horizon", h)
        if h > available:
            raise ValueError(f"horizons: expected horizons up to {available} (the forecasts "
                             f"computed), got {h}")
    top = 1.1 * max(max(np.max(r.truth), np.max(r.forecasts)) for r in results.values())
    names = list(results)
    years = results[names[0]].years
    if any(not np.array_equal(r.years, years) for r in results.values()):
        raise ValueError("results: expected forecasts of the same test years for every model")
    canvas = _Canvas(years, top)
    if (predictors is None) != (data is None):
        raise ValueError("predictors, data: expected both (one-step predictors and the "
                         "ForecastData) or neither, got "
                         f"predictors={type(predictors).__name__}, data={type(data).__name__}")
    if predictors is not None and widget_mode() == "live":
        return _live_forecast_widget(canvas, names, horizons, predictors, data, max_horizon,
                                     context)
    return precomputed_grid(
        "model", names, "horizon (years ahead)", list(horizons),
        lambda name, h: canvas.render(name, results[name], h),
        caption="Test years: each forecast uses only the data up to h years before it.")


def _live_forecast_widget(canvas: _Canvas, names: list, horizons: Sequence[int],
                          predictors: Mapping, data: ForecastData, max_horizon: int,
                          context: int) -> widgets.VBox:
    if not isinstance(data, ForecastData):
        raise TypeError(f"data: expected ForecastData, got {type(data).__name__}")
    missing = [name for name in names if name not in predictors]
    if missing:
        raise ValueError(f"predictors: expected a one-step predictor for every model of "
                         f"results, {names}; missing {missing}")
    require_positive_int("max_horizon", max_horizon)
    require_positive_int("context", context)
    highest = min(max_horizon, data.test.start + 1 - context)  # the origins must have context
    if highest < 1:
        raise ValueError(f"context: expected at most {data.test.start} values before the test "
                         f"years, got {context}")

    def render(name, h):
        result = forecast_test_years(data, predictors[name], h, context)  # horizons 1..h
        mae, rmse = horizon_errors(result)
        return (f"<div class='cp-forecast'>{name}, horizon {h}: MAE {mae[h - 1]:.2f}, RMSE "
                f"{rmse[h - 1]:.2f} (computed in the kernel)</div>"
                + canvas.render(name, result, h))

    return live_controls(
        [("model", LiveChoice(tuple(names)), 0),
         ("horizon (years ahead)", LiveRange(1, highest, 1, integer=True, fmt="d"),
          min(horizons[0], highest) if horizons else 1)],
        render,
        caption="Test years: each forecast uses only the data up to h years before it; any "
                "horizon, forecast by the model in the kernel (its predictions fed back).")
