"""The one-unit recurrent network of Pascanu, Mikolov & Bengio (2013) and its error surface (ch. 4).

*On the difficulty of training recurrent neural networks* (ICML 2013) studies a network with a
single hidden unit, no input, and a loss on the last state only::

    x_t = w * sigmoid(x_{t-1}) + b,     t = 1 .. T,     x_0 given
    L(w, b) = (x_T - target)^2

The constants used here are ``x_0 = 0.5``, ``T = 50``, ``target = 0.7``.

For ``w > 4`` the map ``x -> w sigmoid(x) + b`` has a slope above 1 near its middle and, for a
band of biases, two stable fixed points. Crossing the edge of that band (a bifurcation) changes
the attractor the state runs to, so x_T, and with it the loss, jumps over a tiny change of
(w, b): a steep wall in the error surface, where the gradient is huge. A gradient step taken on
the wall throws the parameters far away; rescaling the gradient when its norm exceeds a
threshold (their Algorithm 1, `course_pkg.clipping.clip_grad_norm`) keeps the step short.

The gradient by backpropagation through time, one scalar per step (``s = sigmoid``)::

    dL/dx_T     = 2 (x_T - target)
    dL/dx_{t-1} = dL/dx_t * w * s'(x_{t-1}),       s'(x) = s(x) (1 - s(x))
    dL/dw       = sum_t dL/dx_t * s(x_{t-1}),       dL/db = sum_t dL/dx_t

Every function broadcasts over arrays of w and b, so a whole grid is one call.
"""

from __future__ import annotations

import numbers

import numpy as np

from course_pkg.validation import require_positive_int

__all__ = ["X0", "NUM_STEPS", "TARGET", "one_unit_states", "one_unit_loss",
           "one_unit_gradient", "loss_surface", "find_wall", "descent_path"]

