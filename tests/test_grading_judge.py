"""The judge's view of a submission: compiled, never run, and read for delegation."""

from __future__ import annotations

from course_pkg.grading import integrity, rnn_checks
from course_pkg.grading.instructor import judge

CELLS = [
    "import numpy as np\nfrom course_pkg.numpy_rnn import rnn_forward as helper\n"
    "raise SystemExit('top-level code is never run by the judge')\n",
    "def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    return helper(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)\n",
    "import not_a_module_anywhere\ndef honest(x):\n    return np.tanh(x)\n",
]


def test_shadow_functions_are_compiled_with_statically_resolved_imports(tmp_path):
    marker = tmp_path / "ran"
    cells = CELLS + [f"open({str(marker)!r}, 'w').close()\ndef other():\n    pass\n"]
    shadows = judge.shadow_functions(cells)
    assert sorted(shadows) == ["honest", "other", "rnn_forward"]
    assert not marker.exists()  # nothing of the cells was executed
    found = integrity.find_delegation(shadows["rnn_forward"], rnn_checks.FORBIDDEN)
    assert any("course_pkg.numpy_rnn" in item for item in found), found
    assert integrity.find_delegation(shadows["honest"], rnn_checks.FORBIDDEN) == []


def test_a_remote_function_cannot_be_called_in_the_judge():
    remote = judge.RemoteFunction("rnn_forward", session=None, shadow=None)
    try:
        remote(1, 2)
    except TypeError as error:
        assert "runs in the jail" in str(error)
    else:
        raise AssertionError("calling a remote function in the judge must fail")
