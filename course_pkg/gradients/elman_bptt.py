"""Backpropagation through time for an Elman network with a loss at every step (chapter 3).

The network of chapter 2, with PyTorch's names, and a squared error summed over the steps::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   h_t = tanh(a_t)   (numpy_rnn.rnn_forward)
    y_t = W_hy h_t + b_y
    L   = sum_t L_t,     L_t = 1/(2B) sum_b ||y_t - target_t||^2      (only t in loss_steps)

The chain rule, walking back in time (Werbos 1990, *Backpropagation through time: what it does
and how to do it*)::

    dy_t  = (y_t - target_t) / B                       (B, O), zero for a step without loss
    dW_hy = sum_t dy_t^T h_t        db_y = sum_t sum_b dy_t
    dh_t  = dy_t W_hy + da_{t+1} W_hh                  from the output at t, and from step t+1
    da_t  = dh_t * (1 - h_t^2)                         tanh'
    dW_hh = sum_t da_t^T h_{t-1}    dW_ih = sum_t da_t^T x_t    db_ih = db_hh = sum_t sum_b da_t

The last two lines are `course_pkg.numpy_rnn.rnn_backward`, given ``dout_t = dy_t W_hy``.

Three independent ways to get the same gradient: the hand-written pass (:func:`elman_gradients`),
torch autograd on ``torch.nn.RNN`` + ``torch.nn.Linear`` (:func:`autograd_gradients`), and
centred finite differences (:func:`finite_difference_gradients`). With ``window=k`` the first two
use truncated BPTT instead (chunks of k steps, `course_pkg.gradients.truncated_bptt`; torch
detaches the state every k steps). :func:`input_gradient_map` measures how much gradient each
loss term sends to each input, the picture of what truncation cuts.
"""

from __future__ import annotations

import numpy as np

