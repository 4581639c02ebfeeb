"""The linear autoregressive model AR(p), fitted by least squares: the forecaster's baseline.

AR(p) predicts the next value of a series from its last ``p`` values (Yule 1927 fitted an AR(2)
to the sunspot numbers; Box & Jenkins made the model standard)::

    y_t = c + phi_1 y_{t-1} + phi_2 y_{t-2} + ... + phi_p y_{t-p} + e_t

Given windows ``x^(i) = (y_{i}, ..., y_{i+p-1})`` (oldest first, as
`course_pkg.data.time_series.sliding_windows` makes them) and targets ``y_{i+p}``, the
coefficients minimise the sum of squared one-step errors::

    beta = argmin_b || X b - y ||^2,    X = [1, x^(i)] row by row  (N, p + 1),  beta = (c, ...)

`AutoRegression.fit` solves it with a QR decomposition, ``X = Q R`` and ``R beta = Q^T y``, which
is better conditioned than the normal equations ``X^T X beta = X^T y`` (their condition number
is the square of X's). The coefficient of the most recent value, ``phi_1``, is the last entry of
``weights``: the weights line up with the window's columns.
"""

from __future__ import annotations

import numpy as np

from course_pkg.validation import require_floating, require_ndim, require_positive_int

__all__ = ["AutoRegression"]


class AutoRegression:
    """AR(``order``) with an intercept; `fit` by least squares, `predict` one step ahead.

    After `fit`: ``intercept`` c (float) and ``weights`` (order,) aligned with the window's
    columns, oldest first (``weights[-1]`` multiplies the latest value: it is phi_1).
    """

    def __init__(self, order: int) -> None:
        require_positive_int("order", order)
        self.order = order
        self.intercept: float | None = None
        self.weights: np.ndarray | None = None

    def _windows(self, name: str, windows) -> np.ndarray:
        require_ndim(name, windows, 2, "(N, window) windows of past values, oldest first")
        require_floating(name, windows)
        windows = np.asarray(windows, dtype=np.float64)
        if windows.shape[1] < self.order:
            raise ValueError(f"{name}: expected at least order = {self.order} columns (past "
                             f"values), got shape {windows.shape}")
        return windows[:, -self.order:]  # (N, p): the p most recent values

    def fit(self, windows, targets) -> "AutoRegression":
        """Least squares on ``windows`` (N, >= p) and ``targets`` (N,); needs N >= p + 1."""
        x = self._windows("windows", windows)
        require_ndim("targets", targets, 1, "(N,) the value after each window")
        y = np.asarray(targets, dtype=np.float64)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"targets: expected {x.shape[0]} values (one per window), "
                             f"got {y.shape[0]}")
        if x.shape[0] < self.order + 1:
            raise ValueError(f"windows: expected at least order + 1 = {self.order + 1} rows to "
                             f"fit {self.order + 1} coefficients, got {x.shape[0]}")
        design = np.hstack([np.ones((x.shape[0], 1)), x])  # (N, p + 1)
        q, r = np.linalg.qr(design)  # (N, p + 1), (p + 1, p + 1) upper triangular
        beta = _solve_upper(r, q.T @ y)  # (p + 1,)
        self.intercept, self.weights = float(beta[0]), beta[1:]
        return self

    def predict(self, windows) -> np.ndarray:
        """One-step forecasts ``c + sum_i phi_i y_{t-i}`` for ``windows`` (N, >= p) -> (N,)."""
        if self.weights is None:
            raise RuntimeError("AutoRegression: call fit(windows, targets) first")
        return self.intercept + self._windows("windows", windows) @ self.weights


def _solve_upper(r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Back substitution for ``r x = b``, r upper triangular (n, n) with a non-zero diagonal."""
    n = r.shape[0]
    if np.any(np.abs(np.diag(r)) < 1e-12 * max(1.0, np.abs(r).max())):
        raise ValueError("windows: the design matrix is rank deficient (a constant or "
                         "repeated column); least squares has no unique solution")
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):  # last unknown first
        x[i] = (b[i] - r[i, i + 1:] @ x[i + 1:]) / r[i, i]
    return x
