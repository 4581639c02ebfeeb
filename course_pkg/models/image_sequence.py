"""Recurrent models over images: CNN features fed to an LSTM (chapter 17) and next-frame
predictors (chapter 14).

A CNN is good at one picture, an LSTM at a sequence; for a sequence of pictures the two are
chained (Donahue et al. 2015, *Long-term Recurrent Convolutional Networks*): a small CNN,
`FrameEncoder`, turns each frame into a feature vector, and an LSTM (`course_pkg.nn.LSTM`) reads
the vectors in order::

    z_t = CNN(X_t)                 (B, F)      the same CNN for every frame (all T*B at once)
    h_t = LSTM(z_t, h_{t-1})       (B, H)
    y_t = W h_t + b                (B, K)      a label per frame          `FrameSequenceClassifier`

One-to-many, as in image captioning (Vinyals et al. 2015, *Show and Tell*, with the image setting
the initial state as in Xu et al. 2015): one image starts the LSTM, which then writes a sequence
of tokens, each step reading the previous token::

    z = CNN(X);   h_0 = tanh(W_h z),  c_0 = tanh(W_c z)
    h_t = LSTM(E[w_{t-1}], h_{t-1});   p(w_t | w_<t, X) = softmax(W_out h_t)      `ImageCaptioner`

Next-frame prediction (Shi et al. 2015, scaled down): read frames X_1..X_t and predict X_{t+1}.
`ConvLSTMFramePredictor` keeps the picture (`course_pkg.nn.ConvLSTM` and a 1x1 convolution to
one logit per pixel); `FullyConnectedFramePredictor` is the baseline that flattens each frame
into a vector for an ordinary LSTM (the "FC-LSTM" of Shi et al.). Both return per-pixel logits
(train with ``binary_cross_entropy_with_logits`` on frames in [0, 1]); `copy_last_frame` is the
trivial baseline, and `rollout` lets a predictor continue a video from its own predictions.

Frames are time-major: (T, B, C, S, S) for sequences, (B, C, S, S) for single images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.convlstm import ConvLSTM
from course_pkg.nn.recurrent import LSTM
from course_pkg.validation import (
    require_floating,
    require_ndim,
    require_positive_int,
    require_shape,
)

__all__ = ["FrameEncoder", "FrameSequenceClassifier", "ImageCaptioner",
           "ConvLSTMFramePredictor", "FullyConnectedFramePredictor", "copy_last_frame",
           "rollout", "require_video"]


def require_video(name: str, frames, layout: str = "(T, B, C, H, W) frames") -> None:
    """A tensor of frames (T, B, C, H, W) with at least two steps (a frame and its successor)."""
    if not isinstance(frames, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(frames).__name__}")
    require_ndim(name, frames, 5, layout)
    if frames.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 frames (T >= 2), got shape "
                         f"{tuple(frames.shape)}")


def _require_frames(name: str, frames: Tensor, channels: int, size: int | None,
                    ndim: int = 5) -> None:
    """Floating frames (T, B, C, S, S) (ndim 5) or images (B, C, S, S) (ndim 4)."""
    if not isinstance(frames, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(frames).__name__}")
    require_floating(name, frames)
    layout = "(T, B, C, S, S) frames" if ndim == 5 else "(B, C, S, S) images"
    require_ndim(name, frames, ndim, layout)
    side = "S" if size is None else size
    require_shape(name, frames, (*(("T", "B") if ndim == 5 else ("B",)), channels, side, side),
                  f"{layout} with C = {channels}" + ("" if size is None else f", S = {size}"))


class FrameEncoder(nn.Module):
    """A small CNN: (N, C, S, S) -> (N, F), S a multiple of 4 (e.g. 8 or 16).

    Layers: conv 3x3 (C -> k), ReLU, max-pool 2, conv 3x3 (k -> 2k), ReLU, max-pool 2,
    flatten (2k * S/4 * S/4), linear (-> F), ReLU.
    """

    def __init__(self, in_channels: int = 1, frame_size: int = 8, feature_size: int = 32,
                 channels: int = 8) -> None:
        super().__init__()
        for name, value in [("in_channels", in_channels), ("frame_size", frame_size),
                            ("feature_size", feature_size), ("channels", channels)]:
            require_positive_int(name, value)
        if frame_size % 4:
            raise ValueError(f"frame_size: expected a multiple of 4 (two 2x2 poolings), got "
                             f"{frame_size}")
        self.in_channels, self.frame_size, self.feature_size = in_channels, frame_size, feature_size
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.project = nn.Linear(2 * channels * (frame_size // 4) ** 2, feature_size)

    def forward(self, images: Tensor) -> Tensor:
        _require_frames("images", images, self.in_channels, self.frame_size, ndim=4)
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)                # (N, k, S/2, S/2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)                     # (N, 2k, S/4, S/4)
        return F.relu(self.project(x.flatten(1)))                      # (N, F)


class FrameSequenceClassifier(nn.Module):
    """Many-to-many over frames: `FrameEncoder` on every frame, an LSTM, a label per frame.

    ``forward(frames)``: (T, B, C, S, S) -> logits (T, B, num_classes). The LSTM reads left to
    right, so the label of frame t depends on frames 1..t only (take ``[-1]`` for one label per
    sequence).
    """

    def __init__(self, num_classes: int, in_channels: int = 1, frame_size: int = 8,
                 feature_size: int = 32, hidden_size: int = 64, num_layers: int = 1) -> None:
        super().__init__()
        require_positive_int("num_classes", num_classes)
        self.encoder = FrameEncoder(in_channels, frame_size, feature_size)
        self.recurrent = LSTM(feature_size, hidden_size, num_layers=num_layers)
        self.output = nn.Linear(hidden_size, num_classes)

    def forward(self, frames: Tensor) -> Tensor:
        _require_frames("frames", frames, self.encoder.in_channels, self.encoder.frame_size)
        steps, batch = frames.shape[:2]
        features = self.encoder(frames.flatten(0, 1)).view(steps, batch, -1)   # (T, B, F)
        states, _ = self.recurrent(features)                                    # (T, B, H)
        return self.output(states)                                              # (T, B, K)


class ImageCaptioner(nn.Module):
    """One-to-many: an image sets the LSTM's initial state, the LSTM writes tokens.

    ``forward(images, tokens)``: images (B, C, S, S), tokens (T, B) the decoder's *inputs*
    (teacher forcing: a start token, then the caption without its last token) -> logits
    (T, B, vocab_size) for the caption itself. ``generate(images, start_id, max_length)`` writes
    greedily (the most likely token at each step) and returns (max_length, B) token ids.
    """

    def __init__(self, vocab_size: int, in_channels: int = 1, frame_size: int = 8,
                 feature_size: int = 32, embedding_dim: int = 16, hidden_size: int = 64) -> None:
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("embedding_dim", embedding_dim)
        require_positive_int("hidden_size", hidden_size)
        self.vocab_size = vocab_size
        self.encoder = FrameEncoder(in_channels, frame_size, feature_size)
        self.initial_h = nn.Linear(feature_size, hidden_size)      # W_h
        self.initial_c = nn.Linear(feature_size, hidden_size)      # W_c
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.decoder = LSTM(embedding_dim, hidden_size)
        self.output = nn.Linear(hidden_size, vocab_size)

    def initial_state(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``(h_0, c_0)``, each (1, B, H), from the image features."""
        features = self.encoder(images)                                         # (B, F)
        return (torch.tanh(self.initial_h(features)).unsqueeze(0),
                torch.tanh(self.initial_c(features)).unsqueeze(0))

    def _check_tokens(self, tokens: Tensor, batch: int) -> None:
        if not isinstance(tokens, Tensor) or tokens.dtype.is_floating_point \
                or tokens.dtype == torch.bool:
            raise TypeError(f"tokens: expected an integer tensor of token ids, got "
                            f"{getattr(tokens, 'dtype', type(tokens).__name__)}")
        require_shape("tokens", tokens, ("T", batch), "(T, B) decoder inputs, B = images' batch")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"tokens: expected ids in [0, {self.vocab_size - 1}], got values in "
                             f"[{tokens.min().item()}, {tokens.max().item()}]")

    def forward(self, images: Tensor, tokens: Tensor) -> Tensor:
        state = self.initial_state(images)
        self._check_tokens(tokens, images.shape[0])
        states, _ = self.decoder(self.embedding(tokens), state)                # (T, B, H)
        return self.output(states)                                              # (T, B, V)

    @torch.no_grad()
    def generate(self, images: Tensor, start_id: int, max_length: int) -> Tensor:
        """Greedy captions (max_length, B): each step feeds back the most likely token."""
        require_positive_int("max_length", max_length)
        if isinstance(start_id, bool) or not isinstance(start_id, int) \
                or not 0 <= start_id < self.vocab_size:
            raise ValueError(f"start_id: expected an id in [0, {self.vocab_size - 1}], got "
                             f"{start_id!r}")
        state = self.initial_state(images)
        token = torch.full((1, images.shape[0]), start_id, dtype=torch.int64,
                           device=images.device)                                # (1, B)
        written = []
        for _ in range(max_length):
            states, state = self.decoder(self.embedding(token), state)         # (1, B, H)
            token = self.output(states).argmax(dim=2)                          # (1, B)
            written.append(token)
        return torch.cat(written)                                               # (T, B)


