"""A graded part: sub-checks, partial credit, and the report a test cell prints.

A test cell grades one part (one function) with a :class:`Part`::

    part = grade("rnn_step_forward", rnn_step_forward, grade_id="test_rnn_step_forward", points=2)
    part.check("fixed inputs")                  # one case: several weighted sub-checks
    part.check("random", seed=3, B=1)
    part.score()                                # prints the summary, returns the points

Every case contributes sub-checks (does the call return the right structure, is each output
right, is the dtype kept); each sub-check has a weight, and the part earns

    points * (sum of the weights passed) / (sum of all weights)

rounded to 0.01, or 0 when the function delegates to the reference (see
:mod:`~course_pkg.grading.integrity`). :meth:`Part.score` returns that number (nbgrader reads a
number returned by a test cell as its partial credit) and also publishes a machine-readable
*grade report* (MIME type :data:`REPORT_MIME`), which the course's nbgrader preprocessor
:class:`~course_pkg.grading.instructor.nbgrader_plugins.ScoreFromReport` requires: a test cell
without exactly one report of its own scores 0, so hiding the cell's result gains nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

REPORT_MIME = "application/vnd.rnn-course.grade+json"
_JUDGE_SINKS: list[list[dict[str, Any]]] = []  # set by the judge while it runs a test cell


class judge_collects:
    """``with judge_collects() as reports:`` the reports published meanwhile go to ``reports``."""

    def __enter__(self) -> list[dict[str, Any]]:
        _JUDGE_SINKS.append([])
        return _JUDGE_SINKS[-1]

    def __exit__(self, *exc: Any) -> None:
        _JUDGE_SINKS.pop()
PASS, FAIL = "✓", "✗"


@dataclass
class SubCheck:
    name: str
    weight: float
    passed: bool
    message: str = ""


@dataclass
class CaseResult:
    label: str
    checks: list[SubCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # diagnosis, printing, warnings

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


class Report:
    """Collects the cases of a part and turns them into text and a score."""

    def __init__(self, grade_id: str, title: str, points: float) -> None:
        self.grade_id = grade_id
        self.title = title
        self.points = float(points)
        self.cases: list[CaseResult] = []
        self.delegation: str = ""  # non-empty: the part earns nothing, and this says why
        self.faults: list[str] = []  # timeouts, exits, crashes: logged by the instructor's runner

    # -- scoring --------------------------------------------------------------------------

    def fraction(self) -> float:
        total = sum(c.weight for case in self.cases for c in case.checks)
        if total == 0 or self.delegation:
            return 0.0
        return sum(c.weight for case in self.cases for c in case.checks if c.passed) / total

    def score(self) -> float:
        return round(self.points * self.fraction(), 2)

    # -- text -----------------------------------------------------------------------------

    @staticmethod
    def case_text(case: CaseResult, brief: bool = False) -> str:
        """The case's lines; ``brief`` keeps one line per failed check (later failing cases)."""
        passed = sum(1 for c in case.checks if c.passed)
        mark = PASS if case.passed else FAIL
        lines = [f"{mark} {case.label}: {passed} of {len(case.checks)} checks passed"]
        messages = [c.message for c in case.checks if not c.passed and c.message]
        if brief and len(messages) > 3:
            messages = messages[:3] + [f"... and {len(messages) - 3} more outputs are wrong"]
        for message in messages:
            body = message.splitlines()[:1] if brief else message.splitlines()
            lines.extend("    " + line for line in body)
        lines.extend("    " + line for note in case.notes for line in note.splitlines())
        return "\n".join(lines)

    def summary(self) -> str:
        score = self.score()
        passed = sum(1 for case in self.cases if case.passed)
        head = f"{self.title}: {score:g} / {self.points:g} points"
        if self.delegation:
            return f"{head}\n{FAIL} {self.delegation}"
        if not self.cases:
            return f"{head} (no checks ran)"
        return f"{head} ({passed} of {len(self.cases)} cases fully right)"

    def payload(self) -> dict[str, Any]:
        return {
            "grade_id": self.grade_id,
            "score": self.score(),
            "max_score": self.points,
            "delegation": self.delegation,
            "faults": self.faults,
            "cases": [
                {"label": case.label,
                 "checks": [[c.name, c.weight, c.passed] for c in case.checks]}
                for case in self.cases
            ],
        }

    def publish(self) -> None:
        """Display the grade report in the notebook (nothing outside IPython); in the judge
        (:mod:`~course_pkg.grading.instructor.judge`), hand it to the judge instead."""
        if _JUDGE_SINKS:
            # (no text/plain: score() has printed the summary once already)
            _JUDGE_SINKS[-1].append({REPORT_MIME: json.loads(json.dumps(self.payload()))})
            return
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        # (an empty text/plain: score() has printed the summary; a front end shows nothing more)
        display({"text/plain": "", REPORT_MIME: json.loads(json.dumps(self.payload()))},
                raw=True)
