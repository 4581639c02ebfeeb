"""Show the code of a chapter's ``literalinclude`` directives when the chapter is open in JupyterLab.

The book shows the package's own code with MyST's ``literalinclude`` (a file, and with
``:pyobject:`` one function or class of it). Sphinx reads the file when the book is built. In
JupyterLab, ``jupyterlab-myst`` renders the markdown in the browser, which cannot read the
package's files, and the directive renders as nothing: "The numpy loop body:" followed by
silence.

`IncludingContentsManager` (JupyterLab's contents manager for ``make lab``, configured in
``scripts/jupyter/jupyter_server_config.json``; it is jupytext's, which opens the chapters as
notebooks) fills the gap on the server side:

- when Lab opens a chapter, every ``literalinclude`` in a markdown cell is replaced by a
  ``code-block`` holding the included code, captioned with where it comes from; the original
  directive and its expansion are kept in the cell's metadata (``course_lab_includes``);
- when Lab saves the chapter, each expansion is replaced by its original directive again and the
  metadata is dropped, so the file on disk is what it was. An expansion that was edited in Lab is
  left as edited (the package file is the place to change that code).
"""

from __future__ import annotations

import ast
import copy
import os
import re
from typing import Any

__all__ = ["METADATA_KEY", "IncludingContentsManager", "expand_includes", "included_code",
           "restore_includes"]

METADATA_KEY = "course_lab_includes"

# A literalinclude in a colon fence (:::) or a backtick fence (```), with its option lines.
_DIRECTIVE = re.compile(
    r"^(?P<fence>:{3,}|`{3,})\{literalinclude\}[ \t]+(?P<path>\S+)[ \t]*\n"
    r"(?P<options>(?:[ \t]*:[\w-]+:.*\n)*)"
    r"(?P=fence)[ \t]*$",
    re.MULTILINE,
)
_OPTION = re.compile(r"^[ \t]*:(?P<name>[\w-]+):[ \t]*(?P<value>.*?)[ \t]*$")


def _find_object(tree: ast.AST, dotted: str) -> ast.AST | None:
    """The function or class named ``dotted`` ("Class.method" for a method) in ``tree``."""
    scope = getattr(tree, "body", [])
    node = None
    for part in dotted.split("."):
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                         ast.ClassDef)) and n.name == part), None)
        if node is None:
            return None
        scope = node.body
    return node


def included_code(path: str, options: dict[str, str], base_dir: str) -> str:
    """The text ``literalinclude`` shows: ``path`` (relative to ``base_dir``), or with
    ``options["pyobject"]`` that function or class of it, decorators included."""
    full = os.path.normpath(os.path.join(base_dir, path))
    if not os.path.isfile(full):
        raise FileNotFoundError(f"path: expected a file relative to {base_dir}, got {path!r}")
    with open(full, encoding="utf-8") as handle:
        text = handle.read()
    name = options.get("pyobject")
    if not name:
        return text.rstrip("\n")
    node = _find_object(ast.parse(text), name)
    if node is None:
        raise LookupError(f"pyobject: expected a function or class of {path}, got {name!r}")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = text.splitlines()[first - 1: node.end_lineno]
    return "\n".join(lines)


def _expansion(match: re.Match, base_dir: str) -> str:
    path = match.group("path")
    options = {}
    for line in match.group("options").splitlines():
        found = _OPTION.match(line)
        if found:
            options[found.group("name")] = found.group("value")
    source = path + (f", {options['pyobject']}" if options.get("pyobject") else "")
    try:
        code = included_code(path, options, base_dir)
    except (OSError, LookupError, SyntaxError) as error:
        return (f"```{{note}}\nThe book includes code here ({source}); JupyterLab could not "
                f"read it: {error}\n```")
    language = options.get("language") or ("python" if path.endswith(".py") else "text")
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return (f"{fence}{{code-block}} {language}\n:caption: {source} (the book includes it from "
            f"the package; edit it there)\n\n{code}\n{fence}")


def expand_includes(source: str, base_dir: str) -> tuple[str, list[list[str]]]:
    """Replace every ``literalinclude`` in a markdown cell's ``source`` by the code it includes.

    Returns the new source and the ``[expansion, original]`` pairs that `restore_includes` needs.
    """
    pairs: list[list[str]] = []

    def replace(match: re.Match) -> str:
        expansion = _expansion(match, base_dir)
        pairs.append([expansion, match.group(0)])
        return expansion

    return _DIRECTIVE.sub(replace, source), pairs


def restore_includes(source: str, pairs: list[list[str]]) -> str:
    """Put the original directives back in place of their (unedited) expansions."""
    for expansion, original in pairs:
        source = source.replace(expansion, original, 1)
    return source


def _source_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def expand_notebook(notebook: dict, base_dir: str) -> int:
    """Expand the includes of every markdown cell in place; returns how many were expanded."""
    count = 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown" or "{literalinclude}" not in _source_text(cell):
            continue
        new_source, pairs = expand_includes(_source_text(cell), base_dir)
        if pairs:
            cell["source"] = new_source
            cell.setdefault("metadata", {})[METADATA_KEY] = pairs
            count += len(pairs)
    return count


def restore_notebook(notebook: dict) -> dict:
    """A copy of ``notebook`` with every expansion turned back into its directive."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.get("cells", []):
        pairs = cell.get("metadata", {}).pop(METADATA_KEY, None)
        if pairs:
            cell["source"] = restore_includes(_source_text(cell), pairs)
    return notebook


def _contents_manager_base():
    from jupytext.async_contentsmanager import AsyncTextFileContentsManager

    return AsyncTextFileContentsManager


class IncludingContentsManager(_contents_manager_base()):
    """jupytext's contents manager, plus the literalinclude expansion described above."""

    async def get(self, path, content=True, type=None, format=None, **kwargs) -> Any:
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model.get("type") == "notebook" and model.get("content") is not None:
            base_dir = os.path.dirname(self._get_os_path(path))
            expand_notebook(model["content"], base_dir)
        return model

    async def save(self, model, path="") -> Any:
        if model.get("type") == "notebook" and model.get("content") is not None:
            model = dict(model)
            model["content"] = restore_notebook(model["content"])
        return await super().save(model, path)
