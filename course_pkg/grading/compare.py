"""Comparing a student's array with the reference's, and saying precisely where they differ.

An entry passes when ``|got - expected| <= atol + rtol * |expected|`` (numpy's ``allclose`` rule,
written out here with array operators: grading never calls numpy's comparison helpers, which a
notebook cell could have replaced). The tolerances follow the dtype of the inputs:

==========  ======  ======  ==========================================================
inputs      rtol    atol    why
==========  ======  ======  ==========================================================
float64     1e-7    1e-9    two correct float64 implementations agree to ~1e-14; every
                            real bug (a missing bias, a swapped gate) is off by > 1e-3
float32     1e-4    1e-5    float32 keeps ~7 digits; a few time steps of rounding
                            accumulate to ~1e-6 relative
==========  ======  ======  ==========================================================

The expected values are always computed in float64 from the (possibly float32) inputs, so the
tolerance measures the student's rounding only. Whether a float32 input gives a float32 output
is a separate check (:func:`check_dtype`).

A failed comparison names the worst entry in the array's own terms, e.g. ``h_t is wrong at
batch row 1, unit 3 (got 0.412, expected 0.103, |error| 0.31)``, and, along the axes worth
summarising (time, gate blocks), which positions are right and which are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


FLOAT64 = Tolerance(rtol=1e-7, atol=1e-9)
FLOAT32 = Tolerance(rtol=1e-4, atol=1e-5)


def tolerance_for(*arrays: Any) -> Tolerance:
    """FLOAT32 if any of ``arrays`` is single precision (or lower), else FLOAT64."""
    for array in arrays:
        dtype = getattr(array, "dtype", None)
        if dtype is not None and np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize < 8:
            return FLOAT32
    return FLOAT64


# ------------------------------------------------------------------------------------------
# Naming positions
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One axis of an array: ``label`` ("batch row", "unit", "time step t") and whether the
    report lists which of its positions are wrong (``summarise``, for time and gate blocks)."""

    label: str
    summarise: bool = False


@dataclass(frozen=True)
class GateAxis:
    """An axis of G*H rows stacked as gate blocks, named "gate f, unit 2"."""

    gates: tuple[str, ...]
    hidden_size: int
    summarise: bool = True

    def name(self, row: int) -> str:
        return f"gate {self.gates[row // self.hidden_size]}, unit {row % self.hidden_size}"


TIME = Axis("time step t", summarise=True)
BATCH = Axis("batch row")
UNIT = Axis("unit")
INPUT = Axis("input feature")
HIDDEN_IN = Axis("column (unit of h_prev)")
VOCAB = Axis("token")


def describe_index(index: Sequence[int], axes: Sequence[Any]) -> str:
    """(2, 1, 3) with (TIME, BATCH, UNIT) -> 'time step t=2, batch row 1, unit 3'."""
    if not index:
        return "the value"
    if not axes:
        return "entry (" + ", ".join(str(int(p)) for p in index) + ")"
    parts = []
    for position, axis in zip(index, axes):
        if isinstance(axis, GateAxis):
            parts.append(axis.name(int(position)))
        elif axis is TIME:
            parts.append(f"time step t={int(position)}")
        else:
            parts.append(f"{axis.label} {int(position)}")
    if len(axes) < len(index):
        parts.extend(f"index {int(p)}" for p in index[len(axes):])
    return ", ".join(parts)


