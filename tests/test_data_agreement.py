"""course_pkg.data.agreement: the number-agreement sentences follow their rule (chapter 6)."""

import numpy as np
import pytest
import torch

from course_pkg.data.agreement import (
    NOUNS,
    PLURAL,
    SINGULAR,
    VERB_FORMS,
    WORDS,
    decode_words,
    encode_words,
    nearest_noun_number,
    number_agreement,
    number_by_rule,
)

SINGULAR_NOUNS = {s for s, _ in NOUNS}
PLURAL_NOUNS = {p for _, p in NOUNS}


def test_shapes_and_the_label_is_the_number_of_the_second_word():
    for clause_length in (0, 1, 2, 7, 30):
        words, numbers = number_agreement(200, clause_length, seed=clause_length)
        assert words.shape == (clause_length + 2, 200) and numbers.shape == (200,)
        assert words.dtype == numbers.dtype == torch.int64
        for b in range(200):
            sentence = [WORDS[i] for i in words[:, b].tolist()]
            assert sentence[0] == "the"
            expected = PLURAL if sentence[1] in PLURAL_NOUNS else SINGULAR  # computed from the text
            assert sentence[1] in SINGULAR_NOUNS | PLURAL_NOUNS
            assert numbers[b].item() == expected
            if clause_length:
                assert sentence[2] == "which"
        assert torch.equal(number_by_rule(words), numbers)


def test_nothing_in_the_clause_repeats_the_subjects_number():
    words, numbers = number_agreement(3000, 12, seed=0)
    assert abs(numbers.float().mean().item() - 0.5) < 0.03
    # the nearest noun agrees with the subject only by chance (attractors are fair coins)
    nearest = nearest_noun_number(words)
    has_attractor = torch.tensor([
        any(WORDS[i] in SINGULAR_NOUNS | PLURAL_NOUNS for i in words[2:, b].tolist())
        for b in range(words.shape[1])])
    assert has_attractor.float().mean() > 0.8
    agree = (nearest[has_attractor] == numbers[has_attractor]).float().mean().item()
    assert abs(agree - 0.5) < 0.04
    # apart from the subject, every word of a sentence is as likely under either label
    clause = words[2:]
    counts = [np.bincount(clause[:, numbers == n].flatten().numpy(), minlength=len(WORDS))
              for n in (SINGULAR, PLURAL)]
    freq = [c / c.sum() for c in counts]
    assert np.abs(freq[0] - freq[1]).max() < 0.01


def test_rule_helpers_on_hand_written_sentences():
    words = encode_words("the cats which the dog chased near the tree")
    assert number_by_rule(words).tolist() == [PLURAL]
    assert nearest_noun_number(words).tolist() == [SINGULAR]
    assert decode_words(words, PLURAL) == "the cats which the dog chased near the tree " + VERB_FORMS[PLURAL]
    assert decode_words(encode_words("the cat")) == "the cat"
    assert VERB_FORMS == ("climbs", "climb")


def test_seeded_and_a_generator_gives_fresh_sentences():
    a, b = number_agreement(20, 5, seed=3), number_agreement(20, 5, seed=3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    rng = np.random.default_rng(0)
    first, second = number_agreement(20, 5, seed=rng), number_agreement(20, 5, seed=rng)
    assert not torch.equal(first[0], second[0])


def test_bad_input():
    with pytest.raises(ValueError, match="num_sentences: expected a positive int, got 0"):
        number_agreement(0, 3)
    with pytest.raises(ValueError, match="clause_length: expected an int >= 0, got -1"):
        number_agreement(2, -1)
    with pytest.raises(TypeError, match="clause_length: expected an int >= 0, got float 2.5"):
        number_agreement(2, 2.5)
    with pytest.raises(ValueError, match="seed: expected an int >= 0 or a numpy Generator, got -3"):
        number_agreement(2, 2, seed=-3)
    with pytest.raises(ValueError, match="sentence: unknown words"):
        encode_words("the cat which the mouse saw")
    with pytest.raises(ValueError, match="words: sentence 0 has no noun"):
        number_by_rule(encode_words("the which saw"))
    with pytest.raises(ValueError, match=r"words: expected ids in \[0, 27\], got values in \[0, 28\]"):
        number_by_rule(torch.tensor([0, 28]))
    with pytest.raises(TypeError, match="words: expected integer word ids"):
        nearest_noun_number(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="number: expected 0 .singular. or 1 .plural., got 2"):
        decode_words(encode_words("the cat"), 2)
