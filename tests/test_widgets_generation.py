"""The temperature widget of chapter 8: built headlessly, moved, and checked against numpy."""

import html
import re

import numpy as np
import pytest
import torch

from course_pkg.data.text import CharVocabulary
from course_pkg.models.char_lm import CharLM
from course_pkg.sampling import generate
from course_pkg.widgets.generation import entropy_bits, temperature_sample, temperature_widget

TEXT = "abcab cabba\nacc"
TEMPERATURES = (0.3, 1.0, 3.0)


@pytest.fixture(scope="module")
def lm():
    vocabulary = CharVocabulary(TEXT, end_token=True)
    torch.manual_seed(0)
    model = CharLM(len(vocabulary), 4, 8).double()
    with torch.no_grad():  # larger output weights so that temperatures make a visible difference
        model.output.weight.mul_(8.0)
    return model, vocabulary


def numpy_entropy_bits(logits, temperature):
    z = np.asarray(logits, dtype=np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    return float(-(p[p > 0] * np.log2(p[p > 0])).sum())


def shown_entropies(view_html):
    match = re.search(r"entropy of the first character ([0-9.]+) bits, mean entropy along the "
                      r"sample ([0-9.]+) bits", view_html)
    assert match, "the view should state both entropies"
    return float(match.group(1)), float(match.group(2))


def test_widget_moves_and_shows_entropies_computed_independently(lm):
    model, vocabulary = lm
    w = temperature_widget(model, vocabulary, seed_text="ab", temperatures=TEMPERATURES, length=30)
    first_view = w.stack.children[0].value
    logits, _ = model(vocabulary.encode("ab")[:, None])
    after_seed = logits[-1, 0].detach().numpy()  # (V,)
    previous = None
    for k, temperature in enumerate(TEMPERATURES):
        w.slider.index = k
        assert w.stack.selected_index == k
        view = w.stack.children[w.stack.selected_index].value
        if k > 0:
            assert view != first_view
        first_entropy, mean_entropy = shown_entropies(view)
        assert first_entropy == pytest.approx(numpy_entropy_bits(after_seed, temperature), abs=1e-3)
        # the sample shown is the reproducible draw with the same seed
        ids = generate(model.step, vocabulary.encode("ab"), 30, temperature=temperature,
                       end_id=vocabulary.end_id, generator=torch.Generator().manual_seed(0))
        assert html.escape(vocabulary.decode(ids).replace("\x03", "[END]")) in view
        # entropy grows with the temperature
        if previous is not None:
            assert first_entropy > previous
        previous = first_entropy
        assert 0 <= mean_entropy <= np.log2(len(vocabulary)) + 1e-9


def test_temperature_sample_mean_entropy_follows_the_drawn_characters(lm):
    model, vocabulary = lm
    result = temperature_sample(model, vocabulary, "c", 1.0, length=12, seed=3)
    ids = vocabulary.encode("c" + result.text)
    logits, _ = model(ids[:, None])
    drawn_from = logits[:-1, 0].detach().numpy()  # the distribution before each new character
    expected = np.mean([numpy_entropy_bits(row, 1.0) for row in drawn_from])
    assert result.mean_entropy_bits == pytest.approx(expected, rel=1e-9)
    probs = [p for _, p in result.top_characters]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-12


def test_entropy_limits():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5]])
    assert entropy_bits(logits, 1e-3).item() == pytest.approx(0.0, abs=1e-9)
    assert entropy_bits(logits, 1e6).item() == pytest.approx(2.0, abs=1e-5)  # log2(4)


def test_bad_input(lm):
    model, vocabulary = lm
    with pytest.raises(ValueError, match="temperature: expected a number > 0"):
        temperature_sample(model, vocabulary, "a", 0.0)
    with pytest.raises(ValueError, match="seed_text"):
        temperature_sample(model, vocabulary, "", 1.0)
    with pytest.raises(ValueError, match="text: character 'z'"):
        temperature_sample(model, vocabulary, "z", 1.0)
    with pytest.raises(ValueError, match="temperatures: expected between 1 and 10"):
        temperature_widget(model, vocabulary, temperatures=[])
    with pytest.raises(ValueError, match="length"):
        temperature_sample(model, vocabulary, "a", 1.0, length=0)
