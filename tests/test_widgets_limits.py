"""The cost-by-length widget of chapter 18, built headlessly from timings made up here, so the
numbers each view must show (milliseconds, ratios to attention, sequential steps, T^2 scores) are
computed in the test."""

import pytest

from course_pkg.layer_cost.recurrence_vs_attention import TimingResult, time_recurrence_vs_attention
from course_pkg.widgets.limits import cost_by_length_widget, timing_table_rows

SECONDS = {16: {"course LSTM": 0.004, "torch.nn.LSTM": 0.001, "self-attention": 0.002},
           64: {"course LSTM": 0.016, "torch.nn.LSTM": 0.003, "self-attention": 0.032}}


def made_up_result():
    lengths = [16, 64]
    steps = {T: {"course LSTM": T, "torch.nn.LSTM": T, "self-attention": 1} for T in lengths}
    scores = {T: 2 * 4 * T * T for T in lengths}
    return TimingResult(lengths, SECONDS, steps, scores, batch_size=2, width=8, num_heads=4)


def test_rows_by_hand():
    rows = timing_table_rows(made_up_result(), 64)
    assert rows[0] == ["course LSTM", "16.00", "0.50x", "64", "-"]
    assert rows[1] == ["torch.nn.LSTM", "3.00", "0.09x", "64", "-"]
    assert rows[2] == ["self-attention", "32.00", "1.00x", "1", f"{2 * 4 * 64 * 64:,}"]


def test_slider_switches_to_a_view_with_that_length():
    w = cost_by_length_widget(made_up_result())
    assert w.stack.selected_index == 0
    first = w.stack.children[0].value
    w.slider.index = 1
    assert w.stack.selected_index == 1
    view = w.stack.children[1].value
    assert view != first
    assert "T = 64" in view and "T = 16" in first
    # numbers computed here: times in ms, the LSTM over attention, the T^2 term
    assert f"{0.016 / 0.032:.2f}x" in view and f"{0.004 / 0.002:.2f}x" in first
    assert f"{2 * 4 * 64 * 64:,}" in view and f"{2 * 4 * 64 * 64:,}" not in first
    assert "<td style='padding:2px 8px'>64</td>" in view


def test_widget_on_a_real_measurement():
    result = time_recurrence_vs_attention(lengths=(4, 8), batch_size=2, width=8, num_heads=2,
                                          repeats=1, warmup=0)
    w = cost_by_length_widget(result)
    assert len(w.stack.children) == 2
    w.slider.index = 1
    assert w.stack.selected_index == 1
    assert f"{result.seconds[8]['course LSTM'] * 1e3:.2f}" in w.stack.children[1].value


def test_bad_arguments():
    with pytest.raises(TypeError, match="result"):
        cost_by_length_widget({16: SECONDS[16]})
    with pytest.raises(ValueError, match="T"):
        timing_table_rows(made_up_result(), 32)


def test_live_slider_times_a_new_length_in_the_kernel(monkeypatch):
    """Live mode: T = 40 was not measured; the kernel times it with the result's sizes. Times
    differ from run to run, so the exact columns are compared with the package's own
    measurement at T = 40, and the times must be positive numbers."""
    import re

    from course_pkg.widgets.limits import time_length

    monkeypatch.setenv("COURSE_WIDGETS", "live")
    w = cost_by_length_widget(made_up_result())
    assert w.mode == "live" and w.reproducible is False
    w.slider.value = 40
    assert w.live.computed[-1] == 40
    view = w.view.children[0].value
    shown = [re.findall(r"<td[^>]*>([^<]*)</td>", row)
             for row in re.findall(r"<tr>(.*?)</tr>", view) if "<td" in row]
    expected = timing_table_rows(time_length(made_up_result(), 40), 40)
    assert [row[:1] + row[3:] for row in shown] == [row[:1] + row[3:] for row in expected]
    assert shown[2][4] == f"{2 * 4 * 40 * 40:,}"
    assert all(float(row[1]) > 0 for row in shown)
    assert "T = 40" in view or "timings at T = 40" in view
