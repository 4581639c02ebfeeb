"""A small Sphinx extension that keeps every page of the book self-contained.

- sphinx-thebe (added by Jupyter Book even with thebe off) injects a script that points at a CDN
  and, with Sphinx 7.4, injects it twice, which raises a JavaScript error on every page. The book
  has no live-code button, so its scripts are dropped.
- The theme logs a console error when no colour mode is configured; the book sets one.
- The build's root ``index.html`` only redirects to the book's first page. sphinx-external-toc
  writes it as a single ``<meta http-equiv="Refresh">`` line: a page without ``<head>``, so
  without an icon link, and the browser then asks the server for ``/favicon.ico``, which does not
  exist (the console error "404 (File not found)" on index.html). This extension writes the
  redirect page itself, as a complete page that names the book's icon; sphinx-external-toc leaves
  an existing index.html alone.
- The chapters' widgets are built in their static mode (``COURSE_WIDGETS=static``).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

REDIRECT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>{title}</title>
<link rel="icon" href="{icon}" />
<meta http-equiv="Refresh" content="0; url={target}" />
</head>
<body><p>The book starts at <a href="{target}">{target}</a>.</p></body>
</html>
"""


def _is_thebe_script(script) -> bool:
    filename = getattr(script, "filename", None) or ""
    body = getattr(script, "attributes", {}).get("body", "") or ""
    return "thebe" in filename or "THEBE_JS_URL" in body


def drop_thebe_scripts(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe_script(s)]


def set_default_colour_mode(app, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")  # read by pydata-sphinx-theme's templates
    config.html_context = context


def write_root_redirect(app, exception) -> None:
    """Write ``index.html`` at the root of an HTML build whose first page is elsewhere."""
    if exception is not None or app.builder.name != "html" or app.config.root_doc == "index":
        return
    target = f"{app.config.root_doc}.html"
    favicon = app.config.html_favicon or ""
    icon = f"_static/{os.path.basename(favicon)}" if favicon and "://" not in favicon else favicon
    title = app.config.html_title or app.config.project or "index"
    page = REDIRECT_PAGE.format(title=html.escape(title),
                                icon=html.escape(icon or "data:,"), target=html.escape(target))
    Path(app.outdir, "index.html").write_text(page, encoding="utf-8")


def setup(app):
    # The book is static HTML: its widgets must be the precomputed kind that works without a
    # kernel (course_pkg.widgets.live.widget_mode). The kernels that execute the chapters inherit
    # this environment; `make book` exports the same.
    os.environ.setdefault("COURSE_WIDGETS", "static")
    app.connect("config-inited", set_default_colour_mode)
    app.connect("html-page-context", drop_thebe_scripts, priority=900)
    # Before sphinx-external-toc's own redirect (priority 500), which then finds index.html.
    app.connect("build-finished", write_root_redirect, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