X0 = 0.5          # initial state x_0
NUM_STEPS = 50    # T: the loss looks at x_T
TARGET = 0.7      # the value x_T should reach


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _as_real_array(name, value):
    """A float64 array of ``value`` (a number or an array of numbers), or a clear error."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a real number or an array of them, got bool")
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name}: expected a real number or an array of them, "
                        f"got dtype {array.dtype}")
    return array.astype(np.float64)


def _require_real(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite real number, got {value!r}")
    return float(value)


def one_unit_states(w, b, num_steps=NUM_STEPS, x0=X0):
    """All states ``x_0 .. x_T`` of ``x_t = w sigmoid(x_{t-1}) + b``.

    ``w`` and ``b`` are numbers or arrays that broadcast together (shape S).
    Returns an array of shape ``(T + 1, *S)``.
    """
    w = _as_real_array("w", w)
    b = _as_real_array("b", b)
    require_positive_int("num_steps", num_steps)
    x0 = _require_real("x0", x0)
    shape = np.broadcast_shapes(w.shape, b.shape)
    states = np.empty((num_steps + 1, *shape))            # (T + 1, *S)
    states[0] = x0
    for t in range(1, num_steps + 1):
        states[t] = w * _sigmoid(states[t - 1]) + b
    return states


def one_unit_loss(w, b, target=TARGET, num_steps=NUM_STEPS, x0=X0):
    """``L(w, b) = (x_T - target)^2``, broadcast over w and b."""
    target = _require_real("target", target)
    return (one_unit_states(w, b, num_steps, x0)[-1] - target) ** 2


def one_unit_gradient(w, b, target=TARGET, num_steps=NUM_STEPS, x0=X0):
    """``(dL/dw, dL/db)`` by backpropagation through time (module doc), broadcast over w and b."""
    target = _require_real("target", target)
    w_array = _as_real_array("w", w)
    states = one_unit_states(w, b, num_steps, x0)       # (T + 1, *S)
    d_state = 2 * (states[-1] - target)                  # dL/dx_T, shape S
    d_w = np.zeros_like(d_state)
    d_b = np.zeros_like(d_state)
    for t in range(num_steps, 0, -1):
        s_prev = _sigmoid(states[t - 1])                 # s(x_{t-1})
        d_w = d_w + d_state * s_prev                     # x_t = w s(x_{t-1}) + b
        d_b = d_b + d_state
        d_state = d_state * w_array * s_prev * (1 - s_prev)   # dL/dx_{t-1}
    return d_w, d_b


def loss_surface(w_values, b_values, target=TARGET, num_steps=NUM_STEPS, x0=X0):
    """The loss on the grid ``w_values x b_values``: an array (len(b_values), len(w_values)).

    Row i, column j holds ``L(w_values[j], b_values[i])``, the layout ``plt.pcolormesh`` and
    ``plt.contour`` expect for x = w and y = b.
    """
    w_values = _as_real_array("w_values", w_values)
    b_values = _as_real_array("b_values", b_values)
    for name, values in (("w_values", w_values), ("b_values", b_values)):
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"{name}: expected a non-empty 1-D array, got shape {values.shape}")
    return one_unit_loss(w_values[None, :], b_values[:, None], target, num_steps, x0)


def find_wall(w, b_low, b_high, num_steps=NUM_STEPS, x0=X0, iterations=60):
    """The bias b in [b_low, b_high] where, for this w, x_T jumps from one attractor to the other.

    Bisection on ``x_T(b)``: the two ends must give final states on either side of their
    midpoint ``m = (x_T(b_low) + x_T(b_high)) / 2``; the interval is halved ``iterations`` times,
    keeping the half whose ends are still on either side of m. Returns the midpoint of the last
    interval (a float); with 60 halvings it is as precise as float64 allows.
    """
    w = _require_real("w", w)
    b_low, b_high = _require_real("b_low", b_low), _require_real("b_high", b_high)
    if not b_low < b_high:
        raise ValueError(f"b_high: expected a value above b_low = {b_low}, got {b_high}")
    require_positive_int("iterations", iterations)

    def final(b):  # x_T for this b
        return float(one_unit_states(w, b, num_steps, x0)[-1])

    low_side = final(b_low)
    middle = (low_side + final(b_high)) / 2
    for _ in range(iterations):
        b_mid = (b_low + b_high) / 2
        if (final(b_mid) < middle) == (low_side < middle):
            b_low = b_mid
        else:
            b_high = b_mid
    return (b_low + b_high) / 2


def descent_path(w0, b0, learning_rate, steps, clip_norm=None, target=TARGET,
                 num_steps=NUM_STEPS, x0=X0):
    """Plain gradient descent on (w, b), optionally with gradient-norm clipping.

    Each step: ``g = (dL/dw, dL/db)``; if ``clip_norm`` is given, g is rescaled by
    `course_pkg.clipping.clip_grad_norm` (Algorithm 1 of Pascanu et al.: ``g <- c g / ||g||``
    when ``||g|| > c``); then ``(w, b) <- (w, b) - learning_rate * g``.

    Returns a (steps + 1, 2) array of the visited points (w, b), starting at (w0, b0).
    """
    import torch

    from course_pkg.clipping import clip_grad_norm

    point = np.array([_require_real("w0", w0), _require_real("b0", b0)])
    learning_rate = _require_real("learning_rate", learning_rate)
    if learning_rate <= 0:
        raise ValueError(f"learning_rate: expected a positive number, got {learning_rate}")
    require_positive_int("steps", steps)
    path = [point.copy()]
    parameters = torch.zeros(2, dtype=torch.float64, requires_grad=True)  # holds g in .grad
    for _ in range(steps):
        d_w, d_b = one_unit_gradient(point[0], point[1], target, num_steps, x0)
        parameters.grad = torch.tensor([float(d_w), float(d_b)], dtype=torch.float64)
        if clip_norm is not None:
            clip_grad_norm(parameters, clip_norm)      # in place on parameters.grad
        point = point - learning_rate * parameters.grad.numpy()
        path.append(point.copy())
    return np.array(path)
