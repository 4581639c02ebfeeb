"""Every chapter is in jupytext's canonical form (scripts/canonicalise_chapters.py): reading it
and writing it back with the repository's jupytext.toml changes nothing, so opening and saving a
chapter in JupyterLab does not change it (nor invalidate jupyter-cache)."""

import importlib.util

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("canonicalise_chapters",
                                              ROOT / "scripts" / "canonicalise_chapters.py")
canonicalise = importlib.util.module_from_spec(spec)
spec.loader.exec_module(canonicalise)

CHAPTERS = canonicalise.chapters()


def test_the_chapters_are_found():
    assert len(CHAPTERS) >= 17, [str(p) for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_round_trips_through_jupytext_unchanged(path):
    diff = canonicalise.difference(path)
    assert not diff, (f"{path.relative_to(ROOT)} is not in jupytext's canonical form; run "
                      f"`.venv/bin/python scripts/canonicalise_chapters.py --write`:\n{diff}")


def test_round_trip_drops_what_lab_would_add():
    """What JupyterLab writes into a header (versions, the kernel's display name) is filtered."""
    text = CHAPTERS[0].read_text(encoding="utf-8")
    noisy = text.replace("    format_name: myst\n",
                         "    format_name: myst\n    format_version: 0.13\n"
                         "    jupytext_version: 1.19.6\n", 1)
    noisy = noisy.replace("  display_name: Python 3 (ipykernel)\n", "  display_name: Python 3\n", 1)
    assert noisy != text
    written = canonicalise.canonical(noisy)
    assert "jupytext_version" not in written and "format_version" not in written
    assert "display_name: Python 3 (ipykernel)\n" in written
    assert written == canonicalise.canonical(text)


def test_canonical_form_is_stable():
    for path in CHAPTERS[:3]:
        once = canonicalise.canonical(path.read_text(encoding="utf-8"))
        assert canonicalise.canonical(once) == once, path.name
