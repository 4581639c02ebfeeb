"""Neural Turing machine (course_pkg.models.ntm): each addressing step against hand-computed
values and the paper's equations, gradients, and a tiny copy task learned by the model."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.algorithmic import ntm_copy_task
from course_pkg.models.ntm import (
    NeuralTuringMachine,
    address,
    circular_shift,
    content_addressing,
    interpolate,
    memory_read,
    memory_write,
    sharpen,
)

DOUBLE = torch.float64



def tensor(values):
    return torch.tensor(values, dtype=DOUBLE)


def column(value, batch=1):
    return torch.full((batch, 1), value, dtype=DOUBLE)


def softmax_list(scores):
    exps = [math.exp(s) for s in scores]
    return [e / sum(exps) for e in exps]


def shift_by_equation(w, s):
    """Eq. (8) of Graves et al. as a plain loop: w~_i = sum_j w_j s(i - j mod N), s over -R..R."""
    n, radius = len(w), len(s) // 2
    result = []
    for i in range(n):
        total = 0.0
        for j in range(n):
            offset = (i - j) % n
            offset = offset - n if offset > n // 2 else offset  # as a signed offset
            if -radius <= offset <= radius:
                total += w[j] * s[offset + radius]
        result.append(total)
    return result


# ----------------------------------------------------------------------------------------------
# content addressing
# ----------------------------------------------------------------------------------------------
def test_content_addressing_matches_hand_computation():
    memory = tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    key = tensor([[2.0, 0.0]])  # cosine 1, 0, 1/sqrt(2): the length of the key does not matter
    expected = softmax_list([3.0 * 1.0, 3.0 * 0.0, 3.0 / math.sqrt(2)])
    assert torch.allclose(content_addressing(memory, key, column(3.0)), tensor([expected]))


def test_content_addressing_matches_torch_cosine_similarity():
    g = torch.Generator().manual_seed(0)
    memory = torch.randn(3, 6, 4, generator=g, dtype=DOUBLE)
    key = torch.randn(3, 4, generator=g, dtype=DOUBLE)
    beta = torch.rand(3, 1, generator=g, dtype=DOUBLE) * 5
    cosine = F.cosine_similarity(memory, key.unsqueeze(1), dim=2)  # (3, 6)
    assert torch.allclose(content_addressing(memory, key, beta), torch.softmax(beta * cosine, 1))


def test_content_addressing_with_zero_strength_is_uniform():
    memory = torch.randn(2, 5, 3, dtype=DOUBLE)
    w = content_addressing(memory, torch.randn(2, 3, dtype=DOUBLE), column(0.0, 2))
    assert torch.allclose(w, torch.full((2, 5), 0.2, dtype=DOUBLE))


# ----------------------------------------------------------------------------------------------
# interpolation, shift, sharpening
# ----------------------------------------------------------------------------------------------
def test_interpolate_matches_hand_computation_and_limits():
    w_content = tensor([[0.5, 0.5, 0.0]])
    w_prev = tensor([[0.0, 0.0, 1.0]])
    assert torch.allclose(interpolate(w_content, w_prev, column(0.25)),
                          tensor([[0.125, 0.125, 0.75]]))
    assert torch.equal(interpolate(w_content, w_prev, column(1.0)), w_content)  # g = 1: content
    assert torch.equal(interpolate(w_content, w_prev, column(0.0)), w_prev)  # g = 0: keep


def test_circular_shift_by_one_moves_weights_and_wraps_round():
    w = tensor([[0.1, 0.2, 0.3, 0.4]])
    plus_one = circular_shift(w, tensor([[0.0, 0.0, 1.0]]))  # s over offsets (-1, 0, +1)
    minus_one = circular_shift(w, tensor([[1.0, 0.0, 0.0]]))
    assert torch.allclose(plus_one, tensor([[0.4, 0.1, 0.2, 0.3]]))
    assert torch.allclose(minus_one, tensor([[0.2, 0.3, 0.4, 0.1]]))


def test_circular_shift_with_all_weight_on_offset_zero_is_identity():
    w = torch.softmax(torch.randn(3, 7, dtype=DOUBLE), dim=1)
    s = tensor([[0.0, 0.0, 1.0, 0.0, 0.0]] * 3)
    assert torch.equal(circular_shift(w, s), w)


def test_circular_shift_blurs_as_hand_computed():
    w = tensor([[0.1, 0.2, 0.3, 0.4]])
    s = tensor([[0.25, 0.5, 0.25]])
    # w~_i = 0.25 w_{i+1} + 0.5 w_i + 0.25 w_{i-1}
    expected = [0.25 * 0.2 + 0.5 * 0.1 + 0.25 * 0.4, 0.25 * 0.3 + 0.5 * 0.2 + 0.25 * 0.1,
                0.25 * 0.4 + 0.5 * 0.3 + 0.25 * 0.2, 0.25 * 0.1 + 0.5 * 0.4 + 0.25 * 0.3]
    assert torch.allclose(circular_shift(w, s), tensor([expected]))


@pytest.mark.parametrize("num_slots, radius", [(5, 2), (6, 1), (3, 1)])
def test_circular_shift_matches_the_equation(num_slots, radius):
    g = torch.Generator().manual_seed(num_slots)
    w = torch.softmax(torch.randn(2, num_slots, generator=g, dtype=DOUBLE), dim=1)
    s = torch.softmax(torch.randn(2, 2 * radius + 1, generator=g, dtype=DOUBLE), dim=1)
    got = circular_shift(w, s)
    for b in range(2):
        assert torch.allclose(got[b], tensor(shift_by_equation(w[b].tolist(), s[b].tolist())))
    assert torch.allclose(got.sum(dim=1), torch.ones(2, dtype=DOUBLE))  # still a distribution


def test_sharpen_matches_hand_computation_and_gamma_one_is_identity():
    w = tensor([[0.5, 0.3, 0.2]])
    total = 0.25 + 0.09 + 0.04
    expected = [[0.25 / total, 0.09 / total, 0.04 / total]]  # w^2 / sum w^2
    assert torch.allclose(sharpen(w, column(2.0)), tensor(expected))
    assert torch.allclose(sharpen(w, column(1.0)), w)
    assert torch.allclose(sharpen(w, column(200.0)), tensor([[1.0, 0.0, 0.0]]))


def test_address_chains_the_four_steps():
    memory = tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]]])
    w_prev = tensor([[0.0, 1.0, 0.0, 0.0]])
    key, beta, g, s, gamma = tensor([[1.0, 0.0]]), column(2.0), column(0.5), \
        tensor([[0.1, 0.8, 0.1]]), column(1.5)
    # by hand, step by step, in plain Python
    cosines = [1.0, 0.0, 1 / math.sqrt(2), -1.0]
    w_c = softmax_list([2.0 * c for c in cosines])
    w_g = [0.5 * a + 0.5 * b for a, b in zip(w_c, [0.0, 1.0, 0.0, 0.0])]
    w_s = shift_by_equation(w_g, [0.1, 0.8, 0.1])
    powered = [x ** 1.5 for x in w_s]
    expected = [x / sum(powered) for x in powered]
    assert torch.allclose(address(memory, w_prev, key, beta, g, s, gamma), tensor([expected]))


# ----------------------------------------------------------------------------------------------
# reading and writing
# ----------------------------------------------------------------------------------------------
def test_memory_read_matches_hand_computation():
    memory = tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    w = tensor([[0.5, 0.25, 0.25]])
    assert torch.allclose(memory_read(memory, w), tensor([[0.5 + 0.75 + 1.25, 1.0 + 1.0 + 1.5]]))


def test_memory_write_matches_hand_computation():
    memory = tensor([[[1.0, 2.0], [3.0, 4.0]]])
    w, erase, add = tensor([[0.5, 0.25]]), tensor([[1.0, 0.0]]), tensor([[2.0, -1.0]])
    # M_i <- M_i * (1 - w_i e) + w_i a
    expected = [[1.0 * (1 - 0.5) + 0.5 * 2.0, 2.0 * (1 - 0.0) + 0.5 * -1.0],
                [3.0 * (1 - 0.25) + 0.25 * 2.0, 4.0 * (1 - 0.0) + 0.25 * -1.0]]
    new_memory = memory_write(memory, w, erase, add)
    assert torch.allclose(new_memory, tensor([expected]))
    assert memory.tolist() == [[[1.0, 2.0], [3.0, 4.0]]]  # the old memory is untouched


def test_full_erase_on_one_slot_replaces_it_and_zero_write_changes_nothing():
    memory = torch.randn(2, 4, 3, dtype=DOUBLE)
    one_hot = torch.zeros(2, 4, dtype=DOUBLE)
    one_hot[:, 2] = 1.0
    add = torch.randn(2, 3, dtype=DOUBLE)
    written = memory_write(memory, one_hot, torch.ones(2, 3, dtype=DOUBLE), add)
    assert torch.equal(written[:, 2], add)
    assert torch.equal(written[:, [0, 1, 3]], memory[:, [0, 1, 3]])
    assert torch.allclose(memory_read(written, one_hot), add)  # read back what was written
    zeros = torch.zeros(2, 3, dtype=DOUBLE)
    w = torch.softmax(torch.randn(2, 4, dtype=DOUBLE), dim=1)
    assert torch.equal(memory_write(memory, w, zeros, zeros), memory)


# ----------------------------------------------------------------------------------------------
# gradients
# ----------------------------------------------------------------------------------------------
def test_gradcheck_every_step():
    g = torch.Generator().manual_seed(1)

    def rand(*shape, positive=False):
        x = torch.randn(*shape, generator=g, dtype=DOUBLE)
        return (x.abs() + 0.5 if positive else x).requires_grad_()

    def weighting(*shape):
        return torch.softmax(torch.randn(*shape, generator=g, dtype=DOUBLE), 1).requires_grad_()

    memory = rand(2, 5, 3)
    assert torch.autograd.gradcheck(content_addressing,
                                    (memory, rand(2, 3), rand(2, 1, positive=True)))
    assert torch.autograd.gradcheck(interpolate, (weighting(2, 5), weighting(2, 5),
                                                  torch.rand(2, 1, dtype=DOUBLE).requires_grad_()))
    assert torch.autograd.gradcheck(circular_shift, (weighting(2, 5), weighting(2, 3)))
    assert torch.autograd.gradcheck(sharpen, (weighting(2, 5), rand(2, 1, positive=True) + 1))
    assert torch.autograd.gradcheck(memory_read, (memory, weighting(2, 5)))
    assert torch.autograd.gradcheck(memory_write, (memory, weighting(2, 5),
                                                   torch.rand(2, 3, dtype=DOUBLE).requires_grad_(),
                                                   rand(2, 3)))


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_bad_input_names_the_argument():
    memory = torch.randn(2, 5, 3, dtype=DOUBLE)
    w = torch.softmax(torch.randn(2, 5, dtype=DOUBLE), 1)
    with pytest.raises(ValueError, match="memory"):
        content_addressing(memory[0], torch.randn(2, 3), column(1.0, 2))
    with pytest.raises(ValueError, match="^key: "):
        content_addressing(memory, torch.randn(2, 4, dtype=DOUBLE), column(1.0, 2))
    with pytest.raises(ValueError, match="^beta: "):
        content_addressing(memory, torch.randn(2, 3, dtype=DOUBLE), torch.ones(2, dtype=DOUBLE))
    with pytest.raises(ValueError, match="^w_prev: "):
        interpolate(w, w[:, :4], column(0.5, 2))
    with pytest.raises(ValueError, match="^g: "):
        interpolate(w, w, column(0.5, 3))
    with pytest.raises(ValueError, match="^s: "):
        circular_shift(w, torch.ones(2, 2, dtype=DOUBLE) / 2)  # even number of offsets
    with pytest.raises(ValueError, match="^s: "):
        circular_shift(w, torch.ones(2, 7, dtype=DOUBLE) / 7)  # more offsets than slots
    with pytest.raises(ValueError, match="^gamma: "):
        sharpen(w, column(2.0, 1))
    with pytest.raises(ValueError, match="^w: "):
        memory_read(memory, w[:, :4])
    with pytest.raises(ValueError, match="erase"):
        memory_write(memory, w, torch.ones(2, 4, dtype=DOUBLE), torch.ones(2, 3, dtype=DOUBLE))
    with pytest.raises(TypeError, match="memory"):
        memory_read(memory.long(), w)
    with pytest.raises(ValueError, match="shift_radius"):
        NeuralTuringMachine(3, 2, memory_slots=4, shift_radius=2)
    with pytest.raises(ValueError, match="inputs"):
        NeuralTuringMachine(3, 2)(torch.zeros(4, 2, 5))


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------
def test_one_step_matches_the_paper_equations_with_torch_lstm_cell():
    torch.manual_seed(0)
    ntm = NeuralTuringMachine(3, 2, controller_size=6, memory_slots=5, memory_width=4,
                              read_heads=2, shift_radius=1).double()
    reference_cell = torch.nn.LSTMCell(3 + 2 * 4, 6).double()
    reference_cell.load_state_dict(ntm.controller.state_dict())
    state = ntm.initial_state(2)
    with torch.no_grad():  # a memory with content, so that the content weights differ
        state = state._replace(memory=torch.randn(2, 5, 4, dtype=DOUBLE))
    x = torch.randn(2, 3, dtype=DOUBLE)
    logits, new_state = ntm.step(x, state)

    h, c = reference_cell(torch.cat([x, state.read_vectors.flatten(1)], 1), state.controller)
    params = ntm.head_params(h)
    size = 4 + 3 + 3  # key, beta, g, 3 shifts, gamma
    previous = [state.read_weights[:, 0], state.read_weights[:, 1], state.write_weights]
    weights = []
    for head in range(3):
        p = params[:, head * size : (head + 1) * size]
        key, beta, g = p[:, :4], F.softplus(p[:, 4:5]), torch.sigmoid(p[:, 5:6])
        s, gamma = torch.softmax(p[:, 6:9], 1), 1 + F.softplus(p[:, 9:10])
        cosine = F.cosine_similarity(state.memory, key.unsqueeze(1), dim=2)
        w = g * torch.softmax(beta * cosine, 1) + (1 - g) * previous[head]
        w = s[:, 0:1] * w.roll(-1, 1) + s[:, 1:2] * w + s[:, 2:3] * w.roll(1, 1)
        weights.append(w ** gamma / (w ** gamma).sum(1, keepdim=True))
    reads = [torch.einsum("bn,bnm->bm", w, state.memory) for w in weights[:2]]
    erase, add = torch.sigmoid(params[:, 3 * size : 3 * size + 4]), torch.tanh(params[:, -4:])
    memory = state.memory * (1 - weights[2].unsqueeze(2) * erase.unsqueeze(1)) \
        + weights[2].unsqueeze(2) * add.unsqueeze(1)
    expected_logits = ntm.output(torch.cat([h, *reads], 1))

    assert torch.allclose(new_state.read_weights[:, 0], weights[0])
    assert torch.allclose(new_state.read_weights[:, 1], weights[1])
    assert torch.allclose(new_state.write_weights, weights[2])
    assert torch.allclose(new_state.memory, memory)
    assert torch.allclose(logits, expected_logits)


def test_forward_shapes_and_trace():
    torch.manual_seed(0)
    ntm = NeuralTuringMachine(5, 4, controller_size=16, memory_slots=8, memory_width=6,
                              read_heads=2)
    inputs, _, _ = ntm_copy_task(3, 2, bits=4, seed=0)  # (5, 3, 5)
    logits, trace = ntm(inputs, return_trace=True)
    assert logits.shape == (5, 3, 4)
    assert trace.read_weights.shape == (5, 3, 2, 8) and trace.write_weights.shape == (5, 3, 8)
    assert torch.allclose(trace.read_weights.sum(-1), torch.ones(5, 3, 2))
    assert torch.allclose(trace.write_weights.sum(-1), torch.ones(5, 3))
    assert torch.equal(ntm(inputs), logits)


def test_ntm_learns_a_tiny_copy_task():
    torch.manual_seed(0)
    inputs, targets, mask = ntm_copy_task(8, 3, bits=4, seed=0)
    ntm = NeuralTuringMachine(5, 4, controller_size=32, memory_slots=8, memory_width=8)
    optimizer = torch.optim.Adam(ntm.parameters(), lr=1e-2)
    for _ in range(250):
        loss = F.binary_cross_entropy_with_logits(ntm(inputs)[mask], targets[mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    bits = (ntm(inputs)[mask] > 0).float()
    assert torch.equal(bits, targets[mask])
