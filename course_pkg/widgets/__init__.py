"""Interactive widgets of the book. Each public function returns an ``ipywidgets`` widget."""

from course_pkg.widgets.precomputed import figure_to_png, precomputed_slider, view_widget

__all__ = ["figure_to_png", "precomputed_slider", "view_widget"]