def _ranges(positions: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    out, start = [], None
    for k, p in enumerate(positions):
        if start is None:
            start = p
        if k + 1 == len(positions) or positions[k + 1] != p + 1:
            out.append(str(start) if start == p else f"{start}-{p}")
            start = None
    return ", ".join(out)


def _summaries(bad: np.ndarray, axes: Sequence[Any]) -> list[str]:
    """For each summarised axis: which positions are wrong and which are right."""
    lines = []
    for number, axis in enumerate(axes[:bad.ndim]):
        if not getattr(axis, "summarise", False) or bad.shape[number] < 2:
            continue
        other = tuple(k for k in range(bad.ndim) if k != number)
        wrong = np.logical_or.reduce(bad, axis=other) if other else bad
        if isinstance(axis, GateAxis):
            H = axis.hidden_size
            blocks = [bool(np.logical_or.reduce(wrong[g * H:(g + 1) * H]))
                      for g in range(len(axis.gates))]
            bad_gates = [g for g, b in zip(axis.gates, blocks) if b]
            good_gates = [g for g, b in zip(axis.gates, blocks) if not b]
            if good_gates:
                lines.append(f"wrong in gate block(s) {', '.join(bad_gates)}; "
                             f"right in {', '.join(good_gates)}")
            continue
        bad_positions = [int(k) for k in np.flatnonzero(wrong)]
        good_positions = [int(k) for k in np.flatnonzero(~wrong)]
        label = "t" if axis is TIME else axis.label
        if good_positions:
            lines.append(f"wrong at {label} = {_ranges(bad_positions)}; "
                         f"right at {label} = {_ranges(good_positions)}")
        else:
            lines.append(f"wrong at every {label if axis is not TIME else 'time step'}")
    return lines


# ------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------


def name_shape(shape: Sequence[int], sizes: dict[str, int]) -> str:
    """(3, 24) with sizes {B: 3, H: 6} -> '(3, 24) = (B, 4H)' when the sizes say so."""
    names = []
    for length in shape:
        matches = [n for n, v in sizes.items() if v == length]
        matches += [f"{g}H" for g in (2, 3, 4) if "H" in sizes and g * sizes["H"] == length]
        names.append(matches[0] if len(matches) == 1 else "?")
    plain = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    if not shape or "?" in names:
        return plain
    return plain + " = (" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def shape_hint(expected: Sequence[int], got: Sequence[int]) -> str:
    """A guess at the mistake behind a wrong shape."""
    expected, got = tuple(expected), tuple(got)
    if sorted(expected) == sorted(got) and len(expected) > 1:
        return "the axes are in the wrong order (a missing or extra transpose?)"
    if len(got) == len(expected) - 1 or (len(got) < len(expected)):
        return "an axis is missing (summed or indexed away?)"
    if len(got) > len(expected):
        return ("there is an extra axis (forgot to sum over the batch, or a sum with "
                "keepdims=True?)")
    if len(got) == len(expected):
        return "a sum or product over the wrong axis?"
    return ""


# ------------------------------------------------------------------------------------------
# Comparisons
# ------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """The verdict on one array: ``ok``, and a message for the report when not."""

    name: str
    ok: bool
    message: str = ""
    worst_error: float = 0.0


def as_float_array(value: Any) -> np.ndarray | None:
    """The student's value as a float64 array, or None when it is not numeric."""
    array = getattr(value, "array", value)  # sandbox.TensorValue -> its array
    if isinstance(array, (list, tuple)):
        try:
            array = np.array(array, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    if isinstance(array, (int, float)) and not isinstance(array, bool):
        return np.array(float(array))
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        return None
    return array.astype(np.float64)


def _short(value: float) -> str:
    return f"{value:.4g}"


def distinct_pair(got: float, expected: float) -> tuple[str, str]:
    """``got`` and ``expected`` printed with 4 significant digits, or with as many more (up to
    17) as it takes for the two to differ on the page."""
    for digits in range(4, 18):
        a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if a != b:
            return a, b
    return f"{got!r}", f"{expected!r}"


def compare_values(name: str, got: Any, expected: np.ndarray, tolerance: Tolerance,
                   axes: Sequence[Any] = (), sizes: dict[str, int] | None = None) -> Comparison:
    """Compare ``got`` with ``expected`` entry by entry (see the module docstring)."""
    with np.errstate(all="ignore"):  # inf - inf in a student's output must not print a warning
        return _compare_values(name, got, expected, tolerance, axes, sizes)


def _compare_values(name: str, got: Any, expected: np.ndarray, tolerance: Tolerance,
                    axes: Sequence[Any], sizes: dict[str, int] | None) -> Comparison:
    expected = np.asarray(expected, dtype=np.float64)
    array = as_float_array(got)
    if array is None:
        kind = type(got).__name__ if not hasattr(got, "type_name") else got.type_name
        return Comparison(name, False, f"{name}: expected an array of shape {expected.shape}, "
                                       f"got {kind}")
    if array.shape != expected.shape:
        sizes = sizes or {}
        hint = shape_hint(expected.shape, array.shape)
        return Comparison(name, False,
                          f"{name}: expected shape {name_shape(expected.shape, sizes)}, got "
                          f"{name_shape(array.shape, sizes)}" + (f": {hint}" if hint else ""))
    finite = np.isfinite(array)
    error = abs(array - expected)
    allowed = tolerance.atol + tolerance.rtol * abs(expected)
    bad = (error > allowed) | ~finite
    if not np.logical_or.reduce(bad, axis=None):
        worst = float(np.maximum.reduce(error, axis=None)) if error.size else 0.0
        return Comparison(name, True, worst_error=worst)
    # the worst entry: non-finite first, then the largest error relative to what is allowed
    score = np.where(finite, error / allowed, np.inf)
    flat = int(np.argmax(np.where(bad, score, -1.0)))
    index = np.unravel_index(flat, array.shape) if array.ndim else ()
    got_value, expected_value = float(array[index]), float(expected[index])
    worst = float(error[index]) if finite[index] else float("inf")
    count = int(np.add.reduce(bad, axis=None))
    where = describe_index(index, axes)
    size = f"{count} of {array.size} entries are off" if array.size > 1 else ""
    where = f" at {where}" if array.ndim else ""
    got_text, expected_text = distinct_pair(got_value, expected_value)
    lines = [f"{name} is wrong{where} (got {got_text}, expected {expected_text}, "
             f"|error| {worst:.2g})" + (f"; {size}" if size else "")]
    lines += _summaries(bad, axes)
    return Comparison(name, False, "\n".join(lines), worst)


def check_dtype(name: str, got: Any, expected_dtype: Any) -> Comparison:
    """Does ``got`` have the floating dtype the inputs had?"""
    array = getattr(got, "array", got)
    dtype = getattr(array, "dtype", None)
    if dtype is None or np.dtype(dtype) == np.dtype(expected_dtype):
        return Comparison(name, True)
    return Comparison(name, False,
                      f"{name} has dtype {dtype} for {np.dtype(expected_dtype)} inputs: create new "
                      f"arrays with dtype=... of the inputs (np.zeros(..., dtype=x.dtype)) so "
                      f"the precision the caller chose is kept")
