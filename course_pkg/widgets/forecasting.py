"""The forecasting chapter's widget: a model slider and a horizon slider over the test years.

Each view shows, for one forecaster and one horizon h, the observed test years and the forecast
of each of them made h years earlier (from the data up to year t - h only), with that
combination's MAE and RMSE. The views come from
`course_pkg.experiments.sunspot_forecasting.HorizonForecasts` computed by the chapter, and are
drawn once when the widget is built (`course_pkg.widgets.precomputed_grid`), so both sliders
work in the static HTML book.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets
import numpy as np

from course_pkg.experiments.sunspot_forecasting import HorizonForecasts, horizon_errors
from course_pkg.validation import require_positive_int
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
                    horizons: Sequence[int] = (1, 2, 4, 8)) -> widgets.VBox:
    """Sliders over ``results`` (name -> forecasts of one model) and ``horizons``."""
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
    return precomputed_grid(
        "model", names, "horizon (years ahead)", list(horizons),
        lambda name, h: canvas.render(name, results[name], h),
        caption="Test years: each forecast uses only the data up to h years before it.")
