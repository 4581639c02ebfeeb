"""course_pkg.models.bag_of_words (chapter 1): token counts against torch.bincount, and a
baseline that cannot see order (unlike the Elman network)."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from course_pkg.models import BagOfWords, ElmanNetwork, token_counts


def test_token_counts_match_bincount_and_skip_padding():
    seqs = [torch.tensor([1, 2, 2, 5]), torch.tensor([3]), torch.tensor([4, 4, 1])]
    padded = pad_sequence(seqs, padding_value=2)  # padding id 2 is also a real token: not counted
    counts = token_counts(padded, [4, 1, 3], vocab_size=6)
    expected = torch.stack([torch.bincount(s, minlength=6) for s in seqs]).float()
    assert torch.equal(counts, expected)


def test_bag_of_words_cannot_see_order():
    torch.manual_seed(0)
    model = BagOfWords(6, 2)
    seqs = [torch.tensor([1, 2, 3, 4, 5]), torch.tensor([5, 4, 3, 2, 1]), torch.tensor([3, 1, 5, 2, 4])]
    logits = model(pad_sequence(seqs), [5, 5, 5])
    assert torch.allclose(logits[0], logits[1]) and torch.allclose(logits[0], logits[2])
    # an order-sensitive model tells them apart
    rnn = ElmanNetwork(6, 8, 2, many_to_one=True)
    rnn_logits = rnn(F.one_hot(pad_sequence(seqs), 6).float())
    assert not torch.allclose(rnn_logits[0], rnn_logits[1])


def test_token_counts_bad_input():
    with pytest.raises(TypeError, match="tokens: expected int64 token ids"):
        token_counts(torch.zeros(3, 2), [3, 3], 4)
    with pytest.raises(ValueError, match=r"tokens: expected ids in \[0, 3\]"):
        token_counts(torch.full((3, 2), 7), [3, 3], 4)
    with pytest.raises(ValueError, match="lengths: expected 2 lengths"):
        token_counts(torch.zeros(3, 2, dtype=torch.int64), [3, 3, 1], 4)
