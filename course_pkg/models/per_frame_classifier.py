"""The baseline of chapter 17's frame experiment: a CNN that labels each frame on its own.

`PerFrameClassifier` runs the same small CNN as `FrameSequenceClassifier`
(`course_pkg.models.image_sequence.FrameEncoder`) on every frame, but puts a linear layer
directly on its features instead of an LSTM::

    z_t = CNN(X_t)        (B, F)      all T*B frames at once
    y_t = W z_t + b       (B, K)      logits for frame t

so the label of frame t can depend on frame t only: it can read the digit in front of it but
cannot remember one shown earlier. Frames are time-major, (T, B, C, S, S).
"""

from __future__ import annotations

from torch import Tensor, nn

from course_pkg.models.image_sequence import FrameEncoder
from course_pkg.validation import require_positive_int

__all__ = ["PerFrameClassifier"]


class PerFrameClassifier(nn.Module):
    """The CNN without the recurrence: `FrameEncoder` and a linear layer on each frame alone,
    frames (T, B, C, S, S) -> logits (T, B, K). Label t can depend on frame t only."""

    def __init__(self, num_classes: int, in_channels: int = 1, frame_size: int = 8,
                 feature_size: int = 32) -> None:
        super().__init__()
        require_positive_int("num_classes", num_classes)
        self.encoder = FrameEncoder(in_channels, frame_size, feature_size)
        self.output = nn.Linear(feature_size, num_classes)

    def forward(self, frames: Tensor) -> Tensor:
        if not isinstance(frames, Tensor):
            raise TypeError(f"frames: expected a torch.Tensor, got {type(frames).__name__}")
        if frames.ndim != 5:
            raise ValueError(f"frames: expected a 5-D tensor (T, B, C, S, S), got shape "
                             f"{tuple(frames.shape)}")
        steps, batch = frames.shape[:2]
        features = self.encoder(frames.flatten(0, 1))                    # (T*B, F)
        return self.output(features).view(steps, batch, -1)              # (T, B, K)
