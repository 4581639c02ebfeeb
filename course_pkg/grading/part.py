"""Grading one part: a student's function checked against the reference, case by case.

A :class:`FunctionSpec` (one per graded function, in ``rnn_checks``, ``gated_checks``, ...)
says how to build the inputs of a case, what the reference returns, how to call the student's
function, which outputs to compare, and which probes diagnose a failure. A :class:`Part` runs it:

1. on creation: refuse to grade in a tampered kernel (:func:`~.integrity.check_kernel`), and
   look for delegation in the function's code (:func:`~.integrity.find_delegation`);
2. for each :meth:`Part.check`: compute the expected outputs (float64, reference), run the
   student's function in the sandbox with the tripwires set, and turn the outcome into weighted
   sub-checks: it returns the right structure, each output is right, float32 stays float32;
3. on the first failing cases: run the probes and add a diagnosis;
4. :meth:`Part.score`: print the summary, publish the grade report, return the points.

Determinism: inputs come from ``numpy.random.default_rng(seed)`` or from fixed formulas; the
instructor's runner pins BLAS/OpenMP to one thread, and torch runs single-threaded in every
sandboxed call, so a notebook gets the same score on every run.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import math
import textwrap
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from course_pkg.grading import (
    callers, integrity, probes, reference_cache, sandbox, shape_errors,
)
from course_pkg.grading.compare import Comparison, Tolerance, check_dtype, compare_values, tolerance_for
from course_pkg.grading.report import CaseResult, Report, SubCheck
from course_pkg.validation import require_in_range

MAX_DIAGNOSED_CASES = 2  # probes run on the first failing cases only
# beside a passing case of a part that earns nothing for delegation (the summary says why)
NOT_COUNTED = "(these checks pass but earn nothing: see the reason under the score below)"
# outcomes of a call that are faults (not a wrong value): a helper's is blamed on the helper
FAULT_KINDS = ("timeout", "exception", "exit", "crash", "memory")


@dataclass
class OutputSpec:
    """One output to compare: its name, how to name its axes, and its weight in the score."""

    name: str
    axes: Callable[[dict[str, Any]], Sequence[Any]] = lambda params: ()
    weight: float = 1.0


class FunctionSpec:
    """How to grade one function. Subclasses fill in the hooks below."""

    title = "function"
    forbidden = integrity.Forbidden()
    # Modules imported before the part is graded (`course_pkg.grading.parts.build_part`), so
    # that the tripwires of every grading child cover them, also when a notebook reaches them
    # through importlib (the static check sees the rest).
    references: tuple[str, ...] = ()
    defaults: dict[str, Any] = {}
    outputs: Sequence[OutputSpec] = ()
    returns_weight = 1.0  # the sub-check "returns the right structure"
    dtype_weight = 1.0  # the sub-check "float32 in, float32 out" (float32 cases only)
    time_limit = 5.0  # seconds per call (the functions graded here take milliseconds)
    combine_hint = "check how the terms are added and passed through the nonlinearity"
    # Notebook functions the graded one may call that belong to another part: when a case fails,
    # it is run again with these correct stand-ins in their place, so that a mistake is not
    # counted in two parts. Maps the notebook name to the stand-in.
    stand_ins: dict[str, Callable[..., Any]] = {}

    def describe(self, params: dict[str, Any]) -> str:
        """The case's sizes and dtype for the report, e.g. 'B=3, D=5, H=6, float64, seed 0'."""
        return ", ".join(f"{k}={v}" for k, v in params.items())

    def inputs(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def expected(self, inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The reference outputs for ``inputs`` (in float64), keyed like :attr:`outputs`."""
        raise NotImplementedError

    # How the student's functions are called: a caller of course_pkg.grading.callers (the only
    # grading code that runs where the student's code runs) and its options.
    caller = ""

    def caller_options(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    # Backward parts (caller "forward_then_backward"): the student's backward runs on the cache
    # of the student's own forward. When that forward is wrong, the case is run again on the
    # student's cache layout filled with the reference forward's values (see reference_cache),
    # so that a correct backward is not charged for the forward's mistake.
    forward_name = ""  # the notebook's forward function, for the notes
    # variable names a cache may use for a quantity, beyond the quantity's own name
    cache_aliases: dict[str, str] = {}

    def reference_quantities(self, inputs: dict[str, Any], params: dict[str, Any]
                             ) -> dict[str, Any] | None:
        """The reference forward's named quantities on ``inputs`` (float64): what a student's
        cache may hold. None (the default): the part has no cache to rebuild."""
        return None

    def forward_is_wrong(self, got: dict[str, Any], inputs: dict[str, Any],
                         params: dict[str, Any]) -> bool:
        """Whether the student's own forward returned a wrong output on this case."""
        return False

    def run_student(self, functions: Sequence[Callable[..., Any]], inputs: dict[str, Any],
                    params: dict[str, Any]) -> Any:
        """Call the student's function(s); whatever it returns is sent back to the judge."""
        return callers.call(self.caller, functions, inputs, params, self.caller_options(params))

    def unpack(self, raw: Any, params: dict[str, Any]) -> dict[str, Any] | str:
        """The student's outputs by name, or a message saying what the structure should be."""
        raise NotImplementedError

    def sizes(self, params: dict[str, Any]) -> dict[str, int]:
        return {k: v for k, v in params.items() if k in ("T", "B", "D", "H", "V", "N")}

    def variants(self, params: dict[str, Any]) -> Sequence[probes.Variant]:
        return ()

    def isolations(self, params: dict[str, Any]) -> Sequence[probes.Isolation]:
        return ()

    def extra_checks(self, got: dict[str, Any], inputs: dict[str, Any], expected: dict[str, Any],
                     params: dict[str, Any]) -> list[SubCheck]:
        """Checks that are not a plain comparison of outputs (none by default)."""
        return []

    def notes(self, got: dict[str, Any], inputs: dict[str, Any], params: dict[str, Any]
              ) -> list[str]:
        """Remarks for a failed case that are not scored (e.g. 'your forward is wrong too')."""
        return []

    def compare(self, name: str, got: Any, expected: Any, tolerance: Tolerance,
                params: dict[str, Any]) -> Comparison:
        spec = next(o for o in self.outputs if o.name == name)
        return compare_values(name, got, expected, tolerance, spec.axes(params), self.sizes(params))

    def input_dtype(self, inputs: dict[str, Any]) -> Any:
        for value in inputs.values():
            dtype = getattr(value, "dtype", None)
            if dtype is not None and np.dtype(dtype).kind == "f":
                return np.dtype(dtype)
        return None


def _float64(inputs: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of the inputs with every float array in float64 (for the reference)."""
    out = {}
    for name, value in inputs.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            out[name] = value.astype(np.float64)
        else:
            out[name] = copy.deepcopy(value)
    return out


def _syntax(function: Any) -> ast.FunctionDef | None:
    """The ``def`` of a notebook function: kept by the judge's shadow (see judge), else read
    from the function's source (IPython keeps cells' sources); None when neither is there."""
    shadow = getattr(function, "shadow", None)
    if shadow is not None:
        return getattr(shadow, "syntax", None)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None
    node = tree.body[0] if tree.body else None
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _passed_weight(case: CaseResult) -> float:
    return sum(check.weight for check in case.checks if check.passed)


class Part:
    """One graded part of an assignment (see the module docstring)."""

    def __init__(self, spec: FunctionSpec, functions: Sequence[Callable[..., Any]], *,
                 grade_id: str, points: float) -> None:
        if not isinstance(grade_id, str) or not grade_id:
            raise TypeError(f"grade_id: expected the test cell's grade id (a str), got {grade_id!r}")
        require_in_range("points", points, 0.0, math.inf)
        if points == 0:
            raise ValueError("points: expected a number > 0, got 0")
        integrity.check_kernel()
        self.spec = spec
        self.functions = list(functions)
        self.graded = self.functions[-1]  # the function this part grades (last one given)
        self.report = Report(grade_id, spec.title, points)
        self.diagnosed = 0
        self.shown_notes: set[str] = set()  # each note is printed once per part
        self.failed_cases_shown = 0  # the first failing case is printed in full, later ones brief
        self.hung = ""  # set when a call never returned: later cases are not run again
        self.culprit: tuple[str, str] | None = None  # the helpers to name (see _culprit)
        self.substitute: dict[str, Callable[..., Any]] = {}  # stand-ins in use (see FunctionSpec)
        # In the judge, the functions live in the jail: the judge holds their names and their
        # compiled (never run) code, which the static delegation check reads.
        self.session = getattr(self.graded, "session", None)
        if self.session is not None:
            static = integrity.find_delegation(self.graded.shadow, spec.forbidden)
            self.targets = []
            self.verdict = integrity.IntegrityVerdict(static=static)
            if static:
                self.report.delegation = self.verdict.message(spec.title)
            return
        if not callable(self.graded):
            self.report.delegation = (f"{spec.title} is not a function "
                                      f"(got {type(self.graded).__name__})")
            return
        # Modules the student's code imports that could hold forbidden functions are loaded
        # here, so that every grading child inherits them with their tripwires set.
        for module in sorted(integrity.imported_modules(self.graded)):
            if spec.forbidden.may_hold(module):
                try:
                    importlib.import_module(module)
                except Exception:  # noqa: BLE001 (the student's import error shows up later)
                    pass
        static = integrity.find_delegation(self.graded, spec.forbidden)
        self.targets = integrity.tripwire_targets(spec.forbidden)
        self.verdict = integrity.IntegrityVerdict(static=static)
        if static:
            self.report.delegation = self.verdict.message(spec.title)

    # -- running a case -------------------------------------------------------------------

    def _run(self, inputs_list: Sequence[dict[str, Any]], params: dict[str, Any]
             ) -> list[sandbox.Outcome]:
        spec, functions, substitute = self.spec, self.functions, dict(self.substitute)
        if self.hung:
            return [sandbox.Outcome(kind="not run", error=self.hung) for _ in inputs_list]
        if self.session is not None:  # the judge: the calls run in the jail
            outcomes = self.session.call(spec, functions, inputs_list, params, substitute)
        else:
            calls = [
                (lambda inputs=inputs: spec.run_student(functions, inputs, params))
                for inputs in inputs_list
            ]

            def prepare() -> None:  # in the child only
                integrity.install_tripwires(spec.forbidden, self.targets)
                notebook_globals = getattr(self.graded, "__globals__", {})
                notebook_globals.update(substitute)

            outcomes = sandbox.run_isolated(calls, time_limit=spec.time_limit, prepare=prepare,
                                            delegation_log=integrity.tripped)
        for outcome in outcomes:
            if outcome.kind in ("timeout", "exit", "crash", "memory"):
                fault = f"{spec.title}: {outcome.error}"
                if fault not in self.report.faults:
                    self.report.faults.append(fault)
            if outcome.printed_chars > 100_000:
                fault = f"{spec.title}: printed {outcome.printed_chars:,} characters"
                if fault not in self.report.faults:
                    self.report.faults.append(fault)
            # a call that hangs is not run again, unless correct stand-ins for the helpers it
            # calls are still to be tried (the hang may be in a helper: see check)
            if outcome.kind == "timeout" and not self.hung and (
                    substitute or not self._stand_ins_apply()):
                self.hung = "not run again: it did not return in an earlier case"
        return outcomes

    def _stand_ins_apply(self) -> dict[str, Callable[..., Any]]:
        """The stand-ins whose names the notebook defines as its own functions."""
        if self.session is not None:
            return {name: stand_in for name, stand_in in self.spec.stand_ins.items()
                    if name in self.session.functions and name != self.graded.__name__}
        notebook_globals = getattr(self.graded, "__globals__", {})
        return {name: stand_in for name, stand_in in self.spec.stand_ins.items()
                if integrity.is_notebook_function(notebook_globals.get(name))
                and notebook_globals.get(name) is not self.graded}

    def check(self, label: str = "", **overrides: Any) -> "Part":
        """Run one case: ``label`` for the report, ``overrides`` of the spec's default sizes."""
        spec = self.spec
        unknown = sorted(set(overrides) - set(spec.defaults))
        if unknown:
            raise ValueError(f"check: unknown case parameter(s) {unknown} for {spec.title}, "
                             f"expected some of {sorted(spec.defaults)}")
        params = {**spec.defaults, **overrides}
        case = CaseResult(f"{label} ({spec.describe(params)})" if label else spec.describe(params))
        self.report.cases.append(case)
        if self.report.delegation and not hasattr(self, "verdict"):
            return self
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reference's own warnings are not the student's
            inputs = spec.inputs(params)
            expected = spec.expected(_float64(inputs), params)
        outcome = self._run([inputs], params)[0]
        self._record_delegation(outcome)
        got = self._score_outcome(case, outcome, inputs, expected, params)
        stand_ins = self._stand_ins_apply() if not case.passed else {}
        diagnose_with: dict[str, Callable[..., Any]] = {}
        if stand_ins and not self.hung:
            retry = CaseResult(case.label)
            self.substitute = stand_ins
            try:
                retry_outcome = self._run([inputs], params)[0]
                retry_got = self._score_outcome(retry, retry_outcome, inputs, expected, params)
            finally:
                self.substitute = {}
            names = faulty = " and ".join(stand_ins)
            helped = retry.passed or (retry_got is not None
                                      and _passed_weight(retry) > _passed_weight(case))
            if helped and len(stand_ins) > 1:
                found, found_faulty = self._culprit(stand_ins, inputs, params, expected, retry,
                                                    outcome)
                names, faulty = found or names, found_faulty or found or names
            helper_fault = helped and outcome.kind in FAULT_KINDS
            if helper_fault:  # the fault is the helper's: blame it, not this part
                blamed = f"{spec.title}: {outcome.error}"
                if blamed in self.report.faults:
                    self.report.faults.remove(blamed)
                fault = f"{faulty} (called by {spec.title}): {outcome.describe()}"
                if fault not in self.report.faults:
                    self.report.faults.append(fault)
            cause = f"with your {faulty} the call {outcome.describe()}" if helper_fault else ""
            if retry.passed:
                case.checks = retry.checks
                note = (f"right once correct stand-ins replace your {names}: the mistake is there "
                        "(graded in its own part), not here")
                case.notes.append(f"{cause}; it is {note}" if cause else note)
                got = None
            elif retry_got is not None:
                if helped:
                    case.checks = retry.checks
                    note = (f"scored with correct stand-ins for your {names}, whose mistakes are "
                            "graded in their own part")
                    case.notes.append(f"{cause}: {note}" if cause else f"({note})")
                got, diagnose_with = retry_got, stand_ins
        on_reference_cache = False
        if got is not None and not case.passed and not self.hung:
            got, on_reference_cache = self._retry_on_reference_cache(case, outcome, inputs,
                                                                     expected, params, got)
        if got is not None and not case.passed and not on_reference_cache:
            case.notes.extend(self.spec.notes(got, inputs, params))
        if got is not None and not case.passed and self.diagnosed < MAX_DIAGNOSED_CASES:
            self.diagnosed += 1
            self.substitute = diagnose_with
            try:
                case.notes.extend(self._diagnose(got, inputs, params,
                                                 isolate=not on_reference_cache))
            finally:
                self.substitute = {}
        self._note_side_effects(case, outcome)
        if self.report.delegation and case.passed:
            case.notes.append(NOT_COUNTED)
        case.notes = [note for note in case.notes if note not in self.shown_notes]
        self.shown_notes.update(case.notes)
        print(Report.case_text(case, brief=self.failed_cases_shown > 0))
        self.failed_cases_shown += not case.passed
        return self

    def _retry_on_reference_cache(self, case: CaseResult, outcome: sandbox.Outcome,
                                  inputs: dict[str, Any], expected: dict[str, Any],
                                  params: dict[str, Any], got: dict[str, Any]
                                  ) -> tuple[dict[str, Any] | None, bool]:
        """A failed backward case, run again on the student's cache layout holding the reference
        forward's values. Returns the outputs to diagnose (None when the retry is right) and
        whether the case is now scored on that cache.

        When the forward is wrong, the better of the two runs is scored: its mistake is graded
        in its own part. When the forward's outputs are right but its cache holds a value the
        backward does not expect, the forward's part (which checks outputs, not the student's
        cache layout) cannot charge it, so the case keeps its score here, once, and a right
        retry only changes the message: it points at the cache, not at the backward's lines."""
        spec = self.spec
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantities = spec.reference_quantities(_float64(inputs), params)
        if quantities is None or not isinstance(outcome.value, dict):
            return got, False
        forward_wrong = spec.forward_is_wrong(got, inputs, params)
        outputs = outcome.value.get("outputs")
        keys = reference_cache.keys_from(outputs if isinstance(outputs, dict) else {}, quantities)
        syntax = _syntax(self.functions[0])
        names = (reference_cache.slot_names(syntax, spec.caller_options(params)["returns"])
                 if syntax is not None else None)
        filled = reference_cache.fill_cache(outcome.value.get("cache"),
                                            reference_cache.candidates_from(quantities), keys,
                                            names, spec.cache_aliases)
        if not filled.changed:
            return got, False
        retry = CaseResult(case.label)
        retry_outcome = self._run([{**inputs, "cache": filled.cache}], params)[0]
        self._record_delegation(retry_outcome)
        retry_got = self._score_outcome(retry, retry_outcome, inputs, expected, params)
        replaced = ", ".join(filled.replaced)
        if not forward_wrong:
            if not retry.passed:
                return got, False
            case.notes.append(f"right on your own cache layout filled with the correct forward "
                              f"values ({replaced} replaced): your {spec.forward_name} returns the "
                              "right outputs but keeps in its cache a value this function does "
                              f"not expect; fix the cache there (charged here, once: the "
                              f"{spec.forward_name} part checks its outputs only)")
            return None, False
        if retry.passed:
            case.checks = retry.checks
            case.notes.append(f"right on your own cache layout filled with the correct forward "
                              f"values ({replaced} replaced): the mistake is in your "
                              f"{spec.forward_name} (graded in its own part), not here")
            return None, True
        if retry_got is not None and _passed_weight(retry) > _passed_weight(case):
            case.checks = retry.checks
            case.notes.append(f"(scored on your own cache layout filled with the correct forward "
                              f"values, {replaced} replaced: the mistake in your "
                              f"{spec.forward_name} is graded in its own part)")
            return retry_got, True
        return got, False

    def _culprit(self, stand_ins: dict[str, Callable[..., Any]], inputs: dict[str, Any],
                 params: dict[str, Any], expected: dict[str, Any], retry: CaseResult,
                 own: sandbox.Outcome) -> tuple[str, str]:
        """The helpers whose stand-ins change the case's result ('' if it cannot be told), so
        that the notes name those only, and of those the ones whose own version failed as the
        student's call did (``own``: it hung, raised, exited, ...), for the fault line.

        Starting from all the stand-ins (``retry``, the case run with all of them), each one is
        left out in turn and stays out when the case comes out the same without it: right when
        ``retry`` is right; else the same sub-checks passing and failing (the caller has a
        mistake of its own). Found once per part."""
        if self.culprit is None:
            wanted = [(check.name, check.passed) for check in retry.checks]
            needed, kinds = dict(stand_ins), {}
            for name in list(stand_ins):
                trial_set = {k: v for k, v in needed.items() if k != name}
                if not trial_set:  # the student's own helpers: the case as first run
                    kinds[name] = own.kind
                    break
                self.substitute = trial_set
                hung, faults = self.hung, list(self.report.faults)
                try:  # a trial that hangs marks nothing: it is only a question
                    trial = CaseResult("")
                    trial_outcome = self._run([inputs], params)[0]
                    self._score_outcome(trial, trial_outcome, inputs, expected, params)
                finally:
                    self.substitute, self.hung, self.report.faults = {}, hung, faults
                kinds[name] = trial_outcome.kind
                same = (trial.passed if retry.passed
                        else [(check.name, check.passed) for check in trial.checks] == wanted)
                if same:
                    needed = trial_set
            culprit = " and ".join(needed) if len(needed) < len(stand_ins) else ""
            faulty = [name for name in needed if kinds.get(name) == own.kind]
            self.culprit = (culprit, " and ".join(faulty)
                            if own.kind in FAULT_KINDS and 0 < len(faulty) < len(needed) else "")
        return self.culprit

    def _record_delegation(self, outcome: sandbox.Outcome) -> None:
        if outcome.delegation and not self.report.delegation:
            self.verdict.runtime.extend(outcome.delegation)
            self.report.delegation = self.verdict.message(self.spec.title)

    def _score_outcome(self, case: CaseResult, outcome: sandbox.Outcome, inputs: dict[str, Any],
                       expected: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        spec = self.spec
        names = [o.name for o in spec.outputs]
        failed_all = lambda message: [  # noqa: E731
            SubCheck("returns", spec.returns_weight, False, message),
            *[SubCheck(o.name, o.weight, False) for o in spec.outputs]]
        if outcome.delegation:
            case.checks.extend(failed_all(f"{spec.title} calls {', '.join(outcome.delegation)}, "
                                          "which is not allowed in this part"))
            return None
        if not outcome.ok:
            separator = " " if outcome.kind == "exception" else ": "
            message = f"{spec.title}{separator}{outcome.describe()}"
            hint = (shape_errors.explain(outcome.error, inputs, spec.sizes(params))
                    if outcome.kind == "exception" else None)
            case.checks.extend(failed_all(f"{message}\n{hint}" if hint else message))
            return None
        got = spec.unpack(outcome.value, params)
        if isinstance(got, str):
            case.checks.extend(failed_all(got))
            return None
        case.checks.append(SubCheck("returns", spec.returns_weight, True))
        tolerance = tolerance_for(*inputs.values())
        for name in names:
            spec_out = next(o for o in spec.outputs if o.name == name)
            verdict = spec.compare(name, got.get(name), expected[name], tolerance, params)
            case.checks.append(SubCheck(name, spec_out.weight, verdict.ok, verdict.message))
        case.checks.extend(spec.extra_checks(got, inputs, expected, params))
        dtype = spec.input_dtype(inputs)
        if dtype is not None and dtype != np.float64 and spec.dtype_weight:
            bad = [check_dtype(n, got.get(n), dtype) for n in names if n in got]
            bad = [c for c in bad if not c.ok]
            case.checks.append(SubCheck("dtype", spec.dtype_weight, not bad,
                                        bad[0].message if bad else ""))
        return got

    def _diagnose(self, got: dict[str, Any], inputs: dict[str, Any],
                  params: dict[str, Any], isolate: bool = True) -> list[str]:
        """Name the mistake: a typical-mistake variant that ``got`` matches, else (``isolate``)
        the isolation probes, each a rerun on inputs with some terms zeroed."""
        spec = self.spec
        tolerance = tolerance_for(*inputs.values())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = spec.expected(_float64(inputs), params)
            matches = probes.matching_variants(
                got, _float64(inputs), spec.variants(params),
                lambda name, value, wanted: spec.compare(name, value, wanted, tolerance,
                                                         params).ok, reference=reference)
        if matches:
            return [f"diagnosis: {variant.hint}" for variant in matches[:2]]
        isolations = list(spec.isolations(params)) if isolate else []
        if not isolations:
            return []
        probe_inputs = [iso.transform(copy.deepcopy(inputs)) for iso in isolations]
        outcomes = self._run(probe_inputs, params)
        results = []
        for iso, probe_in, outcome in zip(isolations, probe_inputs, outcomes):
            self._record_delegation(outcome)
            if not outcome.ok:
                results.append((iso, False))
                continue
            probe_got = spec.unpack(outcome.value, params)
            if isinstance(probe_got, str):
                results.append((iso, False))
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                probe_expected = spec.expected(_float64(probe_in), params)
            ok = all(spec.compare(name, probe_got.get(name), probe_expected[name], tolerance,
                                  params).ok for name in probe_expected if name in probe_got)
            results.append((iso, ok))
        return probes.isolation_lines(results, spec.combine_hint)

    @staticmethod
    def _note_side_effects(case: CaseResult, outcome: sandbox.Outcome) -> None:
        if outcome.printed_chars > 2000:
            case.notes.append(f"note: the function printed {outcome.printed_chars:,} characters "
                              "(only the first 2,000 are kept); remove the printing")
        for warning in outcome.warnings[:2]:
            case.notes.append(f"note: the function raised a warning: {warning}")

    # -- the result -----------------------------------------------------------------------

    def score(self) -> float:
        """Print the summary, publish the grade report, and return the points earned."""
        print(self.report.summary())
        self.report.publish()
        return self.report.score()
