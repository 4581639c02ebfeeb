"""course_pkg.widgets.elman (chapter 2): the hidden state of an Elman RNN as W_hh grows, built
headlessly, moved and read back; its numbers are torch.nn.RNN's, computed here independently."""

import re

import numpy as np
import pytest
import torch

from course_pkg.widgets import hidden_state_widget
from course_pkg.widgets.elman import REPORTED_STEPS, hidden_state_demo


def torch_states(scale, nonlinearity):
    """The same network run by torch.nn.RNN (the outside reference)."""
    _, weights, x = hidden_state_demo(scale, nonlinearity)
    hidden_size, input_size = weights["weight_ih"].shape
    rnn = torch.nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, dtype=torch.float64)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(rnn, f"{name}_l0").copy_(torch.from_numpy(value))
        out, _ = rnn(torch.from_numpy(x))
    return out[:, 0].numpy()  # (T, H)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_hidden_state_demo_matches_torch_rnn(nonlinearity):
    states, weights, _ = hidden_state_demo(1.5, nonlinearity)
    np.testing.assert_allclose(states, torch_states(1.5, nonlinearity), rtol=1e-10, atol=1e-12)
    largest_eigenvalue = np.max(np.abs(np.linalg.eigvals(weights["weight_hh"])))
    assert largest_eigenvalue == pytest.approx(1.5)


def test_tanh_stays_bounded_and_relu_explodes_above_one():
    for scale in (0.5, 3.0):
        assert np.abs(torch_states(scale, "tanh")).max() <= 1.0
    relu_small, relu_large = torch_states(0.5, "relu"), torch_states(3.0, "relu")
    assert np.abs(relu_small).max() < 10
    assert np.abs(relu_large[-1]).max() > 1e10


def shown_table(view_html):
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", view_html)
    return {int(t): (float(a), float(b)) for t, a, b in rows}


def test_hidden_state_widget_moves_and_reports_torch_numbers():
    scales = (0.5, 1.0, 3.0)
    w = hidden_state_widget(scales=scales)
    first_view = w.stack.children[0].value
    assert "data:image/png;base64," in first_view
    for k, scale in enumerate(scales):
        w.slider.index = k
        assert w.stack.selected_index == k
        view = w.stack.children[w.stack.selected_index].value
        if k > 0:
            assert view != first_view
        table = shown_table(view)
        assert sorted(table) == list(REPORTED_STEPS)
        tanh_ref, relu_ref = torch_states(scale, "tanh"), torch_states(scale, "relu")
        for t, (tanh_shown, relu_shown) in table.items():
            assert tanh_shown == pytest.approx(np.abs(tanh_ref[t]).max(), rel=5e-3)
            assert relu_shown == pytest.approx(np.abs(relu_ref[t]).max(), rel=5e-3)
    # the largest scale explodes under relu, as the last view reports
    assert shown_table(view)[REPORTED_STEPS[-1]][1] > 1e10


def test_hidden_state_bad_input():
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        hidden_state_demo(1.0, "sigmoid")
    with pytest.raises(ValueError, match="scale: expected a number >= 0"):
        hidden_state_demo(-1.0)
    with pytest.raises(ValueError, match="scales: expected between 1 and 10"):
        hidden_state_widget(scales=[])
