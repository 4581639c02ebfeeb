"""Widgets of chapters 5 and 6, built headlessly, moved, and read back.

The numbers in the views are checked against values computed here independently: the LSTM's gates
by a step loop written from the equations (weights of torch.nn.LSTM), the GRU's memory by
torch.nn.GRU with weights set from the docstring of `memory_gru`.
"""

import math
import re

import numpy as np
import pytest
import torch

from course_pkg.data.synthetic import adding_problem
from course_pkg.models.sequence_regressor import SequenceRegressor
from course_pkg.widgets.gates import gru_memory_widget, lstm_gates_widget


def table_rows(view_html):
    """The data rows of the view's table, as lists of cell texts."""
    table = view_html[view_html.index("<table"):]
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows if "<td" in row]


# ----------------------------------------------------------------------------------------------
# chapter 5: LSTM gates
# ----------------------------------------------------------------------------------------------
def independent_gates(model, x):
    """Input, forget, output gates (T, B, H) by a plain loop over torch.nn.LSTM's weights."""
    reference = torch.nn.LSTM(2, model.recurrent.hidden_size)
    reference.load_state_dict(model.recurrent.state_dict())
    W_ih, W_hh = reference.weight_ih_l0.detach(), reference.weight_hh_l0.detach()
    b = (reference.bias_ih_l0 + reference.bias_hh_l0).detach()
    H = W_hh.shape[1]
    h = c = torch.zeros(x.shape[1], H)
    gates = {"input": [], "forget": [], "output": []}
    for x_t in x:
        a = x_t @ W_ih.T + h @ W_hh.T + b
        i, f, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), torch.sigmoid(a[:, 3 * H:])
        c = f * c + i * torch.tanh(a[:, 2 * H:3 * H])
        h = o * torch.tanh(c)
        gates["input"].append(i)
        gates["forget"].append(f)
        gates["output"].append(o)
    return {k: torch.stack(v).numpy() for k, v in gates.items()}


@pytest.fixture(scope="module")
def lstm_widget_and_data():
    torch.manual_seed(0)
    model = SequenceRegressor("lstm", 2, 4)
    widget = lstm_gates_widget(model, num_examples=3, length=12, seed=5)
    x, _ = adding_problem(3, 12, seed=5)
    return widget, model, x


def test_lstm_widget_moves_and_shows_the_gate_values(lstm_widget_and_data):
    w, model, x = lstm_widget_and_data
    gates = independent_gates(model, x)
    marked = (x[:, :, 1] > 0.5).numpy()                                  # (T, B)
    selectivity = gates["input"][marked].mean(0) - gates["input"][~marked].mean(0)
    unit = int(np.argmax(selectivity))
    first_view = w.stack.children[0].value
    for k in range(3):
        w.slider.index = k
        assert w.stack.selected_index == k
        view = w.stack.children[w.stack.selected_index].value
        if k > 0:
            assert view != first_view
        steps = np.flatnonzero(marked[:, k])
        others = np.setdiff1d(np.arange(12), steps)
        assert f"first marker (t = {steps[0]})" in view
        rows = table_rows(view)
        assert len(rows) == 6
        for row in rows:
            who, gate_name = row[0], row[1].split()[0]
            values = gates[gate_name][:, k, :]                           # (T, H)
            values = values.mean(1) if who == "mean over units" else values[:, unit]
            assert who in ("mean over units", f"unit {unit}")
            expected = [values[steps[0]], values[steps[1]], values[others].mean()]
            np.testing.assert_allclose([float(v) for v in row[2:]], expected, atol=6e-4)


def test_lstm_widget_refuses_other_models():
    with pytest.raises(TypeError, match="model"):
        lstm_gates_widget(SequenceRegressor("gru", 2, 3))
    with pytest.raises(ValueError, match="num_examples"):
        lstm_gates_widget(SequenceRegressor("lstm", 2, 3), num_examples=11)


# ----------------------------------------------------------------------------------------------
# chapter 6: the GRU's update gate as a memory knob
# ----------------------------------------------------------------------------------------------
def torch_memory_curve(bias, num_steps):
    gru = torch.nn.GRU(1, 1)
    with torch.no_grad():
        for p in gru.parameters():
            p.zero_()
        gru.weight_ih_l0[:, 0] = torch.tensor([0.0, -20.0, 3.0])   # r, z, n
        gru.bias_ih_l0[1] = bias
        x = torch.zeros(num_steps, 1, 1)
        x[0] = 1.0
        return gru(x)[0][:, 0, 0].numpy()


def test_gru_memory_widget_moves_and_reports_measured_retention():
    biases = (0.0, 2.0, 4.0)
    w = gru_memory_widget(biases, num_steps=40)
    first_view = w.stack.children[0].value
    for k, bias in enumerate(biases):
        w.slider.index = k
        assert w.stack.selected_index == k
        view = w.stack.children[w.stack.selected_index].value
        if k > 0:
            assert view != first_view
        (row,) = table_rows(view)
        z = 1 / (1 + math.exp(-bias))
        curve = torch_memory_curve(bias, 40)
        below_half = np.flatnonzero(curve < 0.5 * curve[0])
        below_tenth = np.flatnonzero(curve < 0.1 * curve[0])
        assert float(row[0]) == pytest.approx(z, abs=1e-4)
        assert float(row[1]) == pytest.approx(math.log(0.5) / math.log(z), abs=0.01)
        assert row[2] == str(below_half[0])
        assert row[3] == (str(below_tenth[0]) if len(below_tenth) else "not within the plot")
        assert float(row[4]) == pytest.approx(curve[-1], abs=1e-4)


def test_gru_memory_widget_bad_arguments():
    with pytest.raises(ValueError, match="update_biases"):
        gru_memory_widget(())
    with pytest.raises(ValueError, match="num_steps"):
        gru_memory_widget((1.0,), num_steps=0)


def test_lstm_widget_live_runs_the_model_on_a_new_sequence(monkeypatch):
    """Live mode: a sequence (seed, length) no view was precomputed for; gate values by a loop."""
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    torch.manual_seed(0)
    model = SequenceRegressor("lstm", 2, 4)
    w = lstm_gates_widget(model, num_examples=3, length=12, seed=5)
    assert w.mode == "live"
    w.set(123, 17)
    view = w.view.children[0].value
    x, _ = adding_problem(1, 17, seed=123)
    gates = independent_gates(model, x)
    x_static, _ = adding_problem(3, 12, seed=5)
    static_gates = independent_gates(model, x_static)
    marked_static = (x_static[:, :, 1] > 0.5).numpy()
    unit = int(np.argmax(static_gates["input"][marked_static].mean(0)
                         - static_gates["input"][~marked_static].mean(0)))
    steps = np.flatnonzero(x[:, 0, 1].numpy() > 0.5)
    others = np.setdiff1d(np.arange(17), steps)
    assert f"first marker (t = {steps[0]})" in view and f"second marker (t = {steps[1]})" in view
    for row in table_rows(view):
        who, gate_name = row[0], row[1].split()[0]
        values = gates[gate_name][:, 0, :]
        values = values.mean(1) if who == "mean over units" else values[:, unit]
        np.testing.assert_allclose([float(v) for v in row[2:]],
                                   [values[steps[0]], values[steps[1]], values[others].mean()],
                                   atol=6e-4)
