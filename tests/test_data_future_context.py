"""course_pkg.data.future_context: the "bat" sense-tagging task has the properties chapter 7 uses."""

import pytest
import torch

from course_pkg.data.future_context import (
    AMBIGUOUS,
    ANIMAL,
    ANIMAL_CUES,
    OTHER,
    SPORT,
    SPORT_CUES,
    TAGS,
    WORDS,
    ambiguous_mask,
    causal_ceiling,
    decode_words,
    encode_words,
    sense_tagging,
    tags_by_rule,
)

CUE_SENSE = {**{w: ANIMAL for w in ANIMAL_CUES}, **{w: SPORT for w in SPORT_CUES}}


def forward_scan_tags(sentence_words):
    """The rule written the plain way: for each bat, look ahead for the first cue word."""
    tags = []
    for t, word in enumerate(sentence_words):
        if word != AMBIGUOUS:
            tags.append(OTHER)
            continue
        following = [CUE_SENSE[w] for w in sentence_words[t + 1:] if w in CUE_SENSE]
        tags.append(following[0])
    return tags


def test_generated_tags_follow_the_rule_and_cues_are_close():
    words, tags = sense_tagging(300, length=15, max_gap=3, seed=1)
    assert words.shape == tags.shape == (15, 300)
    assert words.dtype == tags.dtype == torch.int64
    assert torch.equal(tags_by_rule(words), tags)
    for b in range(300):
        sentence = [WORDS[i] for i in words[:, b].tolist()]
        assert forward_scan_tags(sentence) == tags[:, b].tolist()
        for t, word in enumerate(sentence):
            if word == AMBIGUOUS:  # its own cue is at most max_gap steps ahead, nothing else between
                ahead = sentence[t + 1: t + 4]
                first_special = next(w for w in ahead if w in CUE_SENSE or w == AMBIGUOUS)
                assert first_special in CUE_SENSE


def test_senses_are_fair_coins_independent_of_the_past():
    words, tags = sense_tagging(4000, length=16, seed=0)
    bats = ambiguous_mask(words)
    senses = tags[bats]
    assert set(senses.unique().tolist()) == {ANIMAL, SPORT}
    assert abs((senses == ANIMAL).float().mean().item() - 0.5) < 0.02
    # The sense of a bat agrees with the family of the last cue before it only by chance.
    agree, total = 0, 0
    for b in range(words.shape[1]):
        last_cue = None
        for t in range(words.shape[0]):
            word = WORDS[words[t, b]]
            if word == AMBIGUOUS and last_cue is not None:
                agree += int(tags[t, b].item() == last_cue)
                total += 1
            if word in CUE_SENSE:
                last_cue = CUE_SENSE[word]
    assert total > 1000 and abs(agree / total - 0.5) < 0.03


def test_causal_ceiling_is_one_minus_half_the_share_of_bats():
    words = encode_words("he saw a bat near the cave and a bat hit")
    # 2 bats among 11 tokens: a causal tagger expects 9 + 2 * 0.5 = 10 right
    assert causal_ceiling(words) == pytest.approx(10 / 11)
    assert tags_by_rule(words).tolist() == [0, 0, 0, ANIMAL, 0, 0, 0, 0, 0, SPORT, 0]
    assert decode_words(words) == "he saw a bat near the cave and a bat hit"
    assert [TAGS[k] for k in tags_by_rule(encode_words(["bat", "ball"])).tolist()] == ["SPORT", "-"]


def test_seeded():
    a = sense_tagging(10, seed=3)
    b = sense_tagging(10, seed=3)
    c = sense_tagging(10, seed=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


def test_bad_input():
    with pytest.raises(ValueError, match="length: expected >= 2"):
        sense_tagging(3, length=1)
    with pytest.raises(ValueError, match="num_sentences"):
        sense_tagging(0)
    with pytest.raises(TypeError, match="max_gap"):
        sense_tagging(3, max_gap=2.5)
    with pytest.raises(ValueError, match="sentence: unknown words"):
        encode_words("he saw a bird")
    with pytest.raises(ValueError, match="words: the bat at position 2"):
        tags_by_rule(encode_words("he saw bat"))
    with pytest.raises(ValueError, match=r"words: expected a 1 or 2-D"):
        tags_by_rule(torch.zeros(2, 2, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="words: expected integer"):
        ambiguous_mask(torch.zeros(3))
    with pytest.raises(ValueError, match="words: expected ids in"):
        causal_ceiling(torch.tensor([0, len(WORDS)]))
