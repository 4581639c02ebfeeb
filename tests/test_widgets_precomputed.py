"""The slider-over-precomputed-views widget: driven headlessly, its view follows the slider."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from course_pkg.widgets.precomputed import precomputed_slider, view_widget


def line_figure(slope):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, slope])
    return fig


def test_moving_the_slider_shows_the_matching_view():
    box = precomputed_slider("slope", [1, 2, 3], line_figure)
    assert box.stack.selected_index == 0
    first = box.stack.children[0].value
    box.slider.index = 2
    assert box.stack.selected_index == 2
    shown = box.stack.children[box.stack.selected_index]
    assert isinstance(shown, widgets.Image) and shown.value[:4] == b"\x89PNG"
    assert shown.value != first  # a different figure, not the same picture again


def test_html_views_and_labels():
    box = precomputed_slider("n", [1, 2], lambda n: f"<b>{n * n}</b>", labels=["one", "two"],
                             caption="<i>c</i>")
    assert [label for label, _ in box.slider.options] == ["one", "two"]
    box.slider.value = 1  # the value of a SelectionSlider option is its index
    assert box.stack.children[box.stack.selected_index].value == "<b>4</b>"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(options=[]), "len\\(options\\)"),
        (dict(options=[1, 2], labels=["a"]), "labels: expected 2 labels"),
        (dict(options=[1, 2], labels=["a", "a"]), "labels: expected distinct"),
        (dict(options=[1, 2], initial=5), "initial: expected an index in \\[0, 1\\]"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        precomputed_slider("x", render=lambda v: str(v), **kwargs)


def test_render_must_return_a_view():
    with pytest.raises(TypeError, match="render: expected a matplotlib Figure"):
        view_widget(3.5)
