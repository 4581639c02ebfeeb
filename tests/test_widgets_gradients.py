"""Widgets of chapters 3 and 4, built headlessly, moved, and read back. The numbers the views
show are checked against values computed here with torch: autograd with ``h.detach()`` for the
truncation widget, autograd Jacobians of torch.nn.RNN for the spectral-radius widget, and a
plain torch.nn loop with torch.nn.utils.clip_grad_norm_ for the clipping widget."""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.synthetic import adding_problem
from course_pkg.gradients.elman_bptt import autograd_gradients
from course_pkg.gradients.clipping_runs import exploding_network
from course_pkg.gradients.flow import gradient_flow_network
from course_pkg.widgets.gradients import (
    clipping_threshold_widget,
    spectral_radius_widget,
    truncation_problem,
    truncation_widget,
)


def table_rows(view_html, css_class):
    """The data rows of the widget's table as lists of cell strings."""
    table = re.search(rf"<table class='{css_class}'.*?</table>", view_html, flags=re.S).group(0)
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]       # skip the header
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]


def assert_moves(w, k):
    first = w.stack.children[0].value
    w.slider.index = k
    assert w.stack.selected_index == k
    view = w.stack.children[w.stack.selected_index].value
    assert view != first
    return view


# ----------------------------------------------------------------------------------------------
# chapter 3: truncation window
# ----------------------------------------------------------------------------------------------
def test_truncation_widget_shows_what_torch_detach_gives():
    length = 12
    w = truncation_widget(windows=(3, None), length=length, seed=1)
    weights, x, targets = truncation_problem(length, seed=1)
    _, full = autograd_gradients(weights, x, targets)
    for index, window in enumerate((3, None)):
        view = assert_moves(w, index) if index else w.stack.children[0].value
        (row,) = table_rows(view, "cp-truncation")
        _, cut = autograd_gradients(weights, x, targets, window=window)
        earliest = 0 if window is None else (length - 1) // window * window
        assert row[0] == ("full" if window is None else str(window))
        assert row[1] == f"steps {earliest}..{length - 1}"
        assert float(row[2]) == pytest.approx(np.linalg.norm(cut["x"][0]), rel=1e-4)
        difference = np.linalg.norm(cut["weight_hh"] - full["weight_hh"]) / np.linalg.norm(
            full["weight_hh"])
        assert float(row[3]) == pytest.approx(difference, rel=1e-4, abs=1e-12)
    assert float(table_rows(w.stack.children[0].value, "cp-truncation")[0][3]) > 1e-3


# ----------------------------------------------------------------------------------------------
# chapter 4: spectral radius
# ----------------------------------------------------------------------------------------------
def torch_jacobian_norm(radius, nonlinearity, k, num_steps, hidden_size, seed=0):
    weight_ih, weight_hh, x = gradient_flow_network(radius, num_steps, hidden_size, seed=seed)
    x_t = torch.tensor(x)
    rnn = torch.nn.RNN(4, hidden_size, nonlinearity="tanh" if nonlinearity == "linear"
                       else nonlinearity, bias=False, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(weight_ih))
        rnn.weight_hh_l0.copy_(torch.tensor(weight_hh))

    def step(h, x_s):  # (1, H), (1, D) -> (1, H)
        if nonlinearity == "linear":
            return h @ rnn.weight_hh_l0.T + x_s @ rnn.weight_ih_l0.T
        return rnn(x_s[None], h[None])[1][0]
    h = torch.zeros(1, hidden_size, dtype=torch.float64)
    with torch.no_grad():
        for t in range(num_steps - k):
            h = step(h, x_t[t])

    def run(h_start):
        for t in range(num_steps - k, num_steps):
            h_start = step(h_start, x_t[t])
        return h_start.reshape(-1)

    jacobian = torch.autograd.functional.jacobian(run, h).reshape(hidden_size, hidden_size)
    return float(torch.linalg.matrix_norm(jacobian, ord=2))


def test_spectral_radius_widget_reports_torch_jacobian_norms():
    w = spectral_radius_widget(radii=(0.9, 1.5), num_steps=30, hidden_size=6, seed=2)
    view = assert_moves(w, 1)
    rows = table_rows(view, "cp-radius")
    assert [r[0] for r in rows] == ["linear", "tanh", "relu"]
    for row in rows:
        for value, k in zip(row[1:], (1, 10, 30)):
            expected = torch_jacobian_norm(1.5, row[0], k, 30, 6, seed=2)
            assert float(value) == pytest.approx(expected, rel=1e-3), (row[0], k)
    first_rows = table_rows(w.stack.children[0].value, "cp-radius")
    assert float(first_rows[0][3]) == pytest.approx(0.9 ** 30, rel=1e-3)


# ----------------------------------------------------------------------------------------------
# chapter 4: clipping threshold
# ----------------------------------------------------------------------------------------------
def torch_losses(clip_norm, steps, hidden_size, seed=0):
    """The widget's training run with torch.nn.RNN/Linear, SGD and clip_grad_norm_ (float32)."""
    model = exploding_network(hidden_size, 1.5, seed)
    rnn = torch.nn.RNN(2, hidden_size)
    readout = torch.nn.Linear(hidden_size, 1)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(rnn, name).copy_(getattr(model.rnn, name))
        readout.weight.copy_(model.output.weight)
        readout.bias.copy_(model.output.bias)
    parameters = list(rnn.parameters()) + list(readout.parameters())
    optimizer = torch.optim.SGD(parameters, lr=0.05)
    generator = torch.Generator().manual_seed(seed)
    losses, norms = [], []
    for _ in range(steps):
        x, y = adding_problem(32, 30, generator=generator)
        optimizer.zero_grad()
        loss = F.mse_loss(readout(rnn(x)[0][-1]).squeeze(-1), y)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(parameters, clip_norm or math.inf)))
        optimizer.step()
        losses.append(loss.item())
    return losses, norms


def test_clipping_widget_shows_the_torch_training_run():
    steps, hidden_size = 6, 16
    w = clipping_threshold_widget(thresholds=(None, 0.5), steps=steps, hidden_size=hidden_size)
    for index, threshold in enumerate((None, 0.5)):
        view = assert_moves(w, index) if index else w.stack.children[0].value
        (row,) = table_rows(view, "cp-clipping")
        losses, norms = torch_losses(threshold, steps, hidden_size)
        assert row[0] == ("none" if threshold is None else "0.5")
        assert row[1] == str(steps) and row[2] == "-"
        assert float(row[3]) == pytest.approx(losses[-1], rel=1e-3)
        assert float(row[4]) == pytest.approx(max(norms), rel=1e-3)
        share = 0.0 if threshold is None else sum(n > threshold for n in norms) / steps
        assert row[5] == f"{100 * share:.1f}%"


def test_clipping_widget_reports_the_blow_up_step():
    w = clipping_threshold_widget(thresholds=(None,), steps=120)
    (unclipped,) = table_rows(w.stack.children[0].value, "cp-clipping")
    assert unclipped[2] != "-" and int(unclipped[2]) == int(unclipped[1]) < 120
    assert unclipped[3] in ("inf", "nan")


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="thresholds: expected between 1 and 10 values"):
        clipping_threshold_widget(thresholds=())
    with pytest.raises(ValueError, match="radii: expected positive numbers"):
        spectral_radius_widget(radii=(0.0, 1.0))
    with pytest.raises(ValueError, match="windows: expected positive numbers or None"):
        truncation_widget(windows=(0, None))
    with pytest.raises(ValueError, match="length: expected a positive int"):
        truncation_widget(length=0)
