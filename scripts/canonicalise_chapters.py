"""Check or rewrite the book's chapters in jupytext's canonical form.

The canonical form of a chapter is what jupytext writes when it reads the chapter and writes it
back with the repository's ``jupytext.toml``: what JupyterLab saves. A chapter in that form is
left unchanged by opening and saving it in Lab, so jupyter-cache does not re-execute it.

    python scripts/canonicalise_chapters.py           # list the chapters not in canonical form
    python scripts/canonicalise_chapters.py --write   # rewrite them (exit 0)

Chapters are the MyST notebooks (files with a ``jupytext:`` header) under ``book/``.
"""

from __future__ import annotations

import argparse
import difflib
import pathlib
import sys

import jupytext
from jupytext.config import load_jupytext_configuration_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORMAT = "md:myst"
#: The kernel Lab records when it runs a chapter: ipykernel's python3 kernelspec.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def chapters(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Every MyST notebook under ``book/`` (a Markdown file whose front matter has ``jupytext:``)."""
    found = []
    for path in sorted((root / "book").rglob("*.md")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        head = path.read_text(encoding="utf-8")[:400]
        if head.startswith("---\n") and "\njupytext:" in head:
            found.append(path)
    return found


def canonical(text: str, root: pathlib.Path = ROOT) -> str:
    """``text`` as jupytext writes it back under the repository's jupytext.toml, after Lab ran it
    with ipykernel's python3 kernel (`KERNELSPEC`)."""
    config = load_jupytext_configuration_file(str(root / "jupytext.toml"))
    notebook = jupytext.reads(text, fmt=FORMAT)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    return jupytext.writes(notebook, fmt=FORMAT, config=config)


def difference(path: pathlib.Path, root: pathlib.Path = ROOT) -> str:
    """A unified diff from the chapter to its canonical form ('' when it is canonical)."""
    text = path.read_text(encoding="utf-8")
    lines = difflib.unified_diff(text.splitlines(), canonical(text, root).splitlines(),
                                 f"{path} (as committed)", f"{path} (as jupytext writes it)",
                                 lineterm="", n=1)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite chapters not in canonical form")
    args = parser.parse_args(argv)
    changed = [path for path in chapters() if difference(path)]
    for path in changed:
        if args.write:
            path.write_text(canonical(path.read_text(encoding="utf-8")), encoding="utf-8")
        print(("rewrote " if args.write else "not canonical: ") + str(path.relative_to(ROOT)))
    return 0 if args.write or not changed else 1


if __name__ == "__main__":
    sys.exit(main())
