"""End-to-end memory network (course_pkg.models.memory_network): the position encoding and one
hop against hand-computed values, the model against the paper's equations, bAbI-style task 1."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.babi import VOCABULARY, encode_stories, generate_stories
from course_pkg.models.memory_network import EndToEndMemoryNetwork, memory_hop, position_encoding
from course_pkg.nn.attention import DotProductAttention

DOUBLE = torch.float64



def tensor(values):
    return torch.tensor(values, dtype=DOUBLE)


# ----------------------------------------------------------------------------------------------
# position encoding
# ----------------------------------------------------------------------------------------------
def test_position_encoding_matches_hand_computation():
    # l_kj = (1 - j/J) - (k/d)(1 - 2j/J), rows j = 1..J, columns k = 1..d
    assert torch.allclose(position_encoding(2, 2), torch.tensor([[0.5, 0.5], [0.5, 1.0]]))
    assert torch.allclose(position_encoding(3, 2),
                          torch.tensor([[0.5, 1 / 3], [0.5, 2 / 3], [0.5, 1.0]]))
    table = position_encoding(4, 5)
    for j in range(1, 5):
        for k in range(1, 6):
            assert math.isclose(table[j - 1, k - 1].item(), (1 - j / 4) - (k / 5) * (1 - 2 * j / 4),
                                rel_tol=1e-6, abs_tol=1e-7)


def test_position_encoding_bad_sizes():
    with pytest.raises(ValueError, match="num_words"):
        position_encoding(0, 3)
    with pytest.raises(TypeError, match="embedding_size"):
        position_encoding(3, 2.0)


# ----------------------------------------------------------------------------------------------
# one hop
# ----------------------------------------------------------------------------------------------
def test_memory_hop_matches_hand_computation():
    u = tensor([[1.0, 0.0]])
    memory_in = tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]]])  # u . m_i = 1, 0, 2
    memory_out = tensor([[[1.0, 1.0], [0.0, 2.0], [-1.0, 0.0]]])
    exps = [math.exp(1.0), math.exp(0.0), math.exp(2.0)]
    p = [e / sum(exps) for e in exps]
    o = [p[0] * 1.0 + p[1] * 0.0 + p[2] * -1.0, p[0] * 1.0 + p[1] * 2.0 + p[2] * 0.0]
    got_o, got_p = memory_hop(u, memory_in, memory_out)
    assert torch.allclose(got_p, tensor([p])) and torch.allclose(got_o, tensor([o]))


def test_one_hop_with_identity_embeddings_is_dot_product_attention():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(3, 4, generator=g, dtype=DOUBLE)
    memory = torch.randn(3, 6, 4, generator=g, dtype=DOUBLE)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 4:] = False
    o, p = memory_hop(u, memory, memory, mask)
    context, weights = DotProductAttention(scaled=False)(u, memory, memory, mask)
    assert torch.allclose(o, context) and torch.allclose(p, weights)
    expected = F.scaled_dot_product_attention(u.unsqueeze(1), memory, memory,
                                              attn_mask=mask.unsqueeze(1), scale=1.0).squeeze(1)
    assert torch.allclose(o, expected)
    assert torch.all(p[0, 4:] == 0.0)


def test_gradcheck_memory_hop():
    g = torch.Generator().manual_seed(1)
    args = [torch.randn(*shape, generator=g, dtype=DOUBLE, requires_grad=True)
            for shape in [(2, 3), (2, 4, 3), (2, 4, 3)]]
    mask = torch.tensor([[True, True, False, True], [True, False, False, False]])
    assert torch.autograd.gradcheck(lambda u, m, c: memory_hop(u, m, c, mask), args)


def test_memory_hop_bad_input():
    u, memory = torch.zeros(2, 3), torch.zeros(2, 4, 3)
    with pytest.raises(ValueError, match="^u: "):
        memory_hop(u[0], memory, memory)
    with pytest.raises(ValueError, match="memory_in"):
        memory_hop(u, memory[..., :2], memory)
    with pytest.raises(ValueError, match="memory_out"):
        memory_hop(u, memory, memory[:, :3])
    with pytest.raises(ValueError, match="mask"):
        memory_hop(u, memory, memory, torch.zeros(2, 4, dtype=torch.bool))


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------
def reference_forward(model, stories, questions):
    """The paper's equations, written out sentence by sentence and word by word."""
    d, hops = model.embedding_size, model.hops
    batch_logits = []
    for story, question in zip(stories, questions):
        sentences = [s for s in story if (s != 0).any()]
        width = story.shape[1]

        def sentence_vector(words, k, width=width):
            total = torch.zeros(d, dtype=DOUBLE)
            for j, word in enumerate(words.tolist(), start=1):
                l_j = torch.tensor([(1 - j / width) - (kk / d) * (1 - 2 * j / width)
                                    for kk in range(1, d + 1)], dtype=DOUBLE)
                total = total + l_j * model.embeddings[k].weight[word]
            return total

        def memories(k):  # E^k x_i + T^k(age of i), age 0 = latest sentence
            n = len(sentences)
            return [sentence_vector(s, k) + model.temporal[k].weight[n - 1 - i]
                    for i, s in enumerate(sentences)]

        u = torch.zeros(d, dtype=DOUBLE)
        for j, word in enumerate(question.tolist(), start=1):
            l_j = torch.tensor([(1 - j / len(question)) - (kk / d) * (1 - 2 * j / len(question))
                                for kk in range(1, d + 1)], dtype=DOUBLE)
            u = u + l_j * model.embeddings[0].weight[word]
        for k in range(hops):
            m, c = memories(k), memories(k + 1)
            scores = [float(u @ m_i) for m_i in m]
            p = [math.exp(s - max(scores)) for s in scores]
            p = [x / sum(p) for x in p]
            u = u + sum(p_i * c_i for p_i, c_i in zip(p, c))
        batch_logits.append(model.answer.weight @ u)
    return torch.stack(batch_logits)


