"""Exploding gradients in a training run, and what gradient clipping does about them (chapter 4).

The run: an Elman network (`course_pkg.models.ElmanNetwork`, tanh, many-to-one, H = 64) whose
recurrent matrix starts as ``gain`` times a random orthogonal matrix (gain 1.5: every singular
value 1.5), trained by plain SGD (learning rate 0.05) on the adding problem
(`course_pkg.data.synthetic.adding_problem`, T = 30, batches of 32, mean squared error).
Without clipping the gradient norm grows until one step sends the loss to inf or NaN; with
clipping by global norm (Pascanu, Mikolov & Bengio 2013, Algorithm 1)::

    g <- dL/dtheta;    if ||g|| > c:  g <- (c / ||g||) g

every step has length at most ``learning_rate * c`` and the run stays finite.

Chapter 4 assembles its runs on the page from :func:`exploding_network`, ``torch.optim.SGD``,
`adding_problem` and `course_pkg.training.train` (``clip_norm`` is the knob).
:func:`clipping_run` is that same assembly as one call, for the chapter's threshold widget
(`course_pkg.widgets.gradients.clipping_threshold_widget`).

Two more measurements:

- :func:`compare_clipping`: norm clipping keeps the direction of the gradient (cosine 1 with the
  raw gradient); element-wise clipping (``clamp(g, -c, c)``, as in Karpathy's min-char-rnn) cuts
  the large entries and keeps the small ones, so it turns the step.
- :func:`input_gradient_norms`: ``||dL/dx_t||`` for every input step, the gradient that reaches
  step t. Clipping only ever shrinks a gradient, so it cannot bring back one that has vanished
  (chapter 4 measures it before and after a clipped training run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from course_pkg.clipping import clip_grad_norm, clip_grad_value
from course_pkg.data.synthetic import adding_problem
from course_pkg.tasks.adding import adding_loss
from course_pkg.models import ElmanNetwork
from course_pkg.training import train
from course_pkg.validation import require_floating, require_ndim, require_positive_int

__all__ = ["exploding_network", "clipping_run", "first_nonfinite_step", "first_nan_step",
           "ClippingComparison", "compare_clipping", "input_gradient_norms"]


def exploding_network(hidden_size=64, gain=1.5, seed=0, dtype=torch.float32):
    """An `ElmanNetwork` (2 inputs, tanh, 1 output, many-to-one) with ``W_hh = gain * Q``.

    Q is a random orthogonal matrix, so all singular values of W_hh equal ``gain``; the other
    weights keep PyTorch's initialisation. ``gain=None`` keeps PyTorch's W_hh as well.
    Seeded with ``seed``; ``dtype`` float64 is for exact comparisons in tests.
    """
    require_positive_int("hidden_size", hidden_size)
    torch.manual_seed(seed)
    model = ElmanNetwork(2, hidden_size, 1, nonlinearity="tanh", many_to_one=True).to(dtype)
    if gain is not None:
        if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not gain > 0:
            raise ValueError(f"gain: expected a positive number or None, got {gain!r}")
        q, r = torch.linalg.qr(torch.randn(hidden_size, hidden_size))
        with torch.no_grad():
            model.rnn.weight_hh_l0.copy_(gain * q * torch.sign(torch.diagonal(r)))  # (H, H)
    return model


def clipping_run(clip_norm=None, steps=1000, hidden_size=64, gain=1.5, length=30,
                 batch_size=32, learning_rate=0.05, seed=0, dtype=torch.float32,
                 stop_if_nonfinite=True):
    """Train :func:`exploding_network` with SGD on the adding problem.

    ``clip_norm``: the threshold c of global-norm clipping (None: no clipping). By default the
    run stops at the first loss that is not finite (it is recorded), so
    ``len(history.losses) < steps`` means it blew up; ``stop_if_nonfinite=False`` runs on.
    Returns ``(model, history)``: the trained network and its `History`. Batches are fresh
    adding-problem samples from a generator seeded with ``seed``;
    the model is seeded with ``seed`` too, so runs that differ only in ``clip_norm`` start from
    the same weights and see the same batches. ``dtype``: float32, or float64 for tests (the
    dynamics are chaotic, so float32 rounding differences grow from step to step).
    """
    require_positive_int("steps", steps)
    require_positive_int("length", length)
    require_positive_int("batch_size", batch_size)
    model = exploding_network(hidden_size, gain, seed, dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)

    def batches():  # a fresh batch every step
        return adding_problem(batch_size, length, generator=generator, dtype=dtype)

    history = train(model, batches, adding_loss, optimizer, steps, clip_norm=clip_norm,
                    progress=False, stop_if_nonfinite=stop_if_nonfinite)
    return model, history


def first_nonfinite_step(losses):
    """The 1-based step whose loss is the first inf or NaN, or None if all are finite."""
    for step, loss in enumerate(losses, start=1):
        if not math.isfinite(loss):
            return step
    return None


def first_nan_step(losses):
    """The 1-based step whose loss is the first NaN, or None if there is none."""
    for step, loss in enumerate(losses, start=1):
        if math.isnan(loss):
            return step
    return None


@dataclass
class ClippingComparison:
    """One gradient, raw and clipped two ways (see :func:`compare_clipping`)."""

    raw_norm: float              # ||g|| before clipping
    norm_clipped_norm: float     # ||g|| after clip_grad_norm(c)
    value_clipped_norm: float    # ||g|| after clip_grad_value(c_value)
    norm_clipped_cosine: float   # cos(g, clipped g): 1 means the same direction
    value_clipped_cosine: float
    fraction_entries_clamped: float  # share of entries that element-wise clipping changed


def _flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def _cosine(a, b):
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def compare_clipping(model, loss, max_norm=1.0, clip_value=0.1):
    """Back-propagate ``loss``, then clip the gradient by global norm and, separately, by value.

    Uses `course_pkg.clipping.clip_grad_norm` (threshold ``max_norm``) and `clip_grad_value`
    (bound ``clip_value``), each on a fresh copy of the raw gradient. Afterwards the model's
    ``.grad`` hold the raw gradient again. Returns a :class:`ClippingComparison`.
    """
    parameters = [p for p in model.parameters() if p.requires_grad]
    for p in parameters:
        p.grad = None
    loss.backward()
    raw_grads = [p.grad.clone() for p in parameters]
    raw = _flat(raw_grads)                                          # (P,) all gradients

    def clipped(clip):
        for p, g in zip(parameters, raw_grads):
            p.grad = g.clone()
        clip(parameters)                                            # in place on p.grad
        return _flat([p.grad for p in parameters])                  # (P,)

    by_norm = clipped(lambda ps: clip_grad_norm(ps, max_norm))
    by_value = clipped(lambda ps: clip_grad_value(ps, clip_value))
    for p, g in zip(parameters, raw_grads):
        p.grad = g
    return ClippingComparison(
        raw_norm=float(raw.norm()),
        norm_clipped_norm=float(by_norm.norm()),
        value_clipped_norm=float(by_value.norm()),
        norm_clipped_cosine=_cosine(raw, by_norm),
        value_clipped_cosine=_cosine(raw, by_value),
        fraction_entries_clamped=float((by_value != raw).float().mean()),
    )


def input_gradient_norms(model, x, y):
    """``||dL/dx_t||`` for every step t of the adding-problem batch ``(x, y)``: a (T,) tensor.

    L is `course_pkg.tasks.adding.adding_loss`; the norm is taken over the batch and the
    two input channels. The model's parameter gradients are left untouched.
    """
    require_ndim("x", x, 3, "time-major input, T x B x 2")
    require_floating("x", x)
    x = x.detach().clone().requires_grad_(True)
    (grad_x,) = torch.autograd.grad(adding_loss(model, (x, y)), x)   # (T, B, 2)
    return grad_x.flatten(1).norm(dim=1).detach()                  # (T,)
