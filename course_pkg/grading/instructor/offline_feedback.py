"""Feedback HTML that renders its math offline.

``nbgrader generate_feedback`` renders each graded notebook with nbconvert's template, which
loads MathJax 2 from a CDN (``cdnjs.cloudflare.com``): opened without a network, the equations
of the assignment show as raw TeX. nbgrader's ``release_feedback`` hands students the ``.html``
files alone, so a MathJax folder next to them would not travel either. This module therefore
*inlines* MathJax 3's self-contained SVG build (``tex-svg.js``: TeX in, SVG paths out, no font
files) into each feedback page, in place of the CDN block, with a configuration for ``$...$``,
``$$...$$``, ``\\(...\\)`` and ``\\[...\\]``.

``tex-svg.js`` is looked for in order: ``$COURSE_MATHJAX_SVG``; ``_vendor/static/mathjax/`` of
the repository; a cache ``_build/.cache/mathjax-<version>/``, filled once from the npm registry
with ``npm pack mathjax@<version>`` (the same client and version that fetch the book's assets).

The course's ``nbgrader_config.py`` installs :func:`~.feedback_pages.feedback_hook` (which calls
:func:`inline_mathjax_files`) as ``GenerateFeedback.post_convert_hook``;
``python -m course_pkg.grading.instructor.offline_feedback FILE...`` does the same to given files.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from typing import Any, Iterable

MATHJAX_VERSION = "3.2.2"
REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]  # course_pkg/grading/instructor/ -> root
MARKER = "<!-- course: MathJax inlined for offline reading -->"

# nbconvert's block: from "<!-- Load mathjax -->" to "<!-- End of mathjax configuration -->".
_CDN_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->",
                        re.DOTALL)
_CONFIG = """<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
        displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
        processEscapes: true, processEnvironments: true},
  svg: {fontCache: 'global'},
  options: {ignoreHtmlClass: 'tex2jax_ignore', processHtmlClass: 'tex2jax_process'}
};
</script>"""


class MathJaxUnavailable(RuntimeError):
    """No MathJax for the feedback pages, and no npm to fetch it (the message says what to do)."""


def _cache_dir() -> pathlib.Path:
    return REPO_ROOT / "_build" / ".cache" / f"mathjax-{MATHJAX_VERSION}"


def _fetch_from_npm(target: pathlib.Path) -> None:
    """``npm pack mathjax@VERSION`` (npm's cache makes it work offline once fetched)."""
    if shutil.which("npm") is None:
        raise MathJaxUnavailable(
            "the feedback pages need MathJax 3 (tex-svg.js) to show their equations offline, "
            "and none was found: run `make book` once in the repository (it puts MathJax in "
            "_vendor/static/mathjax/), or install Node.js with npm (the course fetches "
            f"mathjax@{MATHJAX_VERSION} with `npm pack`), or point COURSE_MATHJAX_SVG at a "
            "copy of tex-svg.js")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["npm", "pack", f"mathjax@{MATHJAX_VERSION}", "--silent",
                        "--pack-destination", work], check=True, capture_output=True,
                       timeout=300)
        tarball = next(pathlib.Path(work).glob("mathjax-*.tgz"))
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/es5/tex-svg.js")
            if member is None:
                raise FileNotFoundError("package/es5/tex-svg.js not in the mathjax tarball")
            target.write_bytes(member.read())


def mathjax_svg_path() -> pathlib.Path:
    """Where ``tex-svg.js`` is (fetching it into the cache the first time)."""
    candidates = []
    if os.environ.get("COURSE_MATHJAX_SVG"):
        candidates.append(pathlib.Path(os.environ["COURSE_MATHJAX_SVG"]))
    candidates += [REPO_ROOT / "_vendor" / "static" / "mathjax" / "tex-svg.js",
                   _cache_dir() / "tex-svg.js"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    target = _cache_dir() / "tex-svg.js"
    _fetch_from_npm(target)
    return target


def inline_mathjax(html: str, mathjax_js: str) -> str:
    """Replace nbconvert's CDN MathJax block in ``html`` with the inlined one (idempotent)."""
    if MARKER in html:
        return html
    script = mathjax_js.replace("</script", "<\\/script")
    block = f"{MARKER}\n{_CONFIG}\n<script>\n{script}\n</script>"
    new, count = _CDN_BLOCK.subn(lambda match: block, html, count=1)
    if count == 0:  # no CDN block (another template): put it before </head>
        new = html.replace("</head>", block + "\n</head>", 1)
    return new


def inline_mathjax_files(paths: Iterable[pathlib.Path]) -> int:
    """Inline MathJax into each HTML file; returns how many files changed."""
    mathjax_js = None
    changed = 0
    for path in paths:
        html = path.read_text(encoding="utf-8")
        if MARKER in html:
            continue
        if mathjax_js is None:
            mathjax_js = mathjax_svg_path().read_text(encoding="utf-8")
        path.write_text(inline_mathjax(html, mathjax_js), encoding="utf-8")
        changed += 1
    return changed


def inline_mathjax_hook(assignment: str, student: str, notebooks: list[str], **_: Any) -> None:
    """nbgrader ``GenerateFeedback.post_convert_hook`` doing this module's part only (the
    course's hook, :func:`~.feedback_pages.feedback_hook`, also names the parts)."""
    from course_pkg.grading.instructor.feedback_pages import feedback_pages

    inline_mathjax_files(feedback_pages(notebooks))


def main(argv: list[str] | None = None) -> int:
    paths = [pathlib.Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print("usage: python -m course_pkg.grading.instructor.offline_feedback FEEDBACK.html ...")
        return 2
    print(f"inlined MathJax into {inline_mathjax_files(paths)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