from course_pkg.gradients.truncated_bptt import rnn_forward_stepwise, truncated_rnn_backward
from course_pkg.numpy_rnn import numerical_gradient, rnn_backward, rnn_forward
from course_pkg.validation import (
    require_choice,
    require_floating,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["WEIGHT_NAMES", "init_elman_weights", "elman_loss", "elman_gradients",
           "autograd_gradients", "finite_difference_gradients", "input_gradient_map"]

#: The parameters of the network, in PyTorch's names (``weight_hy``/``bias_y`` are the read-out).
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hy", "bias_y")
NONLINEARITIES = ("tanh", "relu")


def init_elman_weights(input_size, hidden_size, output_size, seed=0, recurrent_scale=None):
    """Seeded float64 weights ``U(-1/sqrt(H), 1/sqrt(H))`` (PyTorch's initialisation).

    ``recurrent_scale``: if given, ``W_hh`` is instead ``recurrent_scale`` times a random
    orthogonal matrix (all its singular values equal ``recurrent_scale``).
    Returns a dict keyed by :data:`WEIGHT_NAMES`: weight_ih (H, D), weight_hh (H, H),
    bias_ih (H,), bias_hh (H,), weight_hy (O, H), bias_y (O,).
    """
    require_positive_int("input_size", input_size)
    require_positive_int("hidden_size", hidden_size)
    require_positive_int("output_size", output_size)
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(hidden_size)
    shapes = {"weight_ih": (hidden_size, input_size), "weight_hh": (hidden_size, hidden_size),
              "bias_ih": (hidden_size,), "bias_hh": (hidden_size,),
              "weight_hy": (output_size, hidden_size), "bias_y": (output_size,)}
    weights = {name: rng.uniform(-bound, bound, shape) for name, shape in shapes.items()}
    if recurrent_scale is not None:
        q, r = np.linalg.qr(rng.standard_normal((hidden_size, hidden_size)))
        weights["weight_hh"] = recurrent_scale * q * np.sign(np.diag(r))  # (H, H) orthogonal
    return weights


def _check_problem(weights, x, targets, nonlinearity):
    """Check the weights dict, x (T, B, D) and targets (T, B, O); return (T, B, D, H, O)."""
    if not isinstance(weights, dict) or set(weights) != set(WEIGHT_NAMES):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise ValueError(f"weights: expected a dict with keys {list(WEIGHT_NAMES)}, got {got}")
    for name in WEIGHT_NAMES:
        require_floating(f"weights['{name}']", weights[name])
    require_ndim("weights['weight_hy']", weights["weight_hy"], 2, "read-out, O x H")
    O, H = weights["weight_hy"].shape
    require_shape("weights['bias_y']", weights["bias_y"], (O,), f"read-out bias, O = {O}")
    require_ndim("x", x, 3, "time-major input, T x B x D")
    require_floating("x", x)
    T, B, D = x.shape
    require_ndim("targets", targets, 3, "one target per step, T x B x O")
    require_floating("targets", targets)
    require_shape("targets", targets, (T, B, O), f"one target per step, T x B x O with O = {O}")
    require_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    return T, B, D, H, O


def _loss_mask(loss_steps, T):
    """(T,) 1.0 at the steps whose loss counts (all steps when ``loss_steps`` is None)."""
    if loss_steps is None:
        return np.ones(T)
    steps = list(loss_steps)
    for s in steps:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < T:
            raise ValueError(f"loss_steps: expected step indices in [0, {T - 1}], got {steps}")
    mask = np.zeros(T)
    mask[steps] = 1.0
    return mask


def _readout(weights, out, targets, mask):
    """y_t = W_hy h_t + b_y and the loss L = sum_t mask_t/(2B) ||y_t - target_t||^2."""
    y = out @ weights["weight_hy"].T + weights["bias_y"]           # (T, B, O)
    error = (y - targets) * mask[:, None, None]                    # (T, B, O), 0 where no loss
    B = out.shape[1]
    return float(np.sum(error * error) / (2 * B)), error / B       # loss, dy (T, B, O)


def elman_loss(weights, x, targets, nonlinearity="tanh", loss_steps=None):
    """The loss ``L = sum_t L_t`` of the module doc (h_0 = 0); ``loss_steps`` limits the sum."""
    T, B, _, H, _ = _check_problem(weights, x, targets, nonlinearity)
    rnn_weights = {name: weights[name] for name in WEIGHT_NAMES[:4]}
    out, _, _ = rnn_forward(x, np.zeros((B, H)), **rnn_weights, nonlinearity=nonlinearity)
    return _readout(weights, out, targets, _loss_mask(loss_steps, T))[0]


def elman_gradients(weights, x, targets, nonlinearity="tanh", window=None, loss_steps=None):
    """The loss and its gradient by hand-written BPTT (full, or truncated with ``window``).

    Returns ``(loss, grads)``; grads holds every weight of :data:`WEIGHT_NAMES` and ``x``
    (T, B, D), the gradient with respect to each input. ``window=None``: full BPTT through
    `course_pkg.numpy_rnn.rnn_backward`; ``window=k``: chunks of k steps through
    `course_pkg.gradients.truncated_bptt.truncated_rnn_backward`.
    """
    T, B, _, H, _ = _check_problem(weights, x, targets, nonlinearity)
    if window is not None:
        require_positive_int("window", window)
    rnn_weights = {name: weights[name] for name in WEIGHT_NAMES[:4]}
    h0 = np.zeros((B, H))
    if window is None:
        out, _, cache = rnn_forward(x, h0, **rnn_weights, nonlinearity=nonlinearity)
    else:
        out, _, step_caches = rnn_forward_stepwise(x, h0, **rnn_weights, nonlinearity=nonlinearity)
    loss, dy = _readout(weights, out, targets, _loss_mask(loss_steps, T))  # dy (T, B, O)
    dout = dy @ weights["weight_hy"]                               # (T, B, H): dL/dh_t via y_t
    if window is None:
        grads = rnn_backward(dout, None, cache)
    else:
        grads = truncated_rnn_backward(dout, None, step_caches, window)
    grads.pop("h0")
    grads["weight_hy"] = np.einsum("tbo,tbh->oh", dy, out)          # (O, H) sum over t and b
    grads["bias_y"] = dy.sum(axis=(0, 1))                          # (O,)
    return loss, grads


def autograd_gradients(weights, x, targets, nonlinearity="tanh", window=None, loss_steps=None):
    """The same loss and gradient from torch autograd (``torch.nn.RNN`` + ``torch.nn.Linear``).

    The outside reference for :func:`elman_gradients`. With ``window=k`` the sequence is run in
    chunks of k steps and the state is detached between chunks (``h = h.detach()``), the usual
    PyTorch idiom for truncated BPTT. Returns ``(loss, grads)`` as numpy float64.
    """
    import torch

    T, B, D, H, O = _check_problem(weights, x, targets, nonlinearity)
    if window is not None:
        require_positive_int("window", window)
    chunk = T if window is None else window
    rnn = torch.nn.RNN(D, H, nonlinearity=nonlinearity, dtype=torch.float64)
    readout = torch.nn.Linear(H, O, dtype=torch.float64)
    with torch.no_grad():
        for name in WEIGHT_NAMES[:4]:
            getattr(rnn, name + "_l0").copy_(torch.as_tensor(weights[name]))
        readout.weight.copy_(torch.as_tensor(weights["weight_hy"]))
        readout.bias.copy_(torch.as_tensor(weights["bias_y"]))
    x_t = torch.tensor(x, dtype=torch.float64, requires_grad=True)   # (T, B, D)
    h = torch.zeros(1, B, H, dtype=torch.float64)
    outs = []
    for start in range(0, T, chunk):
        out, h = rnn(x_t[start:start + chunk], h)                 # (k, B, H)
        h = h.detach()                                            # no gradient across the cut
        outs.append(out)
    y = readout(torch.cat(outs))                                  # (T, B, O)
    mask = torch.as_tensor(_loss_mask(loss_steps, T))[:, None, None]
    loss = ((y - torch.as_tensor(targets)) ** 2 * mask).sum() / (2 * B)
    loss.backward()
    grads = {name: getattr(rnn, name + "_l0").grad.numpy() for name in WEIGHT_NAMES[:4]}
    grads["weight_hy"] = readout.weight.grad.numpy()
    grads["bias_y"] = readout.bias.grad.numpy()
    grads["x"] = x_t.grad.numpy()
    return loss.item(), grads


def finite_difference_gradients(weights, x, targets, nonlinearity="tanh", h=1e-6):
    """Centred differences of :func:`elman_loss` for every weight and for ``x`` (float64 only).

    ``(L(w + h e_k) - L(w - h e_k)) / (2h)`` for every entry k: 2 forward passes per entry, so
    keep the problem small. Returns a dict of gradients keyed like :func:`elman_gradients`.
    """
    _check_problem(weights, x, targets, nonlinearity)
    weights = {name: np.array(value, dtype=np.float64) for name, value in weights.items()}
    x = np.array(x, dtype=np.float64)

    def loss(_):  # numerical_gradient perturbs the arrays in place; read them through the dict
        return elman_loss(weights, x, targets, nonlinearity)

    grads = {name: numerical_gradient(loss, weights[name], h=h) for name in WEIGHT_NAMES}
    grads["x"] = numerical_gradient(loss, x, h=h)
    return grads


def input_gradient_map(weights, x, targets, nonlinearity="tanh", window=None):
    """``M[t, s] = ||dL_t / dx_s||``: how much gradient the loss at step t sends to input s.

    One hand-written backward pass per loss step t (``loss_steps=[t]``). Full BPTT fills the
    lower triangle ``s <= t``; truncation with window k keeps only ``s`` in t's own chunk.
    Returns a (T, T) array (zero above the diagonal: the loss at t cannot depend on later inputs).
    """
    T = _check_problem(weights, x, targets, nonlinearity)[0]
    grid = np.zeros((T, T))
    for t in range(T):
        _, grads = elman_gradients(weights, x, targets, nonlinearity, window, loss_steps=[t])
        grid[t] = np.sqrt(np.sum(grads["x"] ** 2, axis=(1, 2)))    # (T,) norm over B and D
    return grid
