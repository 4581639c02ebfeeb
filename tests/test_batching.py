"""course_pkg.batching against torch.nn.utils.rnn (pad_sequence, pack_padded_sequence,
pad_packed_sequence) and against plain loops written in the tests."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from course_pkg.batching import (
    last_step_outputs,
    lengths_to_mask,
    masked_cross_entropy,
    masked_mean,
    pack,
    pad_sequences,
    sort_by_length,
    unpack,
)


def random_sequences(lengths, feature_shape=(3,), seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, *feature_shape, generator=gen, dtype=torch.float64) for n in lengths]


# ----------------------------------------------------------------------------------------------
# padding
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("feature_shape", [(), (3,), (2, 2)])
def test_pad_sequences_matches_torch_pad_sequence(batch_first, feature_shape):
    seqs = random_sequences([4, 1, 6, 3], feature_shape)
    padded, lengths = pad_sequences(seqs, padding_value=-7.5, batch_first=batch_first)
    expected = pad_sequence(seqs, batch_first=batch_first, padding_value=-7.5)
    assert padded.shape == expected.shape
    assert torch.equal(padded, expected)
    assert lengths.dtype == torch.int64 and lengths.tolist() == [4, 1, 6, 3]


def test_pad_sequences_numpy_in_numpy_out():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 9, size=n) for n in (3, 5, 2)]
    padded, lengths = pad_sequences(seqs)
    assert isinstance(padded, np.ndarray) and isinstance(lengths, np.ndarray)
    expected = pad_sequence([torch.from_numpy(s) for s in seqs]).numpy()
    np.testing.assert_array_equal(padded, expected)
    np.testing.assert_array_equal(lengths, [3, 5, 2])


def test_pad_sequences_passes_gradients():
    seqs = [s.requires_grad_() for s in random_sequences([2, 3])]
    padded, _ = pad_sequences(seqs)
    padded.sum().backward()
    assert torch.equal(seqs[0].grad, torch.ones(2, 3, dtype=torch.float64))


def test_pad_sequences_bad_input():
    with pytest.raises(ValueError, match="sequences: expected a non-empty list"):
        pad_sequences([])
    with pytest.raises(TypeError, match="sequences: expected a list"):
        pad_sequences(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"sequences\[1\]: expected trailing shape \(3,\).*got \(4,\)"):
        pad_sequences([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"sequences\[0\]: expected shape \(L, \.\.\.\) with L >= 1"):
        pad_sequences([torch.zeros(0, 3), torch.zeros(2, 3)])
    with pytest.raises(TypeError, match=r"sequences\[1\]: expected a torch tensor"):
        pad_sequences([torch.zeros(2), np.zeros(2)])
    with pytest.raises(TypeError, match=r"sequences\[0\]: expected a numpy array or torch tensor"):
        pad_sequences([[1, 2, 3]])


# ----------------------------------------------------------------------------------------------
# masks
# ----------------------------------------------------------------------------------------------
def test_lengths_to_mask_matches_a_loop():
    lengths = [3, 1, 4]
    mask = lengths_to_mask(lengths, max_len=5)
    assert mask.dtype == torch.bool and mask.shape == (5, 3)
    for t in range(5):
        for b, n in enumerate(lengths):
            assert bool(mask[t, b]) == (t < n)
    assert torch.equal(lengths_to_mask(lengths, batch_first=True), mask[:4].T)


def test_lengths_to_mask_agrees_with_the_padding_of_pad_sequence():
    seqs = [torch.ones(n) for n in (2, 5, 3)]
    assert torch.equal(lengths_to_mask([2, 5, 3]), pad_sequence(seqs).bool())
    numpy_mask = lengths_to_mask(np.array([2, 5, 3]))
    assert isinstance(numpy_mask, np.ndarray) and numpy_mask.dtype == np.bool_
    np.testing.assert_array_equal(numpy_mask, pad_sequence(seqs).numpy().astype(bool))


def test_lengths_to_mask_bad_input():
    with pytest.raises(ValueError, match=r"lengths: expected every length >= 1, got \[2, 0\]"):
        lengths_to_mask([2, 0])
    with pytest.raises(ValueError, match="lengths: expected every length >= 1"):
        lengths_to_mask(torch.tensor([-1, 3]))
    with pytest.raises(ValueError, match="max_len: expected >= the longest length 4"):
        lengths_to_mask([4, 2], max_len=3)
    with pytest.raises(TypeError, match="lengths: expected an integer dtype"):
        lengths_to_mask(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="lengths: expected at least one length"):
        lengths_to_mask([])
    with pytest.raises(ValueError, match="lengths: expected a 1-D array"):
        lengths_to_mask(np.ones((2, 2), dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# packing
# ----------------------------------------------------------------------------------------------
def test_sort_by_length_is_a_stable_descending_sort_with_its_inverse():
    sorted_lengths, order, inverse = sort_by_length([2, 5, 2, 7, 5])
    assert sorted_lengths.tolist() == [7, 5, 5, 2, 2]
    assert order.tolist() == [3, 1, 4, 0, 2]  # ties keep their original order
    assert torch.equal(order[inverse], torch.arange(5))


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_matches_pack_padded_sequence_on_distinct_lengths(batch_first):
    lengths = [3, 6, 1, 4]
    padded = pad_sequence(random_sequences(lengths, (2,)), batch_first=batch_first)
    mine = pack(padded, lengths, batch_first=batch_first)
    ref = pack_padded_sequence(padded, torch.tensor(lengths), batch_first=batch_first,
                               enforce_sorted=False)
    assert torch.equal(mine.data, ref.data)
    assert torch.equal(mine.batch_sizes, ref.batch_sizes)
    assert torch.equal(mine.sorted_indices, ref.sorted_indices)
    assert torch.equal(mine.unsorted_indices, ref.unsorted_indices)
    assert mine.batch_sizes.tolist() == [4, 3, 3, 2, 1, 1]


def test_pack_data_is_the_padded_batch_read_step_by_step():
    """The packed layout written out by hand for lengths (2, 3): sorted order (1, 0)."""
    padded = torch.tensor([[10.0, 20.0], [11.0, 21.0], [-1.0, 22.0]])  # (T=3, B=2)
    packed = pack(padded, [2, 3])
    assert packed.data.tolist() == [20.0, 10.0, 21.0, 11.0, 22.0]
    assert packed.batch_sizes.tolist() == [2, 2, 1]


def test_pack_with_ties_round_trips_through_torch_and_through_unpack():
    lengths = [3, 5, 3, 1, 5]
    padded = pad_sequence(random_sequences(lengths, (2,), seed=3))
    packed = pack(padded, lengths)
    ref = pack_padded_sequence(padded, torch.tensor(lengths), enforce_sorted=False)
    assert torch.equal(packed.batch_sizes, ref.batch_sizes)
    # torch's own unpacking of our PackedSequence gives the batch back
    back, back_lengths = pad_packed_sequence(packed)
    assert torch.equal(back, padded) and back_lengths.tolist() == lengths
    # and our unpack of torch's PackedSequence too
    back2, back_lengths2 = unpack(ref)
    assert torch.equal(back2, padded) and back_lengths2.tolist() == lengths


def test_packed_sequence_from_pack_drives_torch_rnn_like_torch_packing():
    torch.manual_seed(0)
    rnn = torch.nn.RNN(2, 4, dtype=torch.float64)
    lengths = [2, 5, 3]
    padded = pad_sequence(random_sequences(lengths, (2,), seed=1))
    out_mine, h_mine = rnn(pack(padded, lengths))
    out_ref, h_ref = rnn(pack_padded_sequence(padded, torch.tensor(lengths), enforce_sorted=False))
    assert torch.allclose(out_mine.data, out_ref.data) and torch.allclose(h_mine, h_ref)


def test_pack_enforce_sorted():
    lengths = [5, 3, 3, 1]
    padded = pad_sequence(random_sequences(lengths))
    mine = pack(padded, lengths, enforce_sorted=True)
    ref = pack_padded_sequence(padded, torch.tensor(lengths), enforce_sorted=True)
    assert torch.equal(mine.data, ref.data) and torch.equal(mine.batch_sizes, ref.batch_sizes)
    assert mine.sorted_indices is None and mine.unsorted_indices is None
    with pytest.raises(ValueError, match="lengths: expected non-increasing lengths"):
        pack(padded, [3, 5, 3, 1], enforce_sorted=True)


def test_pack_passes_gradients_to_real_steps_only():
    padded = pad_sequence(random_sequences([2, 4])).requires_grad_()
    pack(padded, [2, 4]).data.sum().backward()
    assert torch.equal(padded.grad[:, :, 0], lengths_to_mask([2, 4]).double())


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpack_matches_pad_packed_sequence(batch_first):
    lengths = [4, 2, 6]
    padded = pad_sequence(random_sequences(lengths, (3,), seed=2), batch_first=batch_first)
    packed = pack_padded_sequence(padded, torch.tensor(lengths), batch_first=batch_first,
                                  enforce_sorted=False)
    mine, mine_lengths = unpack(packed, batch_first=batch_first, padding_value=9.0, total_length=8)
    ref, ref_lengths = pad_packed_sequence(packed, batch_first=batch_first, padding_value=9.0,
                                           total_length=8)
    assert torch.equal(mine, ref) and torch.equal(mine_lengths, ref_lengths)


def test_pack_and_unpack_bad_input():
    padded = torch.zeros(4, 3, 2)
    with pytest.raises(ValueError, match=r"lengths: expected every length <= T = 4.*got max length 6"):
        pack(padded, [2, 6, 1])
    with pytest.raises(ValueError, match=r"lengths: expected every length >= 1, got \[2, 0, 1\]"):
        pack(padded, [2, 0, 1])
    with pytest.raises(ValueError, match="lengths: expected 3 lengths"):
        pack(padded, [2, 1])
    with pytest.raises(TypeError, match="padded: expected a torch tensor"):
        pack(np.zeros((4, 3)), [1, 1, 1])
    with pytest.raises(ValueError, match="padded: expected a 2 or 3 or 4 or 5-D array"):
        pack(torch.zeros(4), [1])
    with pytest.raises(TypeError, match="packed: expected a PackedSequence"):
        unpack(padded)
    with pytest.raises(ValueError, match="total_length: expected >= the longest length 2"):
        unpack(pack(padded, [2, 1, 1]), total_length=1)


# ----------------------------------------------------------------------------------------------
# masked averages and losses, last outputs
# ----------------------------------------------------------------------------------------------
def test_masked_mean_ignores_padding_even_nan():
    values = torch.tensor([[1.0, 2.0], [3.0, float("nan")], [5.0, float("inf")]])  # (T=3, B=2)
    mask = lengths_to_mask([3, 1])
    assert masked_mean(values, mask).item() == pytest.approx((1 + 2 + 3 + 5) / 4)
    values3 = torch.arange(12.0).view(3, 2, 2)
    expected = torch.cat([values3[:, 0].flatten(), values3[:1, 1].flatten()]).mean()
    assert masked_mean(values3, mask) == expected


def test_masked_mean_gradient_is_zero_on_padding():
    values = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    masked_mean(values, lengths_to_mask([3, 1])).backward()
    assert torch.equal(values.grad, lengths_to_mask([3, 1]).double() / 4)


def test_masked_cross_entropy_equals_per_sequence_losses():
    torch.manual_seed(0)
    lengths = [4, 2, 3]
    logits = torch.randn(4, 3, 5, dtype=torch.float64)
    targets = torch.randint(0, 5, (4, 3))
    targets[2:, 1] = -100  # garbage on padding must not matter
    loss = masked_cross_entropy(logits, targets, lengths_to_mask(lengths))
    tokens_logits = torch.cat([logits[:n, b] for b, n in enumerate(lengths)])
    tokens_targets = torch.cat([targets[:n, b] for b, n in enumerate(lengths)])
    assert torch.allclose(loss, F.cross_entropy(tokens_logits, tokens_targets))


def test_masked_helpers_bad_input():
    with pytest.raises(ValueError, match=r"mask: expected shape \(3, 2\)"):
        masked_mean(torch.zeros(3, 2), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask: expected a bool mask"):
        masked_mean(torch.zeros(3, 2), torch.ones(3, 2))
    with pytest.raises(ValueError, match="mask: expected at least one True"):
        masked_mean(torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.bool))
    with pytest.raises(TypeError, match="values: expected a floating-point dtype"):
        masked_mean(torch.zeros(3, 2, dtype=torch.int64), torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"targets: expected shape \(4, 3\)"):
        masked_cross_entropy(torch.zeros(4, 3, 5), torch.zeros(3, 4, dtype=torch.int64),
                             torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="targets: expected an int64 tensor"):
        masked_cross_entropy(torch.zeros(4, 3, 5), torch.zeros(4, 3),
                             torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="logits: expected a 3-D array"):
        masked_cross_entropy(torch.zeros(4, 5), torch.zeros(4, dtype=torch.int64),
                             torch.ones(4, dtype=torch.bool))


@pytest.mark.parametrize("batch_first", [False, True])
def test_last_step_outputs_picks_the_last_real_step(batch_first):
    lengths = [3, 1, 4]
    seqs = random_sequences(lengths, (2,))
    outputs = pad_sequence(seqs, batch_first=batch_first)
    last = last_step_outputs(outputs, torch.tensor(lengths), batch_first=batch_first)
    assert torch.equal(last, torch.stack([s[-1] for s in seqs]))
    with pytest.raises(ValueError, match="lengths: expected every length <= T = 4"):
        last_step_outputs(outputs, [5, 1, 1], batch_first=batch_first)
