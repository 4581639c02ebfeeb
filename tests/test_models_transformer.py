"""course_pkg.models.transformer against torch.nn.Transformer(norm_first=True) on the same
weights: the encoder-decoder core (outputs and gradients, with padding), the full model's logits
and its greedy decoding against a decoding loop written on torch.nn.Transformer; plus the
interface the attention chapter's training code relies on, and bad input."""

import math
import warnings

import pytest
import torch

from course_pkg.data.algorithmic import START, digit_strings
from course_pkg.tasks.reversal import reversal_loss
from course_pkg.models.transformer import TransformerCore, TransformerSeq2Seq
from course_pkg.nn.multihead_attention import causal_mask, padding_mask

TOL = {"rtol": 1e-9, "atol": 1e-11}


def torch_twin(core: TransformerCore, layers: int, heads: int, ff: int) -> torch.nn.Transformer:
    with warnings.catch_warnings():  # torch warns that nested tensors are off with norm_first
        warnings.simplefilter("ignore")
        twin = torch.nn.Transformer(core.d_model, heads, layers, layers, ff, dropout=0.0,
                                    norm_first=True).double()
    twin.load_state_dict(core.state_dict())  # strict: every name and shape agrees
    return twin


def randn(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)


@pytest.mark.parametrize("padded", [False, True])
def test_core_matches_torch_transformer(padded):
    torch.manual_seed(0)
    core = TransformerCore(d_model=8, num_heads=2, num_layers=2, ff_size=16).double()
    with torch.no_grad():
        for name, p in core.named_parameters():
            if "bias" in name or "norm" in name:
                p.add_(0.2 * torch.randn_like(p))
    twin = torch_twin(core, 2, 2, 16)
    src, tgt = randn(6, 3, 8, seed=1), randn(5, 3, 8, seed=2)
    src_mask = padding_mask(torch.tensor([6, 4, 2]), 6) if padded else None
    tgt_mask = padding_mask(torch.tensor([5, 5, 3]), 5) if padded else None
    out = core(src, tgt, src_mask, tgt_mask)
    twin.train()  # the training path: no fast-path kernels, same equations
    expected = twin(src, tgt, tgt_mask=~causal_mask(5),
                    src_key_padding_mask=None if src_mask is None else ~src_mask,
                    tgt_key_padding_mask=None if tgt_mask is None else ~tgt_mask,
                    memory_key_padding_mask=None if src_mask is None else ~src_mask)
    assert torch.allclose(out, expected, **TOL)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    names = [n for n, _ in core.named_parameters()]
    twin_params = dict(twin.named_parameters())
    ours = dict(core.named_parameters())
    a = torch.autograd.grad(out, [src, tgt] + [ours[n] for n in names], grad)
    b = torch.autograd.grad(expected, [src, tgt] + [twin_params[n] for n in names], grad)
    for name, x, y in zip(["src", "tgt"] + names, a, b):
        assert torch.allclose(x, y, **TOL), name


def reference_logits(model, twin, src, tgt_in, src_lengths):
    """The model's equations written on torch.nn.Transformer: scaled embeddings plus sinusoids."""
    d = model.core.d_model
    positions = torch.tensor([[math.sin(t / 10000 ** (2 * (j // 2) / d)) if j % 2 == 0 else
                               math.cos(t / 10000 ** (2 * (j // 2) / d)) for j in range(d)]
                              for t in range(max(len(src), len(tgt_in)))], dtype=torch.float64)
    embed = lambda E, x: math.sqrt(d) * E.weight[x] + positions[:len(x), None, :]
    key_pad = torch.arange(len(src))[None, :] >= src_lengths[:, None]  # True = padding
    out = twin(embed(model.src_embedding, src), embed(model.tgt_embedding, tgt_in),
               tgt_mask=~causal_mask(len(tgt_in)), src_key_padding_mask=key_pad,
               memory_key_padding_mask=key_pad)
    return out @ model.output.weight.T + model.output.bias


def test_model_logits_and_greedy_decoding_match_a_torch_reference():
    torch.manual_seed(4)
    model = TransformerSeq2Seq(13, 13, d_model=8, num_heads=2, num_layers=1, ff_size=16).double()
    twin = torch_twin(model.core, 1, 2, 16)
    twin.train()
    batch = digit_strings(4, 3, 6, seed=5)
    with torch.no_grad():
        logits = model(batch.src, batch.tgt_in, batch.src_lengths)
        expected = reference_logits(model, twin, batch.src, batch.tgt_in, batch.src_lengths)
        # the model's position table is computed in float64 and stored in float32 (as chapter
        # 17's): agreement to float32 rounding of the inputs
        assert torch.allclose(logits, expected, rtol=1e-5, atol=1e-6)
        tokens = model.greedy_decode(batch.src, START, 5, src_lengths=batch.src_lengths)
        prefix = torch.full((1, 4), START)
        for _ in range(5):  # the reference: re-run the whole prefix, take the last argmax
            step = reference_logits(model, twin, batch.src, prefix, batch.src_lengths)[-1]
            prefix = torch.cat([prefix, step.argmax(1)[None]])
    assert torch.equal(tokens, prefix[1:])


def test_trains_with_chapter_9_loss_and_overfits_a_batch():
    torch.manual_seed(6)
    model = TransformerSeq2Seq(13, 13, d_model=16, num_heads=2, ff_size=32)
    batch = digit_strings(8, 4, seed=7)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = reversal_loss(model, batch).item()
    for _ in range(150):
        optimizer.zero_grad()
        loss = reversal_loss(model, batch)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 * first


def test_bad_input_names_the_argument():
    model = TransformerSeq2Seq(13, 13, d_model=8, num_heads=2, ff_size=8, max_len=6)
    src = torch.ones(4, 2, dtype=torch.int64)
    with pytest.raises(TypeError, match="src"):
        model(src.float(), src)
    with pytest.raises(ValueError, match="tgt_in"):
        model(src, torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(7, 2, dtype=torch.int64), src)
    with pytest.raises(ValueError, match="num_heads"):
        TransformerCore(d_model=8, num_heads=3)
