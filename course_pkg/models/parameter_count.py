"""How big a model is: the number of trainable parameters, the measure the chapters use to
compare models at equal budgets (LSTM against NTM, Mogrifier, SRU, self-attention)."""

from __future__ import annotations

from torch import nn

__all__ = ["count_parameters"]


def count_parameters(module: nn.Module) -> int:
    """The number of trainable numbers in ``module``: the sum of ``p.numel()`` over its
    parameters with ``requires_grad``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
