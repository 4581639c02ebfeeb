"""The memory widgets of chapters 12 and 13: each view shows numbers computed here independently."""

import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_pkg.data.algorithmic import ntm_copy_task
from course_pkg.data.babi import SENTENCE_WIDTH, VOCABULARY, encode_stories, generate_stories
from course_pkg.models.copy_lstm import CopyLSTM
from course_pkg.models.memory_network import EndToEndMemoryNetwork
from course_pkg.models.ntm import NeuralTuringMachine
from course_pkg.widgets.memory import (
    ADDRESSING_SETTINGS,
    AddressingSetting,
    addressing_widget,
    copy_trace_figure,
    copy_trace_widget,
    hop_attention_figure,
    story_attention_widget,
)



def cell_numbers(row_html):
    return [float(v) for v in re.findall(r">(-?[0-9]+\.[0-9]+)</td>", row_html)]


def table_rows(view_html):
    return re.findall(r"<tr>(.*?)</tr>", view_html)


# ---------------------------------------------------------------------------------------------
# chapter 12
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def memory_network():
    torch.manual_seed(0)
    return EndToEndMemoryNetwork(len(VOCABULARY), 8, max_memories=6, hops=2)


def test_story_widget_shows_each_storys_attention(memory_network):
    stories = generate_stories(3, max_sentences=6, seed=4)
    box = story_attention_widget(memory_network, stories)
    first = box.stack.children[0].value
    box.slider.index = 2
    assert box.stack.selected_index == 2
    view = box.stack.children[2].value
    assert view != first
    story = stories[2]
    # the reference: this story alone, through the model, padded to the training width
    batch = encode_stories([story], 6)            # sentences padded to SENTENCE_WIDTH words
    assert batch.stories.shape[2] == SENTENCE_WIDTH
    with torch.no_grad():
        logits, attention = memory_network(batch.stories, batch.questions, return_attention=True)
    rows = table_rows(view)[1:]  # after the header
    assert len(rows) == len(story.sentences)
    for i, (row, sentence) in enumerate(zip(rows, story.sentences)):
        assert sentence in row
        assert ("supporting fact" in row) == (i == story.supporting_fact)
        np.testing.assert_allclose(cell_numbers(row), attention[0, :, i].numpy(), atol=5e-4)
    assert f"answers <b>{VOCABULARY[int(logits.argmax())]}</b>" in view
    assert f"right answer: <b>{story.answer}</b>" in view
    assert memory_network.training  # the widget restores the mode


