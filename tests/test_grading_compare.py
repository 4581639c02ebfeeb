"""course_pkg.grading.compare: tolerances, and messages that say where two arrays differ."""

import re

import numpy as np
import pytest

from course_pkg.grading.compare import (
    BATCH, FLOAT32, FLOAT64, TIME, UNIT, GateAxis, Tolerance, check_dtype, compare_values,
    describe_index,
    name_shape, tolerance_for,
)


def test_equal_arrays_pass_and_report_their_worst_error():
    expected = np.linspace(-1, 1, 12).reshape(3, 4)
    verdict = compare_values("h_t", expected + 1e-12, expected, FLOAT64, (BATCH, UNIT))
    assert verdict.ok and verdict.worst_error == pytest.approx(1e-12, rel=1e-3)


def test_a_wrong_entry_is_named_with_its_axes():
    expected = np.zeros((4, 3, 5))
    got = expected.copy()
    got[2, 1, 3] = 0.31
    got[3, 0, 0] = 0.1
    verdict = compare_values("out", got, expected, FLOAT64, (TIME, BATCH, UNIT))
    assert not verdict.ok
    assert "out is wrong at time step t=2, batch row 1, unit 3" in verdict.message
    assert "|error| 0.31" in verdict.message and "2 of 60 entries are off" in verdict.message
    assert "wrong at t = 2-3; right at t = 0-1" in verdict.message


def test_gate_blocks_are_named_and_summarised():
    H = 2
    expected = np.zeros((4 * H, 3))
    got = expected.copy()
    got[H + 1, 2] = 1.0  # forget gate, unit 1
    verdict = compare_values("dweight_ih", got, expected, FLOAT64, (GateAxis(("i", "f", "g", "o"),
                                                                              H), BATCH))
    assert "gate f, unit 1" in verdict.message
    assert "wrong in gate block(s) f; right in i, g, o" in verdict.message


def test_a_wrong_shape_is_described_with_the_sizes_and_a_hint():
    sizes = {"B": 3, "H": 6}
    verdict = compare_values("dbias_ih", np.zeros(3), np.zeros(6), FLOAT64, (UNIT,), sizes)
    assert verdict.message == ("dbias_ih: expected shape (6,) = (H,), got (3,) = (B,): a sum or "
                               "product over the wrong axis?")
    transposed = compare_values("w", np.zeros((5, 6)), np.zeros((6, 5)), FLOAT64)
    assert "transpose" in transposed.message
    assert name_shape((3, 24), {"B": 3, "H": 6}) == "(3, 24) = (B, 4H)"


def test_nan_and_non_arrays_fail():
    expected = np.ones(3)
    got = np.array([1.0, np.nan, 1.0])
    verdict = compare_values("h", got, expected, FLOAT64, (UNIT,))
    assert not verdict.ok and "unit 1" in verdict.message and "nan" in verdict.message
    assert "got str" in compare_values("h", "oops", expected, FLOAT64).message
    assert compare_values("x", 2.0, np.array(2.0), FLOAT64).ok  # a plain number is fine


def test_tolerances_follow_the_dtype_of_the_inputs():
    assert tolerance_for(np.zeros(2, np.float32), np.zeros(2)) is FLOAT32
    assert tolerance_for(np.zeros(2), 3) is FLOAT64
    expected = np.full(4, 0.5)
    rounded = expected + 1e-6  # float32 rounding: fine in float32, a bug in float64
    assert compare_values("a", rounded, expected, FLOAT32).ok
    assert not compare_values("a", rounded, expected, FLOAT64).ok


def test_dtype_check_says_what_to_do():
    assert check_dtype("out", np.zeros(2, np.float32), np.float32).ok
    verdict = check_dtype("out", np.zeros(2), np.float32)
    assert not verdict.ok and "dtype float64 for float32 inputs" in verdict.message


def test_comparisons_never_use_numpy_comparison_helpers(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the grader must not call numpy's comparison helpers")
    for name in ("allclose", "isclose", "array_equal"):
        monkeypatch.setattr(np, name, refuse)
    monkeypatch.setattr(np.testing, "assert_allclose", refuse)
    assert not compare_values("x", np.ones(3), np.zeros(3), FLOAT64).ok
    assert compare_values("x", np.ones(3), np.ones(3), FLOAT64).ok


def test_describe_index_without_axes():
    assert describe_index((1, 0), ()) == "entry (1, 0)"
    assert describe_index((), ()) == "the value"


def test_infinite_outputs_fail_quietly(recwarn):
    got = np.array([np.inf, -np.inf, 1.0])
    verdict = compare_values("p", got, np.array([np.inf, 1.0, 1.0]), FLOAT64)
    assert not verdict.ok and "index" not in verdict.message
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_got_and_expected_always_differ_on_the_page():
    expected = np.array([1.3070000])
    got = expected + 1.7e-6
    verdict = compare_values("dw", got, expected, Tolerance(rtol=1e-9, atol=1e-12))
    assert not verdict.ok
    printed = re.search(r"got (\S+), expected (\S+),", verdict.message)
    assert printed and printed.group(1) != printed.group(2), verdict.message
    assert float(printed.group(1)) == pytest.approx(got[0], rel=1e-6)
