"""course_pkg.grading.integrity: delegation is found (statically and by tripwires), tampering
refuses grading, and the grading library is what test cells import."""

import builtins
import sys

import numpy as np
import pytest

from course_pkg.grading import integrity, rnn_checks, sandbox
from course_pkg.grading.integrity import GradingIntegrityError, check_kernel, find_delegation

FORBIDDEN = rnn_checks.FORBIDDEN


def notebook(source: str) -> dict:
    """Run ``source`` as a notebook cell would (its functions count as the student's)."""
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<cell-1>", "exec"), namespace)
    return namespace


def test_a_function_of_its_own_is_not_delegation():
    cell = notebook(
        "import numpy as np\n"
        "from course_pkg.numpy_rnn import relative_error\n"   # allowed helper
        "def rnn_step_forward(x, h, w_ih, w_hh, b_ih, b_hh):\n"
        "    return np.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh), relative_error(x, x)\n"
        "def rnn_forward(x, h0, *weights):\n"
        "    return rnn_step_forward(x[0], h0, *weights)\n")
    assert find_delegation(cell["rnn_step_forward"], FORBIDDEN) == []
    assert find_delegation(cell["rnn_forward"], FORBIDDEN) == []


@pytest.mark.parametrize("body, culprit", [
    ("from course_pkg.numpy_rnn import rnn_forward as ref\n"
     "def f(*a):\n    return ref(*a)\n", "course_pkg.numpy_rnn.rnn.rnn_forward"),
    ("import course_pkg.numpy_rnn as ref\n"
     "def f(*a):\n    return ref.rnn_forward(*a)\n", "course_pkg.numpy_rnn.rnn.rnn_forward"),
    ("import course_pkg\nimport course_pkg.numpy_rnn\n"
     "def f(*a):\n    return course_pkg.numpy_rnn.rnn.rnn_step_forward(*a)\n",
     "course_pkg.numpy_rnn.rnn.rnn_step_forward"),
    ("def f(*a):\n    from course_pkg.numpy_rnn.lstm import lstm_step_forward\n"
     "    return lstm_step_forward(*a)\n", "course_pkg.numpy_rnn.lstm.lstm_step_forward"),
    ("def helper(*a):\n    import course_pkg.numpy_rnn as r\n    return r.gru_forward(*a)\n"
     "def f(*a):\n    return helper(*a)\n", "course_pkg.numpy_rnn.gru.gru_forward (through helper)"),
    ("import torch\ndef f(x):\n    return torch.nn.LSTM(2, 3)(x)\n", "torch.nn.LSTM"),
    ("def f(x):\n    import torch.nn as nn\n    return nn.GRUCell(2, 3)(x)\n", "torch.nn.GRUCell"),
    ("import torch\ndef f(x, w):\n    return torch.rnn_tanh_cell(x, x, w, w)\n", "torch.rnn_tanh"),
])
def test_delegation_is_found_in_the_code(body, culprit):
    pytest.importorskip("torch") if "torch" in body else None
    found = find_delegation(notebook(body)["f"], FORBIDDEN)
    assert any(item.startswith(culprit) for item in found), found


def test_tripwires_catch_what_the_code_hides():
    """importlib with computed names: invisible to the static check, caught at run time."""
    cell = notebook(
        "import importlib\n"
        "def f(x):\n"
        "    module = importlib.import_module('course_pkg.numpy_' + 'rnn')\n"
        "    return getattr(module, 'sig' + 'moid')(x), getattr(module, 'rnn_' + 'forward')\n")
    assert find_delegation(cell["f"], FORBIDDEN) == []

    def armed_call():
        with integrity.armed():
            sigmoid, rnn_forward = cell["f"](np.zeros(2))
            rnn_forward(None, None, None, None, None, None)

    def unarmed_call():  # the reference still works outside the armed block (another part's)
        from course_pkg.numpy_rnn import gradcheck
        return gradcheck.relative_error(np.ones(2), np.ones(2))

    outcomes = sandbox.run_isolated([armed_call, unarmed_call],
                                    prepare=lambda: integrity.install_tripwires(FORBIDDEN),
                                    delegation_log=integrity.tripped)
    assert outcomes[0].delegation == ["course_pkg.numpy_rnn.rnn.rnn_forward"]
    assert outcomes[1].ok and outcomes[1].value == 0.0


def test_torch_modules_are_tripwired_in_the_child_only():
    torch = pytest.importorskip("torch")

    def uses_lstm():
        with integrity.armed():
            return torch.nn.LSTM(2, 3)(torch.zeros(1, 1, 2))
    outcome = sandbox.run_isolated([uses_lstm],
                                   prepare=lambda: integrity.install_tripwires(FORBIDDEN),
                                   delegation_log=integrity.tripped)[0]
    assert outcome.delegation == ["torch.nn.LSTM"]
    assert torch.nn.LSTM(2, 3)(torch.zeros(1, 1, 2))[0].shape == (1, 1, 3)  # parent untouched


def test_a_genuine_kernel_passes():
    check_kernel()


@pytest.mark.parametrize("target, name", [
    (np, "allclose"), (np, "isclose"), (np.testing, "assert_allclose"), (np, "tanh"),
    (builtins, "print"), (builtins, "max"),
])
def test_a_patched_function_stops_grading(monkeypatch, target, name):
    monkeypatch.setattr(target, name, lambda *args, **kwargs: True)
    with pytest.raises(GradingIntegrityError, match=name):
        check_kernel()


def test_a_swapped_ufunc_is_caught(monkeypatch):
    monkeypatch.setattr(np, "tanh", np.sin)  # genuine numpy, wrong function
    with pytest.raises(GradingIntegrityError, match="numpy.tanh"):
        check_kernel()


def test_grade_reimports_the_grader_from_disk():
    """grade(), the call every test cell makes: patches of course_pkg modules do not survive."""
    import course_pkg.grading.report as report
    from course_pkg.grading.parts import grade

    saved = {name: module for name, module in sys.modules.items()
             if name.split(".")[0] == "course_pkg"}
    genuine_score = report.Report.score
    cell = notebook("def rnn_forward(*args):\n    return None\n")
    try:
        report.Report.score = lambda self: self.points  # a student's patch
        part = grade("rnn_forward", cell["rnn_forward"], grade_id="test_rnn_forward", points=2)
        fresh = sys.modules["course_pkg.grading.report"]
        assert fresh is not report and type(part.report) is fresh.Report
        assert part.report.score() == 0.0  # no cases: nothing earned
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "course_pkg"]:
            del sys.modules[name]
        sys.modules.update(saved)
        report.Report.score = genuine_score


def test_a_part_checks_its_own_arguments():
    from course_pkg.grading.parts import build_part
    cell = notebook("def f(*args):\n    return None\n")
    with pytest.raises(ValueError, match="points"):
        build_part("rnn_step_forward", cell["f"], grade_id="test_f", points=0)
    with pytest.raises(TypeError, match="grade_id"):
        build_part("rnn_step_forward", cell["f"], grade_id="", points=2)
    part = build_part("rnn_step_forward", cell["f"], grade_id="test_f", points=2)
    with pytest.raises(ValueError, match=r"unknown case parameter\(s\) \['Seed'\]"):
        part.check("typo", Seed=3)
