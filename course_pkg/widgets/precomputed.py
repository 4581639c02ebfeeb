"""A slider over precomputed views: the widget pattern every chapter uses.

Each view (a figure or an HTML table) is computed in Python once, when the widget is built, and
kept in an ``ipywidgets.Stack``. The slider's ``index`` is linked to the stack's
``selected_index`` twice:

- ``widgets.link`` (kernel side), so a test or a live notebook sees the change in Python;
- ``widgets.jslink`` (browser side), so the slider still works in the static HTML book, where
  no kernel runs Python callbacks.

This is why the widgets respond in the built book without a server.

That is the *static* mode. In a live kernel the same call gives a *live* widget
(`course_pkg.widgets.live`): with ``live=LiveRange(...)`` a continuous slider whose every value is
computed by ``render`` on demand (debounced, cached, with progress); without, a slider over the
same options whose views are computed on demand. `course_pkg.widgets.live.widget_mode` decides.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Callable, Sequence

import ipywidgets as widgets

from course_pkg.validation import require_positive_int
from course_pkg.widgets.live import LiveRange, live_control, widget_mode

__all__ = ["figure_to_png", "view_widget", "png_data_uri", "image_html", "precomputed_slider"]


def figure_to_png(fig: Any) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it (so it is not shown twice)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def view_widget(view: Any) -> widgets.Widget:
    """Turn what a ``render`` function returned into a widget.

    Accepted: a matplotlib ``Figure`` (shown as an Image), ``bytes`` of a PNG, a ``str`` of HTML,
    or any ``ipywidgets.Widget`` (returned as is).
    """
    if isinstance(view, widgets.Widget):
        return view
    if isinstance(view, (bytes, bytearray)):
        return widgets.Image(value=bytes(view), format="png")
    if isinstance(view, str):
        return widgets.HTML(value=view)
    if hasattr(view, "savefig"):
        return widgets.Image(value=figure_to_png(view), format="png")
    raise TypeError(
        "render: expected a matplotlib Figure, PNG bytes, an HTML str or an ipywidgets Widget, "
        f"got {type(view).__name__}"
    )


def png_data_uri(png: bytes) -> str:
    """A ``data:`` URI for PNG bytes, to place an image inside an HTML view."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_html(fig, alt: str) -> str:
    """A matplotlib figure as an inline <img> (a data: URI), to place inside an HTML view."""
    return f"<img src='{png_data_uri(figure_to_png(fig))}' alt='{alt}' style='max-width:100%'/>"


def precomputed_slider(
    description: str,
    options: Sequence[Any],
    render: Callable[[Any], Any],
    labels: Sequence[str] | None = None,
    initial: int = 0,
    caption: str = "",
    live: LiveRange | None = None,
    mode: str | None = None,
) -> widgets.VBox:
    """A ``SelectionSlider`` over ``options`` that switches between precomputed views.

    Parameters
    ----------
    description: the slider's label, e.g. ``"spectral radius"``.
    options: the values the slider can take (at least one).
    render: ``render(option) -> Figure | bytes | str | Widget``, called once per option.
    labels: how each option is written on the slider (default ``str(option)``).
    initial: index of the option shown first.
    caption: optional HTML shown above the slider.
    live: the continuous control of live mode (`LiveRange`); then ``render`` takes the control's
        value, and ``options`` are the values precomputed for the static book. Without it, live
        mode walks the same options, computing each view on demand.
    mode: ``"static"`` or ``"live"``; default `widget_mode()` (``$COURSE_WIDGETS``, else live in
        a kernel).

    Static: returns a ``VBox`` whose ``.slider`` and ``.stack`` attributes are the two parts, and
    ``.mode == "static"``. Live: see `course_pkg.widgets.live.live_control`.
    """
    options = list(options)
    require_positive_int("len(options)", len(options))
    if labels is None:
        labels = [str(option) for option in options]
    labels = list(labels)
    if len(labels) != len(options):
        raise ValueError(
            f"labels: expected {len(options)} labels (one per option), got {len(labels)}"
        )
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels: expected distinct labels, got {labels}")
    if not (0 <= initial < len(options)):
        raise ValueError(f"initial: expected an index in [0, {len(options) - 1}], got {initial}")
    if live is not None and not isinstance(live, LiveRange):
        raise TypeError(f"live: expected a LiveRange or None, got {type(live).__name__}")
    if widget_mode(mode) == "live":
        if live is not None:  # start at the initial option, or the first one in live's range
            numeric = [o for o in options[initial:] + options[:initial]
                       if isinstance(o, (int, float)) and not isinstance(o, bool)
                       and live.low <= o <= live.high]
            if not numeric:
                raise ValueError(f"options: expected at least one value in [{live.low}, "
                                 f"{live.high}] for the live control, got {options}")
            box = live_control(description, render, numeric[0], live=live, caption=caption)
            box.static_options = options  # the values the static book precomputes
            return box
        box = live_control(description, render, initial, options=options, labels=labels,
                           caption=caption)
        box.static_options = options
        return box

    views = [view_widget(render(option)) for option in options]
    stack = widgets.Stack(children=views, selected_index=initial)
    slider = widgets.SelectionSlider(
        options=list(zip(labels, range(len(options)))),
        index=initial,
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="420px"),
    )
    widgets.link((slider, "index"), (stack, "selected_index"))  # kernel side
    widgets.jslink((slider, "index"), (stack, "selected_index"))  # browser side, no kernel needed
    parts = [slider, stack]
    if caption:
        parts.insert(0, widgets.HTML(value=caption))
    box = widgets.VBox(parts)
    box.slider = slider
    box.stack = stack
    box.mode = "static"
    return box
