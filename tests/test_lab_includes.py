"""course_pkg.lab_includes: in Lab, a chapter's literalinclude shows the code it includes, and
saving puts the directive back (the chapter on disk does not change)."""

import ast
import asyncio

import jupytext
import nbformat
import pytest

from conftest import ROOT
from course_pkg.lab_includes import (METADATA_KEY, IncludingContentsManager, expand_includes,
                                     expand_notebook, included_code, restore_notebook)

CHAPTER = ROOT / "book" / "part2" / "05_lstm.md"


def test_pyobject_gives_the_function_source():
    code = included_code("../../course_pkg/numpy_rnn/lstm.py", {"pyobject": "lstm_step_forward"},
                         str(CHAPTER.parent))
    assert code.startswith("def lstm_step_forward(")
    tree = ast.parse(code)
    assert [n.name for n in tree.body] == ["lstm_step_forward"]


def test_a_method_by_dotted_name():
    code = included_code("../../course_pkg/models/sequence_regressor.py",
                         {"pyobject": "SequenceRegressor.forward"}, str(CHAPTER.parent))
    assert code.lstrip().startswith("def forward(")


def test_bad_include_names_what_is_wrong():
    with pytest.raises(LookupError, match="pyobject: expected a function or class of .*, got 'nope'"):
        included_code("../../course_pkg/numpy_rnn/lstm.py", {"pyobject": "nope"}, str(CHAPTER.parent))
    with pytest.raises(FileNotFoundError, match="path: expected a file relative to"):
        included_code("missing.py", {}, str(CHAPTER.parent))


def test_a_failed_include_becomes_a_note_not_an_error():
    text, pairs = expand_includes(":::{literalinclude} missing.py\n:::\n", str(CHAPTER.parent))
    assert "could not read it" in text and pairs[0][1] == ":::{literalinclude} missing.py\n:::"


def test_a_chapter_expands_and_restores_exactly():
    notebook = jupytext.read(CHAPTER)
    before = nbformat.writes(notebook)
    expanded = nbformat.from_dict(nbformat.reads(before, as_version=4))
    count = expand_notebook(expanded, str(CHAPTER.parent))
    assert count == CHAPTER.read_text().count("{literalinclude}")
    text = "\n".join(c.source for c in expanded.cells if c.cell_type == "markdown")
    assert "{literalinclude}" not in text and "def lstm_step_forward(" in text
    restored = restore_notebook(expanded)
    assert all(METADATA_KEY not in c.get("metadata", {}) for c in restored["cells"])
    assert nbformat.writes(nbformat.from_dict(restored)) == before


def test_contents_manager_round_trip_leaves_the_file_unchanged(tmp_path):
    folder = tmp_path / "book" / "part2"
    folder.mkdir(parents=True)
    (tmp_path / "course_pkg").symlink_to(ROOT / "course_pkg")
    chapter = folder / CHAPTER.name
    chapter.write_text(CHAPTER.read_text())
    original = chapter.read_text()
    manager = IncludingContentsManager(root_dir=str(tmp_path))

    async def open_and_save():
        model = await manager.get(f"book/part2/{CHAPTER.name}", type="notebook")
        sources = "\n".join(c["source"] for c in model["content"]["cells"])
        assert "def lstm_step_forward(" in sources
        await manager.save({"type": "notebook", "format": "json",
                            "content": model["content"]}, f"book/part2/{CHAPTER.name}")

    asyncio.run(open_and_save())
    saved = chapter.read_text()
    assert "{literalinclude}" in saved and "def lstm_step_forward(" not in saved
    # The body is what jupytext writes for the original chapter (its header may differ: no
    # jupytext.toml in this temporary root).
    rewritten = jupytext.writes(jupytext.reads(original, fmt="md:myst"), fmt="md:myst")
    body = lambda text: text.split("\n---\n", 1)[1]
    assert body(saved) == body(rewritten)
