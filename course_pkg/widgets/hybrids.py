"""Test sentences tagged by the word-only BiLSTM and by the char-CNN + BiLSTM, side by side
(chapter 17).

Each view of the slider is one sentence from the test split of the entity-tagging task (names
never seen in training), as an HTML table: a column per token, a row for the words, the gold BIO
tags and each tagger's predicted tags (`course_pkg.tasks.cnn_front_ends.compare_taggers`). A
wrong tag is marked in red (class ``tag-error``); a word missing from the training vocabulary,
which the word embedding sees as ``<unk>``, is underlined and starred.

In a live kernel (`course_pkg.widgets.live.widget_mode`), given the trained taggers
(``TaggerComparison.models`` and ``.vocabularies``), the slider picks any test sentence by its
seed, ``entity_sentences(1, "test", seed)`` (seed 0 is the first sentence above), and both
taggers tag it in the kernel (`course_pkg.tasks.cnn_front_ends.tag_sentence`).
"""

from __future__ import annotations

import html
from typing import Sequence

import ipywidgets as widgets

from course_pkg.tasks.cnn_front_ends import TAGGER_NAMES, TaggedExample
from course_pkg.validation import require_positive_int
from course_pkg.widgets.html_table import Cell, html_table
from course_pkg.widgets.live import LiveRange, live_controls, widget_mode
from course_pkg.widgets.precomputed import precomputed_slider

__all__ = ["tagged_sentence_html", "tagged_sentences_widget"]

_CELL = "padding:2px 6px;border:1px solid #ddd"
_ERROR = "background:#f8c0c0;color:#900"  # after _CELL


def _check_example(name: str, example: TaggedExample) -> None:
    if not isinstance(example, TaggedExample):
        raise TypeError(f"{name}: expected a TaggedExample, got {type(example).__name__}")
    n = len(example.words)
    lengths = [len(example.gold), len(example.unseen)] + \
        [len(example.predicted.get(key, ())) for key in TAGGER_NAMES]
    if n == 0 or any(length != n for length in lengths):
        raise ValueError(f"{name}: expected {n} gold tags, unseen flags and predicted "
                         f"tags for each of {list(TAGGER_NAMES)} (one per word), got lengths "
                         f"{lengths}")


def tagged_sentence_html(example: TaggedExample) -> str:
    """One sentence as an HTML table: words, gold tags, then one row per tagger with its errors
    marked, and a line counting each tagger's wrong tags."""
    _check_example("example", example)
    words = [f"<u>{html.escape(w)}</u>*" if unseen else html.escape(w)
             for w, unseen in zip(example.words, example.unseen)]
    rows = [[Cell("word", header=True)] + words, [Cell("gold", header=True)] + example.gold]
    counts = []
    for key, name in TAGGER_NAMES.items():
        pairs = list(zip(example.predicted[key], example.gold))
        cells = [tag if tag == gold else Cell(tag, style=_ERROR, css_class="tag-error")
                 for tag, gold in pairs]
        wrong = sum(tag != gold for tag, gold in pairs)
        rows.append([Cell(name, header=True)] + cells)
        counts.append(f"{name}: <b>{wrong}</b> wrong tag{'s' if wrong != 1 else ''}")
    return (f"<div>{html_table(None, rows, cell_style=_CELL)}"
            f"<p>{'; '.join(counts)}. Starred, underlined words were never seen in training "
            f"(the word embedding reads them as &lt;unk&gt;).</p></div>")


def tagged_sentences_widget(examples: Sequence[TaggedExample],
                            max_sentences: int = 8, models: dict | None = None,
                            vocabularies=None) -> widgets.VBox:
    """A slider over up to ``max_sentences`` tagged test sentences (see module docstring).

    With ``models`` (TAGGER_NAMES key -> trained tagger) and their training ``vocabularies``,
    live mode tags any test sentence (a seed slider 0..9999) in the kernel; without them live
    mode walks the given sentences."""
    require_positive_int("max_sentences", max_sentences)
    examples = list(examples)
    if not examples:
        raise ValueError("examples: expected at least one TaggedExample, got none")
    for i, example in enumerate(examples):
        _check_example(f"examples[{i}]", example)
    shown = examples[:max_sentences]
    if (models is None) != (vocabularies is None):
        raise ValueError("models, vocabularies: expected both (the trained taggers and their "
                         f"training vocabularies) or neither, got models={type(models).__name__}, "
                         f"vocabularies={type(vocabularies).__name__}")
    if models is not None and widget_mode() == "live":
        from course_pkg.data.entity_tagging import entity_sentences
        from course_pkg.tasks.cnn_front_ends import tag_sentence

        def render(seed):
            (words,), (gold,) = entity_sentences(1, "test", seed=seed)
            return (f"<div>test sentence of seed {seed}</div>"
                    + tagged_sentence_html(tag_sentence(models, vocabularies, words, gold)))

        tag_sentence(models, vocabularies, shown[0].words, shown[0].gold)  # bad arguments: now
        return live_controls(
            [("test sentence seed", LiveRange(0, 9999, 1, integer=True, fmt="d"), 0)], render,
            caption="Any test sentence (names unseen in training), tagged by both trained "
                    "taggers in the kernel; wrong tags in red.")
    return precomputed_slider(
        "test sentence", shown, tagged_sentence_html,
        labels=[str(i + 1) for i in range(len(shown))],
        caption="Test sentences (names unseen in training): gold tags and the two taggers' "
                "predictions; wrong tags in red.")
