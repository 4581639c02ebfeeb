"""A series made ready for a forecaster: split by time, standardised, cut into windows, as tensors.

`prepare_series` applies the steps of `course_pkg.data.time_series` to one series (by default the
yearly sunspot numbers) and keeps the result in a `ForecastData`::

    train | validation | test            consecutive slices of the years (nothing shuffled)
    z_t = (y_t - m) / s                   m, s: mean and std of the training years only

`ForecastData.windows` gives the one-step training pairs of a part: each year ``t`` of the part
(from ``t = W`` on) and the ``W`` standardised values before it::

    inputs[i] = (z_{t-W}, ..., z_{t-1})       (N, W), oldest first
    targets[i] = z_t                          (N,)

The windows of the validation (or test) years reach back into the years before the part: a
forecaster of year ``t`` may read everything observed before ``t``. `as_sequences` turns the
windows into the time-major input of a recurrent network, one value per step: (W, N, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from course_pkg.data.time_series import (
    Standardiser,
    TimeSeries,
    chronological_split,
    load_sunspots,
    sliding_windows,
)
from course_pkg.validation import require_ndim, require_positive_int

__all__ = ["ForecastData", "prepare_series", "as_sequences"]


@dataclass
class ForecastData:
    """A series, its chronological split and the standardised values."""

    series: TimeSeries
    train: slice
    validation: slice
    test: slice
    scaler: Standardiser
    z: np.ndarray  # (N,) standardised with the training part's mean and std

    def years(self, part: slice) -> np.ndarray:
        return self.series.years[part]

    def windows(self, part: slice, window: int) -> tuple[np.ndarray, np.ndarray]:
        """The standardised values of the years ``t`` of ``part`` with ``t >= window``, and the
        ``window`` values before each: inputs (N, window) oldest first, targets (N,)."""
        require_positive_int("window", window)
        if not isinstance(part, slice) or part.step not in (None, 1):
            raise ValueError(f"part: expected one of data.train, data.validation, data.test, "
                             f"got {part!r}")
        start = 0 if part.start is None else part.start
        stop = len(self.z) if part.stop is None else part.stop
        first = max(start, window)  # the first year with `window` values before it
        if first >= stop:
            raise ValueError(f"window: expected fewer than {stop} values (a part ending at "
                             f"index {stop} needs a year with `window` values before it), "
                             f"got {window}")
        return sliding_windows(self.z[first - window:stop], window)


def prepare_series(series: TimeSeries | None = None, validation: int = 40,
                   test: int = 40) -> ForecastData:
    """Split ``series`` (default: `load_sunspots`) chronologically and standardise it with the
    training part's mean and standard deviation."""
    series = load_sunspots() if series is None else series
    train_part, validation_part, test_part = chronological_split(len(series.values),
                                                                  validation, test)
    scaler = Standardiser().fit(series.values[train_part])
    return ForecastData(series, train_part, validation_part, test_part, scaler,
                        scaler.transform(series.values))


def as_sequences(windows) -> torch.Tensor:
    """Windows (B, W), oldest first -> the time-major float32 input (W, B, 1) of a recurrent
    network that reads one value per step."""
    require_ndim("windows", windows, 2, "(B, W) past values, oldest first")
    return torch.as_tensor(np.asarray(windows).T[:, :, None], dtype=torch.float32)
