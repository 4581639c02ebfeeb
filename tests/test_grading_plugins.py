"""The nbgrader side of grading: scores from grade reports, the robust kernel's replay, offline
feedback math, the authoring build, and the runner's helpers (no nbgrader run here; the pipeline
test runs the real thing)."""

import ast
import json
import os
import pathlib
import subprocess
import sys

import nbformat
import pytest
from nbformat.notebooknode import NotebookNode

from course_pkg.grading.instructor import feedback_pages, offline_feedback, pipeline
from course_pkg.grading.instructor.nbgrader_plugins import (RobustExecute, ScoreFromReport,
                                                            definitions_only)
from course_pkg.grading.report import REPORT_MIME, CaseResult, Report, SubCheck

ROOT = pathlib.Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------
# Report and scoring
# ------------------------------------------------------------------------------------------


def test_the_score_is_the_weighted_share_of_sub_checks():
    report = Report("test_x", "x", points=3)
    report.cases.append(CaseResult("a", [SubCheck("returns", 1, True), SubCheck("h", 2, False)]))
    report.cases.append(CaseResult("b", [SubCheck("returns", 1, True), SubCheck("h", 2, True)]))
    assert report.score() == round(3 * 4 / 6, 2) == 2.0
    report.delegation = "x uses course_pkg.numpy_rnn.rnn.rnn_forward"
    assert report.score() == 0.0 and "rnn_forward" in report.summary()
    payload = report.payload()
    assert payload["grade_id"] == "test_x" and payload["max_score"] == 3.0
    assert json.loads(json.dumps(payload)) == payload


# ------------------------------------------------------------------------------------------
# ScoreFromReport
# ------------------------------------------------------------------------------------------


def _cell(outputs, grade_id="test_a", points=2):
    return NotebookNode(cell_type="code", source="...", execution_count=1, outputs=outputs,
                        metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                               "grade_id": grade_id, "points": points,
                                               "schema_version": 3}})


def _report(score, grade_id="test_a"):
    return NotebookNode(output_type="display_data", metadata={},
                        data={"text/plain": "summary",
                              REPORT_MIME: {"grade_id": grade_id, "score": score}})


def _stream(name, text):
    return NotebookNode(output_type="stream", name=name, text=text)


def _error(name="ValueError", text="boom"):
    return NotebookNode(output_type="error", ename=name, evalue=text, traceback=[])


def _grade(cell):
    from nbgrader.utils import determine_grade
    processed, _ = ScoreFromReport().preprocess_cell(cell, {}, 0)
    return determine_grade(processed)[0], processed


def test_the_report_decides_the_score_and_stderr_does_not_matter():
    score, cell = _grade(_cell([_stream("stdout", "ok"), _stream("stderr", "RuntimeWarning"),
                                _report(1.5)]))
    assert score == 1.5 and cell.outputs[0].output_type == "execute_result"


def test_a_hidden_result_scores_zero_not_full_marks():
    score, cell = _grade(_cell([_stream("stdout", "all tests passed")]))  # no report at all
    assert score == 0 and cell.outputs[0].ename == "NoPoints"


@pytest.mark.parametrize("outputs, reason", [
    ([_report(2), _report(2)], "2 grade reports"),
    ([_report(2, grade_id="test_b")], "belongs to another test cell"),
    ([_report(5)], "not in [0, 2]"),
    ([_report(2), _error()], "error after its grade report"),
    ([_stream("stdout", "x"), _error("GradingIntegrityError", "replaced numpy.allclose")],
     "stopped with GradingIntegrityError: replaced numpy.allclose"),
])
def test_anything_but_one_valid_report_scores_zero(outputs, reason):
    score, cell = _grade(_cell(outputs))
    assert score == 0 and reason in cell.outputs[0].evalue


def test_other_cells_are_left_alone():
    solution = NotebookNode(cell_type="code", source="x = 1", outputs=[], execution_count=1,
                            metadata={"nbgrader": {"solution": True, "grade": False,
                                                   "grade_id": "s"}})
    processed, _ = ScoreFromReport().preprocess_cell(solution, {}, 0)
    assert processed.outputs == []


# ------------------------------------------------------------------------------------------
# RobustExecute's replay of a failed cell
# ------------------------------------------------------------------------------------------


