"""Encoder-decoder (course_pkg.models.seq2seq): one decoder step against torch's GRU cells and
Bahdanau's equations, masks over source padding, greedy and beam decoding, digit reversal."""

import math

import pytest
import torch

from course_pkg.batching import masked_cross_entropy
from course_pkg.data.algorithmic import DIGIT_VOCABULARY, END, START, digit_strings
from course_pkg.models.seq2seq import Seq2Seq

DOUBLE = torch.float64
VOCAB = len(DIGIT_VOCABULARY)



def make_model(attention="additive", seed=0, embedding_size=6, hidden_size=8):
    torch.manual_seed(seed)
    return Seq2Seq(VOCAB, VOCAB, embedding_size, hidden_size, attention=attention).double()


def test_forward_matches_torch_gru_and_bahdanau_equations():
    model = make_model("additive")
    batch = digit_strings(3, 2, 4, seed=0)
    encoder, decoder = torch.nn.GRU(6, 8).double(), torch.nn.GRUCell(6 + 8, 8).double()
    encoder.load_state_dict(model.encoder.state_dict())
    decoder.load_state_dict(model.decoder.state_dict())
    logits, weights = model(batch.src, batch.tgt_in, batch.src_lengths, return_attention=True)

    attention = model.attention
    for b in range(3):  # one sequence at a time, unpadded
        length = int(batch.src_lengths[b])
        h, h_last = encoder(model.src_embedding(batch.src[:length, b : b + 1]))  # (L, 1, H)
        h = h[:, 0]  # (L, H)
        s = h_last[0]  # (1, H): s_0 = h_S
        for t, y_prev in enumerate(batch.tgt_in[:, b]):
            e = torch.tanh(s @ attention.query_proj.weight.T + h @ attention.key_proj.weight.T) \
                @ attention.v  # (L,): e_j = v^T tanh(W_q s + W_k h_j)
            a = torch.softmax(e, dim=0)
            context = (a.unsqueeze(1) * h).sum(0, keepdim=True)  # (1, H)
            s = decoder(torch.cat([model.tgt_embedding(y_prev.view(1)), context], 1), s)
            expected = model.output(torch.cat([s, context], 1))[0]
            assert torch.allclose(logits[t, b], expected)
            assert torch.allclose(weights[t, b, :length], a)
            assert torch.all(weights[t, b, length:] == 0.0)  # padding never attended


@pytest.mark.parametrize("attention", ["additive", "dot", "general", None])
def test_shapes_and_padding_invariance(attention):
    model = make_model(attention)
    batch = digit_strings(4, 3, 5, seed=1)
    logits, weights = model(batch.src, batch.tgt_in, batch.src_lengths, return_attention=True)
    assert logits.shape == (6, 4, VOCAB) and weights.shape == (6, 4, 5)
    if attention is not None:
        assert torch.allclose(weights.sum(-1), torch.ones(6, 4, dtype=DOUBLE))
    # more padding after the sources changes nothing when the lengths are given
    longer = torch.cat([batch.src, torch.zeros(3, 4, dtype=torch.int64)])
    assert torch.allclose(model(longer, batch.tgt_in, batch.src_lengths), logits)


@pytest.mark.parametrize("attention", ["additive", None])
def test_without_attention_only_the_last_encoder_state_reaches_the_decoder(attention):
    model = make_model(attention)
    batch = digit_strings(2, 4, seed=2)
    source = model.encode(batch.src)
    assert torch.allclose(source.final, source.states[:, -1])
    scrambled = source._replace(states=torch.randn_like(source.states))  # same final state
    y, s = torch.full((2,), START), source.final
    with torch.no_grad():
        same = torch.allclose(model.decode_step(y, s, source)[0],
                              model.decode_step(y, s, scrambled)[0])
    assert same is (attention is None)
    if attention is None:
        _, weights = model(batch.src, batch.tgt_in, return_attention=True)
        assert weights.shape == (5, 2, 4) and torch.all(weights == 0.0)


def test_greedy_decoding_is_the_argmax_of_teacher_forcing_on_its_own_output():
    model = make_model("general", seed=3)
    batch = digit_strings(5, 3, 6, seed=3)
    tokens = model.greedy_decode(batch.src, START, max_length=7, src_lengths=batch.src_lengths)
    assert tokens.shape == (7, 5)
    decoder_in = torch.cat([torch.full((1, 5), START), tokens[:-1]])
    with torch.no_grad():
        logits = model(batch.src, decoder_in, batch.src_lengths)
    assert torch.equal(logits.argmax(2), tokens)


def test_greedy_decoding_stops_at_the_end_token():
    model = make_model("dot", seed=4)
    with torch.no_grad():  # make </s> the only likely token
        model.output.bias.fill_(-100.0)
        model.output.bias[END] = 100.0
    tokens = model.greedy_decode(digit_strings(3, 4, seed=4).src, START, 10, end_id=END)
    assert tokens.tolist() == [[END, END, END]]


def test_beam_search_width_one_is_greedy_and_scores_are_log_probabilities():
    model = make_model("additive", seed=5)
    batch = digit_strings(1, 4, seed=5)
    greedy = model.greedy_decode(batch.src, START, 6)[:, 0].tolist()
    [(ids, log_prob)] = model.beam_decode(batch.src[:, 0], START, beam_width=1, max_length=6)
    assert ids == greedy
    beams = model.beam_decode(batch.src[:, 0], START, beam_width=3, max_length=6)
    assert len(beams) == 3
    assert [b[1] for b in beams] == sorted((b[1] for b in beams), reverse=True)
    assert beams[0][1] >= log_prob - 1e-9  # the best beam is at least as good as greedy
    for ids, score in beams:  # each score is log p(ids | src) under teacher forcing
        decoder_in = torch.tensor([START] + ids[:-1]).unsqueeze(1)
        with torch.no_grad():
            log_probs = torch.log_softmax(model(batch.src, decoder_in), dim=2)[:, 0]
        expected = sum(log_probs[t, token].item() for t, token in enumerate(ids))
        assert math.isclose(score, expected, rel_tol=1e-9, abs_tol=1e-9)


def test_bad_input_names_the_argument():
    model = make_model()
    batch = digit_strings(2, 3, seed=0)
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(5, 5, attention="luong")
    with pytest.raises(TypeError, match="src"):
        model(batch.src.double(), batch.tgt_in)
    with pytest.raises(ValueError, match="src"):
        model(batch.src[:, 0], batch.tgt_in)
    with pytest.raises(ValueError, match="tgt_in"):
        model(batch.src, batch.tgt_in[:, :1])
    with pytest.raises(ValueError, match="lengths"):
        model(batch.src, batch.tgt_in, torch.tensor([3, 9]))
    with pytest.raises(ValueError, match="src"):
        model.beam_decode(batch.src, START, 2, 5)  # one sequence (S,) only
    with pytest.raises(ValueError, match="max_length"):
        model.greedy_decode(batch.src, START, 0)


@pytest.mark.parametrize("attention", ["additive", None])
def test_learns_to_reverse_a_tiny_batch(attention):
    torch.manual_seed(0)
    batch = digit_strings(8, 5, seed=0)
    model = Seq2Seq(VOCAB, VOCAB, 16, 32, attention=attention)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        logits = model(batch.src, batch.tgt_in, batch.src_lengths)
        loss = masked_cross_entropy(logits, batch.tgt_out, batch.tgt_mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    tokens = model.greedy_decode(batch.src, START, 6, end_id=END)
    assert torch.equal(tokens, batch.tgt_out)
