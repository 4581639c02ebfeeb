"""How the gradient of a recurrent network shrinks or grows with distance in time (chapter 4).

With ``a_t = W_ih x_t + b + W_hh h_{t-1}`` and ``h_t = f(a_t)``, one step back in time multiplies
the gradient by the Jacobian ``dh_t/dh_{t-1} = diag(f'(a_t)) W_hh``, and k steps back by a
product of k of them (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013, sec. 2)::

    dh_T/dh_{T-k} = J_T J_{T-1} ... J_{T-k+1},          J_t = diag(f'(a_t)) W_hh      (H, H)
    ||dh_T/dh_{T-k}||_2 <= prod ||diag(f'(a_t))|| ||W_hh|| <= (gamma * sigma_max(W_hh))^k

with ``gamma = max |f'|`` (1 for tanh, relu and the identity). Below 1 the bound forces the
gradient to vanish geometrically; above 1 it allows (but does not force) an explosion.

:func:`gradient_norm_over_time` measures ``||dh_T/dh_{T-k}||_2`` for every k in a network whose
recurrent matrix is ``radius`` times an orthogonal matrix (:func:`scaled_orthogonal`), so that
its largest singular value, its spectral radius and the bound's base all equal ``radius``.
"""

from __future__ import annotations

import numbers

import numpy as np

from course_pkg.numpy_rnn import rnn_forward
from course_pkg.validation import (
    require_choice,
    require_floating,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["NONLINEARITIES", "scaled_orthogonal", "jacobian_product_norms",
           "gradient_flow_network", "gradient_norm_over_time"]

NONLINEARITIES = ("linear", "tanh", "relu")


def _require_nonnegative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
    return float(value)


def scaled_orthogonal(size, radius, seed=0):
    """``radius * Q`` with Q a random orthogonal (size, size) matrix (QR of a Gaussian matrix).

    Every singular value of the result equals ``radius``, and so does its spectral radius.
    """
    require_positive_int("size", size)
    radius = _require_nonnegative("radius", radius)
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return radius * q * np.sign(np.diag(r))            # (H, H); the sign fix makes Q uniform


def jacobian_product_norms(weight_hh, derivatives):
    """``||dh_T/dh_{T-k}||_2`` for k = 0 .. T, from W_hh and the derivatives ``f'(a_t)``.

    weight_hh (H, H); derivatives (T, H), row t-1 holding ``f'(a_t)`` of step t = 1..T.
    The product is built from the last step backwards, one Jacobian at a time::

        P_0 = I,     P_k = P_{k-1} diag(f'(a_{T-k+1})) W_hh,      norms[k] = sigma_max(P_k)

    Returns a (T + 1,) array; ``norms[0] = 1``.
    """
    require_floating("weight_hh", weight_hh)
    require_ndim("weight_hh", weight_hh, 2, "recurrent weights, H x H")
    H = weight_hh.shape[0]
    require_shape("weight_hh", weight_hh, (H, H), "recurrent weights, H x H")
    require_floating("derivatives", derivatives)
    require_ndim("derivatives", derivatives, 2, "f'(a_t) for every step, T x H")
    require_shape("derivatives", derivatives, ("T", H),
                  f"f'(a_t) for every step, T x H with H = {H}")
    T = derivatives.shape[0]
    product = np.eye(H)                                 # P_0 = dh_T/dh_T
    norms = [1.0]
    for t in reversed(range(T)):
        jacobian = derivatives[t][:, None] * weight_hh   # (H, H) = diag(f'(a_t)) W_hh
        product = product @ jacobian                     # dh_T / dh_{t-1}
        norms.append(np.linalg.norm(product, 2))         # largest singular value
    return np.array(norms)


def gradient_flow_network(radius, num_steps=60, hidden_size=32, input_scale=0.1, seed=0):
    """The seeded test network of :func:`gradient_norm_over_time` (float64, one sequence).

    ``W_hh = radius * Q`` (:func:`scaled_orthogonal`), ``W_ih ~ N(0, input_scale^2 / 4)`` for
    inputs of size 4, ``x_t ~ N(0, 1)``, zero biases, ``h_0 = 0``. Small inputs keep tanh in its
    near-linear range at first, so that W_hh, not the input, decides what happens. The same seed
    gives the same Q, W_ih and x for every radius.

    Returns ``(weight_ih (H, 4), weight_hh (H, H), x (T, 1, 4))``.
    """
    radius = _require_nonnegative("radius", radius)
    require_positive_int("num_steps", num_steps)
    require_positive_int("hidden_size", hidden_size)
    input_scale = _require_nonnegative("input_scale", input_scale)
    input_size = 4
    weight_hh = scaled_orthogonal(hidden_size, radius, seed)       # (H, H)
    rng = np.random.default_rng([seed, 1])                         # independent of Q's stream
    weight_ih = rng.standard_normal((hidden_size, input_size)) * input_scale / np.sqrt(input_size)
    x = rng.standard_normal((num_steps, 1, input_size))             # (T, B=1, D)
    return weight_ih, weight_hh, x


def gradient_norm_over_time(radius, nonlinearity="tanh", num_steps=60, hidden_size=32,
                            input_scale=0.1, seed=0):
    """``||dh_T/dh_{T-k}||_2`` for k = 0 .. T in the network of :func:`gradient_flow_network`.

    For ``"tanh"``/``"relu"`` the states come from `course_pkg.numpy_rnn.rnn_forward` and
    ``f'(a_t)`` is ``1 - h_t^2`` or ``[h_t > 0]``; ``"linear"`` has ``f' = 1``, so its norms are
    exactly ``radius ** k``.

    Returns a (num_steps + 1,) array, index k = distance in time.
    """
    require_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    weight_ih, weight_hh, x = gradient_flow_network(radius, num_steps, hidden_size, input_scale,
                                                    seed)
    if nonlinearity == "linear":
        derivatives = np.ones((num_steps, hidden_size))             # (T, H)
    else:
        zeros = np.zeros(hidden_size)
        out, _, _ = rnn_forward(x, np.zeros((1, hidden_size)), weight_ih, weight_hh, zeros, zeros,
                                nonlinearity=nonlinearity)         # (T, 1, H)
        h = out[:, 0, :]                                            # (T, H)
        derivatives = 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(float)
    return jacobian_product_norms(weight_hh, derivatives)
