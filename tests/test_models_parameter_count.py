"""course_pkg.models.parameter_count: counting a model's weights, and the width for a budget."""

import pytest
import torch
from torch import nn

from course_pkg.models.parameter_count import closest_size, count_parameters


def test_count_parameters_counts_trainable_numbers_only():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))  # (3*4 + 4) + (4*2 + 2) = 26
    assert count_parameters(model) == 26
    model[0].weight.requires_grad_(False)                    # 12 frozen
    assert count_parameters(model) == 14
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module, got Tensor"):
        count_parameters(torch.zeros(3))


def test_closest_size_of_an_lstm_layer_against_torch():
    # one LSTM layer with D = 5 inputs: 4H(D + H) + 8H parameters, as torch.nn.LSTM counts them
    def lstm_count(H):
        return count_parameters(nn.LSTM(5, H))

    assert lstm_count(10) == 4 * 10 * 15 + 80 == 680
    assert lstm_count(11) == 4 * 11 * 16 + 88 == 792
    assert closest_size(lstm_count, 680) == 10     # exactly
    assert closest_size(lstm_count, 735) == 10     # 55 from 680, 57 from 792
    assert closest_size(lstm_count, 737) == 11     # 57 from 680, 55 from 792
    assert closest_size(lstm_count, 1) == 1        # below the smallest layer


def test_closest_size_takes_the_smaller_width_on_a_tie():
    assert closest_size(lambda H: 10 * H, 25) == 2   # 20 and 30 are both 5 away
    with pytest.raises(ValueError, match="budget"):
        closest_size(lambda H: H, 0)
