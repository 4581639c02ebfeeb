"""Chapter 15's widget: built headlessly, moved, and its table checked against the Mogrifier
equations (Melis et al. 2019, eq. 1-2) evaluated here by a plain loop over the features."""

import math
import re

import pytest
import torch

from course_pkg.nn.mogrifier import MogrifierLSTMCell, mogrify
from course_pkg.widgets.mogrifier import mogrifier_rounds_widget, round_factors

D, H, GAIN, SEED = 5, 4, 3.0, 1


def table_rows(view_html):
    rows = re.findall(r"<tr>(.*?)</tr>", view_html)
    return [[float(v) for v in re.findall(r"<td>(.*?)</td>", row)] for row in rows if "<td>" in row]


def independent_overall_factors(rounds, gain=GAIN):
    """Overall x^up / x and h^up / h by scalar loops, from the same seeded cell and example."""
    torch.manual_seed(SEED)
    cell = MogrifierLSTMCell(D, H, rounds=5).double()
    Q = (gain * cell.weight_q.detach()).tolist()          # 3 x (D, H)
    R = (gain * cell.weight_r.detach()).tolist()          # 2 x (H, D)
    x = torch.randn(D, dtype=torch.float64).tolist()
    h = torch.tanh(torch.randn(H, dtype=torch.float64)).tolist()
    x0, h0 = list(x), list(h)
    sig = lambda a: 1.0 / (1.0 + math.exp(-a))
    for i in range(1, rounds + 1):
        if i % 2 == 1:
            q = Q[(i - 1) // 2]
            x = [2 * sig(sum(q[d][k] * h[k] for k in range(H))) * x[d] for d in range(D)]
        else:
            r = R[(i - 2) // 2]
            h = [2 * sig(sum(r[k][d] * x[d] for d in range(D))) * h[k] for k in range(H)]
    return [a / b for a, b in zip(x, x0)], [a / b for a, b in zip(h, h0)]


def test_slider_switches_views_and_tables_match_the_equations():
    w = mogrifier_rounds_widget(input_size=D, hidden_size=H, gain=GAIN, seed=SEED)
    assert len(w.stack.children) == 6
    first = w.stack.children[0].value
    x_first, h_first = table_rows(first)
    assert x_first == [1.0] * D and h_first == [1.0] * H          # zero rounds: identity
    for k in (1, 2, 5):
        w.slider.index = k
        assert w.stack.selected_index == k
        view = w.stack.children[k].value
        assert view != first
        x_row, h_row = table_rows(view)
        x_ref, h_ref = independent_overall_factors(k)
        assert x_row == pytest.approx(x_ref, abs=6e-4)
        assert h_row == pytest.approx(h_ref, abs=6e-4)
        if k == 1:
            assert h_row == [1.0] * H                             # round 1 touches only x
            assert any(abs(v - 1) > 0.01 for v in x_row)


def test_round_factors_against_torch_mogrify_rounds():
    torch.manual_seed(0)
    cell = MogrifierLSTMCell(D, H, rounds=5).double()
    qs, rs = cell.round_matrices()
    x = torch.randn(D, dtype=torch.float64)
    h = torch.randn(H, dtype=torch.float64)
    factors = round_factors(x, h, qs, rs, 5)
    assert [name for name, _ in factors] == ["x", "h", "x", "h", "x"]
    x_out, h_out = x.clone(), h.clone()
    for name, factor in factors:
        if name == "x":
            x_out = x_out * factor
        else:
            h_out = h_out * factor
    # the package's batched rounds (a batch of one) must agree with the per-round factors
    x_ref, h_ref = mogrify(x[None], h[None], qs, rs)
    torch.testing.assert_close(x_out, x_ref[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_out, h_ref[0], rtol=1e-12, atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_size"):
        mogrifier_rounds_widget(input_size=0)
    with pytest.raises(TypeError, match="hidden_size"):
        mogrifier_rounds_widget(hidden_size=2.5)
    with pytest.raises(ValueError, match="gain"):
        mogrifier_rounds_widget(gain=-1.0)
    x, h = torch.zeros(D, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    with pytest.raises(ValueError, match="rounds"):
        round_factors(x, h, [], [], 1)
    with pytest.raises(ValueError, match="rounds"):
        round_factors(x, h, [], [], -1)


def test_widget_live_computes_any_gain(monkeypatch):
    """Live mode: a gain between the static one and others, and 4 rounds, by scalar loops."""
    monkeypatch.setenv("COURSE_WIDGETS", "live")
    w = mogrifier_rounds_widget(input_size=D, hidden_size=H, gain=GAIN, seed=SEED)
    assert w.mode == "live"
    w.set(4, 1.85)
    x_factor, h_factor = independent_overall_factors(4, gain=1.85)
    rows = table_rows(w.view.children[0].value)
    assert rows[0] == pytest.approx(x_factor, abs=6e-4)
    assert rows[1] == pytest.approx(h_factor, abs=6e-4)
