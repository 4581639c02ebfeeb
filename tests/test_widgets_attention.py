"""The widgets of chapters 10 and 11: each view shows the weights of its own step, computed here
independently by teacher forcing the models on their own greedy outputs."""

import html
import math
import re

import pytest
import torch

from course_pkg.data.algorithmic import DIGIT_VOCABULARY, FIRST_DIGIT, START
from course_pkg.models.pointer import PointerNetwork
from course_pkg.models.seq2seq import Seq2Seq
from course_pkg.widgets.attention import (
    alignment_widget,
    decode_pointers,
    decode_with_attention,
    pointer_widget,
)

VOCAB = len(DIGIT_VOCABULARY)
DIGITS = (3, 1, 4, 1, 5, 9, 2)
NUMBERS = (0.62, 0.07, 0.91, 0.35, 0.48)



@pytest.fixture(scope="module")
def seq2seq():
    torch.manual_seed(0)
    model = Seq2Seq(VOCAB, VOCAB, 6, 8, attention="additive")
    with torch.no_grad():  # sharper scores than at initialisation, so the weights differ clearly
        model.attention.v.mul_(20.0)
    return model


@pytest.fixture(scope="module")
def pointer():
    torch.manual_seed(1)
    return PointerNetwork(1, 8)


def row_numbers(view, name):
    match = re.search(rf"<tr class='{name}'>(.*?)</tr>", view)
    assert match, f"the view should have a row '{name}'"
    return re.findall(r">([^<>]*)</td>", match.group(1))


def teacher_forced_weights(model, digits):
    """Weights (L, L) of the model teacher-forced on its own greedy output, and that output."""
    src = (torch.tensor(digits) + FIRST_DIGIT).unsqueeze(1)  # (L, 1)
    with torch.no_grad():
        tokens = model.greedy_decode(src, START, len(digits))  # (L, 1)
        decoder_in = torch.cat([torch.full((1, 1), START), tokens[:-1]])
        _, weights = model(src, decoder_in, return_attention=True)  # (L, 1, L)
    return weights[:, 0], [DIGIT_VOCABULARY[t] for t in tokens[:, 0].tolist()]


def test_alignment_widget_shows_the_weights_of_each_decoder_step(seq2seq):
    expected, written = teacher_forced_weights(seq2seq, DIGITS)
    weights, shown_written = decode_with_attention(seq2seq, DIGITS)
    assert shown_written == written
    assert torch.allclose(torch.from_numpy(weights).float(), expected, atol=1e-6)

    w = alignment_widget(seq2seq, DIGITS)
    assert len(w.stack.children) == len(DIGITS)
    first = w.stack.children[0].value
    for step in (0, 3, 6):
        w.slider.index = step
        assert w.stack.selected_index == step
        view = w.stack.children[w.stack.selected_index].value
        if step:
            assert view != first
        assert f"decoder step {step + 1} of {len(DIGITS)}" in view
        shown = [float(x) for x in row_numbers(view, "weights")]
        assert shown == pytest.approx(expected[step].tolist(), abs=6e-4)
        assert sum(shown) == pytest.approx(1.0, abs=5e-3)
        focus = int(expected[step].argmax())
        source = re.findall(r"<td[^>]*>(.*?)</td>",
                            re.search(r"<tr class='source'>(.*?)</tr>", view).group(1))
        assert source == [f"<b>{d}</b>" if j == focus else str(d) for j, d in enumerate(DIGITS)]
        assert f"source position {focus + 1} (digit {DIGITS[focus]})" in view
        # the written row shows the first step + 1 outputs and nothing after them
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(?:<b>)?([^<]*)", re.search(
            r"<tr class='written'>(.*?)</tr>", view).group(1))]
        assert cells[: step + 1] == written[: step + 1]
        assert cells[step + 1:] == [""] * (len(DIGITS) - step - 1)


def test_pointer_widget_shows_the_distribution_and_greys_out_the_chosen(pointer):
    inputs = torch.tensor(NUMBERS).view(-1, 1, 1)
    with torch.no_grad():
        _, greedy = pointer(inputs)
        forced, _ = pointer(inputs, greedy)  # teacher forcing on the greedy choices
    expected = forced[:, 0].exp()  # (N, N)
    probabilities, pointers = decode_pointers(pointer, NUMBERS)
    assert pointers == greedy[:, 0].tolist()
    assert torch.allclose(torch.from_numpy(probabilities).float(), expected, atol=1e-6)

    w = pointer_widget(pointer, NUMBERS)
    first = w.stack.children[0].value
    for step in range(len(NUMBERS)):
        w.slider.index = step
        assert w.stack.selected_index == step
        view = w.stack.children[step].value
        if step:
            assert view != first
        cells = row_numbers(view, "probs")
        assert cells.count("masked") == step  # every earlier choice is greyed out
        for j, cell in enumerate(cells):
            if j in pointers[:step]:
                assert cell == "masked" and expected[step, j].item() == 0.0
            else:
                assert float(cell) == pytest.approx(expected[step, j].item(), abs=6e-4)
        pick = pointers[step]
        assert f"input position {pick + 1}, the number <b>{NUMBERS[pick]:.2f}</b>" in view
        assert f"the right answer is {sorted(NUMBERS)[step]:.2f}" in view


