"""Under ``make test`` (``COURSE_FORBID_SKIPS=1``) a skipped test fails.

Tests skip when their tools are missing (not root, no Playwright): right on a developer's laptop,
wrong in the test command CI runs, where a silent skip would leave a requirement (the hub with
real accounts, the jail, the browser) unexercised while the run still passes. An expected
failure (xfail) is not a skip and is left alone.
"""

import os

import pytest

FLAG = "COURSE_FORBID_SKIPS"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get(FLAG) != "1" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (f"skipped, but {FLAG}=1 (make test) runs every test: {reason}. "
                       f"Install what it names (the Makefile's set-up targets) or run as root.")
