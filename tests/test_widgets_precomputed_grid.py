"""course_pkg.widgets.precomputed_grid: every view computed once, the two sliders linked to the
two levels of stacks on the kernel side and (jslink) in the browser, bad input."""

import warnings

import ipywidgets as widgets
import pytest
from ipywidgets.widgets.widget_link import Link

from course_pkg.widgets.precomputed_grid import precomputed_grid


def test_grid_views_and_links():
    calls = []

    def render(row, column):
        calls.append((row, column))
        return f"<p>{row}-{column}</p>"

    box = precomputed_grid("row", ["a", "b"], "column", [1, 2, 3], render)
    assert calls == [(r, c) for r in "ab" for c in (1, 2, 3)]
    assert box.view(1, 2).value == "<p>b-3</p>"
    box.row_slider.index = 1
    box.column_slider.index = 2
    assert box.stack.selected_index == 1
    assert all(inner.selected_index == 2 for inner in box.stack.children)
    # one jslink per stack, so the static page switches views without a kernel
    with warnings.catch_warnings():  # the registry of live widgets is deprecated, not gone
        warnings.simplefilter("ignore", DeprecationWarning)
        live = list(widgets.Widget.widgets.values())
    links = [w for w in live if isinstance(w, Link)
             and w.source[0] in (box.row_slider, box.column_slider)]
    assert len(links) == 1 + 2


def test_bad_labels_name_the_argument():
    with pytest.raises(ValueError, match="columns_labels"):
        precomputed_grid("r", [1], "c", [1, 2], lambda r, c: "", column_labels=["x"])
    with pytest.raises(ValueError, match="rows_labels"):
        precomputed_grid("r", [1, 2], "c", [1], lambda r, c: "", row_labels=["x", "x"])
    with pytest.raises(ValueError, match="len\\(rows\\)"):
        precomputed_grid("r", [], "c", [1], lambda r, c: "")


def test_live_mode_computes_each_cell_on_demand():
    from course_pkg.widgets.precomputed_grid import precomputed_grid

    calls = []
    box = precomputed_grid("r", [1, 2], "c", [10, 20, 30],
                           lambda r, c: (calls.append((r, c)), f"<i>{r * c}</i>")[1], mode="live")
    assert box.mode == "live" and calls == [(1, 10)]
    box.set(1, 2)
    assert box.view.children[0].value == "<i>60</i>" and calls == [(1, 10), (2, 30)]
    box.controls[0].index = 0                               # a reader moves one slider
    assert box.view.children[0].value == "<i>30</i>"
