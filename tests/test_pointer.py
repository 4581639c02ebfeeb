"""Pointer network (course_pkg.models.pointer): the masked pointer step by hand, the model against
torch's LSTM and the paper's equation, and sorting a tiny batch."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.algorithmic import sort_numbers
from course_pkg.models.pointer import PointerNetwork, decoding_with_mask, pointer_step

DOUBLE = torch.float64



def tensor(values):
    return torch.tensor(values, dtype=DOUBLE)


# ----------------------------------------------------------------------------------------------
# the pointer step
# ----------------------------------------------------------------------------------------------
def test_pointer_step_matches_hand_computation():
    scores = tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    chosen = torch.tensor([[False, True, False], [False, False, True]])
    log_probs = pointer_step(scores, chosen)
    normaliser = math.log(math.exp(1.0) + math.exp(3.0))
    assert math.isclose(log_probs[0, 0].item(), 1.0 - normaliser)
    assert math.isclose(log_probs[0, 2].item(), 3.0 - normaliser)
    assert log_probs[0, 1].item() == -math.inf  # probability exactly 0
    assert torch.allclose(log_probs[1, :2], tensor([math.log(0.5)] * 2))
    assert log_probs[1, 2].item() == -math.inf
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(2, dtype=DOUBLE))


def test_pointer_step_without_mask_is_a_log_softmax():
    scores = tensor([[1.0, 2.0, 3.0]])
    normaliser = math.log(math.exp(1.0) + math.exp(2.0) + math.exp(3.0))
    assert torch.allclose(pointer_step(scores), tensor([[1 - normaliser, 2 - normaliser,
                                                         3 - normaliser]]))
    nothing_chosen = torch.zeros(1, 3, dtype=torch.bool)
    assert torch.equal(pointer_step(scores, nothing_chosen), pointer_step(scores))


def test_gradcheck_pointer_step_with_mask():
    scores = torch.randn(3, 5, dtype=DOUBLE, generator=torch.Generator().manual_seed(0),
                         requires_grad=True)
    chosen = torch.tensor([[True, False, False, True, False]] * 3)
    # the chosen entries are -inf: check the gradient of the finite ones
    assert torch.autograd.gradcheck(lambda s: pointer_step(s, chosen)[~chosen], (scores,))


def test_pointer_step_bad_input():
    scores = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="chosen"):
        pointer_step(scores, torch.tensor([[True, True, True], [False, True, True]]))
    with pytest.raises(TypeError, match="chosen"):
        pointer_step(scores, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="chosen"):
        pointer_step(scores, torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="scores"):
        pointer_step(torch.zeros(3), None)


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------
def test_teacher_forced_forward_matches_torch_lstm_and_the_paper():
    torch.manual_seed(0)
    model = PointerNetwork(input_size=2, hidden_size=5).double()
    encoder, decoder = torch.nn.LSTM(2, 5).double(), torch.nn.LSTMCell(2, 5).double()
    encoder.load_state_dict(model.encoder.state_dict())
    decoder.load_state_dict(model.decoder.state_dict())
    inputs = torch.randn(4, 3, 2, dtype=DOUBLE)
    targets = torch.stack([torch.randperm(4) for _ in range(3)], dim=1)  # (4, 3)
    log_probs, pointers = model(inputs, targets)
    assert torch.equal(pointers, targets)

    e, (h, c) = encoder(inputs)  # (N, B, H)
    w1, w2, v = model.pointer.key_proj.weight, model.pointer.query_proj.weight, model.pointer.v
    state, x = (h[0], c[0]), model.start.expand(3, -1)
    for i in range(4):
        state = decoder(x, state)
        d = state[0]  # (B, H)
        u = torch.tanh(e @ w1.T + d @ w2.T) @ v  # (N, B): u_ij = v^T tanh(W1 e_j + W2 d_i)
        u = u.T.clone()  # (B, N)
        for b in range(3):
            u[b, targets[:i, b]] = -math.inf  # already chosen
        assert torch.allclose(log_probs[i], torch.log_softmax(u, dim=1))
        x = inputs[targets[i], torch.arange(3)]


def test_greedy_decoding_points_at_every_input_once():
    torch.manual_seed(1)
    inputs, _ = sort_numbers(6, 7, seed=1)
    model = PointerNetwork(1, 16)
    with torch.no_grad():
        log_probs, pointers = model(inputs)
    assert log_probs.shape == (7, 6, 7) and pointers.shape == (7, 6)
    assert torch.equal(pointers.sort(dim=0).values, torch.arange(7).unsqueeze(1).expand(7, 6))
    for i in range(7):  # at step i the i earlier choices have probability exactly 0
        for b in range(6):
            assert torch.all(log_probs[i, b, pointers[:i, b]] == -math.inf)
    # decoding is the argmax of the teacher-forced model fed its own choices
    with torch.no_grad():
        forced, _ = model(inputs, pointers)
    assert torch.allclose(forced, log_probs)
    assert torch.equal(forced.argmax(2), pointers)


def test_without_masking_nothing_is_excluded():
    torch.manual_seed(2)
    inputs, targets = sort_numbers(3, 5, seed=2)
    log_probs, _ = PointerNetwork(1, 8, mask_chosen=False)(inputs, targets)
    assert torch.isfinite(log_probs).all()


def test_decoding_with_mask_overrides_the_setting_only_inside_the_block():
    model = PointerNetwork(1, 4, mask_chosen=True)
    with decoding_with_mask(model, False):
        assert model.mask_chosen is False
    assert model.mask_chosen is True
    with decoding_with_mask(model, None):
        assert model.mask_chosen is True
    with pytest.raises(RuntimeError, match="inside"):
        with decoding_with_mask(model, False):
            raise RuntimeError("inside")
    assert model.mask_chosen is True
    with pytest.raises(TypeError, match="mask_chosen: expected True, False or None, got 'no'"):
        with decoding_with_mask(model, "no"):
            pass


def test_model_bad_input():
    model = PointerNetwork(1, 8)
    inputs, targets = sort_numbers(2, 4)
    with pytest.raises(ValueError, match="inputs"):
        model(inputs.expand(-1, -1, 2))
    with pytest.raises(ValueError, match="targets"):
        model(inputs, targets[:3])
    with pytest.raises(TypeError, match="targets"):
        model(inputs, targets.float())
    with pytest.raises(ValueError, match="hidden_size"):
        PointerNetwork(1, 0)


def test_pointer_network_learns_to_sort_a_tiny_batch():
    torch.manual_seed(0)
    inputs, targets = sort_numbers(8, 5, seed=0)
    model = PointerNetwork(1, 32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        log_probs, _ = model(inputs, targets)
        loss = F.nll_loss(log_probs.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    with torch.no_grad():
        _, pointers = model(inputs)
    assert torch.equal(pointers, targets)  # every sequence exactly sorted


# ----------------------------------------------------------------------------------------------
# the dot-product score, u_ij = d_i . e_j
# ----------------------------------------------------------------------------------------------
def test_dot_score_forward_matches_torch_lstm_and_a_plain_dot_product():
    """Teacher-forced log-probabilities against torch.nn.LSTM / LSTMCell with the same weights,
    the scores written out as d_i^T e_j and the chosen positions masked by hand."""
    torch.manual_seed(3)
    model = PointerNetwork(2, 5, score="dot").double()
    assert not any(name.startswith("pointer.") for name, _ in model.named_parameters())
    encoder, decoder = torch.nn.LSTM(2, 5).double(), torch.nn.LSTMCell(2, 5).double()
    encoder.load_state_dict(model.encoder.state_dict())
    decoder.load_state_dict(model.decoder.state_dict())
    inputs = torch.randn(4, 3, 2, dtype=DOUBLE)
    targets = torch.stack([torch.randperm(4) for _ in range(3)], dim=1)  # (4, 3)
    log_probs, pointers = model(inputs, targets)
    assert torch.equal(pointers, targets)

    e, (h, c) = encoder(inputs)  # (N, B, H)
    state, x = (h[0], c[0]), model.start.expand(3, -1)
    for i in range(4):
        state = decoder(x, state)
        u = torch.einsum("bh,nbh->bn", state[0], e).clone()  # (B, N): u_ij = d_i . e_j
        for b in range(3):
            u[b, targets[:i, b]] = -math.inf  # already chosen
        assert torch.allclose(log_probs[i], torch.log_softmax(u, dim=1))
        x = inputs[targets[i], torch.arange(3)]


def test_gradcheck_dot_score_pointer_network():
    """Finite differences in float64 against autograd, through the LSTMs and the dot score."""
    torch.manual_seed(4)
    model = PointerNetwork(1, 3, score="dot").double()
    inputs = torch.randn(3, 2, 1, dtype=DOUBLE, requires_grad=True)
    targets = torch.stack([torch.randperm(3) for _ in range(2)], dim=1)  # (3, 2)
    # the masked (-inf) entries have no gradient: check the log-probabilities of the targets
    assert torch.autograd.gradcheck(
        lambda x: model(x, targets)[0].gather(2, targets[:, :, None]), (inputs,))


def test_dot_score_greedy_decoding_is_a_permutation_and_bad_score_is_refused():
    torch.manual_seed(5)
    inputs, _ = sort_numbers(6, 7, seed=2)
    with torch.no_grad():
        _, pointers = PointerNetwork(1, 16, score="dot")(inputs)
    assert torch.equal(pointers.sort(dim=0).values, torch.arange(7)[:, None].expand(7, 6))
    with pytest.raises(ValueError, match="score"):
        PointerNetwork(1, 8, score="cosine")


def test_dot_score_pointer_network_learns_to_sort_a_tiny_batch():
    torch.manual_seed(0)
    inputs, targets = sort_numbers(8, 5, seed=0)
    model = PointerNetwork(1, 32, score="dot")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        log_probs, _ = model(inputs, targets)
        loss = F.nll_loss(log_probs.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        _, pointers = model(inputs)
    assert torch.equal(pointers, targets)  # every sequence exactly sorted
