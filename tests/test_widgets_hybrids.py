"""The tagged-sentence widget of chapter 17, built headlessly from hand-made examples: the slider
switches views, each view shows its sentence, and the red cells are exactly the wrong tags
counted here."""

import re

import pytest

from course_pkg.tasks.cnn_front_ends import TaggedExample
from course_pkg.widgets.hybrids import tagged_sentence_html, tagged_sentences_widget


def example(words, gold, word_only, with_chars, unseen):
    return TaggedExample(words, gold, {"words": word_only, "chars": with_chars}, unseen)


EXAMPLES = [
    example(["Tamia", "moved", "to", "Dornholm", "."],
            ["B-PER", "O", "O", "B-LOC", "O"],
            ["O", "O", "O", "O", "O"],
            ["B-PER", "O", "O", "B-LOC", "O"],
            [True, False, False, True, False]),
    example(["we", "met", "Belo", "Kaviren"],
            ["O", "O", "B-PER", "I-PER"],
            ["O", "O", "B-LOC", "I-PER"],
            ["O", "O", "B-PER", "B-PER"],
            [False, False, True, True]),
]


def test_slider_switches_to_the_second_sentence():
    w = tagged_sentences_widget(EXAMPLES)
    first = w.stack.children[0].value
    w.slider.index = 1
    assert w.stack.selected_index == 1
    view = w.stack.children[1].value
    assert view != first
    assert "Kaviren" in view and "Kaviren" not in first


@pytest.mark.parametrize("index", [0, 1])
def test_red_cells_are_the_wrong_tags(index):
    ex = EXAMPLES[index]
    view = tagged_sentence_html(ex)
    wrong = {key: sum(p != g for p, g in zip(tags, ex.gold)) for key, tags in ex.predicted.items()}
    assert view.count("class='tag-error'") == wrong["words"] + wrong["chars"]
    counts = [int(n) for n in re.findall(r"<b>(\d+)</b> wrong tag", view)]
    assert counts == [wrong["words"], wrong["chars"]]
    assert view.count("</u>*") == sum(ex.unseen)


def test_max_sentences_limits_the_views():
    w = tagged_sentences_widget(EXAMPLES * 3, max_sentences=4)
    assert len(w.stack.children) == 4


def test_bad_input():
    with pytest.raises(ValueError, match="examples"):
        tagged_sentences_widget([])
    with pytest.raises(TypeError, match="examples"):
        tagged_sentences_widget(["a sentence"])
    short = example(["a", "b"], ["O"], ["O", "O"], ["O", "O"], [False, False])
    with pytest.raises(ValueError, match=r"examples\[0\]"):
        tagged_sentences_widget([short])
    with pytest.raises(ValueError, match="max_sentences"):
        tagged_sentences_widget(EXAMPLES, max_sentences=0)


def test_single_view_names_its_argument():
    with pytest.raises(TypeError, match="example"):
        tagged_sentence_html("a sentence")


def test_widget_live_tags_a_new_test_sentence_with_the_taggers(monkeypatch):
    """Live mode: a test sentence no view was built for, tagged in the kernel; the shown tags
    are the argmax of each tagger's scores, computed here."""
    import torch

    from course_pkg.data.entity_tagging import encode_sentences, entity_sentences, entity_tagging
    from course_pkg.tasks.cnn_front_ends import TAGGER_NAMES
    from course_pkg.models.char_cnn_tagger import CharCNNTagger

    monkeypatch.setenv("COURSE_WIDGETS", "live")
    vocabularies = entity_tagging(60, "train", seed=0).vocabularies
    models = {}
    for key in TAGGER_NAMES:
        torch.manual_seed(3)
        models[key] = CharCNNTagger(len(vocabularies.words), len(vocabularies.chars),
                                    len(vocabularies.tags), word_dim=8, char_filters=8,
                                    hidden_size=8, use_chars=key == "chars")
    w = tagged_sentences_widget(EXAMPLES, models=models, vocabularies=vocabularies)
    assert w.mode == "live"
    w.set(4321)
    view = w.view.children[0].value
    (words,), (gold,) = entity_sentences(1, "test", seed=4321)
    data = encode_sentences([words], [gold], vocabularies)
    for key, name in TAGGER_NAMES.items():
        models[key].eval()
        with torch.no_grad():
            ids = models[key](data.words, data.chars, data.lengths).argmax(dim=2)[:, 0]
        expected = vocabularies.tags.decode(ids.tolist())
        row = re.search(rf"<th[^>]*>{re.escape(name)}</th>(.*?)</tr>", view).group(1)
        assert re.findall(r"<td[^>]*>([^<]*)</td>", row) == expected
    assert "test sentence of seed 4321" in view
    with pytest.raises(ValueError, match="models, vocabularies: expected both"):
        tagged_sentences_widget(EXAMPLES, models=models)