def test_hop_attention_figure_labels_the_sentences_and_the_supporting_fact():
    story = generate_stories(1, min_sentences=4, max_sentences=4, seed=1)[0]
    attention = torch.softmax(torch.randn(3, 6), dim=1)  # (K, S) with 2 padded slots
    fig = hop_attention_figure(story, attention)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 4 and all(s in label for s, label in zip(story.sentences, labels))
    assert [("\u25c0" in label) for label in labels] == [i == story.supporting_fact for i in range(4)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hop 1", "hop 2", "hop 3"]
    np.testing.assert_allclose(ax.images[0].get_array(), attention[:, :4].T.numpy(), rtol=1e-6)
    plt.close(fig)
    with pytest.raises(ValueError, match="attention"):
        hop_attention_figure(story, attention[:, :3])


def test_story_widget_bad_input(memory_network):
    stories = generate_stories(11, max_sentences=6, seed=0)
    with pytest.raises(ValueError, match="stories"):
        story_attention_widget(memory_network, stories)
    with pytest.raises(TypeError, match="model"):
        story_attention_widget(torch.nn.Linear(2, 2), stories[:2])
    with pytest.raises(ValueError, match="sentence_width"):
        story_attention_widget(memory_network, stories[:2], sentence_width=2)


# ---------------------------------------------------------------------------------------------
# chapter 13: addressing
# ---------------------------------------------------------------------------------------------
def addressing_by_hand(memory, key, w_prev, beta, g, shift, gamma):
    """Graves et al. (2014), eq. (5)-(9), in numpy, one loop per sum."""
    cosine = memory @ key / (np.linalg.norm(memory, axis=1) * np.linalg.norm(key))  # (N,)
    content = np.exp(beta * cosine) / np.exp(beta * cosine).sum()
    gated = g * content + (1 - g) * w_prev
    n = len(w_prev)
    shifted = np.zeros(n)
    for i in range(n):
        for j in range(n):
            offset = (i - j) % n  # s is defined on -1, 0, +1; other offsets weigh 0
            weight = {0: shift[1], 1: shift[2], n - 1: shift[0]}.get(offset, 0.0)
            shifted[i] += gated[j] * weight
    sharpened = shifted ** gamma / (shifted ** gamma).sum()
    return [w_prev, content, gated, shifted, sharpened]


def test_addressing_widget_shows_every_stage_as_the_paper_computes_it():
    rng = np.random.default_rng(0)
    memory = rng.normal(size=(6, 3))
    key = memory[4] + 0.2 * rng.normal(size=3)
    w_prev = np.array([0.1, 0.6, 0.1, 0.1, 0.05, 0.05])
    settings = [AddressingSetting("a", 2.0, 1.0, (0.0, 1.0, 0.0), 1.0),
                AddressingSetting("b", 7.0, 0.3, (0.2, 0.5, 0.3), 2.5)]
    box = addressing_widget(settings, torch.tensor(memory[None]), torch.tensor(key[None]),
                            torch.tensor(w_prev[None]))
    first = box.stack.children[0].value
    box.slider.index = 1
    assert box.stack.selected_index == 1
    view = box.stack.children[1].value
    assert view != first and "beta = 7" in view and "gamma = 2.5" in view and "g = 0.3" in view
    rows = table_rows(view)[1:]
    expected = addressing_by_hand(memory, key, w_prev, 7.0, 0.3, (0.2, 0.5, 0.3), 2.5)
    assert len(rows) == 5
    for row, stage in zip(rows, expected):
        np.testing.assert_allclose(cell_numbers(row), stage, atol=5e-4)


def test_default_addressing_tour():
    box = addressing_widget()
    assert len(box.stack.children) == len(ADDRESSING_SETTINGS) <= 10
    labels = [label for label, _ in box.slider.options]
    # keep the previous focus (slot 5) and shift it by +1: everything ends on slot 6
    box.slider.index = labels.index("shift +1")
    final = cell_numbers(table_rows(box.stack.children[box.slider.index].value)[-1])
    assert np.argmax(final) == 6 and final[6] == pytest.approx(1.0, abs=1e-3)
    # find the row like the key (slot 2) by content, then move one slot on
    box.slider.index = labels.index("find, then shift +1")
    final = cell_numbers(table_rows(box.stack.children[box.slider.index].value)[-1])
    assert np.argmax(final) == 3
    with pytest.raises(ValueError, match="settings"):
        addressing_widget(ADDRESSING_SETTINGS * 2)


# ---------------------------------------------------------------------------------------------
# chapter 13: copy traces
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def copiers():
    torch.manual_seed(0)  # 3-bit copiers: 3 bits and the delimiter in, 3 bits out
    ntm = NeuralTuringMachine(4, 3, controller_size=8, memory_slots=10, memory_width=4)
    torch.manual_seed(0)
    return ntm, CopyLSTM(4, 3, hidden_size=6)


def test_copy_trace_widget_counts_the_wrong_bits(copiers):
    ntm, lstm = copiers
    box = copy_trace_widget(ntm, {"LSTM": lstm}, lengths=(2, 4), seed=7)
    first = box.stack.children[0]
    box.slider.index = 1
    assert box.stack.selected_index == 1
    shown = box.stack.children[1]
    assert isinstance(shown, widgets.VBox)
    summary, image = shown.children
    assert image.value[:4] == b"\x89PNG" and image.value != first.children[1].value
    inputs, targets, mask = ntm_copy_task(1, 4, bits=3, seed=7 + 4)
    with torch.no_grad():
        wrong = {name: int(((model(inputs)[mask] > 0).float() != targets[mask]).sum())
                 for name, model in (("NTM", ntm), ("LSTM", lstm))}
    assert "length 4" in summary.value and "out of 12" in summary.value
    assert f"NTM <b>{wrong['NTM']}</b>" in summary.value
    assert f"LSTM <b>{wrong['LSTM']}</b>" in summary.value


def test_copy_trace_figure_draws_the_weightings(copiers):
    ntm, lstm = copiers
    inputs, _, _ = ntm_copy_task(1, 3, bits=3, seed=0)
    fig = copy_trace_figure(ntm, inputs, {"LSTM": lstm}, title="t")
    assert len(fig.axes) == 6  # input, target, two outputs, write and read weightings
    with torch.no_grad():
        _, trace = ntm(inputs, return_trace=True)
    np.testing.assert_allclose(fig.axes[4].images[0].get_array(), trace.write_weights[:, 0].T.numpy())
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), trace.read_weights[:, 0, 0].T.numpy())
    plt.close(fig)
    with pytest.raises(ValueError, match="inputs"):
        copy_trace_figure(ntm, torch.zeros(7, 2, 4))
    with pytest.raises(ValueError, match="lengths"):
        copy_trace_widget(ntm, lengths=tuple(range(1, 12)))
    with pytest.raises(ValueError, match="lengths"):
        copy_trace_widget(ntm, lengths=(0, 2))


