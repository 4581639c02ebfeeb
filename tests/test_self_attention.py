"""course_pkg.models.self_attention against torch.nn.MultiheadAttention and
torch.nn.TransformerEncoderLayer (state dicts loaded), the positional-encoding formula, masks,
overfitting tiny batches, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.synthetic import adding_problem
from course_pkg.nn.transformer_layers import TransformerEncoderLayer
from course_pkg.models.self_attention import (
    MultiHeadSelfAttention,
    SelfAttentionBlock,
    SelfAttentionSequenceModel,
    causal_mask,
    sinusoidal_positions,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}



def randn(*shape, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)


@pytest.mark.parametrize("d_model", [6, 7])
def test_positional_encoding_is_the_formula(d_model):
    encoding = sinusoidal_positions(9, d_model)
    assert encoding.shape == (9, d_model) and encoding.dtype == torch.float32
    for t in range(9):
        for j in range(d_model):
            angle = t / 10000 ** ((j - j % 2) / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert encoding[t, j].item() == pytest.approx(expected, abs=1e-6)


def test_causal_mask_by_hand():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False],
                                       [True, True, True]]


def padding_allowed(lengths, steps):
    real = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]       # (B, T)
    return real, real[:, None, :].expand(len(lengths), steps, steps)


@pytest.mark.parametrize("mask", ["none", "causal", "padding"])
def test_attention_matches_torch_multihead_attention(mask):
    d, heads, T, B = 8, 2, 5, 3
    torch.manual_seed(0)
    ours = MultiHeadSelfAttention(d, heads).double()
    with torch.no_grad():
        ours.in_proj_bias.uniform_(-0.5, 0.5)
        ours.out_proj.bias.uniform_(-0.5, 0.5)
    reference = torch.nn.MultiheadAttention(d, heads).double()
    reference.load_state_dict(ours.state_dict())
    x = randn(T, B, d, seed=1, grad=True)
    kwargs, allowed = {}, None
    if mask == "causal":
        allowed = causal_mask(T)
        kwargs["attn_mask"] = ~allowed
    elif mask == "padding":
        real, allowed = padding_allowed([5, 2, 4], T)
        kwargs["key_padding_mask"] = ~real
    out, weights = ours(x, allowed)
    out_ref, weights_ref = reference(x, x, x, average_attn_weights=False, **kwargs)
    torch.testing.assert_close(out, out_ref, **TOL)
    torch.testing.assert_close(weights, weights_ref, **TOL)
    w = randn(T, B, d, seed=2)
    grads = torch.autograd.grad((out * w).sum(), [x, *ours.parameters()])
    grads_ref = torch.autograd.grad((out_ref * w).sum(), [x, *reference.parameters()])
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, **TOL)


def test_block_matches_torch_pre_norm_transformer_encoder_layer():
    d, heads, ff, T, B = 8, 4, 12, 6, 3
    torch.manual_seed(1)
    block = SelfAttentionBlock(d, heads, ff).double()
    reference = torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0,
                                                 norm_first=True).double()
    reference.load_state_dict(block.state_dict())
    reference.train()                                   # the reference path, not the fast path
    x = randn(T, B, d, seed=3)
    real, allowed = padding_allowed([6, 3, 5], T)
    allowed = allowed & causal_mask(T)
    out, _ = block(x, allowed)
    expected = reference(x, src_mask=~causal_mask(T), src_key_padding_mask=~real)
    torch.testing.assert_close(out, expected, **TOL)


def test_block_is_the_encoder_layer_with_its_attention_drawn_first():
    """The block reuses the encoder layer's forward; its own __init__ draws the attention's
    weights before W_1 and W_2 (chapter 18's seeded numbers depend on that order)."""
    torch.manual_seed(4)
    block = SelfAttentionBlock(8, 2, 16)
    torch.manual_seed(4)
    attention = MultiHeadSelfAttention(8, 2)
    linear1 = torch.nn.Linear(8, 16)
    assert isinstance(block, TransformerEncoderLayer)
    assert torch.equal(block.self_attn.in_proj_weight, attention.in_proj_weight)
    assert torch.equal(block.linear1.weight, linear1.weight)
    assert [name.split(".")[0] for name in block.state_dict()][::2] == \
        ["self_attn", "self_attn", "norm1", "norm2", "linear1", "linear2"]


def test_causal_model_ignores_the_future_bidirectional_does_not():
    x = torch.randn(7, 2, 3, generator=torch.Generator().manual_seed(4))
    changed = x.clone()
    changed[5:] += 1.0
    for causal in (True, False):
        torch.manual_seed(2)
        model = SelfAttentionSequenceModel(3, 2, d_model=16, num_heads=2, causal=causal)
        with torch.no_grad():
            gap = (model(x)[:5] - model(changed)[:5]).abs().max().item()
        assert (gap == 0.0) if causal else (gap > 1e-4)


def test_padded_batch_with_lengths_equals_each_sequence_alone():
    torch.manual_seed(3)
    model = SelfAttentionSequenceModel(10, 4, d_model=16, num_heads=2, token_input=True).double()
    tokens = torch.randint(0, 10, (6, 3), generator=torch.Generator().manual_seed(5))
    lengths = torch.tensor([6, 2, 4])
    with torch.no_grad():
        out = model(tokens, lengths)
        for b, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(out[:n, b:b + 1], model(tokens[:n, b:b + 1]), **TOL)
            assert torch.all(out[n:, b] == 0)


def test_attention_maps():
    torch.manual_seed(4)
    model = SelfAttentionSequenceModel(3, 1, d_model=8, num_heads=2, num_layers=2, causal=True)
    maps = model.attention_maps(torch.randn(5, 2, 3))
    assert len(maps) == 2 and maps[0].shape == (2, 2, 5, 5)
    torch.testing.assert_close(maps[1].sum(-1), torch.ones(2, 2, 5))
    assert torch.all(maps[0].triu(1) == 0)


def test_overfits_a_tiny_adding_problem_batch():
    x, y = adding_problem(16, 12, seed=0)                      # (T, B, 2), (B,)
    torch.manual_seed(5)
    model = SelfAttentionSequenceModel(2, 1, d_model=32, num_heads=4, num_layers=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(250):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x)[-1, :, 0], y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01 * y.var().item()


def test_overfits_reversing_token_sequences():
    tokens = torch.randint(2, 8, (6, 8), generator=torch.Generator().manual_seed(6))
    target = tokens.flip(0)
    torch.manual_seed(6)
    model = SelfAttentionSequenceModel(8, 8, d_model=32, num_heads=4, num_layers=2,
                                       token_input=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(tokens).flatten(0, 1), target.flatten())
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert torch.equal(model(tokens).argmax(-1), target)


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="num_heads: expected a divisor of d_model = 8"):
        MultiHeadSelfAttention(8, 3)
    with pytest.raises(TypeError, match="causal"):
        SelfAttentionSequenceModel(3, 1, causal="yes")
    with pytest.raises(ValueError, match="dropout"):
        SelfAttentionSequenceModel(3, 1, dropout=2.0)
    model = SelfAttentionSequenceModel(3, 2, d_model=8, num_heads=2, max_len=6)
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 3\)"):
        model(torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match="x: expected 1 to max_len = 6 steps"):
        model(torch.zeros(7, 2, 3))
    with pytest.raises(TypeError, match="x: expected a floating-point dtype"):
        model(torch.zeros(4, 2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, 4\]"):
        model(torch.zeros(4, 2, 3), torch.tensor([5, 1]))
    tokens = SelfAttentionSequenceModel(5, 2, d_model=8, num_heads=2, token_input=True)
    with pytest.raises(ValueError, match=r"x: expected ids in \[0, 4\]"):
        tokens(torch.full((3, 2), 5))
    with pytest.raises(TypeError, match="x: expected integer token ids"):
        tokens(torch.zeros(3, 2))
    attention = MultiHeadSelfAttention(8, 2)
    with pytest.raises(ValueError, match="allowed: expected every query"):
        attention(torch.zeros(3, 1, 8), torch.zeros(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"allowed: expected shape \(3, 3\)"):
        attention(torch.zeros(3, 1, 8), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 8\)"):
        attention(torch.zeros(3, 1, 4))
