"""Shared test settings: the repository root, deterministic threads, a quiet matplotlib."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The built book; tests of a book built elsewhere can point COURSE_BOOK_HTML at it.
BUILD_HTML = pathlib.Path(os.environ.get("COURSE_BOOK_HTML", ROOT / "_build" / "html"))

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT
