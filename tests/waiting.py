"""Helpers of the tests that start servers (JupyterLab, the hub): a free port, and waiting for
a condition instead of sleeping for a fixed time (CI may share its two cores)."""

from __future__ import annotations

import socket
import time
from typing import Callable

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], what: str | Callable[[], str], limit: float,
               poll: float = 0.25):
    """Call ``condition`` until it returns something true, and return that; fail the test after
    ``limit`` seconds with "gave up ... waiting for <what>" (``what`` may be a function, called
    then, to say what was seen)."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            pytest.fail(f"gave up after {limit:.0f} s waiting for {said}")
        time.sleep(poll)  # a polling interval, not a wait for something to happen