def test_pointer_widget_without_the_mask_masks_nothing_and_restores_the_model(pointer):
    w = pointer_widget(pointer, NUMBERS, mask_chosen=False)
    assert pointer.mask_chosen is True
    inputs = torch.tensor(NUMBERS).view(-1, 1, 1)
    unmasked = PointerNetwork(1, 8, mask_chosen=False)
    unmasked.load_state_dict(pointer.state_dict())
    with torch.no_grad():
        log_probs, _ = unmasked(inputs)
    for step in range(len(NUMBERS)):
        cells = row_numbers(w.stack.children[step].value, "probs")
        assert "masked" not in cells
        assert [float(c) for c in cells] == pytest.approx(log_probs[step, 0].exp().tolist(), abs=6e-4)
        assert math.isclose(sum(float(c) for c in cells), 1.0, abs_tol=5e-3)


def test_bad_input(seq2seq, pointer):
    with pytest.raises(ValueError, match="digits"):
        alignment_widget(seq2seq, (1, 2, 10))
    with pytest.raises(ValueError, match="digits"):
        alignment_widget(seq2seq, tuple(range(10)) * 2)
    with pytest.raises(ValueError, match="model"):
        alignment_widget(Seq2Seq(VOCAB, VOCAB, 4, 4, attention=None), (1, 2))
    with pytest.raises(TypeError, match="model"):
        decode_with_attention(pointer, (1, 2))
    with pytest.raises(ValueError, match="numbers"):
        pointer_widget(pointer, ())
    with pytest.raises(TypeError, match="model"):
        decode_pointers(seq2seq, NUMBERS)
    with pytest.raises(TypeError, match="mask_chosen"):
        pointer_widget(pointer, NUMBERS, mask_chosen=1)


# ----------------------------------------------------------------------------------------------
# live mode: the reader types an input; the model decodes it in the kernel
# ----------------------------------------------------------------------------------------------
def test_alignment_widget_live_decodes_typed_digits(seq2seq, monkeypatch):
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    w = alignment_widget(seq2seq, DIGITS)
    assert w.mode == "live"
    typed = (9, 0, 2, 1, 0)  # not the chapter's string: nothing was precomputed for it
    w.set("9 0 2 1 0", 3)
    (view,) = w.view.children
    expected, written = teacher_forced_weights(seq2seq, typed)
    assert "decoder step 3 of 5" in view.value
    assert [float(x) for x in row_numbers(view.value, "weights")] == \
        pytest.approx(expected[2].tolist(), abs=6e-4)
    assert f"writes <b>{html.escape(written[2])}</b>" in view.value
    assert w.live.computed[-1] == ("9 0 2 1 0", 3)
    w.set("9 0 2 1 0", 12)  # a step past the end shows the last step
    assert "decoder step 5 of 5" in w.view.children[0].value


def test_alignment_widget_live_names_a_bad_text(seq2seq, monkeypatch):
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    w = alignment_widget(seq2seq, DIGITS)
    before = w.view.children[0].value
    w.controls[0].value = "12a4"
    assert "digits: expected 1 to 12 digits 0-9, got &#x27;12a4&#x27;" in w.live.status.value
    assert w.view.children[0].value == before


def test_pointer_widget_live_sorts_typed_numbers(pointer, monkeypatch):
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    w = pointer_widget(pointer, NUMBERS)
    typed = (0.9, 0.15, 0.4, 0.72)
    w.set("0.9, 0.15, 0.4, 0.72", 2)
    inputs = torch.tensor(typed).view(-1, 1, 1)
    with torch.no_grad():
        _, greedy = pointer(inputs)
        forced, _ = pointer(inputs, greedy)
    expected = forced[1, 0].exp()
    cells = row_numbers(w.view.children[0].value, "probs")
    first = greedy[0, 0].item()
    assert cells[first] == "masked"
    assert [float(c) for j, c in enumerate(cells) if j != first] == \
        pytest.approx([p for j, p in enumerate(expected.tolist()) if j != first], abs=6e-4)
