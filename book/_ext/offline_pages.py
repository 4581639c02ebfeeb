"""A small Sphinx extension that keeps every page of the book self-contained.

- sphinx-thebe (added by Jupyter Book even with thebe off) injects a script that points at a CDN
  and, with Sphinx 7.4, injects it twice, which raises a JavaScript error on every page. The book
  has no live-code button, so its scripts are dropped.
- The theme logs a console error when no colour mode is configured; the book sets one.
"""

from __future__ import annotations


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


def setup(app):
    app.connect("config-inited", set_default_colour_mode)
    app.connect("html-page-context", drop_thebe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
