"""The make-test rule that a skipped test fails (tests/forbid_skips.py), run on a small file of
tests in a separate pytest."""

import os
import pathlib
import subprocess
import sys

TESTS = pathlib.Path(__file__).resolve().parent
SAMPLE = '''
import pytest

def test_skipped():
    pytest.skip("no such tool")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False

def test_passes():
    assert True
'''


def run_sample(tmp_path, forbid):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_FORBID_SKIPS"}
    env["PYTHONPATH"] = str(TESTS)
    if forbid:
        env["COURSE_FORBID_SKIPS"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "forbid_skips", "-q",
                           "-p", "no:cacheprovider", "test_sample.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_skip_fails_under_make_test(tmp_path):
    result = run_sample(tmp_path, forbid=True)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed, 1 xfailed" in result.stdout
    assert "COURSE_FORBID_SKIPS=1 (make test) runs every test: no such tool" in result.stdout


def test_a_skip_stays_a_skip_elsewhere(tmp_path):
    result = run_sample(tmp_path, forbid=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped, 1 xfailed" in result.stdout
