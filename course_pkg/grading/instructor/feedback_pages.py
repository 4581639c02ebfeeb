"""The feedback pages a student reads: parts named in the contents, math that renders offline.

nbgrader's feedback template lists every test cell as "Test cell" in the page's table of
contents, so an assignment of five parts shows "Test cell" five times. The course's grade ids
are ``test_<function>``; :func:`name_parts` turns each entry into "Tests of <function>".
:func:`feedback_hook` is the course's ``GenerateFeedback.post_convert_hook``: it names the parts
and inlines MathJax (:mod:`.offline_feedback`) in every page just written.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

from course_pkg.grading.instructor import offline_feedback

__all__ = ["feedback_hook", "feedback_pages", "name_parts"]

_TOC_ENTRY = re.compile(r'<a href="#([A-Za-z0-9_.-]+)">Test cell</a>')


def _title(grade_id: str) -> str:
    return grade_id[len("test_"):] if grade_id.startswith("test_") else grade_id


def name_parts(html: str) -> str:
    """``html`` with each contents entry "Test cell" named after the part it grades."""
    if not isinstance(html, str):
        raise TypeError(f"html: expected the page's text (str), got {type(html).__name__}")
    return _TOC_ENTRY.sub(
        lambda m: f'<a href="#{m.group(1)}">Tests of <code>{_title(m.group(1))}</code></a>', html)


def feedback_pages(notebooks: list[str]) -> list[pathlib.Path]:
    """The feedback pages of autograded notebooks
    ``<root>/autograded/<student>/<assignment>/<name>.ipynb``:
    ``<root>/feedback/<student>/<assignment>/<name>.html`` (those that exist)."""
    pages = []
    for notebook in notebooks:
        path = pathlib.Path(notebook).resolve()
        page = (path.parents[3] / "feedback" / path.parents[1].name / path.parent.name
                / (path.stem + ".html"))
        if page.is_file():
            pages.append(page)
    return pages


def feedback_hook(assignment: str, student: str, notebooks: list[str], **_: Any) -> None:
    """nbgrader ``GenerateFeedback.post_convert_hook``: fix the pages just written."""
    pages = feedback_pages(notebooks)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        named = name_parts(html)
        if named != html:
            page.write_text(named, encoding="utf-8")
    offline_feedback.inline_mathjax_files(pages)
