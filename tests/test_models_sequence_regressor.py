"""SequenceRegressor (course_pkg.nn layer + linear head) against torch.nn.RNN/GRU/LSTM + Linear.

The outside reference is PyTorch's own modules: the same seed must give the same initial weights,
and the same weights the same predictions and gradients (float64).
"""

import pytest
import torch

from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.sequence_regressor import SequenceRegressor

TORCH_LAYERS = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def torch_reference(cell, input_size, hidden_size, output_size, seed):
    """torch.nn layer + Linear, built in the same order after the same seed."""
    torch.manual_seed(seed)
    layer = TORCH_LAYERS[cell](input_size, hidden_size)
    head = torch.nn.Linear(hidden_size, output_size)
    return layer.double(), head.double()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_same_seed_gives_torch_initial_weights(cell):
    torch.manual_seed(3)
    ours = SequenceRegressor(cell, input_size=2, hidden_size=5, output_size=1).double()
    layer, head = torch_reference(cell, 2, 5, 1, seed=3)
    reference = {**{f"recurrent.{k}": v for k, v in layer.state_dict().items()},
                 **{f"head.{k}": v for k, v in head.state_dict().items()}}
    ours_state = ours.state_dict()
    assert set(ours_state) == set(reference)
    for name, value in reference.items():
        assert torch.equal(ours_state[name], value), f"{cell}: {name} differs from torch's"


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_predictions_and_gradients_match_torch(cell):
    torch.manual_seed(0)
    ours = SequenceRegressor(cell, input_size=3, hidden_size=4, output_size=2).double()
    layer, head = torch_reference(cell, 3, 4, 2, seed=0)
    x = torch.randn(7, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    target = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    prediction = ours(x)                                       # (B, O)
    states, _ = layer(x)
    expected = head(states[-1])
    assert prediction.shape == (5, 2)
    torch.testing.assert_close(prediction, expected, rtol=0, atol=1e-12)

    ((prediction - target) ** 2).sum().backward()
    ((expected - target) ** 2).sum().backward()
    for name, p in layer.named_parameters():
        torch.testing.assert_close(getattr(ours.recurrent, name).grad, p.grad, rtol=0, atol=1e-12,
                                   msg=f"{cell}: gradient of {name}")
    torch.testing.assert_close(ours.head.weight.grad, head.weight.grad, rtol=0, atol=1e-12)


def test_two_layers_match_a_two_layer_torch_lstm():
    torch.manual_seed(0)
    ours = SequenceRegressor("lstm", input_size=3, hidden_size=4, num_layers=2).double()
    torch.manual_seed(0)
    layer = torch.nn.LSTM(3, 4, num_layers=2).double()
    head = torch.nn.Linear(4, 1).double()
    assert set(ours.recurrent.state_dict()) == set(layer.state_dict())
    for name, value in layer.state_dict().items():
        assert torch.equal(ours.recurrent.state_dict()[name], value), name
    x = torch.randn(6, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours(x), head(layer(x)[0][-1]), rtol=0, atol=1e-12)


def test_sru_reads_out_the_last_output_of_the_sru_stack():
    # the SRU itself is checked against its equations in the tests of course_pkg.nn.sru; here:
    # the regressor is that stack's last output through the head, and it trains end to end
    torch.manual_seed(0)
    model = SequenceRegressor("sru", input_size=2, hidden_size=5).double()
    x = torch.rand(8, 3, 2, dtype=torch.float64)
    outputs, _ = model.recurrent(x)                            # (T, B, H)
    torch.testing.assert_close(model(x), model.head(outputs[-1]), rtol=0, atol=0)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_hidden_states_shape_and_last_step():
    torch.manual_seed(0)
    model = SequenceRegressor("lstm", input_size=2, hidden_size=6)
    x = torch.rand(9, 4, 2)
    states = model.hidden_states(x)
    assert states.shape == (9, 4, 6)
    torch.testing.assert_close(model(x), model.head(states[-1]))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_count_parameters_matches_the_formula(cell):
    D, H, O = 2, 32, 1
    G = GATE_BLOCKS[cell]
    expected = G * (H * D + H * H + 2 * H) + (H * O + O)   # W_ih, W_hh, two biases; the head
    assert count_parameters(SequenceRegressor(cell, D, H, O)) == expected
    assert count_parameters(TORCH_LAYERS[cell](D, H)) == G * (H * D + H * H + 2 * H)


def test_count_parameters_skips_frozen_ones_and_refuses_non_modules():
    model = SequenceRegressor("rnn", 2, 3)
    model.head.weight.requires_grad_(False)
    assert count_parameters(model) == (3 * 2 + 3 * 3 + 2 * 3) + 1
    with pytest.raises(TypeError, match="module"):
        count_parameters([torch.zeros(3)])


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="cell"):
        SequenceRegressor("transformer")
    with pytest.raises(ValueError, match="hidden_size"):
        SequenceRegressor("gru", hidden_size=0)
    with pytest.raises(TypeError, match="input_size"):
        SequenceRegressor("gru", input_size=2.0)
    model = SequenceRegressor("gru", input_size=2, hidden_size=3)
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 2\).*got \(5, 4, 3\)"):
        model(torch.zeros(5, 4, 3))
    with pytest.raises(ValueError, match="x: expected a 3-D"):
        model(torch.zeros(5, 2))
    with pytest.raises(TypeError, match="x: expected a floating"):
        model(torch.zeros(5, 4, 2, dtype=torch.int64))
