"""course_pkg.models.char_lm: parity with torch.nn, the model_step protocol, the loss, bad input."""

import math

import numpy as np
import pytest
import torch

from course_pkg.models.char_lm import CharLM
from course_pkg.sampling import beam_search, generate

V, E, H = 9, 4, 6


def make_model(num_layers=1):
    torch.manual_seed(0)
    return CharLM(V, E, H, num_layers).double()


def torch_reference(model, num_layers):
    embedding = torch.nn.Embedding(V, E).double()
    lstm = torch.nn.LSTM(E, H, num_layers=num_layers).double()
    output = torch.nn.Linear(H, V).double()
    embedding.load_state_dict(model.embedding.state_dict())
    lstm.load_state_dict(model.lstm.state_dict())
    output.load_state_dict(model.output.state_dict())
    return lambda ids, state=None: (lambda out: (output(out[0]), out[1]))(lstm(embedding(ids), state))


def random_ids(shape, seed=1):
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("num_layers", [1, 2])
def test_forward_matches_torch_and_continues_from_a_state(num_layers):
    model = make_model(num_layers)
    reference = torch_reference(model, num_layers)
    ids = random_ids((10, 3))
    logits, (h, c) = model(ids)
    expected, (h_ref, c_ref) = reference(ids)
    assert logits.shape == (10, 3, V) and h.shape == c.shape == (num_layers, 3, H)
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close((h, c), (h_ref, c_ref))
    # two halves with the state carried over = the whole sequence at once
    first, state = model(ids[:4])
    second, _ = model(ids[4:], state)
    torch.testing.assert_close(torch.cat([first, second]), logits)


def test_step_is_forward_one_token_at_a_time_and_leaves_the_state_alone():
    model = make_model(2)
    ids = random_ids((6, 2))
    logits, _ = model(ids)
    state = None
    for t in range(6):
        old = None if state is None else tuple(s.clone() for s in state)
        step_logits, new_state = model.step(ids[t], state)
        assert step_logits.shape == (2, V)
        torch.testing.assert_close(step_logits, logits[t])
        if old is not None:
            torch.testing.assert_close(state, old, rtol=0, atol=0)
        state = new_state


def test_loss_is_the_mean_negative_log_probability_of_the_targets():
    model = make_model()
    inputs, targets = random_ids((5, 3), seed=2), random_ids((5, 3), seed=3)
    loss, _ = model.loss(inputs, targets)
    logits = model(inputs)[0].detach().numpy()  # (T, B, V)
    log_probs = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, targets.numpy()[:, :, None], axis=2)
    assert loss.item() == pytest.approx(-picked.mean(), rel=1e-12)
    loss.backward()
    assert model.embedding.weight.grad.abs().sum() > 0


def test_generation_and_beam_search_drive_the_model():
    model = make_model()
    seed = random_ids((3,))
    a = generate(model.step, seed, 20, temperature=1.0, generator=torch.Generator().manual_seed(0))
    b = generate(model.step, seed, 20, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (20,) and 0 <= a.min() and a.max() < V
    greedy = generate(model.step, seed, 8, temperature=0.0)
    (best_ids, log_prob), = beam_search(model.step, seed, beam_width=1, max_length=8)
    assert best_ids == greedy.tolist()
    # the reported log-probability is that of the sequence under the model
    logits, _ = model(torch.cat([seed, greedy])[:, None])
    log_probs = torch.log_softmax(logits[len(seed) - 1:-1, 0], dim=1)  # (8, V)
    assert log_prob == pytest.approx(log_probs.gather(1, greedy[:, None]).sum().item())
    assert log_prob < 0 and math.isfinite(log_prob)


def test_bad_input():
    model = make_model()
    with pytest.raises(ValueError, match=r"ids: expected a 2-D"):
        model(torch.zeros(4, dtype=torch.int64))
    with pytest.raises(TypeError, match="ids: expected integer"):
        model(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"ids: expected ids in \[0, 8\]"):
        model(torch.full((4, 2), V))
    with pytest.raises(ValueError, match=r"input_ids: expected a 1-D"):
        model.step(torch.zeros(1, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="targets: expected the shape of inputs"):
        model.loss(random_ids((4, 2)), random_ids((4, 3)))
    with pytest.raises(ValueError, match="vocab_size"):
        CharLM(0)
    with pytest.raises(ValueError, match="dropout"):
        CharLM(V, dropout=1.5)
