"""Every graded part of the course, by the name of the function it grades: one registry.

A test cell of an assignment grades its part with one call::

    from course_pkg.grading.parts import grade
    part = grade("rnn_step_backward", rnn_step_forward, rnn_step_backward,
                 grade_id="test_rnn_step_backward", points=3)
    part.check("fixed inputs", fixed=True)
    part.score();

The registry maps each name to its :class:`~.part.FunctionSpec`: the subclasses with a
``title`` in the six spec modules of `SPEC_MODULES`, one per graded function. A part is handed
the notebook functions it calls, in the order of :func:`functions_of` (the graded function
last; a backward part gets its forward first, ``FunctionSpec.forward_name``).

In a student's own kernel, `grade` first drops every ``course_pkg`` module from
``sys.modules`` and builds the part from modules read afresh from disk, so that nothing a cell
above did to the grading library survives into the check (the test cells' old first line,
now behind this one call). In the judge, where the functions are the jail's proxies and the
library never met student code, it builds the part directly.

Adding an assignment: write its specs in a new ``<topic>_checks`` module (importing only the
kit, :mod:`~.kit`, and the engine), add the module's name to `SPEC_MODULES`, and call `grade`
from the test cells.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

from course_pkg.grading import kit
from course_pkg.grading.part import FunctionSpec, Part

__all__ = ["SPEC_MODULES", "registry", "functions_of", "build_part", "grade"]

#: The modules of ``course_pkg.grading`` that hold the assignments' specs, one per assignment.
SPEC_MODULES = ("rnn_checks", "gated_checks", "lm_checks", "attention_checks", "memory_checks",
                "modern_checks")


def registry() -> dict[str, type[FunctionSpec]]:
    """``{name of the graded function: its spec class}`` over `SPEC_MODULES`; a name defined
    twice raises ValueError (two specs would grade one function)."""
    specs: dict[str, type[FunctionSpec]] = {}
    for module_name in SPEC_MODULES:
        module = importlib.import_module(f"course_pkg.grading.{module_name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, FunctionSpec)
                    and value.__module__ == module.__name__ and "title" in vars(value)):
                if value.title in specs:
                    raise ValueError(f"{module_name}.{value.__name__}: the part "
                                     f"{value.title!r} is already graded by "
                                     f"{specs[value.title].__module__}."
                                     f"{specs[value.title].__name__}")
                specs[value.title] = value
    return specs


def functions_of(spec: type[FunctionSpec]) -> tuple[str, ...]:
    """The notebook functions a part of ``spec`` is handed, in order (the graded one last)."""
    return (spec.forward_name, spec.title) if spec.forward_name else (spec.title,)


def build_part(name: str, *functions: Callable[..., Any], grade_id: str, points: float) -> Part:
    """The `Part` grading the function called ``name``, handed ``functions`` (`functions_of`),
    from the modules as they are loaded (`grade` re-imports them first)."""
    specs = registry()
    if name not in specs:
        raise ValueError(f"name: expected the name of a graded function, one of "
                         f"{sorted(specs)}, got {name!r}")
    spec = specs[name]
    wanted = functions_of(spec)
    if len(functions) != len(wanted):
        raise TypeError(f"functions: the part {name!r} is handed ({', '.join(wanted)}), "
                        f"got {len(functions)} function{'s' if len(functions) != 1 else ''}")
    kit.load_modules(spec.references)   # before the tripwires are listed (FunctionSpec)
    return Part(spec(), list(functions), grade_id=grade_id, points=points)


def _in_the_judge(functions: tuple[Any, ...]) -> bool:
    """True when the functions are the jail's proxies (the judge's side of the protocol)."""
    return any(getattr(function, "session", None) is not None for function in functions)


def grade(name: str, *functions: Callable[..., Any], grade_id: str, points: float) -> Part:
    """The graded part of the function called ``name``, handed ``functions`` (see
    `functions_of`), worth ``points`` in the test cell ``grade_id``.

    Outside the judge the part is built from ``course_pkg`` modules re-imported from disk (see
    the module's docstring).
    """
    if _in_the_judge(functions):
        return build_part(name, *functions, grade_id=grade_id, points=points)
    for module in [m for m in sys.modules if m.split(".")[0] == "course_pkg"]:
        sys.modules.pop(module)
    fresh = importlib.import_module(__name__)
    return fresh.build_part(name, *functions, grade_id=grade_id, points=points)
