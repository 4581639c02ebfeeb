"""The book build: strict, executed, and cached.

``make test`` builds the book first (``make book``: every notebook executed, any cell error or
Sphinx warning fails). This test rebuilds every page once more and checks that jupyter-cache
served every executed chapter: a page re-read with no code change must not run its code again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.book


def toc_files() -> list[Path]:
    """The source files listed in _toc.yml (root and chapters), as paths."""
    toc_text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    names = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)\s*$", toc_text, flags=re.M)
    return [ROOT / f"{name}.md" for name in names]


def executed_notebooks() -> list[Path]:
    """Toc files that are MyST notebooks: a front matter with a kernelspec, and code cells."""
    notebooks = []
    for path in toc_files():
        text = path.read_text(encoding="utf-8")
        front_matter = text.split("---", 2)[1] if text.startswith("---") else ""
        if "kernelspec:" in front_matter and "\n```{code-cell}" in text:
            notebooks.append(path)
    return notebooks


def test_toc_lists_existing_files():
    missing = [str(p.relative_to(ROOT)) for p in toc_files() if not p.exists()]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert yaml.safe_load((ROOT / "_toc.yml").read_text())["format"] == "jb-book"


def test_rebuild_reexecutes_nothing():
    notebooks = executed_notebooks()
    assert notebooks, "the book has no executed chapter"
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", "-W", "-n", "--keep-going", "--all", "."],
        cwd=ROOT, capture_output=True, text=True, timeout=1200, env=os.environ.copy(),
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the rebuild failed:\n{log[-4000:]}"
    executed = re.findall(r"^(\S+): Executing notebook", log, flags=re.M)
    assert not executed, f"notebooks were executed again instead of read from the cache: {executed}"
    cached = {Path(m).resolve() for m in re.findall(r"^(\S+): Using cached notebook", log, flags=re.M)}
    not_cached = [str(p.relative_to(ROOT)) for p in notebooks if p.resolve() not in cached]
    assert not not_cached, f"chapters not served from jupyter-cache: {not_cached}"
