"""course_pkg.nn.transformer_layers against torch.nn.TransformerEncoderLayer and
TransformerDecoderLayer with norm_first=True (same state dict, no dropout): outputs and
gradients, with causal and padding masks."""

import pytest
import torch

from course_pkg.nn.multihead_attention import causal_mask, padding_mask
from course_pkg.nn.transformer_layers import TransformerDecoderLayer, TransformerEncoderLayer

TOL = {"rtol": 1e-9, "atol": 1e-11}


def randn(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)


def perturb(module):
    """Random biases and LayerNorm affine parameters, so that every parameter is compared."""
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "bias" in name or "norm" in name:
                p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def compare_grads(ours_out, twin_out, ours, twin, inputs):
    """Gradients of the same random projection of both outputs, matched by parameter name."""
    grad = torch.randn(ours_out.shape, generator=torch.Generator().manual_seed(7),
                       dtype=torch.float64)
    names = [name for name, _ in ours.named_parameters()]
    twin_params = dict(twin.named_parameters())
    assert sorted(names) == sorted(twin_params)
    a = torch.autograd.grad(ours_out, inputs + [dict(ours.named_parameters())[n] for n in names],
                            grad)
    b = torch.autograd.grad(twin_out, inputs + [twin_params[n] for n in names], grad)
    labels = [f"input {i}" for i in range(len(inputs))] + names
    for name, x, y in zip(labels, a, b):
        assert torch.allclose(x, y, **TOL), name


@pytest.mark.parametrize("padded", [False, True])
def test_encoder_layer_matches_torch(padded):
    torch.manual_seed(0)
    ours = TransformerEncoderLayer(8, 2, 16).double()
    perturb(ours)
    twin = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=True).double()
    twin.load_state_dict(ours.state_dict())
    x = randn(6, 3, 8, seed=1)
    mask = padding_mask(torch.tensor([6, 4, 5]), 6) if padded else None
    out, _ = ours(x, key_mask=mask)
    expected = twin(x, src_key_padding_mask=None if mask is None else ~mask)
    assert torch.allclose(out, expected, **TOL)
    compare_grads(out, expected, ours, twin, [x])


@pytest.mark.parametrize("padded", [False, True])
def test_decoder_layer_matches_torch(padded):
    torch.manual_seed(1)
    ours = TransformerDecoderLayer(8, 4, 12).double()
    perturb(ours)
    twin = torch.nn.TransformerDecoderLayer(8, 4, 12, dropout=0.0, norm_first=True).double()
    twin.load_state_dict(ours.state_dict())
    y, memory = randn(5, 3, 8, seed=2), randn(7, 3, 8, seed=3)
    tgt_mask = padding_mask(torch.tensor([5, 3, 4]), 5) if padded else None
    src_mask = padding_mask(torch.tensor([7, 6, 2]), 7) if padded else None
    out, self_w, cross_w = ours(y, memory, causal_mask(5), tgt_mask, src_mask)
    expected = twin(y, memory, tgt_mask=~causal_mask(5),
                    tgt_key_padding_mask=None if tgt_mask is None else ~tgt_mask,
                    memory_key_padding_mask=None if src_mask is None else ~src_mask)
    assert torch.allclose(out, expected, **TOL)
    compare_grads(out, expected, ours, twin, [y, memory])
    assert self_w.shape == (3, 4, 5, 5) and cross_w.shape == (3, 4, 5, 7)
    assert (self_w.triu(1) == 0).all()  # causal: no weight on later positions
    if padded:
        assert (cross_w[2, :, :, 2:] == 0).all()


def test_causal_decoder_output_ignores_later_targets():
    torch.manual_seed(2)
    layer = TransformerDecoderLayer(8, 2, 16).double()
    y, memory = randn(5, 2, 8, seed=4), randn(4, 2, 8, seed=5)
    out, _, _ = layer(y, memory, causal_mask(5))
    changed = y.detach().clone()
    changed[3:] += 10.0
    out2, _, _ = layer(changed, memory, causal_mask(5))
    assert torch.allclose(out[:3], out2[:3], **TOL)
    assert not torch.allclose(out[3:], out2[3:])


def test_encoder_layer_dropout_is_off_in_eval_mode_and_on_in_training():
    torch.manual_seed(3)
    ours = TransformerEncoderLayer(8, 2, 16, dropout=0.3).double()
    perturb(ours)
    twin = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, norm_first=True).double()
    twin.load_state_dict(ours.state_dict())
    x = randn(6, 3, 8, seed=1)
    ours.eval(), twin.eval()
    assert torch.allclose(ours(x)[0], twin(x), **TOL)
    ours.train()
    torch.manual_seed(11)
    first = ours(x)[0]
    torch.manual_seed(11)
    again = ours(x)[0]
    assert torch.equal(first, again)  # the same draws under the same seed
    assert not torch.allclose(first, twin(x))


@pytest.mark.parametrize("layer", [TransformerEncoderLayer, TransformerDecoderLayer])
@pytest.mark.parametrize("dropout", [-0.1, 1.5])
def test_bad_dropout_is_refused_by_name(layer, dropout):
    with pytest.raises(ValueError, match="dropout"):
        layer(8, 2, 16, dropout=dropout)
