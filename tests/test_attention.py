"""Attention (course_pkg.nn.attention): hand-computed scores, masks, reductions, torch's SDPA."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.nn.attention import (
    AdditiveAttention,
    BilinearAttention,
    DotProductAttention,
    additive_scores,
    bilinear_scores,
    dot_product_scores,
    masked_softmax,
)

DOUBLE = torch.float64



def softmax_list(scores):
    """Plain-Python softmax of a list of numbers."""
    exps = [math.exp(s) for s in scores]
    return [e / sum(exps) for e in exps]


def tensor(values):
    return torch.tensor(values, dtype=DOUBLE)


def random_inputs(batch=3, steps=5, dq=4, dk=4, dv=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, dq, generator=g, dtype=DOUBLE),
            torch.randn(batch, steps, dk, generator=g, dtype=DOUBLE),
            torch.randn(batch, steps, dv, generator=g, dtype=DOUBLE))


def additive_module(query_size=2, key_size=2, hidden_size=2, seed=0):
    torch.manual_seed(seed)
    return AdditiveAttention(query_size, key_size, hidden_size).double()


# ----------------------------------------------------------------------------------------------
# hand-computed values
# ----------------------------------------------------------------------------------------------
def test_additive_attention_matches_hand_computation():
    attention = additive_module()
    with torch.no_grad():
        attention.query_proj.weight.copy_(tensor([[1.0, 0.0], [0.0, 1.0]]))  # W_q
        attention.key_proj.weight.copy_(tensor([[0.5, 0.0], [0.0, -1.0]]))  # W_k
        attention.v.copy_(tensor([1.0, 2.0]))
    query = tensor([[1.0, 0.0]])  # W_q q = (1, 0)
    keys = tensor([[[0.0, 1.0], [1.0, 1.0]]])  # W_k k_1 = (0, -1), W_k k_2 = (0.5, -1)
    values = tensor([[[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]]])
    # e_t = v^T tanh(W_q q + W_k k_t)
    e1 = 1.0 * math.tanh(1.0 + 0.0) + 2.0 * math.tanh(0.0 - 1.0)
    e2 = 1.0 * math.tanh(1.0 + 0.5) + 2.0 * math.tanh(0.0 - 1.0)
    a1, a2 = softmax_list([e1, e2])
    context, weights = attention(query, keys, values)
    assert torch.allclose(attention.scores(query, keys), tensor([[e1, e2]]))
    assert torch.allclose(weights, tensor([[a1, a2]]))
    assert torch.allclose(context, tensor([[a1 - a2, 2 * a1, 3 * a1 + a2]]))


def test_scaled_dot_product_with_mask_matches_hand_computation():
    query = tensor([[1.0, 2.0]])
    keys = tensor([[[3.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # q . k = 3, 2, 3
    values = tensor([[[2.0], [100.0], [4.0]]])
    scores = DotProductAttention(scaled=True).scores(query, keys)
    assert torch.allclose(scores, tensor([[3 / math.sqrt(2), 2 / math.sqrt(2), 3 / math.sqrt(2)]]))
    mask = torch.tensor([[True, False, True]])
    context, weights = DotProductAttention(scaled=True)(query, keys, values, mask)
    assert weights.tolist() == [[0.5, 0.0, 0.5]]  # equal scores on the two allowed keys
    assert torch.allclose(context, tensor([[3.0]]))  # (2 + 4) / 2: the 100 is never seen
    unscaled = DotProductAttention(scaled=False)
    assert torch.allclose(unscaled.scores(query, keys), tensor([[3.0, 2.0, 3.0]]))


def test_bilinear_attention_matches_hand_computation():
    attention = BilinearAttention(2, 2).double()
    with torch.no_grad():
        attention.weight.copy_(tensor([[1.0, 2.0], [0.0, 1.0]]))
    query = tensor([[1.0, 1.0]])  # q^T W = (1, 3)
    keys = tensor([[[1.0, 0.0], [0.0, 1.0]]])  # scores 1 and 3
    values = tensor([[[10.0], [20.0]]])
    a1, a2 = softmax_list([1.0, 3.0])
    context, weights = attention(query, keys, values)
    assert torch.allclose(weights, tensor([[a1, a2]]))
    assert torch.allclose(context, tensor([[10 * a1 + 20 * a2]]))


def test_masked_softmax_matches_hand_computation():
    scores = tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [False, True, True]])
    weights = masked_softmax(scores, mask)
    expected_first = softmax_list([1.0, 2.0])
    assert torch.allclose(weights, tensor([[*expected_first, 0.0], [0.0, 0.5, 0.5]]))
    assert weights[0, 2].item() == 0.0 and weights[1, 0].item() == 0.0


# ----------------------------------------------------------------------------------------------
# reductions and outside references
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: additive_module(4, 4, 3),
    lambda: DotProductAttention(scaled=True),
    lambda: DotProductAttention(scaled=False),
    lambda: BilinearAttention(4, 4).double(),
])
def test_masked_attention_equals_attention_over_the_unmasked_subset(make):
    attention = make()
    query, keys, values = random_inputs()
    mask = torch.tensor([[True, False, True, True, False],
                         [False, False, False, False, True],
                         [True, True, True, True, True]])
    context, weights = attention(query, keys, values, mask)
    assert weights.shape == (3, 5) and context.shape == (3, 2)
    assert torch.all(weights[~mask] == 0.0)  # exactly zero, not just small
    assert torch.allclose(weights.sum(dim=1), torch.ones(3, dtype=DOUBLE))
    for b in range(3):
        keep = mask[b]
        sub_context, sub_weights = attention(query[b : b + 1], keys[b : b + 1, keep],
                                             values[b : b + 1, keep])
        assert torch.allclose(weights[b, keep], sub_weights[0])
        assert torch.allclose(context[b], sub_context[0])


def test_masked_positions_are_zero_even_with_huge_scores():
    query = tensor([[1.0]])
    keys = tensor([[[1000.0], [1.0], [-1000.0]]])
    values = tensor([[[1.0], [2.0], [3.0]]])
    mask = torch.tensor([[False, True, False]])
    context, weights = DotProductAttention(scaled=False)(query, keys, values, mask)
    assert weights.tolist() == [[0.0, 1.0, 0.0]]
    assert context.tolist() == [[2.0]]


@pytest.mark.parametrize("scaled", [True, False])
def test_dot_product_attention_matches_torch_sdpa(scaled):
    query, keys, values = random_inputs(batch=4, steps=6, dq=5, dk=5, dv=3, seed=1)
    mask = torch.rand(4, 6, generator=torch.Generator().manual_seed(2)) > 0.4
    mask[:, 0] = True  # at least one key per row
    context, _ = DotProductAttention(scaled)(query, keys, values, mask)
    expected = F.scaled_dot_product_attention(
        query.unsqueeze(1), keys, values, attn_mask=mask.unsqueeze(1),
        scale=None if scaled else 1.0,
    ).squeeze(1)
    assert torch.allclose(context, expected)


def test_bilinear_with_identity_weight_is_unscaled_dot_product():
    query, keys, values = random_inputs()
    bilinear = BilinearAttention(4, 4).double()
    with torch.no_grad():
        bilinear.weight.copy_(torch.eye(4, dtype=DOUBLE))
    got = bilinear(query, keys, values)
    want = DotProductAttention(scaled=False)(query, keys, values)
    assert torch.allclose(got[0], want[0]) and torch.allclose(got[1], want[1])


def test_additive_attention_is_computed_row_by_row():
    """Vectorised over the batch: each row equals the same row run alone."""
    attention = additive_module(4, 4, 3)
    query, keys, values = random_inputs()
    context, weights = attention(query, keys, values)
    for b in range(3):
        c, w = attention(query[b : b + 1], keys[b : b + 1], values[b : b + 1])
        assert torch.allclose(c, context[b : b + 1]) and torch.allclose(w, weights[b : b + 1])


def test_additive_attention_with_precomputed_key_projection():
    attention = additive_module(4, 4, 3)
    query, keys, values = random_inputs()
    projected = attention.project_keys(keys)  # (B, T, H) = W_k k_t
    assert torch.allclose(projected, keys @ attention.key_proj.weight.T)
    got = attention(query, keys, values, projected_keys=projected)
    want = attention(query, keys, values)
    assert torch.allclose(got[0], want[0]) and torch.allclose(got[1], want[1])
    with pytest.raises(ValueError, match="projected_keys"):
        attention(query, keys, values, projected_keys=projected[:, :4])


def test_additive_attention_with_different_query_key_value_sizes():
    attention = AdditiveAttention(query_size=3, key_size=5, hidden_size=7).double()
    query, keys, values = random_inputs(batch=2, steps=4, dq=3, dk=5, dv=6)
    context, weights = attention(query, keys, values)
    assert context.shape == (2, 6) and weights.shape == (2, 4)


# ----------------------------------------------------------------------------------------------
# gradients
# ----------------------------------------------------------------------------------------------
def test_gradcheck_score_functions_and_masked_softmax():
    g = torch.Generator().manual_seed(3)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=DOUBLE, requires_grad=True)

    query, keys = rand(2, 3), rand(2, 4, 3)
    w_q, w_k, v = rand(5, 3), rand(5, 3), rand(5)
    assert torch.autograd.gradcheck(additive_scores, (query, keys, w_q, w_k, v))
    assert torch.autograd.gradcheck(lambda q, k: dot_product_scores(q, k, True), (query, keys))
    assert torch.autograd.gradcheck(bilinear_scores, (query, keys, rand(3, 3)))
    mask = torch.tensor([[True, False, True, True], [False, True, False, False]])
    assert torch.autograd.gradcheck(lambda s: masked_softmax(s, mask), (rand(2, 4),))


def test_gradcheck_attention_modules_through_context():
    query, keys, values = (t.requires_grad_() for t in random_inputs(batch=2, steps=3, dq=2, dk=2))
    mask = torch.tensor([[True, True, False], [True, False, True]])
    for attention in (additive_module(), DotProductAttention(), BilinearAttention(2, 2).double()):
        assert torch.autograd.gradcheck(
            lambda q, k, v: attention(q, k, v, mask)[0], (query, keys, values))
    attention = additive_module()
    context, _ = attention(query, keys, values, mask)
    context.sum().backward()
    for name, parameter in attention.named_parameters():  # W_q, W_k and v all get gradients
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_row_with_every_position_masked_raises():
    query, keys, values = random_inputs()
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match="mask"):
        DotProductAttention()(query, keys, values, mask)
    with pytest.raises(ValueError, match="mask"):
        masked_softmax(torch.zeros(3, 5), mask)


def test_bad_shapes_name_the_argument():
    attention = additive_module(4, 4, 3)
    query, keys, values = random_inputs()
    with pytest.raises(ValueError, match="query"):
        attention(query[0], keys, values)  # (Dq,) instead of (B, Dq)
    with pytest.raises(ValueError, match="query"):
        attention(query[:, :3], keys, values)  # wrong query size
    with pytest.raises(ValueError, match="keys"):
        attention(query, keys[:2], values)  # batch sizes differ
    with pytest.raises(ValueError, match="keys"):
        attention(query, keys[..., :3], values)  # wrong key size
    with pytest.raises(ValueError, match="values"):
        attention(query, keys, values[:, :4])  # T differs from keys
    with pytest.raises(ValueError, match="mask"):
        attention(query, keys, values, torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask"):
        attention(query, keys, values, torch.ones(3, 5))  # float, not bool
    with pytest.raises(ValueError, match="keys"):
        DotProductAttention()(query, keys[..., :3], values)  # dot needs Dk = Dq
    with pytest.raises(TypeError, match="query"):
        attention(query.long(), keys, values)
    with pytest.raises(TypeError, match="keys"):
        attention(query, keys.tolist(), values)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden_size"):
        AdditiveAttention(2, 2, 0)
    with pytest.raises(TypeError, match="query_size"):
        BilinearAttention(2.5, 2)
    with pytest.raises(TypeError, match="scaled"):
        DotProductAttention(scaled="yes")
