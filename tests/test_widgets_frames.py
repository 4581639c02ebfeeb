"""Tests of course_pkg.widgets.frames (chapter 14)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_pkg.data.moving_shapes import moving_shapes  # noqa: E402
from course_pkg.widgets.frames import (  # noqa: E402
    frame_errors,
    frame_rows_figure,
    next_frame_widget,
)


def _data():
    frames = moving_shapes(2, 5, size=8, seed=0)
    noisy = (frames[1:] + 0.3 * torch.rand(frames[1:].shape,
                                           generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    return frames, {"copy": frames[:-1], "noisy truth": noisy}


def test_frame_errors_by_numpy():
    frames, predictions = _data()
    errors = frame_errors(frames, predictions, example=1)
    f = frames.numpy()
    expected = ((f[:-1, 1] - f[1:, 1]) ** 2).reshape(4, -1).mean(1)
    np.testing.assert_allclose(errors["copy"], expected, rtol=1e-6)


def test_widget_switches_views_and_shows_errors():
    frames, predictions = _data()
    w = next_frame_widget(frames, predictions, example=0)
    assert len(w.stack.children) == 4
    first = w.stack.children[0].value
    w.slider.index = 2                                           # t = 3: predict frame 4
    assert w.stack.selected_index == 2
    view = w.stack.children[2].value
    assert view != first
    f = frames.numpy()
    copy_error = ((f[2, 0] - f[3, 0]) ** 2).mean()
    noisy_error = ((predictions["noisy truth"][2, 0].numpy() - f[3, 0]) ** 2).mean()
    assert "MSE on frame 4" in view
    assert f"{copy_error:.4f}" in view and f"{noisy_error:.4f}" in view


def test_figure_has_a_row_per_model():
    import matplotlib.pyplot as plt

    frames, predictions = _data()
    fig = frame_rows_figure(frames, predictions, example=0, num_steps=3)
    assert len(fig.axes) == 3 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["frame 2", "frame 3", "frame 4"]
    plt.close(fig)
    fig = frame_rows_figure(frames, predictions, num_steps=2, first_frame=6)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["frame 6", "frame 7"]
    plt.close(fig)


def test_bad_inputs():
    frames, predictions = _data()
    with pytest.raises(ValueError, match="predictions"):
        next_frame_widget(frames, {"bad": frames})
    with pytest.raises(ValueError, match="example"):
        next_frame_widget(frames, predictions, example=5)
    with pytest.raises(ValueError, match="frames"):
        frame_errors(frames[0], predictions)
    with pytest.raises(TypeError, match="predictions"):
        frame_rows_figure(frames, {})
    with pytest.raises(ValueError, match="first_frame"):
        frame_rows_figure(frames, predictions, first_frame=0)


def test_widget_live_predicts_another_test_video_in_the_kernel(monkeypatch):
    """Live mode: a video and step not precomputed; errors are the model's own, recomputed."""
    from course_pkg.models.image_sequence import ConvLSTMFramePredictor

    monkeypatch.setenv("COURSE_WIDGETS", "live")
    frames = moving_shapes(3, 5, size=8, seed=0)
    torch.manual_seed(0)
    conv = ConvLSTMFramePredictor(1, 4, 3)
    with torch.no_grad():
        conv_all = torch.sigmoid(conv(frames[:-1])[0])
    predictions = {"ConvLSTM": conv_all, "copy": frames[:-1]}
    w = next_frame_widget(frames, predictions, example=0, models={"ConvLSTM": conv, "copy": None})
    assert w.mode == "live"
    w.set(2, 3)                                           # video 2, t = 3: predict frame 4
    view = w.view.children[0].value
    f = frames.numpy()
    with torch.no_grad():
        conv_video = torch.sigmoid(conv(frames[:3, 2:3])[0])[2, 0].numpy()   # frame 4 of video 2
    assert "test video 2" in view and "MSE on frame 4" in view
    assert f"{((f[2, 2] - f[3, 2]) ** 2).mean():.4f}" in view
    assert f"{((conv_video - f[3, 2]) ** 2).mean():.4f}" in view
    with pytest.raises(ValueError, match=r"models: expected a model .* missing \['copy'\]"):
        next_frame_widget(frames, predictions, models={"ConvLSTM": conv})
