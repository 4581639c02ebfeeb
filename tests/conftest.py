"""Shared test settings: the repository root, deterministic threads, a quiet matplotlib."""

import os
import pathlib

import pytest
from forbid_skips import pytest_runtest_makereport  # noqa: F401  (a skip fails under make test)

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The built book; tests of a book built elsewhere can point COURSE_BOOK_HTML at it.
BUILD_HTML = pathlib.Path(os.environ.get("COURSE_BOOK_HTML", ROOT / "_build" / "html"))

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tests' matrices are tiny: one thread is faster, and two OpenMP threads on two shared
    cores mostly wait for each other (measured 10-70x slower on a busy machine)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT
