"""Tests of course_pkg.tasks.next_frame (chapter 14), checked against torch.nn and by hand."""

import numpy as np
import pytest
import torch

from course_pkg.data.moving_shapes import moving_shapes
from course_pkg.tasks.next_frame import (
    MODEL_NAMES,
    convlstm_as_lstm_cell,
    fc_lstm_parameter_count,
    matching_hidden_size,
    next_frame_loss,
    next_frame_mse,
    predicted_frames,
    run_next_frame_experiment,
    score_next_frame,
)
from course_pkg.models.image_sequence import ConvLSTMFramePredictor, FullyConnectedFramePredictor
from course_pkg.models.parameter_count import count_parameters
from course_pkg.nn.convlstm import ConvLSTMCell
from course_pkg.training import random_minibatches, train


def test_fc_parameter_formula_matches_the_model():
    for size, hidden in ((4, 3), (16, 7), (8, 20)):
        model = FullyConnectedFramePredictor(size, 1, hidden)
        assert fc_lstm_parameter_count(size, hidden) == count_parameters(model)


def test_convlstm_parameter_count_by_hand():
    f, k = 16, 3
    model = ConvLSTMFramePredictor(1, f, k)
    by_hand = 4 * f * 1 * k * k + 4 * f * f * k * k + 2 * 4 * f + f + 1
    assert count_parameters(model) == by_hand


def test_matching_hidden_size_is_the_closest():
    target = 9937
    best = matching_hidden_size(target, 16)
    gaps = {h: abs(fc_lstm_parameter_count(16, h) - target) for h in range(1, 60)}
    assert gaps[best] == min(gaps.values())


def test_one_by_one_convlstm_is_torch_lstm_cell():
    torch.manual_seed(0)
    cell = ConvLSTMCell(3, 5, 1).double()
    lstm = convlstm_as_lstm_cell(cell)
    x = torch.randn(4, 3, dtype=torch.float64)
    h0, c0 = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    h, c = cell(x[:, :, None, None], (h0[:, :, None, None], c0[:, :, None, None]))
    h_ref, c_ref = lstm(x, (h0, c0))
    torch.testing.assert_close(h[:, :, 0, 0], h_ref)
    torch.testing.assert_close(c[:, :, 0, 0], c_ref)


def test_convlstm_as_lstm_cell_refuses_bad_cells():
    with pytest.raises(ValueError, match="cell"):
        convlstm_as_lstm_cell(ConvLSTMCell(1, 2, 3))
    with pytest.raises(ValueError, match="cell"):
        convlstm_as_lstm_cell(ConvLSTMCell(1, 2, 1, peepholes=True))
    with pytest.raises(TypeError, match="cell"):
        convlstm_as_lstm_cell(torch.nn.LSTMCell(1, 2))


def test_loss_is_binary_cross_entropy_of_shifted_frames():
    torch.manual_seed(1)
    frames = moving_shapes(3, 5, size=8, seed=2)
    model = ConvLSTMFramePredictor(1, 4, 3)
    logits, _ = model(frames[:-1])
    p, y = torch.sigmoid(logits), frames[1:]
    by_hand = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    torch.testing.assert_close(next_frame_loss(model, frames), by_hand, rtol=1e-5, atol=1e-6)


def test_copy_last_frame_mse_by_numpy():
    frames = moving_shapes(4, 6, size=8, seed=3)
    array = frames.numpy()
    expected = float(((array[:-1] - array[1:]) ** 2).mean())
    assert next_frame_mse(predicted_frames(None, frames), frames) == pytest.approx(expected)


def test_bad_inputs():
    frames = moving_shapes(2, 4, size=8)
    with pytest.raises(ValueError, match="frames"):
        next_frame_mse(frames[:1], frames[:1])
    with pytest.raises(ValueError, match="predictions"):
        next_frame_mse(frames, frames)
    with pytest.raises(ValueError, match="frames"):
        predicted_frames(None, frames[0])
    with pytest.raises(ValueError, match="target_parameters"):
        matching_hidden_size(0, 16)
    with pytest.raises(ValueError, match="batch_size"):
        run_next_frame_experiment(steps=1, batch_size=8, num_train=4)
    with pytest.raises(TypeError, match="steps"):
        run_next_frame_experiment(steps=1.5)


