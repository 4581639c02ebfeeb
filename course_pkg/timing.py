"""Timing models side by side: the median seconds of one forward + backward pass, or the median
ratio to one of them taken round by round (chapters 16 and 18, and the scripts in
``benchmarks/``).

A shared machine's speed drifts while a benchmark runs. To compare several models fairly they
take turns: every repeat runs each model once, in an order shuffled afresh for that repeat
(seeded), so a slow moment hits each of them in turn, and the median over the repeats ignores
the odd outlier. The order is shuffled, not rotated: a rotation keeps every model's successor
fixed, so whatever one model leaves behind (numpy's BLAS threads, for one, keep spinning for a
while after a call) would always slow down the same next model. The first ``warmup`` rounds are
not timed (they allocate memory and fill caches).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from typing import Callable, Mapping, Sequence

from torch import Tensor, nn

from course_pkg.validation import require_choice, require_positive_int

__all__ = ["interleaved_times", "median_pass_seconds", "median_pass_ratios", "turn_order"]


def turn_order(names: Sequence[str], repeat: int, seed: int = 0) -> list[str]:
    """The order in which ``names`` run in repeat number ``repeat``: a seeded shuffle."""
    order = list(names)
    random.Random(seed * 1_000_003 + repeat).shuffle(order)
    return order


def interleaved_times(runs: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 1,
                      max_seconds: float = math.inf,
                      synchronize: Callable[[], object] = lambda: None,
                      clock: Callable[[], float] = time.perf_counter,
                      seed: int = 0) -> dict[str, list[float]]:
    """Call each of ``runs`` once per repeat, in `turn_order`, and return ``{name: [seconds of
    each timed call]}``; ``warmup`` untimed rounds first. ``synchronize`` runs before the clock
    is read (``torch.cuda.synchronize`` for GPU work). After ``max_seconds`` of timed rounds (and
    at least three) it stops early and says so."""
    if not runs:
        raise ValueError("runs: expected at least one callable to time, got none")
    require_positive_int("repeats", repeats)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup: expected a non-negative int, got {warmup!r}")
    for r in range(warmup):
        for name in turn_order(runs, r, seed):
            runs[name]()
    synchronize()
    times: dict[str, list[float]] = {name: [] for name in runs}
    deadline = time.perf_counter() + max_seconds
    for r in range(repeats):
        for name in turn_order(runs, warmup + r, seed):
            start = clock()
            runs[name]()
            synchronize()
            times[name].append(clock() - start)
        if time.perf_counter() > deadline and r >= 2:
            print(f"(stopped after {r + 1} repeats: max_seconds = {max_seconds:g} reached)")
            break
    return times


def _pass_times(modules: Mapping[str, nn.Module], x: Tensor, upstream: Tensor, repeats: int,
                warmup: int, clock: Callable[[], float] = time.perf_counter
                ) -> dict[str, list[float]]:
    """``{name: [seconds of each timed pass]}`` of ``output, _ = module(x);
    output.backward(upstream)``, the modules taking turns (`interleaved_times`)."""
    if not modules:
        raise ValueError("modules: expected at least one module to time, got none")

    def one_pass(module: nn.Module) -> Callable[[], None]:
        def run() -> None:
            module.zero_grad(set_to_none=True)
            x.grad = None
            output, _ = module(x)
            output.backward(upstream)
        return run

    return interleaved_times({name: one_pass(module) for name, module in modules.items()},
                             repeats, warmup, clock=clock)


def median_pass_seconds(modules: Mapping[str, nn.Module], x: Tensor, upstream: Tensor,
                        repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """``{name: median seconds}`` of ``output, _ = module(x); output.backward(upstream)``.

    ``x`` is the input every module reads (it should require grad, so that the backward pass
    also computes dL/dx); ``upstream`` is dL/d output, of the output's shape. Gradients are
    cleared before every pass.
    """
    times = _pass_times(modules, x, upstream, repeats, warmup)
    return {name: statistics.median(values) for name, values in times.items()}


def median_pass_ratios(modules: Mapping[str, nn.Module], x: Tensor, upstream: Tensor,
                       baseline: str, repeats: int = 5, warmup: int = 1,
                       clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """``{name: median over repeats of t_name / t_baseline}``, each ratio taken within one round.

    The same passes as `median_pass_seconds`, but every ratio compares two passes that ran
    back to back in the same round, so a slow stretch of the machine that spans a round cancels
    out of it; a ratio of two separate medians does not cancel it. ``baseline`` must be one of
    the names of ``modules`` (its own ratio is 1.0). ``clock`` reads the time (seconds).
    """
    require_choice("baseline", baseline, list(modules))
    times = _pass_times(modules, x, upstream, repeats, warmup, clock)
    return {name: statistics.median(t / b for t, b in zip(values, times[baseline]))
            for name, values in times.items()}
