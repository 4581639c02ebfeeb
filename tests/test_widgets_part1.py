"""Widgets of chapters 1 and 2: built headlessly, moved, and read back.

The numbers the views show are checked against values computed here independently:
``torch.nn.utils.rnn.pack_padded_sequence`` for the packing widget, ``torch.nn.RNN`` for the
hidden-state widget.
"""

import re

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from course_pkg.widgets import hidden_state_widget, padding_and_packing_widget
from course_pkg.widgets.elman import REPORTED_STEPS, hidden_state_demo
from course_pkg.widgets.sequences import DEFAULT_BATCHES, batch_tables_html


# ----------------------------------------------------------------------------------------------
# chapter 1: padding, mask, packing
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# chapter 2: hidden state of an Elman RNN as W_hh grows
# ----------------------------------------------------------------------------------------------
def torch_states(scale, nonlinearity):
    """The same network run by torch.nn.RNN (the outside reference)."""
    _, weights, x = hidden_state_demo(scale, nonlinearity)
    hidden_size, input_size = weights["weight_ih"].shape
    rnn = torch.nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, dtype=torch.float64)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(rnn, f"{name}_l0").copy_(torch.from_numpy(value))
        out, _ = rnn(torch.from_numpy(x))
    return out[:, 0].numpy()  # (T, H)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_hidden_state_demo_matches_torch_rnn(nonlinearity):
    states, weights, _ = hidden_state_demo(1.5, nonlinearity)
    np.testing.assert_allclose(states, torch_states(1.5, nonlinearity), rtol=1e-10, atol=1e-12)
    largest_eigenvalue = np.max(np.abs(np.linalg.eigvals(weights["weight_hh"])))
    assert largest_eigenvalue == pytest.approx(1.5)


def test_tanh_stays_bounded_and_relu_explodes_above_one():
    for scale in (0.5, 3.0):
        assert np.abs(torch_states(scale, "tanh")).max() <= 1.0
    relu_small, relu_large = torch_states(0.5, "relu"), torch_states(3.0, "relu")
    assert np.abs(relu_small).max() < 10
    assert np.abs(relu_large[-1]).max() > 1e10


def shown_table(view_html):
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", view_html)
    return {int(t): (float(a), float(b)) for t, a, b in rows}


def test_hidden_state_widget_moves_and_reports_torch_numbers():
    scales = (0.5, 1.0, 3.0)
    w = hidden_state_widget(scales=scales)
    first_view = w.stack.children[0].value
    assert "data:image/png;base64," in first_view
    for k, scale in enumerate(scales):
        w.slider.index = k
        assert w.stack.selected_index == k
        view = w.stack.children[w.stack.selected_index].value
        if k > 0:
            assert view != first_view
        table = shown_table(view)
        assert sorted(table) == list(REPORTED_STEPS)
        tanh_ref, relu_ref = torch_states(scale, "tanh"), torch_states(scale, "relu")
        for t, (tanh_shown, relu_shown) in table.items():
            assert tanh_shown == pytest.approx(np.abs(tanh_ref[t]).max(), rel=5e-3)
            assert relu_shown == pytest.approx(np.abs(relu_ref[t]).max(), rel=5e-3)
    # the largest scale explodes under relu, as the last view reports
    assert shown_table(view)[REPORTED_STEPS[-1]][1] > 1e10


def test_hidden_state_bad_input():
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        hidden_state_demo(1.0, "sigmoid")
    with pytest.raises(ValueError, match="scale: expected a number >= 0"):
        hidden_state_demo(-1.0)
    with pytest.raises(ValueError, match="scales: expected between 1 and 10"):
        hidden_state_widget(scales=[])


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
