"""course_pkg.models.autoregressive against numpy.linalg.lstsq (the least-squares solution) and
against statsmodels' AutoReg (an independent AR fit), plus recovery of known coefficients and
bad input."""

import numpy as np
import pytest

from course_pkg.data.time_series import sliding_windows
from course_pkg.models.autoregressive import AutoRegression


def ar_series(coefficients, intercept, n, seed=0):
    """y_t = c + sum_i phi_i y_{t-i} + noise, phi_1 first."""
    rng = np.random.default_rng(seed)
    p = len(coefficients)
    y = np.zeros(n + 100)
    for t in range(p, len(y)):
        y[t] = intercept + np.dot(coefficients, y[t - p:t][::-1]) + rng.normal()
    return y[100:]


@pytest.mark.parametrize("order", [1, 3, 9])
def test_fit_matches_numpy_lstsq(order):
    y = ar_series([0.5, -0.2, 0.1], 1.0, 300, seed=order)
    windows, targets = sliding_windows(y, order)
    model = AutoRegression(order).fit(windows, targets)
    design = np.hstack([np.ones((len(windows), 1)), windows])
    beta, *_ = np.linalg.lstsq(design, targets, rcond=None)
    assert model.intercept == pytest.approx(beta[0], abs=1e-10)
    assert np.allclose(model.weights, beta[1:], atol=1e-10)
    assert np.allclose(model.predict(windows), design @ beta, atol=1e-10)


def test_fit_matches_statsmodels_autoreg():
    from statsmodels.tsa.ar_model import AutoReg

    y = ar_series([1.2, -0.5], 3.0, 400, seed=5)
    ours = AutoRegression(2).fit(*sliding_windows(y, 2))
    theirs = AutoReg(y, lags=2, trend="c").fit()  # params: const, lag 1, lag 2
    assert ours.intercept == pytest.approx(theirs.params[0], abs=1e-8)
    assert np.allclose(ours.weights[::-1], theirs.params[1:], atol=1e-8)  # ours: oldest first


def test_recovers_known_coefficients():
    y = ar_series([0.6, -0.3], 2.0, 20000, seed=1)
    model = AutoRegression(2).fit(*sliding_windows(y, 2))
    assert np.allclose(model.weights[::-1], [0.6, -0.3], atol=0.02)
    assert model.intercept == pytest.approx(2.0, abs=0.1)


def test_wider_windows_use_the_latest_values():
    y = ar_series([0.5], 0.0, 200, seed=2)
    windows, targets = sliding_windows(y, 5)
    model = AutoRegression(2).fit(windows, targets)
    narrow = AutoRegression(2).fit(windows[:, -2:], targets)
    assert np.allclose(model.weights, narrow.weights)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="order"):
        AutoRegression(0)
    model = AutoRegression(3)
    with pytest.raises(ValueError, match="windows"):
        model.fit(np.zeros((10, 2)), np.zeros(10))
    with pytest.raises(ValueError, match="targets"):
        model.fit(np.random.rand(10, 3), np.zeros(9))
    with pytest.raises(ValueError, match="rank deficient"):
        model.fit(np.ones((10, 3)), np.zeros(10))
    with pytest.raises(RuntimeError, match="fit"):
        model.predict(np.zeros((2, 3)))
