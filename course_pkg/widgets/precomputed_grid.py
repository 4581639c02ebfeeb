"""Two sliders over a grid of precomputed views (rows x columns), working without a kernel.

`course_pkg.widgets.precomputed.precomputed_slider` links one slider to one ``Stack``. Two
sliders cannot be combined into one index in the browser (``jslink`` copies a value, it does not
compute ``row * columns + column``), so the grid is two levels of stacks::

    outer Stack (selected by the row slider)
        inner Stack for row 0 (selected by the column slider): views (0, 0), (0, 1), ...
        inner Stack for row 1 (selected by the column slider): views (1, 0), (1, 1), ...

The column slider is linked to the ``selected_index`` of every inner stack, the row slider to
the outer one, each with ``widgets.link`` (kernel side) and ``widgets.jslink`` (browser side),
so the pair works in the static HTML book as well as in a live notebook.

In a live kernel (`course_pkg.widgets.live.widget_mode`) the same call gives two controls over
the same rows and columns whose views are computed on demand and cached
(`course_pkg.widgets.live.live_controls`); a widget with a continuous control builds its own
`live_controls`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import ipywidgets as widgets

from course_pkg.validation import require_positive_int
from course_pkg.widgets.live import LiveChoice, live_controls, widget_mode
from course_pkg.widgets.precomputed import view_widget

__all__ = ["precomputed_grid"]


def _labels(name: str, options: list, labels: Sequence[str] | None) -> list[str]:
    require_positive_int(f"len({name})", len(options))
    labels = [str(option) for option in options] if labels is None else list(labels)
    if len(labels) != len(options):
        raise ValueError(f"{name}_labels: expected {len(options)} labels (one per option), "
                         f"got {len(labels)}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name}_labels: expected distinct labels, got {labels}")
    return labels


def _slider(description: str, labels: list[str]) -> widgets.SelectionSlider:
    return widgets.SelectionSlider(
        options=list(zip(labels, range(len(labels)))), index=0, description=description,
        continuous_update=True, style={"description_width": "initial"},
        layout=widgets.Layout(width="420px"))


def precomputed_grid(
    row_description: str,
    rows: Sequence[Any],
    column_description: str,
    columns: Sequence[Any],
    render: Callable[[Any, Any], Any],
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    caption: str = "",
    mode: str | None = None,
) -> widgets.VBox:
    """Two ``SelectionSlider`` s, one over ``rows`` and one over ``columns``, switching between
    the views ``render(row, column)`` (a matplotlib Figure, PNG bytes, an HTML str or a Widget),
    each computed once here.

    Returns a ``VBox`` with attributes ``row_slider``, ``column_slider``, ``stack`` (the outer
    Stack) and ``view(i, j)``, the widget shown for row i and column j. ``mode``: ``"static"``
    or ``"live"`` (default `widget_mode()`); live: see `live_controls`.
    """
    rows, columns = list(rows), list(columns)
    row_names = _labels("rows", rows, row_labels)
    column_names = _labels("columns", columns, column_labels)
    if widget_mode(mode) == "live":
        return live_controls(
            [(row_description, LiveChoice(tuple(rows), tuple(row_names)), 0),
             (column_description, LiveChoice(tuple(columns), tuple(column_names)), 0)],
            render, caption=caption)
    inner = [widgets.Stack(children=[view_widget(render(row, column)) for column in columns],
                           selected_index=0) for row in rows]
    stack = widgets.Stack(children=inner, selected_index=0)
    row_slider = _slider(row_description, row_names)
    column_slider = _slider(column_description, column_names)
    widgets.link((row_slider, "index"), (stack, "selected_index"))  # kernel side
    widgets.jslink((row_slider, "index"), (stack, "selected_index"))  # browser side
    for row_stack in inner:
        widgets.link((column_slider, "index"), (row_stack, "selected_index"))
        widgets.jslink((column_slider, "index"), (row_stack, "selected_index"))
    parts = [row_slider, column_slider, stack]
    if caption:
        parts.insert(0, widgets.HTML(value=caption))
    box = widgets.VBox(parts)
    box.row_slider, box.column_slider, box.stack = row_slider, column_slider, stack
    box.view = lambda i, j: inner[i].children[j]
    return box
