"""course_pkg.models.image_sequence: CNN + LSTM over frames, captioning, next-frame predictors:
shapes, causality, state continuation, overfitting tiny batches, bad input."""

import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.moving_shapes import SHAPE_SIZE, moving_shapes
from course_pkg.models.image_sequence import (
    ConvLSTMFramePredictor,
    FrameEncoder,
    FrameSequenceClassifier,
    FullyConnectedFramePredictor,
    ImageCaptioner,
    copy_last_frame,
    rollout,
)



def train(model, loss_fn, steps, lr=1e-2):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_encoder_shapes_and_sizes():
    torch.manual_seed(0)
    assert FrameEncoder(1, 8, 12)(torch.zeros(5, 1, 8, 8)).shape == (5, 12)
    assert FrameEncoder(3, 16, 7)(torch.zeros(2, 3, 16, 16)).shape == (2, 7)
    with pytest.raises(ValueError, match="frame_size: expected a multiple of 4"):
        FrameEncoder(1, 10)
    with pytest.raises(ValueError, match=r"images: expected shape \(B, 1, 8, 8\)"):
        FrameEncoder(1, 8)(torch.zeros(2, 1, 16, 16))


def test_frame_classifier_is_causal():
    torch.manual_seed(1)
    model = FrameSequenceClassifier(3, frame_size=8)
    frames = torch.rand(6, 2, 1, 8, 8)
    changed = frames.clone()
    changed[4:] = torch.rand(2, 2, 1, 8, 8)
    with torch.no_grad():
        a, b = model(frames), model(changed)
    assert a.shape == (6, 2, 3)
    torch.testing.assert_close(a[:4], b[:4], rtol=0, atol=0)
    assert (a[4:] - b[4:]).abs().max() > 1e-6


def test_frame_classifier_overfits_the_direction_of_motion():
    """Label of frame t: does the shape move right (1) or left (0) since frame t-1? One frame
    cannot tell; the LSTM must compare two."""
    frames, positions = moving_shapes(8, 6, size=8, num_shapes=1, seed=3, return_positions=True)
    labels = (positions[1:, :, 0, 1] > positions[:-1, :, 0, 1]).long()      # (T-1, B)
    torch.manual_seed(2)
    model = FrameSequenceClassifier(2, frame_size=8, feature_size=16, hidden_size=24)

    def loss_fn():
        return F.cross_entropy(model(frames)[1:].flatten(0, 1), labels.flatten())

    assert train(model, loss_fn, 150) < 0.05
    with torch.no_grad():
        assert torch.equal(model(frames)[1:].argmax(-1), labels)


VOCAB = ["<start>", "<end>", "square", "cross", "top", "bottom", "left", "right"]


def shape_captions(num_images, seed):
    """Images of one shape and captions "<kind> <top|bottom> <left|right> <end>"."""
    frames, positions = moving_shapes(num_images, 1, size=8, num_shapes=1, seed=seed,
                                      return_positions=True)
    images, corner = frames[0], positions[0, :, 0]                 # (B, 1, 8, 8), (B, 2)
    middle = (8 - SHAPE_SIZE) / 2
    captions = []
    for image, (row, col) in zip(images, corner.tolist()):
        kind = "square" if image.sum() == 9 else "cross"
        captions.append([kind, "top" if row < middle else "bottom",
                         "left" if col < middle else "right", "<end>"])
    ids = torch.tensor([[VOCAB.index(w) for w in c] for c in captions]).T     # (4, B)
    return images, ids


def test_captioner_shapes_and_teacher_forcing_inputs():
    torch.manual_seed(3)
    model = ImageCaptioner(len(VOCAB))
    images, captions = shape_captions(5, seed=0)
    inputs = torch.cat([torch.zeros(1, 5, dtype=torch.int64), captions[:-1]])
    assert model(images, inputs).shape == (4, 5, len(VOCAB))
    assert model.generate(images, start_id=0, max_length=6).shape == (6, 5)
    h0, c0 = model.initial_state(images)
    assert h0.shape == (1, 5, 64) and c0.abs().max() < 1


