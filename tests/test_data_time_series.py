"""course_pkg.data.time_series: the sunspot series from statsmodels, the chronological split,
the standardiser fitted on training values only, sliding windows by hand, bad input."""

import numpy as np
import pytest

from course_pkg.data.time_series import (
    Standardiser,
    chronological_split,
    load_sunspots,
    sliding_windows,
)


def test_sunspots_come_from_statsmodels():
    from statsmodels.datasets import sunspots

    series = load_sunspots()
    frame = sunspots.load_pandas().data
    assert series.years[0] == 1700 and series.years[-1] == 2008 and len(series.values) == 309
    assert np.array_equal(series.values, frame["SUNACTIVITY"].to_numpy())
    assert np.all(np.diff(series.years) == 1)


def test_split_is_chronological_and_complete():
    train, validation, test = chronological_split(10, 3, 2)
    assert (train, validation, test) == (slice(0, 5), slice(5, 8), slice(8, 10))
    with pytest.raises(ValueError, match="validation \\+ test"):
        chronological_split(5, 3, 2)


def test_standardiser_uses_training_values_only():
    values = np.array([1.0, 2.0, 3.0, 100.0])
    scaler = Standardiser().fit(values[:3])
    assert scaler.mean == pytest.approx(2.0) and scaler.std == pytest.approx(np.std([1, 2, 3]))
    z = scaler.transform(values)
    assert np.allclose(scaler.inverse(z), values)
    with pytest.raises(RuntimeError, match="fit"):
        Standardiser().transform(values)
    with pytest.raises(ValueError, match="constant"):
        Standardiser().fit(np.ones(4))


def test_sliding_windows_by_hand():
    inputs, targets = sliding_windows(np.arange(6.0), 3)
    assert inputs.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert targets.tolist() == [3, 4, 5]
    with pytest.raises(ValueError, match="window"):
        sliding_windows(np.arange(3.0), 3)
    with pytest.raises(ValueError, match="series"):
        sliding_windows(np.zeros((2, 3)), 1)
