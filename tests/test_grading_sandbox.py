"""course_pkg.grading.sandbox: a student's call cannot hang, kill, flood or change the grader."""

import io
import os
import pickle
import signal
import sys
import time

import numpy as np
import pytest

from course_pkg.grading import sandbox
from course_pkg.grading.sandbox import run_isolated

STATE = {"touched": False}


def test_values_come_back_as_plain_data():
    outcomes = run_isolated([lambda: (np.arange(3.0), {"a": 1.5}, "text", None)])
    value = outcomes[0].value
    assert outcomes[0].ok
    np.testing.assert_array_equal(value[0], [0.0, 1.0, 2.0])
    assert value[1:] == ({"a": 1.5}, "text", None)


def test_an_exception_is_reported_with_its_type_and_message():
    def broken():
        raise ValueError("shapes (3,5) and (6,) not aligned")
    outcome = run_isolated([broken])[0]
    assert outcome.kind == "exception"
    assert outcome.describe().startswith("raised ValueError: shapes (3,5) and (6,) not aligned")


def test_a_loop_that_ignores_sigint_and_catches_everything_is_killed():
    def stubborn():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            try:
                time.sleep(0.01)
            except BaseException:  # swallows the alarm too
                pass
    start = time.perf_counter()
    outcomes = run_isolated([stubborn, lambda: 1], time_limit=0.5)
    assert time.perf_counter() - start < 0.5 + sandbox.KILL_GRACE + 8
    assert outcomes[0].kind == "timeout" and "killed" in outcomes[0].error
    assert outcomes[1].kind == "not run"


def test_a_plain_infinite_loop_is_stopped_by_the_alarm():
    def spin():
        while True:
            pass
    outcomes = run_isolated([spin, lambda: 2], time_limit=0.5)
    assert outcomes[0].kind == "timeout" and "did not return within 0.5 s" in outcomes[0].error
    assert outcomes[1].ok and outcomes[1].value == 2  # the child lived on


def test_exits_are_reported_and_the_grader_survives():
    outcomes = run_isolated([lambda: sys.exit(4)])
    assert outcomes[0].kind == "exit" and "sys.exit(4)" in outcomes[0].error
    outcomes = run_isolated([lambda: os._exit(3), lambda: 1])
    assert outcomes[0].kind == "exit" and "status 3" in outcomes[0].error
    assert outcomes[1].kind == "not run"


def test_memory_is_capped():
    outcome = run_isolated([lambda: np.ones(1 << 40)], memory_limit=256 * 1024**2)[0]
    assert outcome.kind == "memory" and "ran out of memory" in outcome.error


def test_printing_is_captured_capped_and_counted(capfd):
    def chatty():
        print("x" * 1_000_000)
        print("warning!", file=sys.stderr)
        return 7
    outcome = run_isolated([chatty])[0]
    assert outcome.ok and outcome.value == 7
    assert outcome.printed_chars >= 1_000_000 and len(outcome.printed) == sandbox.PRINT_KEEP
    captured = capfd.readouterr()
    assert "xxxx" not in captured.out and "warning!" not in captured.err


def test_the_child_cannot_change_the_parent():
    def meddle():
        STATE["touched"] = True
        np.allclose = lambda *args, **kwargs: True
        return STATE["touched"]
    assert run_isolated([meddle])[0].value is True
    assert STATE["touched"] is False
    assert not np.allclose(0.0, 1.0)


def test_warnings_are_recorded_not_printed(capfd):
    def noisy():
        import warnings
        warnings.warn("careful")
        return np.exp(1000.0)
    outcome = run_isolated([noisy])[0]
    assert any("careful" in w for w in outcome.warnings)
    assert any("overflow" in w for w in outcome.warnings)
    assert capfd.readouterr().err == ""


def test_only_plain_data_is_unpickled():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    data = pickle.dumps(Evil())
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        sandbox._PlainUnpickler(io.BytesIO(data)).load()
    odd = run_isolated([lambda: Evil()])[0]  # a strange object comes back as its description
    assert odd.ok and isinstance(odd.value, sandbox.Opaque) and odd.value.type_name == "Evil"


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="time_limit"):
        run_isolated([lambda: 1], time_limit=0)
    with pytest.raises(TypeError, match="memory_limit"):
        run_isolated([lambda: 1], memory_limit=1.5)


def test_without_fork_calls_run_in_process(monkeypatch, capfd):
    """Windows has no fork: a student's own run still gets a verdict (without isolation)."""
    monkeypatch.delattr(os, "fork")

    def chatty():
        print("hello")
        raise KeyError("h_t")
    outcomes = run_isolated([lambda: np.ones(2), chatty, lambda: sys.exit(1)])
    assert outcomes[0].ok and list(outcomes[0].value) == [1.0, 1.0]
    assert outcomes[1].kind == "exception" and "KeyError" in outcomes[1].error
    assert outcomes[1].printed == "hello\n" and capfd.readouterr().out == ""
    assert outcomes[2].kind == "exit"
