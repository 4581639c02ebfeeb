"""course_pkg.data.babi_splits: the two splits are the stories of their seeds in every form, the
flattened stories are the stories' words then the questions', and bad input is named."""

import pytest
import torch

from course_pkg.data.babi import encode_stories, flatten_stories, generate_stories
from course_pkg.data.babi_splits import BabiData, make_babi_data


@pytest.fixture(scope="module")
def data():
    return make_babi_data(num_train=60, num_test=40, max_sentences=6, seed=3)


def test_data_shapes_and_independent_train_and_test(data):
    assert isinstance(data, BabiData)
    assert data.train.stories.shape[:2] == (60, 6) and data.test.stories.shape[:2] == (40, 6)
    assert data.train.stories.shape[2] == data.test.stories.shape[2]  # one position encoding
    assert data.train_tokens.shape[1] == 60 and data.test_token_lengths.shape == (40,)
    assert [s.sentences for s in data.train_stories[:5]] != [s.sentences for s in data.test_stories[:5]]
    # the flattened story is the story's words then the question's words
    story = data.train_stories[0]
    words = sum(len(s.split()) for s in story.sentences) + len(story.question.split())
    assert data.train_token_lengths[0].item() == words


def test_the_splits_are_the_stories_of_seed_and_seed_plus_one(data):
    for stories, batch, tokens, lengths, seed in (
            (data.train_stories, data.train, data.train_tokens, data.train_token_lengths, 3),
            (data.test_stories, data.test, data.test_tokens, data.test_token_lengths, 4)):
        assert stories == generate_stories(len(stories), max_sentences=6, seed=seed)
        expected = encode_stories(stories, 6)
        assert all(torch.equal(a, b) for a, b in zip(batch, expected))
        expected_tokens, expected_lengths = flatten_stories(expected)
        assert torch.equal(tokens, expected_tokens) and torch.equal(lengths, expected_lengths)


def test_bad_input():
    with pytest.raises(ValueError, match="max_sentences"):
        make_babi_data(10, 10, max_sentences=1)
    with pytest.raises(ValueError, match="num_train"):
        make_babi_data(0, 10)
    with pytest.raises(TypeError, match="num_test"):
        make_babi_data(10, 2.5)
