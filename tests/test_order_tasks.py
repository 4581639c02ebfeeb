"""course_pkg.data.order_tasks: the generated data has the properties the chapters rely on."""

import collections

import pytest
import torch

from course_pkg.data.order_tasks import (
    ORDER_VOCABULARY,
    PAD,
    decode_tokens,
    delayed_echo,
    recall_first_token,
    which_comes_first,
)


def test_which_comes_first_labels_follow_the_marker_order():
    seqs, labels = which_comes_first(400, min_length=3, max_length=9, seed=5)
    assert len(seqs) == 400 and labels.tolist().count(1) == 200
    for seq, label in zip(seqs, labels):
        tokens = seq.tolist()
        assert 3 <= len(tokens) <= 9 and PAD not in tokens
        assert tokens.count(1) == 1 and tokens.count(2) == 1
        assert int(label) == int(tokens.index(1) < tokens.index(2))


def test_which_comes_first_counts_say_nothing_about_the_label():
    """Per class, the filler counts and the lengths have the same distribution (up to noise)."""
    seqs, labels = which_comes_first(4000, seed=0)
    per_class = {0: collections.Counter(), 1: collections.Counter()}
    for seq, label in zip(seqs, labels):
        per_class[int(label)].update(seq.tolist())
    total = {c: sum(per_class[c].values()) for c in (0, 1)}
    for token in range(3, len(ORDER_VOCABULARY)):
        share0, share1 = per_class[0][token] / total[0], per_class[1][token] / total[1]
        assert abs(share0 - share1) < 0.01


def test_which_comes_first_is_seeded():
    a, la = which_comes_first(20, seed=3)
    b, lb = which_comes_first(20, seed=3)
    c, _ = which_comes_first(20, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and torch.equal(la, lb)
    assert not all(len(x) == len(y) and torch.equal(x, y) for x, y in zip(a, c))


def test_recall_first_token():
    seqs, labels = recall_first_token(300, min_length=2, max_length=7, vocab_size=3, seed=1)
    assert sorted(set(labels.tolist())) == [0, 1, 2]
    assert {len(s) for s in seqs} == set(range(2, 8))
    for seq, label in zip(seqs, labels):
        assert int(seq.min()) >= 1 and int(seq.max()) <= 3
        assert int(label) == int(seq[0]) - 1


def test_delayed_echo():
    inputs, targets, mask = delayed_echo(5, length=8, delay=3, vocab_size=4, seed=2)
    assert inputs.shape == targets.shape == mask.shape == (8, 5)
    assert torch.equal(targets[3:], inputs[:5]) and (targets[:3] == PAD).all()
    assert mask[:3].sum() == 0 and mask[3:].all()
    assert int(inputs.min()) >= 1 and int(inputs.max()) <= 4


def test_decode_tokens():
    assert decode_tokens(torch.tensor([3, 1, 2])) == "c A B"


def test_bad_input():
    with pytest.raises(TypeError, match="num_sequences: expected a positive int"):
        which_comes_first(2.5)
    with pytest.raises(ValueError, match="min_length: expected >= 2"):
        which_comes_first(10, min_length=1)
    with pytest.raises(ValueError, match="max_length: expected >= min_length = 5"):
        recall_first_token(10, min_length=5, max_length=4)
    with pytest.raises(ValueError, match="vocab_size: expected a positive int"):
        recall_first_token(10, vocab_size=0)
    with pytest.raises(ValueError, match="delay: expected < length = 4"):
        delayed_echo(3, length=4, delay=4)
    with pytest.raises(ValueError, match="delay: expected an int >= 0"):
        delayed_echo(3, delay=-1)
