"""How big a model is: the number of trainable parameters, the measure the chapters use to
compare models at equal budgets (LSTM against NTM, Mogrifier, SRU, self-attention), and the
width that brings a model to a given budget."""

from __future__ import annotations

from typing import Callable

from torch import nn

from course_pkg.validation import require_positive_int

__all__ = ["count_parameters", "closest_size"]


def count_parameters(module: nn.Module) -> int:
    """The number of trainable numbers in ``module``: the sum of ``p.numel()`` over its
    parameters with ``requires_grad``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def closest_size(count: Callable[[int], int], budget: int) -> int:
    """The width ``H >= 1`` whose parameter count ``count(H)`` is closest to ``budget``
    (``argmin_H |count(H) - budget|``, the smallest ``H`` on a tie).

    ``count`` must grow with ``H`` (every layer's count does: e.g. ``4H(D + H) + 8H`` for one
    LSTM layer), so the search stops at the first ``H`` whose count reaches the budget.
    """
    require_positive_int("budget", budget)
    best, width = 1, 1
    while True:
        if abs(count(width) - budget) < abs(count(best) - budget):
            best = width
        if count(width) >= budget:
            return best
        width += 1
