"""Chapter 7 widget: which words can the tag at position t depend on?

A slider over the positions ``t`` of one sentence. For each position the view shows

- the words the forward direction has read (``x_1 .. x_t``) and the words the backward direction
  has read (``x_t .. x_T``);
- for a one-directional and a bidirectional tagger (`course_pkg.models.tagger.RecurrentTagger`),
  the *sensitivity* of the tag scores at ``t`` to each word ``s``: the Frobenius norm of the
  Jacobian ``d scores_t / d e_s`` of the ``K`` tag scores with respect to the embedding ``e_s``
  of word ``s`` (`context_sensitivity`). For the one-directional tagger it is exactly 0 for every
  ``s > t``: no path leads from a later word to an earlier output;
- both taggers' predicted tag and its probability at ``t``.

In a live kernel (`course_pkg.widgets.live.widget_mode`) the reader also types the sentence
(any words of the vocabulary, up to 10): both taggers read it and the sensitivities are
computed in the kernel.
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import torch

from course_pkg.data.future_context import TAGS, WORDS
from course_pkg.models.tagger import RecurrentTagger
from course_pkg.training import evaluating
from course_pkg.widgets.html_table import TABLE_STYLE, Cell, html_table, shaded_cell
from course_pkg.widgets.live import LiveRange, LiveText, live_controls, widget_mode
from course_pkg.widgets.precomputed import precomputed_slider

__all__ = ["context_sensitivity", "context_widget", "MAX_WORDS"]

MAX_WORDS = 10  # the most words a sentence of the widget has


def context_sensitivity(tagger: RecurrentTagger, words: torch.Tensor) -> np.ndarray:
    """``S[t, s] = || d scores_t / d e_s ||_F`` for one sentence ``words`` ``(T,)``: shape ``(T, T)``.

    Computed by backpropagation, one tag score at a time (K backward passes per position).
    """
    words = torch.as_tensor(words)
    if words.ndim != 1:
        raise ValueError(f"words: expected a 1-D sentence (T,) of word ids, got shape {tuple(words.shape)}")
    with evaluating(tagger):
        embedded = tagger.embed(words[:, None]).detach().requires_grad_(True)  # (T, 1, E)
        scores = tagger.scores_from_embeddings(embedded)[:, 0]  # (T, K)
        length, num_tags = scores.shape
        squared = torch.zeros(length, length, dtype=torch.float64)  # (T out, T in)
        for t in range(length):
            for k in range(num_tags):
                (grad,) = torch.autograd.grad(scores[t, k], embedded,
                                              retain_graph=True)  # (T, 1, E)
                squared[t] += grad[:, 0].double().pow(2).sum(dim=1)
    return squared.sqrt().numpy()


def _label(text: str) -> Cell:
    """The header cell that starts a row: ``text`` (plain) left-aligned."""
    return Cell(html.escape(text), style="text-align:left", header=True)


def _render(t: int, sentence: Sequence[str], sensitivities: dict[str, np.ndarray],
            predictions: dict[str, torch.Tensor], tags: Sequence[str]) -> str:
    length = len(sentence)
    blue, orange, green = "31,119,180", "255,127,14", "44,160,44"
    marked = [f"<b>{html.escape(w)}</b>" if s == t else html.escape(w) for s, w in enumerate(sentence)]
    rows = [
        [_label("position t")] + ["&#9660;" if s == t else "" for s in range(length)],
        [_label("forward has read")]
        + [shaded_cell(sentence[s], 0.45 if s <= t else 0.0, blue) for s in range(length)],
        [_label("backward has read")]
        + [shaded_cell(sentence[s], 0.45 if s >= t else 0.0, orange) for s in range(length)],
    ]
    summary = []
    for name, sensitivity in sensitivities.items():
        row = sensitivity[t]  # (T,)
        largest = row.max() if row.max() > 0 else 1.0
        rows.append([_label(f"{name}: sensitivity")]
                    + [shaded_cell(f"{value:.3g}", value / largest, green) for value in row])
        probs = predictions[name][t]  # (K,)
        best = int(probs.argmax())
        summary.append(f"{html.escape(name)} tags it <b>{html.escape(tags[best])}</b> "
                       f"(p = {probs[best]:.2f})")
    header = f"<div>word {t + 1} of {length}: {' '.join(marked)}</div>"
    table = html_table(None, rows, "cp-context", style=f"{TABLE_STYLE};font-size:85%",
                       cell_style="padding:2px 6px")
    return header + table + "<div>" + "; ".join(summary) + "</div>"


def _sentence_ids(sentence, vocabulary: Sequence[str]) -> tuple[list[str], torch.Tensor]:
    """Words of ``sentence`` (a str or a list of words) and their ids (T,) in ``vocabulary``."""
    tokens = sentence.split() if isinstance(sentence, str) else list(sentence)
    if not 1 <= len(tokens) <= MAX_WORDS:
        raise ValueError(f"sentence: expected between 1 and {MAX_WORDS} words, got {len(tokens)}")
    unknown = [w for w in tokens if w not in vocabulary]
    if unknown:
        raise ValueError(f"sentence: unknown words {unknown}")
    return tokens, torch.tensor([list(vocabulary).index(w) for w in tokens])  # (T,)


def _read(taggers: dict[str, RecurrentTagger], words: torch.Tensor):
    """Sensitivities (T, T) and tag probabilities (T, K) of every tagger on one sentence."""
    sensitivities = {name: context_sensitivity(tagger, words) for name, tagger in taggers.items()}
    predictions = {}
    for name, tagger in taggers.items():
        with evaluating(tagger), torch.no_grad():
            predictions[name] = torch.softmax(tagger(words[:, None])[:, 0], dim=1)  # (T, K)
    return sensitivities, predictions


def _live_context_widget(taggers, tokens, vocabulary, tags):
    for name, tagger in taggers.items():
        if not isinstance(tagger, RecurrentTagger):
            raise TypeError(f"{name}: expected a RecurrentTagger, got {type(tagger).__name__}")
    seen = {}

    def parse(text):
        try:
            return _sentence_ids(text, vocabulary)[0]
        except ValueError as error:
            raise ValueError(f"{error} (the vocabulary: {' '.join(vocabulary)})") from None

    def render(words, position):
        key = tuple(words)
        if key not in seen:
            seen[key] = _read(taggers, _sentence_ids(words, vocabulary)[1])
        sensitivities, predictions = seen[key]
        return _render(min(position, len(words)) - 1, words, sensitivities, predictions, tags)

    sample = " ".join(list(vocabulary)[:3]) + " " + " ".join(tokens[-3:])
    return live_controls(
        [("sentence", LiveText(parse, sample=sample, placeholder="words of the vocabulary"),
          " ".join(tokens)),
         ("position t", LiveRange(1, MAX_WORDS, 1, integer=True, fmt="d"), 1)],
        render,
        caption="<b>What each direction has read</b>, and how strongly each word moves the tag "
                "scores at position t. Type any sentence of the vocabulary's words (up to "
                f"{MAX_WORDS}): both taggers read it in the kernel.")


def context_widget(
    one_directional: RecurrentTagger,
    bidirectional: RecurrentTagger,
    sentence: str | Sequence[str] = "he saw a bat near the cave",
    vocabulary: Sequence[str] = WORDS,
    tags: Sequence[str] = TAGS,
):
    """A slider over the positions of ``sentence`` (at most 10 words): context read by each
    direction, and the sensitivity of each tagger's scores at that position to every word.

    Live mode: a text box for the sentence (read by both taggers when typed) and a position
    slider 1..10 (a position past the last word shows the last)."""
    tokens, words = _sentence_ids(sentence, vocabulary)
    taggers = {"one-directional": one_directional, "bidirectional": bidirectional}
    if widget_mode() == "live":
        return _live_context_widget(taggers, tokens, list(vocabulary), tags)
    sensitivities, predictions = _read(taggers, words)
    return precomputed_slider(
        "position t",
        list(range(len(tokens))),
        lambda t: _render(t, tokens, sensitivities, predictions, tags),
        labels=[f"{t + 1} {w}" for t, w in enumerate(tokens)],
        initial=0,
        caption="<b>What each direction has read</b>, and how strongly each word moves the tag "
                "scores at position t (green: sensitivity, relative to the largest in the row).",
    )
