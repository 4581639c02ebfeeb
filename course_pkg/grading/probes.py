"""Ablation probes: naming the term, gate or time step behind a wrong answer.

When a student's output is wrong, two kinds of probes look for the culprit.

**Variants** (no extra student run). A typical mistake often equals the reference applied to
changed inputs, or a small rewrite of it: leaving out ``bias_hh`` is the reference with
``bias_hh = 0``; reading the LSTM gate blocks in the order i, f, o, g is the reference with the
g and o rows of the weights swapped; storing ``h_{t-1}`` instead of ``h_t`` shifts ``out`` by
one step. When the student's outputs match a variant, the report says which mistake it is.

**Isolations** (zero all but one term). The student's function and the reference are run on
inputs where every term but one is zeroed (only ``x_t W_ih^T``, only ``h_prev W_hh^T``, only a
bias, one gate block ...). The terms on which the student is wrong are the culprits::

    one term at a time (all others zeroed): x_t W_ih^T ✓, h_prev W_hh^T ✗, bias_ih ✓, bias_hh ✓

and each wrong term adds its own hint. The converse probe removes one term (``c_prev = 0``
removes ``f_t * c_prev``): if the student is then right, that term holds the mistake::

    with the forget gate's contribution f_t * c_prev removed your output matches the reference:
    check how you use f_t * c_prev
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from course_pkg.grading.compare import Tolerance, compare_values

Inputs = dict[str, Any]
Outputs = dict[str, Any]


@dataclass
class Variant:
    """A known mistake: the outputs it produces, computed from the case's inputs."""

    label: str
    expected: Callable[[Inputs], Outputs]  # what a function with this mistake returns
    hint: str
    outputs: Sequence[str] | None = None  # which outputs must match (default: all it returns)


@dataclass
class Isolation:
    """Inputs on which only one term of the computation is active (``only``), or on which one
    term is removed (``without``).

    An ``only`` probe the student fails names its term as a culprit; a ``without`` probe the
    student *passes* (while the full case fails) does: removing the term removed the mistake.
    """

    label: str
    transform: Callable[[Inputs], Inputs]
    hint: str  # shown when the probe points at this term
    kind: str = "only"  # or "without"
    group: str = ""  # probes of one group that all fail get one line instead of one each


@dataclass
class Diagnosis:
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)


Same = Callable[[str, Any, Any], bool]  # (output name, student's value, variant's value)


def _all_match(got: Outputs, expected: Outputs, names: Sequence[str], same: Same) -> bool:
    return all(name in got and name in expected and same(name, got[name], expected[name])
               for name in names)


def matching_variants(got: Outputs, inputs: Inputs, variants: Sequence[Variant],
                      same: Same | Tolerance, reference: Outputs | None = None) -> list[Variant]:
    """The variants whose outputs the student's outputs equal (on the outputs they define).

    ``same`` decides equality of one output (the part's own comparison), or is a Tolerance.
    A variant that equals ``reference`` (the right outputs) on these inputs cannot tell the
    mistake from the right answer (e.g. "alpha missing" when alpha is 1), so it is skipped.
    """
    if isinstance(same, Tolerance):
        tolerance = same
        same = lambda name, a, b: compare_values(name, a, b, tolerance).ok  # noqa: E731
    found = []
    for variant in variants:
        try:
            expected = variant.expected(inputs)
        except Exception:  # a variant that does not apply to these sizes
            continue
        names = list(variant.outputs) if variant.outputs is not None else list(expected)
        if reference is not None and _all_match(expected, reference, names, same):
            continue
        if names and _all_match(got, expected, names, same):
            found.append(variant)
    return found


def isolation_lines(results: Sequence[tuple[Isolation, bool]], combine_hint: str) -> list[str]:
    """The report lines for the probes: which terms are right alone, and hints."""
    lines = []
    only = [(probe, ok) for probe, ok in results if probe.kind == "only"]
    without = [(probe, ok) for probe, ok in results if probe.kind == "without"]
    if only:
        marks = ", ".join(f"{probe.label} {'✓' if ok else '✗'}" for probe, ok in only)
        lines.append(f"one term at a time (all others zeroed): {marks}")
        wrong = [probe for probe, ok in only if not ok]
        if not wrong:
            lines.append(f"each term alone is right, so the way they are combined is wrong: "
                         f"{combine_hint}")
        elif len(wrong) == len(only) and len(only) > 1:
            lines.append("every term alone is already wrong: check the shapes and transposes of "
                         "the products, and the nonlinearities")
        else:
            groups = {probe.group for probe, _ in only if probe.group}
            whole = {g for g in groups
                     if all(p in wrong for p, _ in only if p.group == g)}
            lines.extend(f"-> {probe.hint}" for probe in wrong if probe.group not in whole)
            lines.extend(f"-> every one of the {g} alone is wrong: the mistake is in what they "
                         "share (the projections, or the state they act on)" for g in sorted(whole))
    for probe, ok in without:
        if ok:
            lines.append(f"with {probe.label} removed your output matches the reference: "
                         f"{probe.hint}")
    return lines
