"""The one HTML table helper of the widget views: rows, cells, shading, escaping, bad input."""

import dataclasses
import re

import pytest

from course_pkg.widgets.html_table import CELL_STYLE, TABLE_STYLE, Cell, html_table, shaded_cell


def test_header_and_body_rows_with_the_default_styles():
    table = html_table(["n", "n squared"], [[1, "1"], [2, "4"]], "cp-squares")
    assert table.startswith(f"<table class='cp-squares' style='{TABLE_STYLE}'><tr>")
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == 3
    assert rows[0] == f"<th style='{CELL_STYLE}'>n</th><th style='{CELL_STYLE}'>n squared</th>"
    assert rows[2] == f"<td style='{CELL_STYLE}'>2</td><td style='{CELL_STYLE}'>4</td>"


def test_no_header_no_class_no_style_and_rows_of_different_lengths():
    table = html_table(None, [["a"], ["b", "c", "d"]], style="", cell_style="")
    assert table == "<table><tr><td>a</td></tr><tr><td>b</td><td>c</td><td>d</td></tr></table>"
    assert html_table() == f"<table style='{TABLE_STYLE}'></table>"


def test_cells_with_style_class_and_header_and_row_classes():
    rows = [[Cell("label", style="text-align:left", header=True), "1",
             Cell("2", css_class="pad"), Cell("3", style="color:#900", css_class="tag-error")]]
    table = html_table(None, rows, cell_style="padding:1px", row_classes=["weights"])
    assert ("<tr class='weights'><th style='padding:1px;text-align:left'>label</th>"
            "<td style='padding:1px'>1</td><td class='pad' style='padding:1px'>2</td>"
            "<td class='tag-error' style='padding:1px;color:#900'>3</td></tr>") in table
    # every cell of the header row is a <th>, a Cell's own style still written after the table's
    header = html_table([Cell("#", style="text-align:left"), "x"], [], cell_style="")
    assert "<tr><th style='text-align:left'>#</th><th>x</th></tr>" in header
    with pytest.raises(dataclasses.FrozenInstanceError):
        Cell("a").html = "b"


@pytest.mark.parametrize("shade, opacity", [(0.5, "0.50"), (-0.3, "0.00"), (1.7, "1.00"),
                                            (0.456, "0.46")])
def test_shaded_cell_clips_the_opacity_to_0_1(shade, opacity):
    cell = shaded_cell("x", shade, "31,119,180")
    assert cell == Cell("x", style=f"background:rgba(31,119,180,{opacity})")


def test_shaded_cell_bold_and_style():
    cell = shaded_cell("7", 0.25, "1,2,3", bold=True, style="padding:2px 6px")
    assert cell.html == "<b>7</b>" and not cell.header
    assert cell.style == "padding:2px 6px;background:rgba(1,2,3,0.25)"
    assert html_table(None, [[cell]], cell_style="") == (
        "<table style='border-collapse:collapse;font-family:monospace'><tr>"
        "<td style='padding:2px 6px;background:rgba(1,2,3,0.25)'><b>7</b></td></tr></table>")


def test_shaded_cell_escapes_its_text_and_html_table_does_not():
    assert shaded_cell("a<b & c", 0.1, "0,0,0").html == "a&lt;b &amp; c"
    # html_table writes cells as HTML: the caller escapes text, markup stays markup
    table = html_table(["<i>h</i>"], [["<b>x</b>", Cell("&amp;")]], cell_style="")
    assert "<th><i>h</i></th>" in table and "<td><b>x</b></td><td>&amp;</td>" in table
    # an already escaped cell of a shaded cell is not escaped twice
    assert "<td style='background:rgba(0,0,0,0.10)'>a&lt;b</td>" in html_table(
        None, [[shaded_cell("a<b", 0.1, "0,0,0")]], cell_style="")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(rows="ab"), TypeError, r"rows: expected a sequence of rows, got str"),
    (dict(rows=[["a"], "bc"]), TypeError, r"rows\[1\]: expected a sequence of cells, got str"),
    (dict(rows=[[1], 5]), TypeError, r"rows\[1\]: expected a sequence of cells, got int"),
    (dict(rows=[Cell("a")]), TypeError, r"rows\[0\]: expected a sequence of cells, got Cell"),
    (dict(header="ab"), TypeError, r"header: expected a sequence of cells, got str"),
    (dict(rows=[["a"], ["b"]], row_classes=["x"]), ValueError,
     r"row_classes: expected one class name per row \(2\)"),
    (dict(rows=[["a"]], row_classes="x"), ValueError, r"row_classes: expected one class name"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        html_table(**kwargs)
