"""course_pkg.nn.multihead_attention against torch: scaled dot-product attention against
torch.nn.functional.scaled_dot_product_attention, and MultiHeadAttention against
torch.nn.MultiheadAttention on the same weights (outputs, per-head weights and gradients, with
causal and padding masks, self- and cross-attention), and the messages on bad input."""

import pytest
import torch
import torch.nn.functional as F

from course_pkg.nn.multihead_attention import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}


def randn(*shape, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)


def test_masks_by_hand():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False],
                                       [True, True, True]]
    assert padding_mask(torch.tensor([2, 3]), 3).tolist() == [[True, True, False],
                                                               [True, True, True]]


@pytest.mark.parametrize("masked", [False, True])
def test_scaled_dot_product_matches_torch(masked):
    q, k, v = randn(2, 3, 4, 5, seed=1), randn(2, 3, 6, 5, seed=2), randn(2, 3, 6, 7, seed=3)
    allowed = torch.rand(4, 6, generator=torch.Generator().manual_seed(4)) > 0.4
    allowed[:, 0] = True  # every query keeps one key
    mask = allowed if masked else None
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # bool: True = attend
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 4, dtype=torch.float64))
    if masked:
        assert (weights[..., ~allowed] == 0).all()


def torch_twin(ours: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    twin = torch.nn.MultiheadAttention(ours.d_model, ours.num_heads, dropout=0.0).double()
    twin.load_state_dict(ours.state_dict())
    return twin


@pytest.mark.parametrize("case", ["self", "causal+padding", "cross+padding"])
def test_multihead_matches_torch_forward_and_gradients(case):
    torch.manual_seed(0)
    d, heads, B = 8, 2, 3
    ours = MultiHeadAttention(d, heads).double()
    with torch.no_grad():  # non-zero biases, so they are compared too
        ours.in_proj_bias.normal_()
        ours.out_proj.bias.normal_()
    twin = torch_twin(ours)
    Tq = 5
    Tk = 5 if case != "cross+padding" else 7
    query = randn(Tq, B, d, seed=10, grad=True)
    key = query if case != "cross+padding" else randn(Tk, B, d, seed=11, grad=True)
    value = query if case != "cross+padding" else randn(Tk, B, d, seed=12, grad=True)
    allowed = causal_mask(Tq) if case == "causal+padding" else None
    key_mask = None if case == "self" else padding_mask(torch.tensor([Tk, Tk - 2, Tk - 1]), Tk)
    out, weights = ours(query, key, value, allowed, key_mask)
    expected, expected_weights = twin(
        query, key, value, attn_mask=None if allowed is None else ~allowed,
        key_padding_mask=None if key_mask is None else ~key_mask,
        need_weights=True, average_attn_weights=False)
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(weights, expected_weights, **TOL)
    grad_out = randn(*out.shape, seed=13)
    inputs = [query] if key is query else [query, key, value]
    ours_grads = torch.autograd.grad(out, inputs + list(ours.parameters()), grad_out)
    twin_grads = torch.autograd.grad(expected, inputs + list(twin.parameters()), grad_out)
    names = [f"input {i}" for i in range(len(inputs))] + [n for n, _ in ours.named_parameters()]
    for name, a, b in zip(names, ours_grads, twin_grads):
        assert torch.allclose(a, b, **TOL), name


def test_padding_keys_get_no_weight_and_do_not_matter():
    torch.manual_seed(1)
    attention = MultiHeadAttention(6, 3).double()
    x = randn(4, 2, 6, seed=5)
    mask = padding_mask(torch.tensor([4, 2]), 4)
    out, weights = attention(x, x, x, key_mask=mask)
    assert (weights[1, :, :, 2:] == 0).all()
    changed = x.clone()
    changed[2:, 1] += 100.0  # new values in the padding of sequence 1
    out2, _ = attention(changed, changed, changed, key_mask=mask)
    assert torch.allclose(out[:2, 1], out2[:2, 1], **TOL)


def test_bad_input_names_the_argument():
    attention = MultiHeadAttention(8, 2)
    x = torch.randn(3, 2, 8)
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(8, 3)
    with pytest.raises(ValueError, match=r"query: expected shape \(T, B, 8\)"):
        attention(torch.randn(3, 2, 7), x, x)
    with pytest.raises(ValueError, match="key_mask"):
        attention(x, x, x, key_mask=torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="allowed"):
        attention(x, x, x, allowed=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one key"):
        attention(x, x, x, key_mask=torch.tensor([[False] * 3, [True] * 3]))
    with pytest.raises(ValueError, match="lengths"):
        padding_mask(torch.tensor([0, 2]), 3)