def test_forward_matches_the_paper_equations():
    torch.manual_seed(0)
    batch = encode_stories(generate_stories(3, min_sentences=2, max_sentences=5, seed=1))
    model = EndToEndMemoryNetwork(len(VOCABULARY), 6, max_memories=5, hops=3).double()
    with torch.no_grad():
        logits, attention = model(batch.stories, batch.questions, return_attention=True)
        expected = reference_forward(model, batch.stories, batch.questions)
    assert torch.allclose(logits, expected)
    assert attention.shape == (3, 3, batch.stories.shape[1])
    slots = torch.arange(batch.stories.shape[1])
    empty = slots.unsqueeze(0) >= batch.lengths.unsqueeze(1)  # (B, S) padding sentences
    assert torch.all(attention.permute(1, 0, 2)[:, empty] == 0.0)
    assert torch.allclose(attention.sum(-1), torch.ones(3, 3, dtype=DOUBLE))


def test_padding_sentences_change_nothing():
    torch.manual_seed(0)
    stories = generate_stories(4, min_sentences=2, max_sentences=4, seed=2)
    model = EndToEndMemoryNetwork(len(VOCABULARY), 8, max_memories=10, hops=2)
    tight = encode_stories(stories)
    padded = encode_stories(stories, max_sentences=10)
    assert torch.allclose(model(tight.stories, tight.questions),
                          model(padded.stories, padded.questions), atol=1e-6)


def test_position_encoding_makes_word_order_matter():
    torch.manual_seed(0)
    batch = encode_stories(generate_stories(2, seed=3))
    reversed_words = batch.stories.clone()
    reversed_words[:, :, :5] = batch.stories[:, :, :5].flip(2)  # reverse the first five words
    for use_pe in (True, False):
        model = EndToEndMemoryNetwork(len(VOCABULARY), 8, max_memories=10,
                                      position_encoding=use_pe)
        same = torch.allclose(model(batch.stories, batch.questions),
                              model(reversed_words, batch.questions), atol=1e-6)
        assert same is (not use_pe)  # a bag of words ignores the order


def test_model_bad_input():
    model = EndToEndMemoryNetwork(len(VOCABULARY), 4, max_memories=3)
    stories, questions = torch.ones(2, 3, 5, dtype=torch.int64), torch.ones(2, 3, dtype=torch.int64)
    with pytest.raises(TypeError, match="stories"):
        model(stories.float(), questions)
    with pytest.raises(ValueError, match="stories"):
        model(torch.ones(2, 4, 5, dtype=torch.int64), questions)  # more than max_memories
    with pytest.raises(ValueError, match="questions"):
        model(stories, questions[:1])
    with pytest.raises(ValueError, match="hops"):
        EndToEndMemoryNetwork(10, 4, max_memories=3, hops=0)


def test_memory_network_learns_task_one_on_a_tiny_batch():
    torch.manual_seed(0)
    batch = encode_stories(generate_stories(8, seed=0))
    model = EndToEndMemoryNetwork(len(VOCABULARY), 20, max_memories=10, hops=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = F.cross_entropy(model(batch.stories, batch.questions), batch.answers)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    assert torch.equal(model(batch.stories, batch.questions).argmax(1), batch.answers)