def test_definitions_only_keeps_what_later_cells_need():
    source = ("import os\nfrom math import tanh\nx = 3\n"
              "def f(a):\n    return a\n"
              "class C:\n    pass\n"
              "while True:\n    pass\nos._exit(0)\n")
    kept = definitions_only(source)
    assert "def f(a)" in kept and "class C" in kept and "from math import tanh" in kept
    assert "while" not in kept and "_exit" not in kept and "x = 3" not in kept
    assert definitions_only("def broken(:\n") == ""


def test_a_cell_interrupted_at_the_timeout_is_named_and_becomes_a_fault_line(tmp_path):
    """The kernel path without the judge (RobustExecute, as `nbgrader autograde` runs it): a
    looping cell is interrupted at the timeout, records a CellTimeout that the runner's
    report_faults turns into a FAULT entry, and the next cell still runs."""
    from nbformat.v4 import new_code_cell, new_notebook

    folder = tmp_path / "autograded" / "ann" / "a1"
    folder.mkdir(parents=True)
    notebook = new_notebook(cells=[
        new_code_cell("import time\nwhile True:\n    time.sleep(0.05)",
                      metadata={"nbgrader": {"grade_id": "loop"}}),
        new_code_cell("print('the next cell ran')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    executed, _ = RobustExecute(timeout=2).preprocess(notebook, {"metadata": {"path": str(folder)}})
    names = [o.get("ename") for o in executed.cells[0].outputs if o.output_type == "error"]
    assert "CellTimeout" in names and "CellTimeoutError" not in names, names
    assert executed.cells[1].outputs[0]["text"] == "the next cell ran\n"
    nbformat.write(executed, folder / "a1.ipynb")
    assert pipeline.report_faults(tmp_path, "a1", "ann") == [
        "loop: CellTimeout: this cell did not finish within 2 s and was interrupted"]


def test_nbgraders_own_cell_timeout_error_is_a_fault_line_too(tmp_path):
    folder = tmp_path / "autograded" / "ann" / "a1"
    folder.mkdir(parents=True)
    cell = nbformat.v4.new_code_cell("while True: pass", metadata={"nbgrader": {"grade_id": "x"}})
    cell.outputs = [nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="",
                                           traceback=[]),
                    nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="",
                                           traceback=[])]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / "a1.ipynb")
    assert pipeline.report_faults(tmp_path, "a1", "ann") == [
        "x: CellTimeout: this cell did not finish in time"]


# ------------------------------------------------------------------------------------------
# Offline math in the feedback
# ------------------------------------------------------------------------------------------

PAGE = """<html><head>
<!-- Load mathjax -->
    <script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX"> </script>
    <script type="text/x-mathjax-config">init_mathjax();</script>
    <!-- End of mathjax configuration -->
</head><body>$h_t = \\tanh(a_t)$</body></html>"""


def test_the_cdn_block_is_replaced_by_an_inline_mathjax():
    page = offline_feedback.inline_mathjax(PAGE, "window.fakeMathJax = '</script>';")
    assert "cdnjs" not in page and offline_feedback.MARKER in page
    assert "window.fakeMathJax" in page and "<\\/script>" in page  # cannot close the tag early
    assert "inlineMath: [['$', '$']" in page
    assert offline_feedback.inline_mathjax(page, "other") == page  # idempotent
    bare = offline_feedback.inline_mathjax("<html><head></head></html>", "js")
    assert offline_feedback.MARKER in bare


def feedback_folder(tmp_path, monkeypatch):
    """A course's feedback/alice/a1 folder, and a stand-in MathJax named by COURSE_MATHJAX_SVG."""
    script = tmp_path / "tex-svg.js"
    script.write_text("/* MathJax */")
    monkeypatch.setenv("COURSE_MATHJAX_SVG", str(script))
    feedback = tmp_path / "feedback" / "alice" / "a1"
    feedback.mkdir(parents=True)
    return feedback


def test_feedback_files_are_rewritten_in_place(tmp_path, monkeypatch):
    feedback = feedback_folder(tmp_path, monkeypatch)
    (feedback / "a1.html").write_text(PAGE)
    autograded = tmp_path / "autograded" / "alice" / "a1"
    autograded.mkdir(parents=True)
    offline_feedback.inline_mathjax_hook("a1", "alice", [str(autograded / "a1.ipynb")])
    assert "/* MathJax */" in (feedback / "a1.html").read_text()


