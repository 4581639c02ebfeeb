"""course_pkg.data.sentiment_turns: reviews with a turn and their labelling rule (chapter 6)."""

import numpy as np
import pytest
import torch

from course_pkg.data.sentiment_turns import (
    MIN_LENGTH,
    NEGATIVE,
    NEGATIVE_WORDS,
    POSITIVE,
    POSITIVE_WORDS,
    TAIL_WORDS,
    WORDS,
    decode_words,
    encode_words,
    has_turn,
    opinion_balance,
    reviews_with_turns,
    sentiment_by_rule,
    words_after_last_opinion,
)


def label_from_text(review: str) -> int:
    """The rule, written independently on the text: what follows the last 'but' decides."""
    after = review.split(" but ")[-1].split()
    polarities = {POSITIVE if w in POSITIVE_WORDS else NEGATIVE
                  for w in after if w in POSITIVE_WORDS or w in NEGATIVE_WORDS}
    assert len(polarities) == 1, review
    return polarities.pop()


def test_shapes_and_labels_follow_the_rule():
    for length in (MIN_LENGTH, 14, 30):
        words, sentiments = reviews_with_turns(300, length, seed=length)
        assert words.shape == (length, 300) and sentiments.shape == (300,)
        assert words.dtype == sentiments.dtype == torch.int64
        for b in range(300):
            review = decode_words(words[:, b])
            assert sentiments[b].item() == label_from_text(review)
            opinions = [w for w in review.split() if w in POSITIVE_WORDS + NEGATIVE_WORDS]
            if " but " in review:  # one turn: the part before it has the other polarity
                before, after = review.split(" but ")
                assert {label_from_text(before)} == {1 - sentiments[b].item()}
                assert len([w for w in after.split() if w in opinions]) >= 1
            else:
                assert len({w in POSITIVE_WORDS for w in opinions}) == 1  # all agree
        assert torch.equal(sentiment_by_rule(words), sentiments)


def test_tail_is_neutral_and_measured():
    words, _ = reviews_with_turns(500, 25, seed=0)
    after = words_after_last_opinion(words)
    for b in range(500):
        review = [WORDS[i] for i in words[:, b].tolist()]
        last = max(t for t, w in enumerate(review) if w in POSITIVE_WORDS + NEGATIVE_WORDS)
        assert after[b].item() == 25 - 1 - last
        assert all(w in TAIL_WORDS for w in review[last + 1:])


def test_turns_and_labels_are_balanced_and_the_count_is_a_poor_reader():
    words, sentiments = reviews_with_turns(4000, 20, turn_probability=0.5, seed=1)
    turned = has_turn(words)
    assert abs(turned.float().mean().item() - 0.5) < 0.03
    assert abs(sentiments.float().mean().item() - 0.5) < 0.03
    balance = opinion_balance(words)
    counting = torch.where(balance > 0, POSITIVE, NEGATIVE)
    # without a turn counting is always right; with one it is never right (a tie or the first part)
    assert torch.all(counting[~turned] == sentiments[~turned]) and torch.all(balance[~turned] != 0)
    assert torch.all((balance[turned] == 0) | (counting[turned] != sentiments[turned]))
    assert not has_turn(reviews_with_turns(50, 12, turn_probability=0.0)[0]).any()
    assert has_turn(reviews_with_turns(50, 12, turn_probability=1.0)[0]).all()


def test_the_sources_sentence():
    review = encode_words("the movie was terrible but the ending was amazing")
    assert review.shape == (MIN_LENGTH,)
    assert sentiment_by_rule(review).tolist() == [POSITIVE]
    assert opinion_balance(review).tolist() == [0]
    mirror = encode_words("the movie was amazing but the ending was terrible")
    assert sentiment_by_rule(mirror).tolist() == [NEGATIVE] and opinion_balance(mirror).tolist() == [0]
    assert words_after_last_opinion(review).tolist() == [0]


def test_seeded_and_a_generator_gives_fresh_reviews():
    a, b = reviews_with_turns(10, 12, seed=2), reviews_with_turns(10, 12, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    rng = np.random.default_rng(0)
    assert not torch.equal(reviews_with_turns(10, 12, seed=rng)[0], reviews_with_turns(10, 12, seed=rng)[0])


def test_bad_input():
    with pytest.raises(ValueError, match="length: expected at least 9 words .room for a turn., got 8"):
        reviews_with_turns(3, 8)
    with pytest.raises(ValueError, match="num_reviews: expected a positive int, got 0"):
        reviews_with_turns(0)
    with pytest.raises(ValueError, match=r"turn_probability: expected a number in \[0.0, 1.0\], got 1.5"):
        reviews_with_turns(3, turn_probability=1.5)
    with pytest.raises(ValueError, match="seed: expected an int >= 0 or a numpy Generator"):
        reviews_with_turns(3, seed="x")
    with pytest.raises(ValueError, match="review: unknown words"):
        encode_words("the movie was meh")
    with pytest.raises(ValueError, match="words: review 0 has opinions of both polarities"):
        sentiment_by_rule(encode_words("the movie was great and the plot was dull"))
    with pytest.raises(ValueError, match="words: review 0 has no opinion word after its last 'but'"):
        sentiment_by_rule(encode_words("the movie was great but i saw it"))
    with pytest.raises(ValueError, match="words: expected a 1 or 2-D"):
        has_turn(torch.zeros(2, 2, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="words: expected integer word ids"):
        opinion_balance(torch.zeros(3))