class ConvLSTMFramePredictor(nn.Module):
    """Next-frame prediction with a ConvLSTM: logits of X_{t+1} from frames X_1..X_t.

    ``forward(frames, state=None)``: frames (T, B, C, H, W) -> ``(logits, state)``, logits
    (T, B, C, H, W) where ``logits[t]`` predicts ``frames[t + 1]``, and the ConvLSTM's state
    ``(h, c)`` to continue from.
    """

    def __init__(self, in_channels: int = 1, hidden_channels: int = 16, kernel_size: int = 3,
                 num_layers: int = 1) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.recurrent = ConvLSTM(in_channels, hidden_channels, kernel_size, num_layers)
        self.output = nn.Conv2d(hidden_channels, in_channels, kernel_size=1)  # a logit per pixel

    def forward(self, frames: Tensor, state: tuple[Tensor, Tensor] | None = None):
        _require_frames("frames", frames, self.in_channels, None)
        states, state = self.recurrent(frames, state)                         # (T, B, F, H, W)
        logits = self.output(states.flatten(0, 1))                            # (T*B, C, H, W)
        return logits.view(frames.shape), state


class FullyConnectedFramePredictor(nn.Module):
    """The FC-LSTM baseline: each frame flattened to a vector of C*S*S pixels, an LSTM, a linear
    layer back to C*S*S logits. ``forward(frames, state=None) -> (logits, state)`` as
    `ConvLSTMFramePredictor`; frames must be (T, B, C, S, S) with the given C and S."""

    def __init__(self, frame_size: int, in_channels: int = 1, hidden_size: int = 128,
                 num_layers: int = 1) -> None:
        super().__init__()
        require_positive_int("frame_size", frame_size)
        require_positive_int("in_channels", in_channels)
        self.in_channels, self.frame_size = in_channels, frame_size
        pixels = in_channels * frame_size ** 2
        self.recurrent = LSTM(pixels, hidden_size, num_layers=num_layers)
        self.output = nn.Linear(hidden_size, pixels)

    def forward(self, frames: Tensor, state: tuple[Tensor, Tensor] | None = None):
        _require_frames("frames", frames, self.in_channels, self.frame_size)
        states, state = self.recurrent(frames.flatten(2), state)              # (T, B, H)
        return self.output(states).view(frames.shape), state                  # (T, B, C, S, S)


def copy_last_frame(frames: Tensor) -> Tensor:
    """The baseline "nothing moves": X_t is the prediction of X_{t+1}. For frames (T, B, ...)
    returns the predictions of ``frames[1:]``, that is ``frames[:-1]`` (T-1, B, ...)."""
    require_video("frames", frames)
    return frames[:-1]


@torch.no_grad()
def rollout(predictor: nn.Module, context: Tensor, steps: int) -> Tensor:
    """Continue a video: read ``context`` (T, B, C, H, W), then predict ``steps`` frames, each
    from the previous prediction (probabilities ``sigmoid(logits)`` fed back as the next input).
    Returns the predicted frames (steps, B, C, H, W) in [0, 1]."""
    require_positive_int("steps", steps)
    logits, state = predictor(context)
    frame = torch.sigmoid(logits[-1:])                                        # (1, B, C, H, W)
    predicted = [frame]
    for _ in range(steps - 1):
        logits, state = predictor(frame, state)
        frame = torch.sigmoid(logits)
        predicted.append(frame)
    return torch.cat(predicted)
