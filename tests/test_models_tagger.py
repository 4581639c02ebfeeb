"""course_pkg.models.tagger: parity with torch.nn, causality, packing, bad input."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_pkg.models.tagger import RecurrentTagger

VOCAB, TAGS, EMB, HID = 11, 3, 5, 4


def make_tagger(**kwargs):
    torch.manual_seed(0)
    return RecurrentTagger(VOCAB, TAGS, EMB, HID, **kwargs).double()


def torch_reference(tagger, cell_class, num_layers, bidirectional):
    """The same network assembled from torch.nn modules, with the tagger's weights."""
    embedding = torch.nn.Embedding(VOCAB, EMB).double()
    recurrent = cell_class(EMB, HID, num_layers=num_layers, bidirectional=bidirectional).double()
    output = torch.nn.Linear(HID * (2 if bidirectional else 1), TAGS).double()
    embedding.load_state_dict(tagger.embedding.state_dict())
    recurrent.load_state_dict(tagger.recurrent.state_dict())
    output.load_state_dict(tagger.output.state_dict())
    return embedding, recurrent, output


@pytest.mark.parametrize("cell, cell_class", [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU),
                                              ("rnn", torch.nn.RNN)])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (1, True), (2, True), (3, False)])
def test_matches_torch_modules(cell, cell_class, num_layers, bidirectional):
    tagger = make_tagger(num_layers=num_layers, bidirectional=bidirectional, cell=cell)
    embedding, recurrent, output = torch_reference(tagger, cell_class, num_layers, bidirectional)
    words = torch.randint(0, VOCAB, (7, 3), generator=torch.Generator().manual_seed(1))
    expected = output(recurrent(embedding(words))[0])  # (T, B, K)
    scores = tagger(words)
    assert scores.shape == (7, 3, TAGS)
    torch.testing.assert_close(scores, expected, rtol=1e-10, atol=1e-12)
    # gradients too
    scores.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(tagger.recurrent.weight_hh_l0.grad, recurrent.weight_hh_l0.grad)


def test_one_directional_tagger_ignores_the_future_bidirectional_does_not():
    words = torch.randint(0, VOCAB, (8, 2), generator=torch.Generator().manual_seed(2))
    changed = words.clone()
    changed[5:] = (changed[5:] + 1) % VOCAB  # change every word from position 5 on
    uni, bi = make_tagger(), make_tagger(bidirectional=True)
    with torch.no_grad():
        torch.testing.assert_close(uni(words)[:5], uni(changed)[:5], rtol=0, atol=0)
        assert (bi(words)[:5] - bi(changed)[:5]).abs().max() > 1e-6
        assert (uni(words)[5:] - uni(changed)[5:]).abs().max() > 1e-6


def test_padded_batch_with_lengths_equals_each_sentence_alone():
    tagger = make_tagger(bidirectional=True, num_layers=2)
    lengths = torch.tensor([6, 3, 1])
    words = torch.randint(0, VOCAB, (6, 3), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        scores = tagger(words, lengths)
        for b, length in enumerate(lengths.tolist()):
            alone = tagger(words[:length, b:b + 1])  # (L, 1, K)
            torch.testing.assert_close(scores[:length, b:b + 1], alone)
            assert (scores[length:, b] == 0).all()
        # the outside reference: torch.nn.LSTM on the same packed batch
        embedding, recurrent, output = torch_reference(tagger, torch.nn.LSTM, 2, True)
        packed = pack_padded_sequence(embedding(words), lengths, enforce_sorted=False)
        states, _ = pad_packed_sequence(recurrent(packed)[0], total_length=6)
        mask = torch.arange(6)[:, None] < lengths[None, :]
        torch.testing.assert_close(scores, output(states) * mask[:, :, None])


def test_bad_input():
    tagger = make_tagger()
    with pytest.raises(TypeError, match="words: expected integer"):
        tagger(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"words: expected a 2-D"):
        tagger(torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"words: expected ids in \[0, 10\]"):
        tagger(torch.full((2, 2), VOCAB))
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\)"):
        tagger(torch.zeros(4, 2, dtype=torch.int64), torch.tensor([4, 4, 4]))
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 4\]"):
        tagger(torch.zeros(4, 2, dtype=torch.int64), torch.tensor([5, 1]))
    with pytest.raises(ValueError, match="cell: expected one of"):
        RecurrentTagger(VOCAB, TAGS, cell="transformer")
    with pytest.raises(ValueError, match="hidden_size"):
        RecurrentTagger(VOCAB, TAGS, hidden_size=0)
    with pytest.raises(TypeError, match="embedded: expected a floating"):
        tagger.scores_from_embeddings(torch.zeros(3, 2, EMB, dtype=torch.int64))
