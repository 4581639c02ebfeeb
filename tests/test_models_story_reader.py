"""course_pkg.models.story_reader: the answer comes from the state after the last real word,
padding adds nothing, and bad input is named."""

import pytest
import torch

from course_pkg.data.babi import VOCABULARY
from course_pkg.models.story_reader import StoryReader
from course_pkg.nn import LSTM


def test_story_reader_answers_from_the_last_real_word():
    torch.manual_seed(0)
    reader = StoryReader(len(VOCABULARY), 5, 7).double()
    tokens = torch.tensor([[3, 4], [5, 6], [7, 0], [0, 0]])  # (T=4, B=2), lengths 3 and 2
    lengths = torch.tensor([3, 2])
    logits = reader(tokens, lengths)  # (2, V)
    for b in range(2):  # the reference: run the LSTM on the unpadded sequence alone
        alone = reader.embedding(tokens[: lengths[b], b : b + 1])  # (L_b, 1, E)
        states, _ = reader.lstm(alone)
        torch.testing.assert_close(logits[b], reader.answer(states[-1, 0]))


def test_padding_embeds_to_zero_and_answer_size_sets_the_classes():
    torch.manual_seed(1)
    reader = StoryReader(12, 4, 6, answer_size=3)
    assert torch.equal(reader.embedding.weight[0], torch.zeros(4))  # PAD = 0
    tokens = torch.tensor([[1, 2, 3], [4, 0, 5]])  # (T=2, B=3)
    assert reader(tokens, torch.tensor([2, 1, 2])).shape == (3, 3)


def test_the_package_lstm_is_a_drop_in():
    torch.manual_seed(2)
    reference = StoryReader(10, 4, 5)
    torch.manual_seed(2)
    mine = StoryReader(10, 4, 5, lstm=LSTM)
    tokens = torch.tensor([[1, 2], [3, 4], [5, 0]])
    lengths = torch.tensor([3, 2])
    torch.testing.assert_close(mine(tokens, lengths), reference(tokens, lengths))


def test_bad_input():
    reader = StoryReader(len(VOCABULARY), 4, 4)
    with pytest.raises(ValueError, match="tokens"):
        reader(torch.zeros(3, 2), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="lengths"):
        reader(torch.ones(3, 2, dtype=torch.int64), torch.tensor([1, 4]))
    with pytest.raises(ValueError, match="lengths"):
        reader(torch.ones(3, 2, dtype=torch.int64), torch.tensor([1, 1, 1]))
    with pytest.raises(ValueError, match="answer_size"):
        StoryReader(10, 4, 4, answer_size=0)
    with pytest.raises(ValueError, match="embedding_size"):
        StoryReader(10, 0, 4)
