"""The forget-bias widget of chapter 16, built headlessly and checked against c_t = (1-f) f^(t-1)
computed here from the SRU equations (not from the package)."""

import math
import re

import pytest
import torch

from course_pkg.widgets.sru import forget_bias_widget, pulse_cell_trace


def test_trace_matches_closed_form():
    for bias in (-1.0, 0.0, 2.5):
        f = 1 / (1 + math.exp(-bias))
        expected = torch.tensor([(1 - f) * f ** t for t in range(20)], dtype=torch.float64)
        torch.testing.assert_close(pulse_cell_trace(bias, 20), expected)


def test_slider_switches_view_and_shows_half_life():
    w = forget_bias_widget(biases=(0.0, 3.0), steps=30)
    first = w.stack.children[0].value
    w.slider.index = 1
    assert w.stack.selected_index == 1
    view = w.stack.children[1].value
    assert view != first
    f = 1 / (1 + math.exp(-3.0))
    assert f"{f:.4f}" in view
    assert f"{math.log(0.5) / math.log(f):.2f}" in view
    half_life = float(re.search(r"half-life <b>([0-9.]+)</b>", view).group(1))
    assert half_life > float(re.search(r"half-life <b>([0-9.]+)</b>", first).group(1))


def test_bad_arguments():
    with pytest.raises(TypeError, match="forget_bias"):
        pulse_cell_trace("1", 5)
    with pytest.raises(ValueError, match="steps"):
        pulse_cell_trace(1.0, 0)
    with pytest.raises(ValueError, match="biases"):
        forget_bias_widget(biases=(float("nan"),))
