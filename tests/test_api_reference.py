"""The book's API reference documents every module of course_pkg (no module is forgotten)."""

import pkgutil

import course_pkg
from conftest import ROOT


def all_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(course_pkg.__path__, prefix="course_pkg."):
        if not info.ispkg:
            names.append(info.name)
    return sorted(names)


def test_every_module_is_in_the_api_reference():
    page = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    missing = [name for name in all_modules() if f".. automodule:: {name}\n" not in page]
    assert all_modules(), "found no module in course_pkg"
    assert not missing, f"book/api.md does not document: {missing}"
