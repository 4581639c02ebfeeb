"""course_pkg.models.copy_lstm: the copier is an LSTM layer read out linearly at every step, its
parameter count follows the formula, and bad input is named."""

import pytest
import torch

from course_pkg.models.copy_lstm import CopyLSTM
from course_pkg.models.parameter_count import count_parameters
from course_pkg.nn import LSTM


def test_logits_are_the_linear_read_out_of_every_lstm_state():
    torch.manual_seed(0)
    model = CopyLSTM(6, 5, 7).double()
    inputs = torch.rand(9, 3, 6, dtype=torch.float64)  # (T, B, D)
    logits = model(inputs)
    assert logits.shape == (9, 3, 5)
    # by hand: the LSTM recursion one step at a time, then W h_t + b
    weight_ih, weight_hh = model.lstm.weight_ih_l0, model.lstm.weight_hh_l0  # (4H, D), (4H, H)
    bias = model.lstm.bias_ih_l0 + model.lstm.bias_hh_l0  # (4H,)
    h = c = torch.zeros(3, 7, dtype=torch.float64)
    for t in range(9):
        i, f, g, o = (inputs[t] @ weight_ih.T + h @ weight_hh.T + bias).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        expected = h @ model.output.weight.T + model.output.bias  # (B, O)
        torch.testing.assert_close(logits[t], expected, rtol=1e-10, atol=1e-12)


def test_the_package_lstm_is_a_drop_in():
    torch.manual_seed(3)
    reference = CopyLSTM(5, 4, 6)
    torch.manual_seed(3)
    mine = CopyLSTM(5, 4, 6, lstm=LSTM)
    inputs = torch.rand(7, 2, 5)
    assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), mine.parameters()))
    torch.testing.assert_close(mine(inputs), reference(inputs))


def test_parameter_count_follows_the_formula():
    for bits, hidden in ((4, 40), (3, 10), (6, 1)):
        inputs = bits + 1
        expected = 4 * hidden * (inputs + hidden) + 8 * hidden + (hidden + 1) * bits
        assert count_parameters(CopyLSTM(inputs, bits, hidden)) == expected


def test_bad_input():
    with pytest.raises(ValueError, match="inputs"):
        CopyLSTM(5, 4, 8)(torch.zeros(3, 2, 4))
    with pytest.raises(ValueError, match="inputs"):
        CopyLSTM(5, 4, 8)(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="hidden_size"):
        CopyLSTM(5, 4, 0)
    with pytest.raises(TypeError, match="input_size"):
        CopyLSTM(5.0, 4, 8)
