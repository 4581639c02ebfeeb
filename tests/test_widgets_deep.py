"""The context widget of chapter 7: sensitivities checked by finite differences, causality."""

import re

import numpy as np
import pytest
import torch

from course_pkg.data.future_context import TAGS, WORDS, encode_words
from course_pkg.models.tagger import RecurrentTagger
from course_pkg.widgets.deep import context_sensitivity, context_widget

SENTENCE = "he saw a bat near the cave"


def make_tagger(bidirectional, seed):
    torch.manual_seed(seed)
    return RecurrentTagger(len(WORDS), len(TAGS), 5, 4, bidirectional=bidirectional).double()


def finite_difference_sensitivity(tagger, words, step=1e-6):
    """S[t, s] = ||d scores_t / d e_s||_F by centred differences on the embeddings."""
    with torch.no_grad():
        embedded = tagger.embed(words[:, None])  # (T, 1, E)
        length, _, size = embedded.shape
        squared = np.zeros((length, length))
        for s in range(length):
            for e in range(size):
                plus, minus = embedded.clone(), embedded.clone()
                plus[s, 0, e] += step
                minus[s, 0, e] -= step
                column = (tagger.scores_from_embeddings(plus) - tagger.scores_from_embeddings(minus))[:, 0] / (2 * step)
                squared[:, s] += (column.numpy() ** 2).sum(axis=1)  # sum over the K tags
    return np.sqrt(squared)


def shown_row(view_html, name):
    match = re.search(re.escape(name) + r": sensitivity</th>(.*?)</tr>", view_html)
    assert match, f"the view should have a sensitivity row for {name}"
    return [float(v) for v in re.findall(r">([0-9.e+-]+)</td>", match.group(1))]


def test_sensitivity_matches_finite_differences_and_is_causal_for_one_direction():
    words = encode_words(SENTENCE)
    uni, bi = make_tagger(False, 0), make_tagger(True, 1)
    for tagger in (uni, bi):
        np.testing.assert_allclose(context_sensitivity(tagger, words),
                                   finite_difference_sensitivity(tagger, words), rtol=1e-6, atol=1e-9)
    s_uni, s_bi = context_sensitivity(uni, words), context_sensitivity(bi, words)
    assert np.all(np.triu(s_uni, k=1) == 0)  # nothing after t reaches the output at t
    assert np.all(s_uni[np.tril_indices(len(words))] > 0)  # everything up to t does
    assert np.all(s_bi > 0)  # every word reaches every output


def test_widget_moves_and_shows_the_sensitivities():
    words = encode_words(SENTENCE)
    uni, bi = make_tagger(False, 0), make_tagger(True, 1)
    w = context_widget(uni, bi, SENTENCE)
    assert len(w.stack.children) == len(SENTENCE.split())
    first_view = w.stack.children[0].value
    expected = {"one-directional": finite_difference_sensitivity(uni, words),
                "bidirectional": finite_difference_sensitivity(bi, words)}
    for t in (0, 3, 6):
        w.slider.index = t
        assert w.stack.selected_index == t
        view = w.stack.children[w.stack.selected_index].value
        if t:
            assert view != first_view
        assert f"word {t + 1} of 7" in view
        for name, sensitivity in expected.items():
            np.testing.assert_allclose(shown_row(view, name), sensitivity[t], rtol=6e-3, atol=1e-12)
        assert shown_row(view, "one-directional")[t + 1:] == [0.0] * (6 - t)
        # the forward direction has read t + 1 words, the backward one 7 - t
        forward = re.search(r"forward has read</th>(.*?)</tr>", view).group(1)
        backward = re.search(r"backward has read</th>(.*?)</tr>", view).group(1)
        assert forward.count("rgba(31,119,180,0.45)") == t + 1
        assert backward.count("rgba(255,127,14,0.45)") == 7 - t


def test_bad_input():
    uni, bi = make_tagger(False, 0), make_tagger(True, 1)
    with pytest.raises(ValueError, match="sentence: unknown words"):
        context_widget(uni, bi, "he saw a cat")
    with pytest.raises(ValueError, match="sentence: expected between 1 and 10 words"):
        context_widget(uni, bi, " ".join(["he"] * 11))
    with pytest.raises(ValueError, match="words: expected a 1-D sentence"):
        context_sensitivity(uni, torch.zeros(3, 2, dtype=torch.int64))


def test_widget_live_reads_a_typed_sentence(monkeypatch):
    """Live mode: a sentence that was not precomputed, typed; the view shows finite differences."""
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    uni, bi = make_tagger(False, 0), make_tagger(True, 1)
    w = context_widget(uni, bi, SENTENCE)
    assert w.mode == "live"
    typed = "the bat saw he"
    w.set(typed, 2)
    view = w.view.children[0].value
    assert "word 2 of 4" in view
    words = encode_words(typed)
    for name, tagger in (("one-directional", uni), ("bidirectional", bi)):
        np.testing.assert_allclose(shown_row(view, name),
                                   finite_difference_sensitivity(tagger, words)[1],
                                   rtol=6e-3, atol=1e-12)
    w.controls[0].value = "he saw a cat"
    assert "unknown words [&#x27;cat&#x27;]" in w.live.status.value
