"""course_pkg.data.entity_tagging: sentences and BIO tags, disjoint name pools (test names unseen
in training), tensors and vocabularies, and span F1 against hand-computed cases."""

import pytest
import torch

from course_pkg.data.entity_tagging import (
    PLACE_WORDS,
    TAGS,
    bio_spans,
    build_vocabularies,
    encode_sentences,
    entity_sentences,
    entity_tagging,
    span_f1,
)


def entity_words(sentences, tag_sequences):
    """The name words (PLACE_WORDS such as 'Bay' are ordinary words, left out)."""
    return {w for s, tags in zip(sentences, tag_sequences) for w, t in zip(s, tags)
            if t != "O" and w not in PLACE_WORDS}


def test_same_seed_same_sentences_other_seed_or_split_other_sentences():
    assert entity_sentences(20, "train", 3) == entity_sentences(20, "train", 3)
    assert entity_sentences(20, "train", 3) != entity_sentences(20, "train", 4)
    assert entity_sentences(20, "train", 3) != entity_sentences(20, "test", 3)


def test_tags_are_aligned_valid_bio_and_mark_the_capitalised_names():
    sentences, tag_sequences = entity_sentences(300, "train", 0)
    kinds = set()
    for words, tags in zip(sentences, tag_sequences):
        assert len(words) == len(tags)
        for i, (word, tag) in enumerate(zip(words, tags)):
            assert tag in TAGS
            if tag.startswith("I-"):
                assert tags[i - 1][2:] == tag[2:] and tags[i - 1] != "O"
            assert word[0].isupper() == (tag != "O")          # names and only names capitalised
            kinds.add(tag)
    assert kinds == set(TAGS)


def test_ambiguous_slots_hold_people_and_places():
    sentences, tag_sequences = entity_sentences(400, "train", 1)
    after_about = [tags[words.index("about") + 1] for words, tags in zip(sentences, tag_sequences)
                   if "about" in words]
    assert {"B-PER", "B-LOC"} <= set(after_about)


def test_test_and_valid_names_are_never_seen_in_training():
    train_sentences, train_tags = entity_sentences(3000, "train", 0)
    train_words = {w for s in train_sentences for w in s}
    for split in ("valid", "test"):
        names = entity_words(*entity_sentences(500, split, 0))
        assert names and not names & train_words
    # ... while training names come back in other training sentences
    assert entity_words(*entity_sentences(500, "train", 9)) & train_words


def test_unseen_names_become_unk_with_the_training_vocabularies():
    train = entity_tagging(500, "train", 0)
    test = entity_tagging(50, "test", 0, vocabularies=train.vocabularies)
    assert train.vocabularies.words.tokens[:2] == ("<pad>", "<unk>")
    names = (test.tags != 0) & test.mask
    names &= ~torch.isin(test.words, torch.tensor([train.vocabularies.words.index(w)
                                                   for w in PLACE_WORDS]))
    assert torch.all(test.words[names] == 1)
    assert torch.all(test.words[~names & test.mask] > 1)      # template words are known
    assert torch.all(test.chars[test.mask][:, 0] > 1)         # the characters are known too


def test_tensors_decode_back_to_the_sentences():
    data = entity_tagging(7, "valid", 2)
    T = max(len(s) for s in data.sentences)
    L = max(len(w) for s in data.sentences for w in s)
    assert data.words.shape == (T, 7) and data.tags.shape == (T, 7)
    assert data.chars.shape == (T, 7, L) and data.words.dtype == torch.int64
    assert data.lengths.tolist() == [len(s) for s in data.sentences]
    assert data.mask.sum().item() == sum(len(s) for s in data.sentences)
    vocab = data.vocabularies
    for b, sentence in enumerate(data.sentences):
        n = len(sentence)
        assert vocab.words.decode(data.words[:n, b].tolist()) == sentence
        assert torch.all(data.words[n:, b] == 0) and torch.all(data.chars[n:, b] == 0)
        for t, word in enumerate(sentence):
            ids = data.chars[t, b]
            assert "".join(vocab.chars.decode(ids[ids > 0].tolist())) == word
            assert torch.all(ids[len(word):] == 0)
    assert data.decode_tags(data.tags) == data.tag_sequences


def test_bio_spans_by_hand():
    assert bio_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert bio_spans(["I-PER", "I-PER", "O"]) == [("PER", 0, 2)]        # I without B starts one
    assert bio_spans(["B-PER", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 2)]
    assert bio_spans(["B-PER", "B-PER", "I-PER"]) == [("PER", 0, 1), ("PER", 1, 3)]
    assert bio_spans(["O", "O"]) == [] and bio_spans([]) == []


def test_span_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    # half the entity "PER 0-2" is not the entity: 1 of 2 correct either way
    scores = span_f1(gold, [["B-PER", "O", "O", "B-LOC"]])
    assert (scores.correct, scores.predicted, scores.gold) == (1, 2, 2)
    assert scores.precision == 0.5 and scores.recall == 0.5 and scores.f1 == 0.5
    # two sentences, 3 gold entities; predicted: one right, one of the wrong type
    gold = [["B-PER", "O", "B-LOC"], ["O", "B-LOC", "I-LOC"]]
    predicted = [["B-PER", "O", "B-PER"], ["O", "O", "O"]]
    scores = span_f1(gold, predicted)
    assert scores.precision == pytest.approx(1 / 2) and scores.recall == pytest.approx(1 / 3)
    assert scores.f1 == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))   # 0.4
    assert span_f1(gold, gold).f1 == 1.0
    assert span_f1(gold, [["O"] * 3, ["O"] * 3]) == (0.0, 0.0, 0.0, 0, 0, 3)


def test_bad_input():
    with pytest.raises(ValueError, match="split: expected one of"):
        entity_sentences(5, "dev")
    with pytest.raises(ValueError, match="num_sentences"):
        entity_sentences(0)
    with pytest.raises(ValueError, match="seed"):
        entity_sentences(5, seed=-1)
    with pytest.raises(TypeError, match="vocabularies"):
        entity_tagging(5, vocabularies={"words": []})
    data = entity_tagging(3)
    with pytest.raises(ValueError, match="tag_ids: expected shape"):
        data.decode_tags(data.tags[:-1])
    with pytest.raises(ValueError, match=r"tag_sequences\[0\]: expected 2 tags"):
        encode_sentences([["a", "b"]], [["O"]], data.vocabularies)
    with pytest.raises(ValueError, match=r"tag_sequences\[0\]: expected tags from"):
        encode_sentences([["a"]], [["B-ORG"]], data.vocabularies)
    with pytest.raises(ValueError, match="sentences: expected at least one"):
        build_vocabularies([])
    with pytest.raises(ValueError, match=r"predicted: expected 1 tag sequences"):
        span_f1([["O"]], [])
    with pytest.raises(ValueError, match=r"predicted\[0\]: expected 2 tags"):
        span_f1([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match=r"tags\[1\]: expected 'O'"):
        bio_spans(["O", "PER"])