def test_captioner_overfits_and_writes_the_captions_greedily():
    images, captions = shape_captions(10, seed=4)
    inputs = torch.cat([torch.zeros(1, 10, dtype=torch.int64), captions[:-1]])   # <start> first
    torch.manual_seed(4)
    model = ImageCaptioner(len(VOCAB), feature_size=24, hidden_size=32)

    def loss_fn():
        return F.cross_entropy(model(images, inputs).flatten(0, 1), captions.flatten())

    # lr 3e-3 for 400 steps: with 1e-2 for 200 steps, whether training left a plateau near
    # 0.08 depended on float32 rounding (thread count, order of summation)
    assert train(model, loss_fn, 400, lr=3e-3) < 0.05
    assert torch.equal(model.generate(images, start_id=0, max_length=4), captions)


@pytest.mark.parametrize("make", [lambda: ConvLSTMFramePredictor(hidden_channels=8),
                                  lambda: FullyConnectedFramePredictor(8, hidden_size=64)])
def test_predictors_overfit_moving_shapes_better_than_copying_the_last_frame(make):
    frames = moving_shapes(4, 6, size=8, num_shapes=1, seed=5)
    torch.manual_seed(5)
    model = make()

    def loss_fn():
        logits, _ = model(frames)
        return F.binary_cross_entropy_with_logits(logits[:-1], frames[1:])

    train(model, loss_fn, 150, lr=3e-2)
    with torch.no_grad():
        predicted = torch.sigmoid(model(frames)[0][:-1])
    model_error = F.mse_loss(predicted, frames[1:]).item()
    copy_error = F.mse_loss(copy_last_frame(frames), frames[1:]).item()
    assert model_error < 0.3 * copy_error, (model_error, copy_error)


@pytest.mark.parametrize("make", [lambda: ConvLSTMFramePredictor(hidden_channels=4, num_layers=2),
                                  lambda: FullyConnectedFramePredictor(8, hidden_size=16)])
def test_predictors_continue_from_their_state_and_rollout_feeds_back(make):
    torch.manual_seed(6)
    model = make()
    frames = moving_shapes(2, 5, size=8, seed=6)
    with torch.no_grad():
        whole, _ = model(frames)
        first, state = model(frames[:2])
        second, _ = model(frames[2:], state)
        torch.testing.assert_close(torch.cat([first, second]), whole)
        assert whole.shape == frames.shape
        predicted = rollout(model, frames[:3], steps=3)
        logits, state = model(frames[:3])
        expected = [torch.sigmoid(logits[-1:])]
        for _ in range(2):
            logits, state = model(expected[-1], state)
            expected.append(torch.sigmoid(logits))
    assert predicted.shape == (3, 2, 1, 8, 8)
    torch.testing.assert_close(predicted, torch.cat(expected))


def test_copy_last_frame():
    frames = moving_shapes(2, 4, size=8)
    assert torch.equal(copy_last_frame(frames), frames[:-1])
    with pytest.raises(ValueError, match="frames: expected at least 2 frames"):
        copy_last_frame(frames[:1])


def test_bad_input():
    torch.manual_seed(7)
    with pytest.raises(ValueError, match=r"frames: expected shape \(T, B, 1, 8, 8\)"):
        FrameSequenceClassifier(2)(torch.zeros(3, 2, 1, 16, 16))
    with pytest.raises(TypeError, match="frames: expected a floating-point dtype"):
        ConvLSTMFramePredictor()(torch.zeros(3, 2, 1, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="frames: expected a 5-D"):
        FullyConnectedFramePredictor(8)(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"frames: expected shape \(T, B, 2, S, S\)"):
        ConvLSTMFramePredictor(in_channels=2)(torch.zeros(3, 2, 1, 8, 8))
    captioner = ImageCaptioner(5)
    with pytest.raises(ValueError, match=r"tokens: expected shape \(T, 2\)"):
        captioner(torch.zeros(2, 1, 8, 8), torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"tokens: expected ids in \[0, 4\]"):
        captioner(torch.zeros(2, 1, 8, 8), torch.full((3, 2), 5))
    with pytest.raises(TypeError, match="tokens: expected an integer tensor"):
        captioner(torch.zeros(2, 1, 8, 8), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="start_id"):
        captioner.generate(torch.zeros(2, 1, 8, 8), start_id=5, max_length=3)
    with pytest.raises(ValueError, match="steps"):
        rollout(ConvLSTMFramePredictor(), torch.zeros(2, 1, 1, 8, 8), steps=0)
