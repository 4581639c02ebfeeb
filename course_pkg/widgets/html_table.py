"""The small HTML tables of the widget views, all built by one function, `html_table`.

A table is a list of rows; a row is a list of cells. A cell is either a ``str`` of HTML (a plain
``<td>``; a number is written with ``str``) or a `Cell`, which may be a header cell (``<th>``)
and carry its own style and class.
`shaded_cell` makes the cell most widgets use to show a weight: a background colour whose
opacity is the weight.

Escaping: `html_table` writes every cell's HTML as it is given, so that a cell may hold markup
(``<b>``, ``<u>``, ``&#9660;``). The caller escapes user-visible text first (``html.escape``);
`shaded_cell`, which takes plain text, escapes it itself. Styles and class names are written
into single-quoted attributes as they are given: they are the widget's own constants.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

__all__ = ["TABLE_STYLE", "CELL_STYLE", "Cell", "shaded_cell", "html_table"]

#: The inline style of a table unless ``html_table(style=...)`` says otherwise.
TABLE_STYLE = "border-collapse:collapse;font-family:monospace"
#: The inline style of every cell unless ``html_table(cell_style=...)`` says otherwise.
CELL_STYLE = "padding:2px 8px"


@dataclass(frozen=True)
class Cell:
    """One table cell: its ``html`` (already escaped), more inline ``style`` (CSS declarations
    written after the table's cell style, so they win), a ``css_class``, and whether it is a
    ``header`` cell (``<th>``) rather than a data cell (``<td>``)."""

    html: str
    style: str = ""
    css_class: str = ""
    header: bool = False


def shaded_cell(text: str, shade: float, colour: str, bold: bool = False,
                style: str = "") -> Cell:
    """A data cell showing the plain ``text`` (escaped here) on a background of ``colour``
    (``"r,g,b"``, each 0..255) at opacity ``shade``, clipped to [0, 1].

    ``bold`` wraps the text in ``<b>``; ``style`` holds more CSS declarations (padding, borders,
    alignment), written before the background.
    """
    inner = f"<b>{html.escape(text)}</b>" if bold else html.escape(text)
    opacity = min(max(float(shade), 0.0), 1.0)
    background = f"background:rgba({colour},{opacity:.2f})"
    return Cell(inner, style=f"{style};{background}" if style else background)


def _attributes(css_class: str, style: str) -> str:
    """`` class='...' style='...'``, each left out when empty."""
    return (f" class='{css_class}'" if css_class else "") + (f" style='{style}'" if style else "")


def _listed(value, where: str, what: str) -> list:
    """``value`` as a list; TypeError naming ``where`` if it is a str, a Cell or not iterable."""
    if isinstance(value, (str, Cell)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{where}: expected a sequence of {what}, got {type(value).__name__}")
    return list(value)


def _cell_html(cell, header: bool, cell_style: str) -> str:
    """One cell as ``<td>`` / ``<th>``; ``header`` forces ``<th>`` (the header row)."""
    if not isinstance(cell, Cell):
        cell = Cell(str(cell))
    tag = "th" if header or cell.header else "td"
    style = ";".join(part for part in (cell_style, cell.style) if part)
    return f"<{tag}{_attributes(cell.css_class, style)}>{cell.html}</{tag}>"


def _row_html(cells, header: bool, cell_style: str, where: str, css_class: str = "") -> str:
    body = "".join(_cell_html(cell, header, cell_style) for cell in _listed(cells, where, "cells"))
    return f"<tr{_attributes(css_class, '')}>{body}</tr>"


def html_table(header: Sequence | None = None, rows: Sequence[Sequence] = (),
               css_class: str = "", *, style: str = TABLE_STYLE, cell_style: str = CELL_STYLE,
               row_classes: Sequence[str] | None = None) -> str:
    """An HTML table for a widget view, as a ``str``.

    - ``header``: the cells of a first row, all written as ``<th>``; None: no header row.
    - ``rows``: R rows, each a sequence of cells: a `Cell`, or any other value, written as
      ``str(value)`` (a ``str`` of HTML, a number). Rows may have different lengths (HTML allows
      it: a row label and fewer values, say).
    - ``css_class``: the table's class; ``style``: its inline style (default `TABLE_STYLE`).
    - ``cell_style``: the inline style of every cell (default `CELL_STYLE`); a `Cell`'s own
      style is written after it. An empty ``css_class``, ``style`` or ``cell_style`` writes no
      attribute at all.
    - ``row_classes``: R class names, one per body row ("" for none), or None.

    Nothing is escaped: cells hold HTML (see the module docstring). Raises TypeError naming
    ``header``, ``rows`` or ``rows[i]`` where that is a str or not a sequence, and ValueError
    for ``row_classes`` of the wrong length.
    """
    rows = _listed(rows, "rows", "rows")
    if row_classes is None:
        row_classes = [""] * len(rows)
    elif isinstance(row_classes, str) or len(row_classes) != len(rows):
        raise ValueError(f"row_classes: expected one class name per row ({len(rows)}), got "
                         f"{row_classes!r}")
    lines = [] if header is None else [_row_html(header, True, cell_style, "header")]
    lines += [_row_html(row, False, cell_style, f"rows[{i}]", name)
              for i, (row, name) in enumerate(zip(rows, row_classes))]
    return f"<table{_attributes(css_class, style)}>{''.join(lines)}</table>"
