"""course_pkg.widgets.sequences (chapter 1): the padding, mask and packing widget, built
headlessly, moved and read back; its numbers are torch.nn.utils.rnn.pack_padded_sequence's,
computed here independently."""

import re

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from course_pkg.widgets import padding_and_packing_widget
from course_pkg.widgets.sequences import DEFAULT_BATCHES, batch_tables_html


def torch_batch_sizes(sentences):
    lengths = torch.tensor([len(s.split()) for s in sentences])
    padded = pad_sequence([torch.zeros(int(n)) for n in lengths])
    return pack_padded_sequence(padded, lengths, enforce_sorted=False).batch_sizes.tolist()


def shown_batch_sizes(view_html):
    match = re.search(r"batch_sizes = \[([0-9, ]+)\]", view_html)
    assert match, "the packed table should state batch_sizes"
    return [int(v) for v in match.group(1).split(",")]


def test_packing_widget_moves_and_shows_the_right_batch_sizes():
    w = padding_and_packing_widget()
    assert w.stack.selected_index == 0
    first_view = w.stack.children[0].value
    assert shown_batch_sizes(first_view) == torch_batch_sizes(DEFAULT_BATCHES[0])
    for k in range(1, len(DEFAULT_BATCHES)):
        w.slider.index = k
        assert w.stack.selected_index == k
        view = w.stack.children[w.stack.selected_index].value
        assert view != first_view
        assert shown_batch_sizes(view) == torch_batch_sizes(DEFAULT_BATCHES[k])


def test_packing_view_lists_the_packed_tokens_in_torch_order():
    sentences = ["b a", "c c c d", "e"]
    view = batch_tables_html(sentences)
    # the stored tokens, step by step, as torch packs them (ids -> words)
    vocabulary = ["·", "a", "b", "c", "d", "e"]
    ids = [torch.tensor([vocabulary.index(w) for w in s.split()]) for s in sentences]
    lengths = torch.tensor([len(s) for s in ids])
    packed = pack_padded_sequence(pad_sequence(ids), lengths, enforce_sorted=False)
    words = [vocabulary[i] for i in packed.data.tolist()]
    rows = re.findall(r"<tr><td>t=\d+</td><td>(\d+)</td><td>([^<]*)</td></tr>", view)
    assert [int(n) for n, _ in rows] == packed.batch_sizes.tolist()
    assert " ".join(tokens for _, tokens in rows).split() == words
    # padding cells are marked, real ones are not: 3 sentences x 4 steps - 7 tokens = 5 pads
    padded_table = view.split("<b>2. Mask</b>")[0]
    assert padded_table.count("<td class='pad'>") == 5


def test_packing_widget_bad_input():
    with pytest.raises(ValueError, match="batches: expected between 1 and 10"):
        padding_and_packing_widget([])
    with pytest.raises(ValueError, match=r"batches\[1\]: expected a non-empty list"):
        padding_and_packing_widget([["a b"], []])


def test_packing_widget_live_packs_a_typed_batch(monkeypatch):
    """Live mode: a batch the reader types; the packed tokens are torch's own, computed here."""
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    w = padding_and_packing_widget()
    assert w.mode == "live"
    w.set("b a | c c c d  |e")
    view = w.view.children[0].value
    vocabulary = ["·", "a", "b", "c", "d", "e"]
    sentences = ["b a", "c c c d", "e"]
    ids = [torch.tensor([vocabulary.index(x) for x in s.split()]) for s in sentences]
    packed = pack_padded_sequence(pad_sequence(ids), torch.tensor([2, 4, 1]), enforce_sorted=False)
    rows = re.findall(r"<tr><td>t=\d+</td><td>(\d+)</td><td>([^<]*)</td></tr>", view)
    assert [int(n) for n, _ in rows] == packed.batch_sizes.tolist()
    assert " ".join(t for _, t in rows).split() == [vocabulary[i] for i in packed.data.tolist()]
    w.controls[0].value = "a | | b"
    assert "batch: expected 1 to 10 non-empty sentences" in w.live.status.value
