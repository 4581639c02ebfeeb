"""course_pkg.models.recurrent_char_lm: parameter counts written from the layer formulas, the
LSTM kind against torch.nn.LSTM, the loss by hand, the carried state, and bad input."""

import pytest
import torch

from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.recurrent_char_lm import MODEL_KINDS, RecurrentCharLM


def test_parameter_counts_follow_the_formulas():
    V, E, H = 30, 7, 9
    lstm = RecurrentCharLM("lstm", V, E, H)
    assert count_parameters(lstm) == V * E + 4 * (H * E + H * H + 2 * H) + V * H + V
    mog = RecurrentCharLM("mogrifier", V, E, H, rounds=5)
    assert count_parameters(mog) == count_parameters(lstm) + 3 * E * H + 2 * H * E
    low = RecurrentCharLM("mogrifier", V, E, H, rounds=3, rank=2)
    assert count_parameters(low) == count_parameters(lstm) + 2 * (E * 2 + 2 * H) + (H * 2 + 2 * E)


def test_lstm_model_matches_torch_lstm():
    torch.manual_seed(0)
    model = RecurrentCharLM("lstm", 11, 4, 5).double()
    reference = torch.nn.LSTM(4, 5).double()
    reference.load_state_dict(model.recurrent.state_dict())    # same names as torch
    ids = torch.randint(0, 11, (6, 3))
    logits, _ = model(ids)
    states, _ = reference(model.embedding(ids))
    torch.testing.assert_close(logits, model.output(states), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_loss_is_the_mean_cross_entropy_and_the_state_carries_over(kind):
    torch.manual_seed(1)
    model = RecurrentCharLM(kind, 8, 3, 4, rounds=3).double()
    ids = torch.randint(0, 8, (10, 2))  # (T + 1, B)
    inputs, targets = ids[:-1], ids[1:]  # (T, B) each
    loss, (h, c) = model.loss(inputs, targets)
    assert h.shape == c.shape == (1, 2, 4)
    logits, _ = model(inputs)  # (T, B, V)
    by_hand = -torch.log_softmax(logits, dim=2).gather(2, targets[..., None]).mean()
    torch.testing.assert_close(loss, by_hand, rtol=1e-12, atol=1e-12)
    # reading the text in two pieces with the state carried gives the logits of one piece
    first, state = model(inputs[:4])
    second, _ = model(inputs[4:], state)
    torch.testing.assert_close(torch.cat([first, second]), logits, rtol=1e-10, atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        RecurrentCharLM("gru", 10, 4, 5)
    with pytest.raises(ValueError, match="hidden_size"):
        RecurrentCharLM("lstm", 10, 4, 0)
    model = RecurrentCharLM("lstm", 10, 4, 5)
    with pytest.raises(ValueError, match="ids"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="targets"):
        model.loss(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 1, dtype=torch.long))
