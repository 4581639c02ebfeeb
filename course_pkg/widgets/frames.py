"""Pictures of next-frame prediction (chapter 14, ConvLSTM).

- :func:`frame_rows_figure`: one row of true frames, then one row of predicted frames per model,
  for one video (the chapter's figure).
- :func:`next_frame_widget`: a slider over the time step t; each view shows the frame X_t the
  models have just read, the true next frame X_{t+1}, every model's prediction of it, and a
  table of each prediction's squared error on that frame.

Predictions come as a dict ``name -> (T-1, B, 1, H, W)`` tensor in [0, 1] where entry ``t - 1``
predicts frame ``t + 1`` (as `course_pkg.tasks.next_frame.predicted_frames` returns them).
All views are computed when the widget is built (`precomputed_slider`), so the slider also
works in the static HTML book. In a live kernel, given the trained ``models``, the widget has a
second slider over every test video, and the models predict the chosen video's frames in the
kernel (`course_pkg.tasks.next_frame.predicted_frames`).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from course_pkg.models.image_sequence import require_video
from course_pkg.validation import require_positive_int
from course_pkg.widgets.html_table import html_table
from course_pkg.widgets.live import LiveRange, live_controls, widget_mode
from course_pkg.widgets.precomputed import figure_to_png, png_data_uri, precomputed_slider

__all__ = ["frame_rows_figure", "frame_errors", "next_frame_widget"]


def _check(frames, predictions, example):
    require_video("frames", frames, "(T, B, 1, H, W) frames")
    if not isinstance(predictions, dict) or not predictions:
        raise TypeError(f"predictions: expected a non-empty dict name -> tensor, got "
                        f"{type(predictions).__name__}")
    for name, predicted in predictions.items():
        if not isinstance(predicted, Tensor) or predicted.shape != frames[1:].shape:
            raise ValueError(f"predictions[{name!r}]: expected shape {tuple(frames[1:].shape)} "
                             f"(predictions of frames 2..T), got "
                             f"{tuple(getattr(predicted, 'shape', ()))}")
    if isinstance(example, bool) or not isinstance(example, int) \
            or not 0 <= example < frames.shape[1]:
        raise ValueError(f"example: expected an int in [0, {frames.shape[1] - 1}], got "
                         f"{example!r}")


def _image(frame) -> np.ndarray:
    return frame[0].detach().cpu().numpy()                               # (H, W)


def frame_errors(frames: Tensor, predictions: dict, example: int = 0) -> dict:
    """``name -> (T-1,) array``: the mean squared error of each model's prediction of frames
    2..T of video ``example``."""
    _check(frames, predictions, example)
    truth = frames[1:, example]                                          # (T-1, 1, H, W)
    return {name: ((predicted[:, example] - truth) ** 2).flatten(1).mean(1).numpy()
            for name, predicted in predictions.items()}


def frame_rows_figure(frames: Tensor, predictions: dict, example: int = 0,
                      num_steps: int | None = None, first_frame: int = 2):
    """A figure: the true frames 2..T of video ``example`` on top, then a row per model.

    ``num_steps`` limits the columns; ``first_frame`` is the number written over the first
    column (2 when ``frames`` starts at frame 1 of the video).
    """
    import matplotlib.pyplot as plt

    _check(frames, predictions, example)
    steps = frames.shape[0] - 1 if num_steps is None else num_steps
    require_positive_int("num_steps", steps)
    require_positive_int("first_frame", first_frame)
    steps = min(steps, frames.shape[0] - 1)
    rows = [("true", frames[1:steps + 1, example])]
    rows += [(name, predicted[:steps, example]) for name, predicted in predictions.items()]
    fig, axes = plt.subplots(len(rows), steps, figsize=(1.1 * steps + 1.2, 1.15 * len(rows)),
                             squeeze=False)
    for r, (name, row) in enumerate(rows):
        for t in range(steps):
            ax = axes[r, t]
            ax.imshow(_image(row[t]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {t + first_frame}", fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def _render_step(t: int, frames: Tensor, predictions: dict, example: int, errors: dict) -> str:
    """The view of step t: X_t, the true X_{t+1}, each model's prediction, and the errors."""
    import matplotlib.pyplot as plt

    names = list(predictions)
    panels = [(f"read: frame {t}", frames[t - 1, example]),
              (f"true frame {t + 1}", frames[t, example])]
    panels += [(name, predictions[name][t - 1, example]) for name in names]
    fig, axes = plt.subplots(1, len(panels), figsize=(1.6 * len(panels), 1.9))
    for ax, (title, frame) in zip(axes, panels):
        ax.imshow(_image(frame), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    picture = (f"<img src='{png_data_uri(figure_to_png(fig))}' "
               f"alt='frame {t + 1} and its predictions' style='max-width:100%'/>")
    table = html_table(["model", f"MSE on frame {t + 1}"],
                       [[name, f"{errors[name][t - 1]:.4f}"] for name in names],
                       "next-frame-errors")
    return picture + table


def _live_next_frame_widget(frames: Tensor, names: list, models: dict, example: int):
    from course_pkg.tasks.next_frame import predicted_frames

    missing = [name for name in names if name not in models]
    if missing:
        raise ValueError(f"models: expected a model (or None for copy-last-frame) for every "
                         f"name in predictions, {names}; missing {missing}")
    seen = {}

    def render(video, t):
        if video not in seen:
            one = frames[:, video:video + 1]                             # (T, 1, 1, H, W)
            predicted = {name: predicted_frames(models[name], one) for name in names}
            seen[video] = (one, predicted, frame_errors(one, predicted, 0))
        one, predicted, errors = seen[video]
        return f"<div>test video {video}</div>" + _render_step(t, one, predicted, 0, errors)

    return live_controls(
        [("test video", LiveRange(0, frames.shape[1] - 1, 1, integer=True, fmt="d"), example),
         ("step t", LiveRange(1, frames.shape[0] - 1, 1, integer=True, fmt="d"), 1)],
        render,
        caption="The models have read frames 1..t and predict frame t+1; pick any test video: "
                "the trained models predict it in the kernel.")


def next_frame_widget(frames: Tensor, predictions: dict, example: int = 0,
                      models: dict | None = None):
    """A slider over t = 1..T-1: X_t, the true X_{t+1} and each model's prediction of it.

    ``models`` (name -> trained model, or None for copy-last-frame; one per name of
    ``predictions``) gives live mode a second slider over every test video, predicted in the
    kernel; without it live mode walks the precomputed steps on demand.
    """
    _check(frames, predictions, example)
    if models is not None and not isinstance(models, dict):
        raise TypeError(f"models: expected a dict name -> model or None, got "
                        f"{type(models).__name__}")
    if models is not None and widget_mode() == "live":
        return _live_next_frame_widget(frames, list(predictions), models, example)
    errors = frame_errors(frames, predictions, example)

    def render(t):
        return _render_step(t, frames, predictions, example, errors)

    options = list(range(1, frames.shape[0]))
    return precomputed_slider("step t", options, render, labels=[str(t) for t in options],
                              caption="The models have read frames 1..t and predict frame t+1.")