# ---------------------------------------------------------------------------------------------
# live mode
# ---------------------------------------------------------------------------------------------
def test_story_widget_live_answers_a_new_story(memory_network, monkeypatch):
    """Live mode: a story drawn with a seed no view was built for, read by the network."""
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    box = story_attention_widget(memory_network, generate_stories(3, max_sentences=6, seed=4))
    assert box.mode == "live"
    box.set(777)
    view = box.view.children[0].value
    (story,) = generate_stories(1, max_sentences=6, seed=777)
    batch = encode_stories([story], 6)            # sentences padded to SENTENCE_WIDTH words
    assert batch.stories.shape[2] == SENTENCE_WIDTH
    with torch.no_grad():
        logits, attention = memory_network(batch.stories, batch.questions, return_attention=True)
    rows = table_rows(view)[1:]
    assert len(rows) == len(story.sentences)
    for i, row in enumerate(rows):
        np.testing.assert_allclose(cell_numbers(row), attention[0, :, i].numpy(), atol=5e-4)
    assert f"answers <b>{VOCABULARY[int(logits.argmax())]}</b>" in view


def test_addressing_widget_live_takes_any_head_parameters(monkeypatch):
    """Live mode: beta, g, a fractional shift and gamma between the tour's settings."""
    from course_pkg.widgets.memory import _example_memory, shift_weights

    monkeypatch.setenv("COURSE_WIDGETS", "live")
    box = addressing_widget()
    assert box.mode == "live" and len(box.controls) == 4
    box.set(13.5, 0.37, 0.4, 2.3)
    view = box.view.children[0].value
    memory, key, w_prev = (t.numpy() for t in _example_memory())
    assert shift_weights(0.4) == pytest.approx((0.0, 0.6, 0.4))
    expected = addressing_by_hand(memory[0], key[0], w_prev[0], 13.5, 0.37, (0.0, 0.6, 0.4), 2.3)
    rows = table_rows(view)[1:]
    for row, stage in zip(rows, expected):
        np.testing.assert_allclose(cell_numbers(row), stage, atol=5e-4)
    with pytest.raises(ValueError, match=r"shift: expected a number in \[-1, 1\], got 2"):
        shift_weights(2)
