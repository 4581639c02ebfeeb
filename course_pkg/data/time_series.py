"""A real time series and the three steps that come before any forecaster: split, scale, window.

**The series.** `load_sunspots` returns the yearly mean sunspot number, 1700-2008 (309 values),
from ``statsmodels.datasets.sunspots`` (public domain; it ships with statsmodels, so no network
is needed). Nothing is copied into this repository: the values come from statsmodels' API.

**The split** is chronological. With the series ``y_0 .. y_{N-1}``, `chronological_split` cuts
it into a training part ``y_0 .. y_{a-1}``, a validation part ``y_a .. y_{b-1}`` and a test part
``y_b .. y_{N-1}``; nothing is shuffled across time, so every model is judged on years that come
after every year it was fitted on.

**The scaling** is fitted on the training part alone (`Standardiser`)::

    z_t = (y_t - m) / s,      m = mean(y_0 .. y_{a-1}),  s = std(y_0 .. y_{a-1})

Fitting ``m`` and ``s`` on the whole series would let the test years leak into the model.

**The windows** (`sliding_windows`): a forecaster that reads the last ``p`` values and predicts
the next one learns from the pairs::

    inputs  x^(i) = (z_i, z_{i+1}, ..., z_{i+p-1})        (N - p, p)
    target  y^(i) = z_{i+p}                               (N - p,)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from course_pkg.validation import require_floating, require_ndim, require_positive_int

__all__ = ["TimeSeries", "load_sunspots", "chronological_split", "Standardiser",
           "sliding_windows"]


class TimeSeries(NamedTuple):
    """A yearly series: ``years`` (N,) int and ``values`` (N,) float64."""

    years: np.ndarray
    values: np.ndarray
    name: str


def load_sunspots() -> TimeSeries:
    """The yearly mean sunspot number 1700-2008 from ``statsmodels.datasets.sunspots``."""
    try:
        from statsmodels.datasets import sunspots
    except ImportError as error:  # pragma: no cover - statsmodels is in requirements.txt
        raise ImportError("load_sunspots needs statsmodels (pip install statsmodels)") from error
    frame = sunspots.load_pandas().data
    years = frame["YEAR"].to_numpy().astype(np.int64)
    values = frame["SUNACTIVITY"].to_numpy().astype(np.float64)
    return TimeSeries(years, values, "yearly mean sunspot number")


def _check_series(name: str, series) -> np.ndarray:
    require_ndim(name, series, 1, "a 1-D series (N,)")
    require_floating(name, series)
    return np.asarray(series)


def chronological_split(num_values: int, validation: int,
                        test: int) -> tuple[slice, slice, slice]:
    """Three consecutive slices (train, validation, test) of a series of ``num_values``: the last
    ``test`` values are the test part, the ``validation`` values before them the validation part,
    everything earlier the training part (which must keep at least one value)."""
    for name, value in (("num_values", num_values), ("validation", validation), ("test", test)):
        require_positive_int(name, value)
    if validation + test >= num_values:
        raise ValueError(f"validation + test: expected fewer than num_values = {num_values} "
                         f"values (the training part needs some), got {validation + test}")
    b = num_values - test
    a = b - validation
    return slice(0, a), slice(a, b), slice(b, num_values)


class Standardiser:
    """``z = (y - m) / s`` with ``m`` and ``s`` fitted on the values passed to `fit` only."""

    def __init__(self) -> None:
        self.mean: float | None = None
        self.std: float | None = None

    def fit(self, train_values) -> "Standardiser":
        values = _check_series("train_values", train_values)
        if values.size < 2:
            raise ValueError(f"train_values: expected at least 2 values, got {values.size}")
        self.mean, self.std = float(values.mean()), float(values.std())
        if self.std == 0:
            raise ValueError("train_values: expected values that vary, got a constant series")
        return self

    def _require_fitted(self) -> None:
        if self.mean is None:
            raise RuntimeError("Standardiser: call fit(train_values) first")

    def transform(self, values) -> np.ndarray:
        self._require_fitted()
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def inverse(self, values) -> np.ndarray:
        self._require_fitted()
        return np.asarray(values, dtype=np.float64) * self.std + self.mean


def sliding_windows(series, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``window`` consecutive values and the value that follows it.

    series (N,) -> inputs (N - window, window), targets (N - window,); row i is
    ``series[i : i + window]`` and its target ``series[i + window]``.
    """
    values = _check_series("series", series)
    require_positive_int("window", window)
    if window >= values.size:
        raise ValueError(f"window: expected fewer than the {values.size} values of series, "
                         f"got {window}")
    count = values.size - window
    rows = np.arange(count)[:, None] + np.arange(window)[None, :]  # (N - p, p) indices
    return values[rows], values[window:]