def test_tiny_experiment():
    result = run_next_frame_experiment(steps=3, batch_size=4, num_frames=5, frame_size=8,
                                       hidden_channels=4, num_train=8, num_test=4, seed=5)
    assert set(result.test_mse) == set(MODEL_NAMES)
    assert len(result.losses["ConvLSTM"]) == len(result.losses["FC-LSTM"]) == 3
    test = moving_shapes(4, 5, size=8, seed=6).numpy()
    copy = float(((test[:-1] - test[1:]) ** 2).mean())
    assert result.test_mse["copy last frame"] == pytest.approx(copy)
    conv_params = sum(p.numel() for p in result.models["ConvLSTM"].parameters())
    assert result.parameters["ConvLSTM"] == conv_params
    for name in ("ConvLSTM", "FC-LSTM"):
        p = result.predictions[name].numpy()
        assert result.test_mse[name] == pytest.approx(float(((p - test[1:]) ** 2).mean()),
                                                      rel=1e-5)


def test_score_next_frame_against_numpy():
    torch.manual_seed(3)
    frames = moving_shapes(3, 5, size=8, seed=4)                       # (5, 3, 1, 8, 8)
    models = {"ConvLSTM": ConvLSTMFramePredictor(1, 3, 3),
              "FC-LSTM": FullyConnectedFramePredictor(8, 1, 4)}
    result = score_next_frame(models, {"ConvLSTM": [0.5], "FC-LSTM": [0.7]}, frames)
    assert list(result.test_mse) == list(MODEL_NAMES) == list(result.parameters)
    assert result.parameters["copy last frame"] == 0 and result.models is models
    assert result.losses == {"ConvLSTM": [0.5], "FC-LSTM": [0.7]}
    array = frames.numpy()
    for name, model in models.items():
        assert result.parameters[name] == sum(p.numel() for p in model.parameters())
        with torch.no_grad():
            logits = model(frames[:-1])[0].numpy()                     # (4, 3, 1, 8, 8)
        probabilities = 1 / (1 + np.exp(-logits.astype(np.float64)))
        np.testing.assert_allclose(result.predictions[name].numpy(), probabilities, rtol=1e-5)
        assert result.test_mse[name] == pytest.approx(
            float(((probabilities - array[1:]) ** 2).mean()), rel=1e-5)
    np.testing.assert_array_equal(result.predictions["copy last frame"].numpy(), array[:-1])
    assert result.test_mse["copy last frame"] == pytest.approx(
        float(((array[:-1] - array[1:]) ** 2).mean()))
    with pytest.raises(ValueError, match="losses"):
        score_next_frame(models, {"ConvLSTM": [0.5]}, frames)


def test_random_minibatches_draw_the_order_of_one_randint_call():
    """The batches step by step are the rows of one (steps, batch_size) draw from the seed."""
    order = torch.randint(20, (7, 5), generator=torch.Generator().manual_seed(4))
    pick = random_minibatches(20, 5, seed=4)
    for row in order:
        assert torch.equal(pick(), row)


def test_the_chapters_recipe_reproduces_the_experiment():
    """Chapter 14's cell (data, models, train per model, score_next_frame) gives the wrapper's
    numbers exactly."""
    train_frames = moving_shapes(8, 5, size=8, seed=5)
    test_frames = moving_shapes(4, 5, size=8, seed=6)
    torch.manual_seed(5)
    conv = ConvLSTMFramePredictor(1, hidden_channels=4, kernel_size=3)
    fc_hidden = matching_hidden_size(count_parameters(conv), frame_size=8)
    torch.manual_seed(5)
    fc = FullyConnectedFramePredictor(8, 1, hidden_size=fc_hidden)
    models, losses = {"ConvLSTM": conv, "FC-LSTM": fc}, {}
    for name, model in models.items():
        pick = random_minibatches(8, batch_size=4, seed=5)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        history = train(model, lambda: train_frames[:, pick()], next_frame_loss, optimizer,
                        steps=4, clip_norm=None, seed=5, progress=False)
        losses[name] = history.losses
    mine = score_next_frame(models, losses, test_frames)

    theirs = run_next_frame_experiment(steps=4, batch_size=4, num_frames=5, frame_size=8,
                                       hidden_channels=4, num_train=8, num_test=4, seed=5)
    assert mine.losses == theirs.losses and mine.test_mse == theirs.test_mse
    assert mine.parameters == theirs.parameters
    assert torch.equal(mine.test_frames, theirs.test_frames)
    for name in MODEL_NAMES:
        assert torch.equal(mine.predictions[name], theirs.predictions[name])
