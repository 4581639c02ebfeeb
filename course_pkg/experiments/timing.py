"""Timing models side by side: the median seconds of one forward + backward pass (chapters 15
and 17).

A shared machine's speed drifts while a benchmark runs. To compare several models fairly they
take turns: in repeat r the models run in an order rotated by r, so a slow moment hits each of
them in turn, and the median over the repeats ignores the odd outlier. The first ``warmup``
rounds are not timed (they allocate memory and fill caches).
"""

from __future__ import annotations

import statistics
import time
from typing import Mapping

from torch import Tensor, nn

from course_pkg.validation import require_positive_int

__all__ = ["median_pass_seconds"]


def median_pass_seconds(modules: Mapping[str, nn.Module], x: Tensor, upstream: Tensor,
                        repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """``{name: median seconds}`` of ``output, _ = module(x); output.backward(upstream)``.

    ``x`` is the input every module reads (it should require grad, so that the backward pass
    also computes dL/dx); ``upstream`` is dL/d output, of the output's shape. Gradients are
    cleared before every pass.
    """
    if not modules:
        raise ValueError("modules: expected at least one module to time, got none")
    require_positive_int("repeats", repeats)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup: expected a non-negative int, got {warmup!r}")
    names = list(modules)

    def one_pass(module: nn.Module) -> None:
        module.zero_grad(set_to_none=True)
        x.grad = None
        output, _ = module(x)
        output.backward(upstream)

    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            one_pass(modules[name])
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}
