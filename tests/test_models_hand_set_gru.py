"""Hand-set GRUs: checked against torch.nn.GRU with the same weights and against the closed form
h_t = z^t h_0 of the memory cell."""

import math

import numpy as np
import pytest
import torch

from course_pkg.gate_traces import gru_gate_trace
from course_pkg.models.hand_set_gru import (
    encode_words,
    memory_gru,
    memory_half_life,
    turn_aware_gru,
)


def torch_copy(gru):
    reference = torch.nn.GRU(gru.input_size, gru.hidden_size)
    reference.load_state_dict(gru.state_dict())
    return reference


def pulse(num_steps):
    x = torch.zeros(num_steps, 1, 1)
    x[0] = 1.0
    return x


@pytest.mark.parametrize("bias", [-1.0, 0.0, 2.0, 4.5])
def test_memory_gru_decays_geometrically(bias):
    gru = memory_gru(bias)
    x = pulse(30)
    with torch.no_grad():
        h = gru(x)[0][:, 0, 0].double().numpy()
        reference = torch_copy(gru)(x)[0][:, 0, 0].double().numpy()
    np.testing.assert_allclose(h, reference, rtol=1e-6, atol=1e-7)
    z = 1 / (1 + math.exp(-bias))
    stored = (1 - 1 / (1 + math.exp(-(bias - 20.0)))) * math.tanh(3.0)   # h at the pulse
    np.testing.assert_allclose(h, stored * z ** np.arange(30), rtol=1e-5, atol=1e-7)


def test_half_life_is_where_the_state_halves():
    for bias in (0.5, 2.0, 3.0):
        half_life = memory_half_life(bias)
        with torch.no_grad():
            h = memory_gru(bias)(pulse(80))[0][:, 0, 0].numpy()
        first_below = int(np.flatnonzero(h < 0.5 * h[0])[0])
        assert first_below == math.ceil(half_life)
    assert memory_half_life(0.0) == pytest.approx(1.0)   # z = 1/2 halves every step


def test_encode_words():
    x = encode_words("The movie was terrible, but the ending was AMAZING.")
    assert x.shape == (9, 1, 3) and x.dtype == torch.float32
    assert x[3, 0].tolist() == [0, 1, 0]     # terrible
    assert x[4, 0].tolist() == [0, 0, 1]     # but
    assert x[8, 0].tolist() == [1, 0, 0]     # amazing
    assert x[[0, 1, 2, 5, 6, 7]].sum() == 0  # neutral words


TURN = "the plot was dull and the acting was awful but the ending was amazing"


def test_turn_word_resets_the_opinion():
    x = encode_words(TURN)
    aware, unaware = turn_aware_gru(True), turn_aware_gru(False)
    with torch.no_grad():
        h_aware = aware(x)[0][:, 0, 0]
        h_unaware = unaware(x)[0][:, 0, 0]
        torch.testing.assert_close(h_aware, torch_copy(aware)(x)[0][:, 0, 0])
    assert h_aware[-1] > 0.2, "after 'but', the ending should decide: positive"
    assert h_unaware[-1] < 0, "with 'but' as a plain word, two negatives outweigh one positive"
    trace = gru_gate_trace(aware, x)
    turn_step = TURN.split().index("but")
    assert trace.reset_gate[turn_step, 0, 0] < 0.05 and trace.update_gate[turn_step, 0, 0] < 0.05
    assert abs(trace.hidden[turn_step, 0, 0]) < 0.05, "the old opinion is wiped"
    neutral_step = TURN.split().index("plot")
    assert trace.update_gate[neutral_step, 0, 0] > 0.95, "neutral words keep the state"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="update_bias"):
        memory_gru(50.0)
    with pytest.raises(TypeError, match="update_bias"):
        memory_half_life("high")
    with pytest.raises(TypeError, match="sentence"):
        encode_words(["a", "b"])
    with pytest.raises(ValueError, match="sentence"):
        encode_words("  ")
    with pytest.raises(TypeError, match="respect_turn"):
        turn_aware_gru(1)