def test_the_course_hook_names_the_parts_and_inlines_mathjax(tmp_path, monkeypatch):
    feedback = feedback_folder(tmp_path, monkeypatch)
    toc = ('<li><a href="#test_rnn_forward">Test cell</a> (Score: 1.0 / 2.0)</li>'
           '<li><a href="#comment-rnn_forward">Comment</a></li>'
           '<li><a href="#extra_check">Test cell</a></li>')
    (feedback / "a1.html").write_text(PAGE.replace("</head>", "</head>" + toc))
    autograded = tmp_path / "autograded" / "alice" / "a1"
    autograded.mkdir(parents=True)
    feedback_pages.feedback_hook("a1", "alice", [str(autograded / "a1.ipynb")])
    page = (feedback / "a1.html").read_text()
    assert "/* MathJax */" in page and "Test cell" not in page
    assert '<a href="#test_rnn_forward">Tests of <code>rnn_forward</code></a>' in page
    assert '<a href="#extra_check">Tests of <code>extra_check</code></a>' in page
    assert '<a href="#comment-rnn_forward">Comment</a>' in page


def test_feedback_drops_the_score_echo_of_test_cells_only():
    from course_pkg.grading.instructor.nbgrader_plugins import DropScoreEcho

    echo = nbformat.v4.new_output("execute_result", data={"text/plain": "0.75"})
    printed = nbformat.v4.new_output("stream", text="rnn_forward: 0.75 / 2 points\n")
    test = nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade": True, "solution": False,
                                                            "grade_id": "t", "points": 2}})
    test.outputs = [echo, printed]
    student = nbformat.v4.new_code_cell(metadata={"nbgrader": {"solution": True}})
    student.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "42"})]
    notebook = nbformat.v4.new_notebook(cells=[test, student])
    DropScoreEcho().preprocess(notebook, {})
    assert test.outputs == [printed]
    assert len(student.outputs) == 1  # the student's own Out[] stays


# ------------------------------------------------------------------------------------------
# Authoring
# ------------------------------------------------------------------------------------------


def test_the_committed_source_notebooks_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "assignments" / "build_sources.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_source_notebooks_have_complete_metadata_and_no_outputs():
    for path in sorted((ROOT / "assignments" / "source").glob("*/*.ipynb")):
        notebook = nbformat.read(path, 4)
        ids = []
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader")
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
            if meta:
                assert meta["schema_version"] == 3
                ids.append(meta["grade_id"])
                if meta["grade"]:
                    assert meta["points"] > 0 and meta["locked"]
                    assert "### BEGIN HIDDEN TESTS" in cell.source
        assert len(ids) == len(set(ids))


