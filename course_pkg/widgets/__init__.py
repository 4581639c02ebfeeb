"""Interactive widgets of the book. Each public function returns an ``ipywidgets`` widget."""

from course_pkg.widgets.elman import hidden_state_widget
from course_pkg.widgets.precomputed import figure_to_png, precomputed_slider, view_widget
from course_pkg.widgets.sequences import padding_and_packing_widget

__all__ = ["figure_to_png", "precomputed_slider", "view_widget",
           "padding_and_packing_widget", "hidden_state_widget"]
