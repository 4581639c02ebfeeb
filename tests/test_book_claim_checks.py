"""Every chapter that measures something checks its claims when the book is built.

A sentence such as "the model with attention degrades much less" describes numbers that a cell
printed. If a seed, a setting or a library changes, the numbers move and the sentence can go
silently false. The chapters therefore follow each such result with a hidden cell (tag
``remove-cell``) that asserts the claim on the computed numbers, so that ``make book`` fails the
day the sentence stops being true.

This test only reads the MyST sources (no notebook is executed, so it is fast and not marked
``book``). For every chapter it lists the claim-check cells, prints how many there are, and fails
if a chapter that trains or measures something has none, or if a check cannot fail (an assert
whose condition involves no computed value at all, such as ``assert True``).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import jupytext
import pytest

from conftest import ROOT

CHAPTERS = sorted((ROOT / "book").glob("part*/[0-9][0-9]*.md"))  # 08_..., also 08b_...

# Visible code that trains a model or measures something: training loops and helpers, optimisers,
# backward passes, timings, sweeps, evaluation helpers of the course's experiments.
MEASURING_CODE = re.compile(
    r"\b(train\w*|run_\w+|time_\w+|compare_\w+|\w+_sweep|\w+_run|optim\.\w+|bit_error|"
    r"score_lengths|accuracy_by_length|\w*gradients?\w*|descent_path)\s*\("
    r"|\.backward\(")


@functools.lru_cache(maxsize=None)
def code_cells(path: Path) -> list[tuple[list[str], str]]:
    """``(tags, source)`` of every code cell of a MyST notebook (read once per test session)."""
    notebook = jupytext.read(path, fmt="md:myst")
    return [(list(cell.metadata.get("tags", [])), cell.source)
            for cell in notebook.cells if cell.cell_type == "code"]


def claim_checks(path: Path) -> list[str]:
    """The sources of the chapter's claim-check cells: hidden code cells that assert."""
    return [source for tags, source in code_cells(path)
            if "remove-cell" in tags and re.search(r"^\s*assert\b", source, flags=re.M)]


def measures_something(path: Path) -> bool:
    """Whether some visible code cell of the chapter trains or measures something."""
    return any(MEASURING_CODE.search(source)
               for tags, source in code_cells(path) if "remove-cell" not in tags)


def asserts_of(source: str) -> list[ast.Assert]:
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assert)]


def claim_counts() -> dict[str, tuple[int, int]]:
    """``{chapter file: (claim-check cells, assert statements)}`` for every chapter."""
    counts = {}
    for path in CHAPTERS:
        checks = claim_checks(path)
        counts[path.name] = (len(checks), sum(len(asserts_of(source)) for source in checks))
    return counts


def test_chapters_are_found():
    assert len(CHAPTERS) >= 17, [path.name for path in CHAPTERS]


def test_every_measuring_chapter_checks_its_claims(record_property):
    counts = claim_counts()
    lines = [f"{'chapter':<32}{'measures':>9}{'check cells':>13}{'asserts':>9}"]
    missing = []
    for path in CHAPTERS:
        cells, asserts = counts[path.name]
        measured = measures_something(path)
        lines.append(f"{path.name:<32}{'yes' if measured else 'no':>9}{cells:>13}{asserts:>9}")
        if measured and cells == 0:
            missing.append(path.name)
    table = "\n".join(lines)
    print("\n" + table)
    record_property("claim_checks_per_chapter", table)
    assert not missing, f"chapters that measure something but check no claim: {missing}"


def test_the_first_seventeen_chapters_all_measure_something():
    """Keeps the detection of measuring code honest: every chapter of the course measures."""
    numbered = [path for path in CHAPTERS
                if re.match(r"\d\d_", path.name) and int(path.name[:2]) <= 17]
    assert len(numbered) == 17
    assert [path.name for path in numbered if not measures_something(path)] == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_claim_checks_can_fail(path):
    """Every assert of a claim check involves a computed value, not only literals."""
    for source in claim_checks(path):
        for node in asserts_of(source):
            names = [n for n in ast.walk(node.test) if isinstance(n, ast.Name)]
            assert names, f"{path.name}: an assert on literals only: {ast.unparse(node)}"


def test_claim_checks_are_hidden_and_come_after_code():
    """A claim check is never the first code cell of a chapter and is always hidden."""
    for path in CHAPTERS:
        cells = code_cells(path)
        for index, (tags, source) in enumerate(cells):
            if re.match(r"\s*# claim check", source):
                assert "remove-cell" in tags, f"{path.name}: a claim check that readers would see"
                assert index > 0, f"{path.name}: a claim check before any code"


def test_no_control_characters_in_the_book():
    """A tab or another control character in a chapter is most likely a lost backslash escape
    (a tab ate the "\\t" of "\\top" and "\\tanh" once)."""
    bad = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\t")
    offenders = []
    for path in sorted((ROOT / "book").rglob("*.md")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if bad.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line!r}")
    assert not offenders, "\n".join(offenders)