def _is_grading_test(node) -> str | None:
    """``"autograde"`` comparisons with ``os.environ.get("NBGRADER_EXECUTION")``: ``"=="``
    when the ``if`` branch is the grading one, ``"!="`` when it is the student's own run."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.Eq, ast.NotEq))):
        return None
    sides = [node.left, node.comparators[0]]
    texts = {ast.unparse(side) for side in sides}
    if texts != {"os.environ.get('NBGRADER_EXECUTION')", "'autograde'"}:
        return None
    return "==" if isinstance(node.ops[0], ast.Eq) else "!="


def _unguarded_uses(source: str, student_names: set[str]) -> list[str]:
    """Student-defined names a cell uses outside the branch that grading skips."""
    found = []

    def visit(node, guarded):
        if isinstance(node, ast.If) and (kind := _is_grading_test(node.test)):
            for child in node.body:
                visit(child, guarded or kind == "!=")
            for child in node.orelse:
                visit(child, guarded or kind == "==")
            return
        if isinstance(node, ast.Name) and node.id in student_names and not guarded:
            found.append(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(source), False)
    return found


def test_the_guard_finder_tells_guarded_uses_from_unguarded_ones():
    names = {"step"}
    assert _unguarded_uses("print(step(1))", names) == ["step"]
    assert _unguarded_uses("if os.environ.get('NBGRADER_EXECUTION') == 'autograde':\n"
                           "    step(1)\nelse:\n    pass", names) == ["step"]
    assert _unguarded_uses("if os.environ.get('NBGRADER_EXECUTION') == 'autograde':\n"
                           "    print('skipped')\nelse:\n    step(1)", names) == []
    assert _unguarded_uses("if os.environ.get('NBGRADER_EXECUTION') != 'autograde':\n"
                           "    step(1)", names) == []
    assert _unguarded_uses("if os.environ.get('OTHER') != 'autograde':\n    step(1)",
                           names) == ["step"]


def test_no_locked_cell_runs_student_code_while_grading():
    """A cell that is neither an answer nor a test (a self-check, a demo) and calls a function
    the student writes must skip that call under autograde, where the jail sets
    NBGRADER_EXECUTION=autograde: a hanging or slow answer would otherwise cost a cell timeout
    outside any graded part."""
    assert '"NBGRADER_EXECUTION", "autograde"' in (
        ROOT / "course_pkg" / "grading" / "instructor" / "jail.py").read_text()
    offenders, checked = [], 0
    for path in sorted((ROOT / "assignments" / "source").glob("*/*.ipynb")):
        notebook = nbformat.read(path, 4)
        student_names = set()
        for cell in notebook.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                student_names |= {node.name for node in ast.parse(cell.source).body
                                  if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        assert student_names, path
        for number, cell in enumerate(notebook.cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or meta.get("solution") or meta.get("grade"):
                continue
            checked += 1
            if uses := _unguarded_uses(cell.source, student_names):
                offenders.append(f"{path.stem} cell {number} ({meta.get('grade_id')}): "
                                 f"{sorted(set(uses))}")
    assert checked > 6
    assert offenders == []


@pytest.mark.parametrize("cell_options, message", [
    (":nbgrader: tests\n:grade_id: t\n", "needs points"),
    (":nbgrader: tests\n:grade_id: t\n:points: 2\n", "must pass grade_id"),
    (":nbgrader: answer\n:grade_id: t\n", "solution, tests or locked"),
    (":nbgrader: solution\n:grade_id: t\n", "BEGIN/END SOLUTION"),
])
def test_authoring_mistakes_are_refused(tmp_path, cell_options, message):
    sys.path.insert(0, str(ROOT / "assignments"))
    try:
        import build_sources
    finally:
        sys.path.pop(0)
    source = tmp_path / "a.md"
    source.write_text("---\njupytext:\n  text_representation:\n    format_name: myst\n---\n\n"
                      f"```{{code-cell}} ipython3\n{cell_options}\nx = 1\n```\n")
    with pytest.raises(build_sources.AuthoringError, match=message):
        build_sources.build_notebook(source)


# ------------------------------------------------------------------------------------------
# The runner's helpers
# ------------------------------------------------------------------------------------------


def test_a_notebook_that_is_not_json_is_named_with_the_reason(tmp_path):
    bad = tmp_path / "a1.ipynb"
    bad.write_text('{"cells": [ {"cell_type": "code",, ]')
    assert "a1.ipynb is not valid notebook JSON" in pipeline.notebook_problem(bad)
    good = tmp_path / "a2.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), good)
    assert pipeline.notebook_problem(good) == ""


def test_the_child_environment_is_deterministic():
    env = pipeline.child_environment()
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["PYTHONHASHSEED"] == "0"
    assert env["PATH"].split(":")[0] == str(pathlib.Path(sys.executable).parent)


def test_the_runner_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="course: expected an nbgrader course directory"):
        pipeline.autograde(tmp_path, "rnn_bptt")
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(ValueError, match="jobs"):
        pipeline.autograde(tmp_path, "rnn_bptt", jobs=0)
    with pytest.raises(ValueError, match="timeout"):
        pipeline.autograde(tmp_path, "rnn_bptt", timeout=0)


def test_without_mathjax_and_npm_the_feedback_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_MATHJAX_SVG", raising=False)
    monkeypatch.setattr(offline_feedback, "REPO_ROOT", tmp_path)  # no _vendor, no cache here
    monkeypatch.setenv("PATH", str(tmp_path))  # and no npm on the PATH
    with pytest.raises(offline_feedback.MathJaxUnavailable,
                       match="make book.*npm.*COURSE_MATHJAX_SVG"):
        offline_feedback.mathjax_svg_path()


def test_a_failed_regrade_zeroes_the_scores_an_earlier_run_left(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    # nbgrader creates a gradebook with the `alembic` of this environment
    monkeypatch.setenv("PATH", str(pathlib.Path(sys.executable).parent) + ":" + os.environ["PATH"])
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'c'\n")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url, "c") as gradebook:
        gradebook.add_assignment("a1")
        gradebook.add_notebook("a1", "a1")
        gradebook.add_grade_cell("test_part", "a1", "a1", max_score=3, cell_type="code")
        gradebook.add_student("bob")
        submission = gradebook.add_submission("a1", "bob")
        grade = submission.notebooks[0].grades[0]
        grade.auto_score = 3.0  # a full score from an earlier run
        gradebook.db.commit()
    pipeline.zero_submission(tmp_path, "a1", "bob")
    score, max_score, ungraded = pipeline.gradebook_score(tmp_path, "a1", "bob")
    assert (score, max_score, ungraded) == (0.0, 3.0, 0)
