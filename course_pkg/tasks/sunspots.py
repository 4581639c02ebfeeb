"""The forecasting chapter's experiment: baselines and recurrent networks on the sunspot numbers.

Every forecaster here has one interface, a *one-step predictor*::

    predict_next(windows) -> next values        windows (B, W) past values, oldest first; (B,)

and `recursive_forecast` turns any of them into a k-step forecast by feeding its predictions
back as if they had been observed::

    y_hat_{o+1} = f(y_{o-W+1} .. y_o)
    y_hat_{o+2} = f(y_{o-W+2} .. y_o, y_hat_{o+1})       and so on, k times

From step 2 on, the model reads its own earlier errors: they compound with the horizon.

The forecasters:

- **persistence**: next = last value, ``y_hat_{t+1} = y_t`` (fed back: the last observed value
  for every horizon);
- **seasonal naive** with period m: ``y_hat_{t+1} = y_{t+1-m}`` (fed back: the value one cycle,
  or two cycles, earlier); m = 11 years for the sunspot cycle;
- **AR(p)**, `course_pkg.models.autoregressive.AutoRegression`, with p chosen by the one-step
  error on the validation years;
- **RNN, GRU, LSTM**: `course_pkg.models.sequence_regressor.SequenceRegressor` reading the window
  one value per step and predicting the next value from its last state, trained on the windows
  of the training years with the mean squared one-step error (Adam, full batch, a fixed number
  of steps: the same budget for every cell and seed), keeping the weights with the lowest
  one-step error on the validation years (`BestWeights`).

The chapter assembles each recurrent run on the page from these parts::

    x = as_sequences(train_inputs)                    # (W, N, 1); targets y (N, 1)
    torch.manual_seed(seed)
    model = SequenceRegressor(cell, input_size=1, hidden_size=H, output_size=1)
    best = BestWeights(lambda m: one_step_mse(sequence_predictor(m, W), *validation_windows))
    history = train(model, lambda: (x, y), mse_loss_fn, torch.optim.Adam(...), steps,
                    clip_norm=1.0, seed=seed, eval_every=10, evaluate_fn=best)
    best.restore(model)
    run = recurrent_run(model, history, best, W, seed)

and `train_recurrent_forecaster` is those lines as one function (the exercises call it).

All of them work on the standardised series (`course_pkg.data.forecasting.prepare_series`,
scaled with the training years); errors are reported in the original units (sunspot number), as
the mean absolute error (MAE) and the root mean squared error (RMSE) over the test years, per
horizon. A forecast of test year t at horizon h starts from origin ``o = t - h`` and uses the
observed values up to year o only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from course_pkg.data.forecasting import ForecastData, as_sequences
from course_pkg.models.autoregressive import AutoRegression
from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.sequence_regressor import SequenceRegressor
from course_pkg.training import BestWeights, History, train
from course_pkg.validation import require_ndim, require_positive_int, require_seeds

__all__ = [
    "Predictor",
    "persistence",
    "seasonal_naive",
    "one_step_mse",
    "choose_ar_order",
    "ar_predictor",
    "sequence_predictor",
    "RecurrentRun",
    "recurrent_run",
    "train_recurrent_forecaster",
    "recurrent_predictor",
    "recursive_forecast",
    "HorizonForecasts",
    "forecast_test_years",
    "horizon_errors",
]

Predictor = Callable[[np.ndarray], np.ndarray]


def _windows(windows, columns: int = 1, reason: str = "") -> np.ndarray:
    """``windows`` as a (B, W) float64 array with W >= ``columns`` (``reason`` names why)."""
    require_ndim("windows", windows, 2, "(B, W) past values, oldest first")
    windows = np.asarray(windows, dtype=np.float64)
    if windows.shape[1] < columns:
        raise ValueError(f"windows: expected at least {reason} = {columns} columns, "
                         f"got shape {windows.shape}")
    return windows


def persistence() -> Predictor:
    """``y_hat_{t+1} = y_t``: the last value of each window."""
    return lambda windows: _windows(windows)[:, -1]


def seasonal_naive(period: int) -> Predictor:
    """``y_hat_{t+1} = y_{t+1-period}``: the value one period before the predicted step."""
    require_positive_int("period", period)

    def predict(windows):
        windows = _windows(windows, period, "period")
        return windows[:, -period]

    return predict


def one_step_mse(predict_next: Predictor, inputs, targets) -> float:
    """``mean((predict_next(inputs) - targets)^2)`` in float64: the one-step error of a predictor
    on windows ``inputs`` (N, W) and their next values ``targets`` (N,)."""
    targets = np.asarray(targets, dtype=np.float64)
    require_ndim("targets", targets, 1, "(N,) the value after each window")
    if len(targets) != len(_windows(inputs)):
        raise ValueError(f"targets: expected one value per window ({len(inputs)}), "
                         f"got {len(targets)}")
    return float(np.mean((predict_next(inputs) - targets) ** 2))


def choose_ar_order(data: ForecastData, orders: Sequence[int]) -> tuple[int, dict[int, float]]:
    """Fit AR(p) on the training years for each p in ``orders`` and return the p with the
    smallest one-step mean squared error on the validation years, and every p's error
    (standardised units). Validation windows may reach back into the training years."""
    errors = {}
    for p in orders:
        require_positive_int("order", p)
        model = AutoRegression(p).fit(*data.windows(data.train, p))
        errors[p] = one_step_mse(model.predict, *data.windows(data.validation, p))
    best = min(errors, key=errors.get)
    return best, errors


def ar_predictor(data: ForecastData, order: int) -> tuple[Predictor, AutoRegression]:
    """AR(``order``) fitted by least squares on the training years' windows."""
    model = AutoRegression(order).fit(*data.windows(data.train, order))
    return model.predict, model


def sequence_predictor(model: SequenceRegressor, window: int) -> Predictor:
    """A network that maps (W, B, 1) to (B, 1) as a one-step predictor: windows (B, >= window)
    -> next values (B,) float64, read from the last ``window`` columns, in eval mode, without
    gradients."""
    require_positive_int("window", window)

    def predict(windows):
        windows = _windows(windows, window, "window")
        model.eval()
        with torch.no_grad():
            out = model(as_sequences(windows[:, -window:]))  # (B, 1)
        return out[:, 0].double().numpy()

    return predict


@dataclass
class RecurrentRun:
    """One trained recurrent forecaster."""

    cell: str  # "rnn", "gru" or "lstm"
    seed: int
    model: SequenceRegressor
    history: History
    window: int
    parameters: int = 0
    validation_mse: float = float("inf")  # one-step, standardised units, of the kept weights
    best_step: int = 0  # the training step whose weights were kept
    validation_curve: list = field(default_factory=list)  # (step, validation MSE) pairs


def recurrent_run(model: SequenceRegressor, history: History, best: BestWeights, window: int,
                  seed: int) -> RecurrentRun:
    """The `RecurrentRun` record of a forecaster trained by `course_pkg.training.train` with
    ``evaluate_fn=best``: its validation curve, and the step and error of the kept weights."""
    if best.index is None or best.calls != len(history.eval_steps):
        raise ValueError("best: expected the BestWeights that train called at every evaluation "
                         f"of history ({len(history.eval_steps)}), got {best.calls} calls")
    return RecurrentRun(model.cell, seed, model, history, window, count_parameters(model),
                        validation_mse=best.value, best_step=history.eval_steps[best.index],
                        validation_curve=list(zip(history.eval_steps, history.eval_losses)))


