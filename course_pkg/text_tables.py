"""The plain-text tables the chapters print, laid out by one function, and the mean and spread
over seeds computed by one function.

A chapter that trains over several seeds reports, per model, the value of every seed, then

    mean  m = (1/n) sum_i v_i
    spread s = sqrt( sum_i (v_i - m)^2 / (n - 1) )      (the sample standard deviation)

written ``m +- s`` (just ``m`` for one seed, where there is no spread). `text_table` aligns a
header and rows of strings: the first column to the left (names), the others to the right
(numbers), columns two spaces apart.

The HTML tables of the widgets have their own single helper, `course_pkg.widgets.html_table`.
"""

from __future__ import annotations

import math
import statistics
from typing import Mapping, Sequence

__all__ = ["mean_and_spread", "format_mean_spread", "seed_cells", "text_table"]


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """``(mean, sample standard deviation)`` of ``values``; the spread of one value is ``nan``
    (one seed says nothing about the seed-to-seed spread)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values: expected at least one number, got none")
    spread = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), spread


def format_mean_spread(values: Sequence[float], digits: int = 3) -> str:
    """``"mean +- spread"`` with ``digits`` decimals, or ``"mean"`` for a single value."""
    mean, spread = mean_and_spread(values)
    if math.isnan(spread):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} +- {spread:.{digits}f}"


def seed_cells(by_seed: Mapping[int, float], seeds: Sequence[int], digits: int = 3) -> list[str]:
    """One cell per seed of ``seeds``: the value of ``by_seed`` with ``digits`` decimals, or
    ``"-"`` where that seed has no value."""
    return [f"{by_seed[s]:.{digits}f}" if s in by_seed else "-" for s in seeds]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], rule: bool = False,
               subheader: Sequence[str] | None = None,
               footer: Sequence[Sequence[str]] = ()) -> str:
    """``header`` and ``rows`` (each as many strings as the header) as aligned lines: column 0
    left-aligned, the rest right-aligned, each as wide as its widest cell, two spaces between
    columns. ``rule`` adds a line of dashes under the header; ``subheader`` is a second header
    line (e.g. the units under a run's name); ``footer`` rows come last, below a rule of their
    own."""
    header = [str(h) for h in header]
    heads = [header] + ([[str(h) for h in subheader]] if subheader is not None else [])
    rows = [[str(cell) for cell in row] for row in rows]
    footer = [[str(cell) for cell in row] for row in footer]
    for name, group in (("subheader", heads[1:]), ("rows", rows), ("footer", footer)):
        for index, row in enumerate(group):
            if len(row) != len(header):
                where = name if name == "subheader" else f"{name}[{index}]"
                raise ValueError(f"{where}: expected {len(header)} cells (one per header "
                                 f"column), got {len(row)}")
    widths = [max(len(row[k]) for row in heads + rows + footer) for k in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) if k == 0 else cell.rjust(w)
                         for k, (cell, w) in enumerate(zip(row, widths))).rstrip()

    dashes = "-" * len("  ".join(" " * w for w in widths))
    lines = [line(row) for row in heads] + ([dashes] if rule else []) + [line(r) for r in rows]
    if footer:
        lines += [dashes] + [line(row) for row in footer]
    return "\n".join(lines)
