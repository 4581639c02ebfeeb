"""Gradient clipping: by global norm and element-wise.

Pascanu, Mikolov and Bengio (2013), *On the difficulty of training recurrent neural networks*,
Algorithm 1, rescales the whole gradient when its norm crosses a threshold::

    g <- dE/dtheta
    if ||g|| >= threshold:  g <- (threshold / ||g||) * g

The direction of the step is kept; only its length is capped. "Global" means that ``g`` is all
gradients of the model seen as one long vector, so its norm is the norm of the per-tensor norms:
``||g|| = || (||g_1||, ||g_2||, ...) ||``.

Element-wise clipping, as in Karpathy's min-char-rnn (``np.clip(dparam, -5, 5)``), clamps every
entry to ``[-c, c]`` independently, which can change the direction of the step.

Both functions work in place on ``p.grad`` and give the same results as
``torch.nn.utils.clip_grad_norm_`` and ``torch.nn.utils.clip_grad_value_``.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Union

import torch

Parameters = Union[torch.Tensor, Iterable[torch.Tensor]]

EPS = 1e-6  # added to the norm before dividing, as PyTorch does


def _require_positive_number(name: str, value: object) -> float:
    """A real number > 0 (``inf`` allowed, NaN refused), returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a positive number, got {type(value).__name__} {value!r}")
    if math.isnan(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive number, got {value}")
    return float(value)


def _gradients(parameters: Parameters) -> list[torch.Tensor]:
    """The ``.grad`` of each parameter, skipping those without one (``grad is None``)."""
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


@torch.no_grad()
def grad_norm(parameters: Parameters, norm_type: float = 2.0) -> torch.Tensor:
    """The global ``norm_type``-norm of all gradients, as if they were one vector.

    ``||g||_p = (sum_i ||g_i||_p^p)^(1/p)``, computed as the p-norm of the per-tensor p-norms;
    for ``norm_type=inf`` it is the largest absolute entry. Returns a 0-d tensor (``0.0`` when no
    parameter has a gradient).
    """
    norm_type = _require_positive_number("norm_type", norm_type)
    grads = _gradients(parameters)
    if not grads:
        return torch.tensor(0.0)
    per_tensor = [torch.linalg.vector_norm(g, norm_type) for g in grads]  # one 0-d tensor each
    return torch.linalg.vector_norm(torch.stack(per_tensor), norm_type)


@torch.no_grad()
def clip_grad_norm(parameters: Parameters, max_norm: float, norm_type: float = 2.0) -> torch.Tensor:
    """Rescale all gradients in place so that their global norm is at most ``max_norm``.

    With ``n = ||g||`` (see :func:`grad_norm`) every gradient is multiplied by::

        scale = min(1, max_norm / (n + 1e-6))

    which is Algorithm 1 of Pascanu et al. (2013); the ``1e-6`` avoids a division by zero, and
    multiplying by 1 when ``n`` is small leaves the gradients as they were.

    Args:
        parameters: a tensor or an iterable of tensors (e.g. ``model.parameters()``); those
            whose ``.grad`` is ``None`` are skipped.
        max_norm: the threshold, > 0 (``inf`` never clips).
        norm_type: the p of the p-norm, > 0; ``float("inf")`` for the max-norm.

    Returns:
        The global norm *before* clipping (a 0-d tensor), handy for logging.
    """
    max_norm = _require_positive_number("max_norm", max_norm)
    norm_type = _require_positive_number("norm_type", norm_type)
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    total_norm = grad_norm(parameters, norm_type)
    scale = torch.clamp(max_norm / (total_norm + EPS), max=1.0)  # 0-d, <= 1
    for g in _gradients(parameters):
        g.mul_(scale.to(g.device))
    return total_norm


@torch.no_grad()
def clip_grad_value(parameters: Parameters, clip_value: float) -> None:
    """Clamp every gradient entry in place to ``[-clip_value, clip_value]`` (min-char-rnn style).

    Args:
        parameters: a tensor or an iterable of tensors; those with ``.grad is None`` are skipped.
        clip_value: the bound c > 0.
    """
    clip_value = _require_positive_number("clip_value", clip_value)
    for g in _gradients(parameters):
        g.clamp_(min=-clip_value, max=clip_value)