def train_recurrent_forecaster(data: ForecastData, cell: str, hidden_size: int,
                               window: int = 20, steps: int = 300,
                               learning_rate: float = 1e-2,  # Adam
                               eval_every: int = 10,  # steps between validation checks
                               seed: int = 0) -> RecurrentRun:
    """Train a `SequenceRegressor` (input size 1) on every window of the training years, full
    batch, one-step mean squared error, for ``steps`` Adam steps (clipping at norm 1).

    Before the first step and every ``eval_every`` steps the one-step error on the validation
    years is measured, and the weights with the smallest one are kept (`BestWeights`: early
    stopping by checkpoint; the validation years choose the model, the test years are never
    looked at). The chapter writes these lines out on its page."""
    require_positive_int("window", window)
    require_positive_int("steps", steps)
    require_positive_int("eval_every", eval_every)
    require_seeds([seed])
    train_inputs, train_targets = data.windows(data.train, window)
    x = as_sequences(train_inputs)  # (W, N, 1)
    y = torch.as_tensor(train_targets, dtype=torch.float32)[:, None]  # (N, 1)
    validation_windows = data.windows(data.validation, window)  # (V, W), (V,)
    torch.manual_seed(seed)
    model = SequenceRegressor(cell, input_size=1, hidden_size=hidden_size, output_size=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    best = BestWeights(lambda m: one_step_mse(sequence_predictor(m, window), *validation_windows))
    history = train(model, lambda: (x, y), lambda m, batch: F.mse_loss(m(batch[0]), batch[1]),
                    optimizer, steps, clip_norm=1.0, seed=seed, progress=False,
                    eval_every=eval_every, evaluate_fn=best)
    best.restore(model)
    return recurrent_run(model, history, best, window, seed)


def recurrent_predictor(run: RecurrentRun) -> Predictor:
    """The trained network of ``run`` as a one-step predictor over its last ``run.window``
    values (`sequence_predictor`)."""
    return sequence_predictor(run.model, run.window)


def recursive_forecast(predict_next: Predictor, windows, horizon: int) -> np.ndarray:
    """Feed each one-step forecast back: ``windows`` (B, W) -> forecasts (B, horizon)."""
    history = _windows(windows).copy()
    require_positive_int("horizon", horizon)
    forecasts = np.empty((history.shape[0], horizon))
    for h in range(horizon):
        forecasts[:, h] = predict_next(history)  # (B,)
        history = np.hstack([history[:, 1:], forecasts[:, h:h + 1]])  # drop oldest, add forecast
    return forecasts


@dataclass
class HorizonForecasts:
    """Forecasts of every test year at every horizon h = 1..H, in original units."""

    years: np.ndarray  # (N_test,) the test years
    truth: np.ndarray  # (N_test,) the observed values
    forecasts: np.ndarray  # (H, N_test): row h-1 holds the forecasts made h years earlier


def forecast_test_years(data: ForecastData, predict_next: Predictor, horizon: int,
                        context: int = 30) -> HorizonForecasts:
    """Forecast every test year t at horizons 1..``horizon`` from origins ``t - h`` (each
    forecast reads the ``context`` values up to its origin), in original units."""
    require_positive_int("horizon", horizon)
    require_positive_int("context", context)
    first, stop = data.test.start, data.test.stop
    origins = np.arange(first - horizon, stop - 1)  # last observed index of each forecast
    if origins[0] + 1 < context:
        raise ValueError(f"context: expected at most {origins[0] + 1} values before the first "
                         f"origin, got {context}")
    windows = np.stack([data.z[o - context + 1:o + 1] for o in origins])  # (O, context)
    paths = data.scaler.inverse(recursive_forecast(predict_next, windows, horizon))  # (O, H)
    forecasts = np.empty((horizon, stop - first))
    for h in range(1, horizon + 1):
        rows = np.arange(first, stop) - h - origins[0]  # the origin o = t - h of each test year
        forecasts[h - 1] = paths[rows, h - 1]
    return HorizonForecasts(data.years(data.test), data.series.values[data.test], forecasts)


def horizon_errors(result: HorizonForecasts) -> tuple[np.ndarray, np.ndarray]:
    """``(MAE, RMSE)`` per horizon, each (H,), over the test years."""
    residuals = result.forecasts - result.truth[None, :]  # (H, N_test)
    return np.abs(residuals).mean(axis=1), np.sqrt((residuals ** 2).mean(axis=1))
