"""course_pkg.grading.parts: one registry of the graded parts, the test cells of every assignment
grading through it, bad names and arities refused, and the judge never re-importing."""

from __future__ import annotations

import ast
import json
import pathlib
import sys

import pytest

from course_pkg.grading import parts
from course_pkg.grading.instructor import judge
from course_pkg.grading.part import FunctionSpec

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "assignments" / "source"


def graded_cells():
    """(assignment, grade_id, source) of every tests cell of every source notebook."""
    for path in sorted(SOURCE.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            nbgrader = cell.get("metadata", {}).get("nbgrader", {})
            if nbgrader.get("grade") and not nbgrader.get("solution"):
                yield path.parent.name, nbgrader["grade_id"], "".join(cell["source"])


def grade_calls(source: str) -> list[ast.Call]:
    calls = []
    for node in ast.walk(ast.parse(source.replace("### BEGIN HIDDEN TESTS", "")
                                   .replace("### END HIDDEN TESTS", ""))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "grade":
            calls.append(node)
    return calls


def test_the_registry_holds_every_part_of_the_six_assignments_once():
    specs = parts.registry()
    assert len(specs) == 25
    assert all(issubclass(spec, FunctionSpec) and spec.title == name
               for name, spec in specs.items())
    assert parts.functions_of(specs["rnn_step_backward"]) == ("rnn_step_forward",
                                                              "rnn_step_backward")
    assert parts.functions_of(specs["mogrify"]) == ("mogrify",)


def test_every_test_cell_grades_one_registered_part_with_the_functions_it_needs():
    specs = parts.registry()
    graded = set()
    cells = list(graded_cells())
    assert len(cells) == 25
    for assignment, grade_id, source in cells:
        (call,) = grade_calls(source)
        name = call.args[0].value
        handed = tuple(arg.id for arg in call.args[1:])
        assert handed == parts.functions_of(specs[name]), (assignment, grade_id)
        keywords = {k.arg: k.value.value for k in call.keywords}
        assert keywords["grade_id"] == grade_id
        assert "sys.modules" not in source, "the purge is grade()'s job now"
        graded.add(name)
    assert graded == set(specs)


def test_a_bad_name_or_a_wrong_number_of_functions_is_named():
    with pytest.raises(ValueError, match=r"name: expected the name of a graded function, one of "
                                         r"\[.*'rnn_forward'.*\], got 'rnn_fwd'"):
        parts.build_part("rnn_fwd", print, grade_id="test_x", points=1)
    with pytest.raises(TypeError, match=r"functions: the part 'rnn_step_backward' is handed "
                                        r"\(rnn_step_forward, rnn_step_backward\), got 1 function$"):
        parts.build_part("rnn_step_backward", print, grade_id="test_x", points=1)


def test_in_the_judge_grade_does_not_reimport_the_library():
    modules = {name: module for name, module in sys.modules.items()
               if name.split(".")[0] == "course_pkg"}
    remote = judge.RemoteFunction("rnn_forward", session=object(), shadow=None)
    assert parts._in_the_judge((remote,)) and not parts._in_the_judge((print,))
    with pytest.raises(TypeError, match="functions: the part 'rnn_forward' is handed"):
        parts.grade("rnn_forward", remote, remote, grade_id="test_rnn_forward", points=2)
    assert all(sys.modules.get(name) is module for name, module in modules.items())
