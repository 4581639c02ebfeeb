"""Next-frame prediction on moving shapes (chapter 14): ConvLSTM vs FC-LSTM vs copy-last-frame.

Shi et al. (2015), *Convolutional LSTM Network*, compare a ConvLSTM with a fully connected LSTM
("FC-LSTM") on moving MNIST. This module repeats the comparison at CPU scale on
`course_pkg.data.moving_shapes`:

- `ConvLSTMFramePredictor` (`course_pkg.models.image_sequence`): a ConvLSTM, then a 1x1
  convolution to one logit per pixel;
- `FullyConnectedFramePredictor`: each 16x16 frame flattened to 256 numbers for an ordinary LSTM,
  with a hidden size chosen by `matching_hidden_size` so that it has about as many parameters as
  the ConvLSTM;
- `copy_last_frame`: predict that nothing moves.

Both networks read frames X_1..X_t and output logits of X_{t+1} at every step; they are trained
with the per-pixel binary cross-entropy (`next_frame_loss`) for the **same number of steps** on
the same batches, and scored by the mean squared error between the predicted probabilities and
the true next frames on held-out videos (`next_frame_mse`)::

    MSE = mean over t = 1..T-1, videos, pixels of (sigmoid(logit_t) - X_{t+1})^2

`run_next_frame_experiment` does all of it in one call; chapter 14 writes the same recipe out
(data, models, one `course_pkg.training.train` call per model, then `score_next_frame`), and
both give the same numbers.

`convlstm_as_lstm_cell` copies a 1x1 ConvLSTM cell into a `torch.nn.LSTMCell`, for the check that
a ConvLSTM on a 1x1 grid is an LSTM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.data.moving_shapes import moving_shapes
from course_pkg.models.image_sequence import (
    ConvLSTMFramePredictor,
    FullyConnectedFramePredictor,
    copy_last_frame,
    require_video,
)
from course_pkg.models.parameter_count import closest_size, count_parameters
from course_pkg.nn.convlstm import ConvLSTMCell
from course_pkg.training import evaluating, random_minibatches, train
from course_pkg.validation import require_floating, require_positive_int

__all__ = ["fc_lstm_parameter_count", "matching_hidden_size",
           "convlstm_as_lstm_cell", "next_frame_loss", "predicted_frames", "next_frame_mse",
           "NextFrameResult", "score_next_frame", "run_next_frame_experiment", "MODEL_NAMES"]

MODEL_NAMES = ("ConvLSTM", "FC-LSTM", "copy last frame")


def fc_lstm_parameter_count(frame_size: int, hidden_size: int, in_channels: int = 1) -> int:
    """Parameters of `FullyConnectedFramePredictor`, by formula (P = C*S*S pixels, H hidden).

    The LSTM has ``4H*P + 4H*H + 2*4H`` and the readout ``H*P + P``.
    """
    require_positive_int("frame_size", frame_size)
    require_positive_int("hidden_size", hidden_size)
    require_positive_int("in_channels", in_channels)
    pixels, h = in_channels * frame_size ** 2, hidden_size
    return 4 * h * pixels + 4 * h * h + 8 * h + h * pixels + pixels


def matching_hidden_size(target_parameters: int, frame_size: int, in_channels: int = 1) -> int:
    """The FC-LSTM hidden size whose parameter count is closest to ``target_parameters``."""
    require_positive_int("target_parameters", target_parameters)
    return closest_size(lambda H: fc_lstm_parameter_count(frame_size, H, in_channels),
                        target_parameters)


def convlstm_as_lstm_cell(cell: ConvLSTMCell) -> nn.LSTMCell:
    """A `torch.nn.LSTMCell` holding the weights of a 1x1 ConvLSTM cell without peepholes.

    ``weight_ih`` (4F, C, 1, 1) becomes (4F, C), ``weight_hh`` (4F, F, 1, 1) becomes (4F, F); the
    gate order i, f, g, o is the same in both.
    """
    if not isinstance(cell, ConvLSTMCell):
        raise TypeError(f"cell: expected a ConvLSTMCell, got {type(cell).__name__}")
    if cell.kernel_size != 1:
        raise ValueError(f"cell: expected kernel_size 1, got {cell.kernel_size}")
    if cell.peephole_weights is not None:
        raise ValueError("cell: expected peepholes=False (torch.nn.LSTMCell has no peepholes), "
                         "got peepholes=True")
    lstm = nn.LSTMCell(cell.input_channels, cell.hidden_channels, bias=cell.bias,
                       dtype=cell.weight_ih.dtype)
    with torch.no_grad():
        lstm.weight_ih.copy_(cell.weight_ih.flatten(1))                # (4F, C)
        lstm.weight_hh.copy_(cell.weight_hh.flatten(1))                # (4F, F)
        if cell.bias:
            lstm.bias_ih.copy_(cell.bias_ih)
            lstm.bias_hh.copy_(cell.bias_hh)
    return lstm


def _require_video(name: str, frames) -> None:
    """Floating frames (T, B, C, H, W) with T >= 2."""
    if isinstance(frames, Tensor):
        require_floating(name, frames)
    require_video(name, frames)


def next_frame_loss(model: nn.Module, frames: Tensor) -> Tensor:
    """Per-pixel binary cross-entropy of the logits at steps 1..T-1 against frames 2..T."""
    _require_video("frames", frames)
    logits, _ = model(frames[:-1])                                     # (T-1, B, C, H, W)
    return F.binary_cross_entropy_with_logits(logits, frames[1:])


@torch.no_grad()
def predicted_frames(model: nn.Module | None, frames: Tensor) -> Tensor:
    """Predictions (T-1, B, C, H, W) in [0, 1] of frames 2..T; ``model=None`` copies the last
    frame."""
    _require_video("frames", frames)
    if model is None:
        return copy_last_frame(frames)
    with evaluating(model):
        logits, _ = model(frames[:-1])
    return torch.sigmoid(logits)


def next_frame_mse(predictions: Tensor, frames: Tensor) -> float:
    """Mean squared error between ``predictions`` (T-1, B, ...) and ``frames[1:]``."""
    _require_video("frames", frames)
    if not isinstance(predictions, Tensor) or predictions.shape != frames[1:].shape:
        raise ValueError(f"predictions: expected shape {tuple(frames[1:].shape)} (frames 2..T), "
                         f"got {tuple(getattr(predictions, 'shape', ()))}")
    return float(((predictions - frames[1:]) ** 2).mean())


@dataclass
class NextFrameResult:
    """What `run_next_frame_experiment` measured."""

    models: dict                  # name -> trained model (ConvLSTM, FC-LSTM)
    parameters: dict              # name -> parameter count (0 for copy-last-frame)
    test_mse: dict                # name -> held-out MSE
    losses: dict                  # name -> training losses, one per step
    test_frames: Tensor           # (T, B, 1, S, S) held-out videos
    predictions: dict = field(default_factory=dict)   # name -> (T-1, B, 1, S, S) in [0, 1]


def score_next_frame(models: dict, losses: dict, test_frames: Tensor) -> NextFrameResult:
    """Score trained predictors and copy-last-frame on held-out videos.

    Args:
        models: name -> trained predictor, e.g. ``{"ConvLSTM": conv, "FC-LSTM": fc}``; each maps
            frames (T-1, B, C, H, W) to ``(logits, state)`` with logits of the same shape.
        losses: name -> the training losses of that model, one per step (kept in the result).
        test_frames: held-out videos (T, B, C, H, W).

    Returns:
        A `NextFrameResult` with, for every model and for ``"copy last frame"`` (added last),
        its parameter count (0 for copy-last-frame), its predictions of frames 2..T,
        (T-1, B, C, H, W) in [0, 1], and their `next_frame_mse` against ``test_frames``.
    """
    _require_video("test_frames", test_frames)
    if set(losses) != set(models):
        raise ValueError(f"losses: expected one entry per model {sorted(models)}, got "
                         f"{sorted(losses)}")
    result = NextFrameResult(models=models, parameters={}, test_mse={}, losses=dict(losses),
                             test_frames=test_frames)
    for name, model in models.items():
        result.parameters[name] = count_parameters(model)
        result.predictions[name] = predicted_frames(model, test_frames)   # (T-1, B, C, H, W)
    result.parameters["copy last frame"] = 0
    result.predictions["copy last frame"] = predicted_frames(None, test_frames)
    for name, predictions in result.predictions.items():
        result.test_mse[name] = next_frame_mse(predictions, test_frames)
    return result


def run_next_frame_experiment(steps: int = 300, batch_size: int = 16, num_frames: int = 10,
                              frame_size: int = 16, hidden_channels: int = 16,
                              kernel_size: int = 3, num_train: int = 512, num_test: int = 64,
                              learning_rate: float = 0.01, seed: int = 0) -> NextFrameResult:
    """Train a ConvLSTM and an FC-LSTM of about its size for ``steps`` Adam steps each, on the
    same batches of moving shapes, and score both and copy-last-frame on held-out videos
    (`score_next_frame`)."""
    for name, value in (("steps", steps), ("batch_size", batch_size), ("num_train", num_train),
                        ("num_test", num_test)):
        require_positive_int(name, value)
    if batch_size > num_train:
        raise ValueError(f"batch_size: expected at most num_train = {num_train}, got "
                         f"{batch_size}")
    # train_frames (T, num_train, 1, S, S), test_frames (T, num_test, 1, S, S)
    train_frames = moving_shapes(num_train, num_frames, size=frame_size, seed=seed)
    test_frames = moving_shapes(num_test, num_frames, size=frame_size, seed=seed + 1)

    torch.manual_seed(seed)
    conv = ConvLSTMFramePredictor(1, hidden_channels, kernel_size)
    fc_hidden = matching_hidden_size(count_parameters(conv), frame_size)
    torch.manual_seed(seed)
    fc = FullyConnectedFramePredictor(frame_size, 1, fc_hidden)
    models, losses = {"ConvLSTM": conv, "FC-LSTM": fc}, {}
    for name, model in models.items():
        # the same sequence of batches for both models: (batch_size,) video indices per step
        pick = random_minibatches(num_train, batch_size, seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        history = train(model, lambda: train_frames[:, pick()], next_frame_loss, optimizer,
                        steps, seed=seed, progress=False)
        losses[name] = history.losses
    return score_next_frame(models, losses, test_frames)
