"""The one-unit model of Pascanu et al. (2013): BPTT gradient against torch autograd and finite
differences, the wall, and gradient descent with clipping against torch.nn.utils.clip_grad_norm_."""

import numpy as np
import pytest
import torch

from course_pkg.gradients.error_surface import (
    descent_path,
    find_wall,
    loss_surface,
    one_unit_gradient,
    one_unit_loss,
    one_unit_states,
)


def torch_loss_and_gradient(w, b, target=0.7, num_steps=50, x0=0.5):
    """The model written directly from the paper's equation, differentiated by autograd."""
    w_t = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    b_t = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    x = torch.full_like(w_t, x0) + 0 * b_t
    for _ in range(num_steps):
        x = w_t * torch.sigmoid(x) + b_t
    loss = (x - target) ** 2
    loss.sum().backward()
    return loss.detach().numpy(), w_t.grad.numpy(), b_t.grad.numpy()


def test_loss_and_gradient_match_torch_on_a_grid():
    w, b = np.meshgrid(np.linspace(-2, 10, 13), np.linspace(-6, 2, 9))
    loss, grad_w, grad_b = torch_loss_and_gradient(w, b)
    np.testing.assert_allclose(one_unit_loss(w, b), loss, rtol=1e-12, atol=1e-300)
    ours_w, ours_b = one_unit_gradient(w, b)
    np.testing.assert_allclose(ours_w, grad_w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours_b, grad_b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("point", [(1.0, 0.2), (3.0, -1.0), (6.0, -3.3)])
def test_gradient_matches_finite_differences(point):
    w, b = point
    h = 1e-6
    fd_w = (one_unit_loss(w + h, b, num_steps=20) - one_unit_loss(w - h, b, num_steps=20)) / (2 * h)
    fd_b = (one_unit_loss(w, b + h, num_steps=20) - one_unit_loss(w, b - h, num_steps=20)) / (2 * h)
    d_w, d_b = one_unit_gradient(w, b, num_steps=20)
    assert d_w == pytest.approx(fd_w, rel=1e-6, abs=1e-9)
    assert d_b == pytest.approx(fd_b, rel=1e-6, abs=1e-9)


def test_states_follow_the_recurrence_and_broadcast():
    states = one_unit_states(np.array([1.0, 5.0]), -0.5, num_steps=3, x0=0.2)
    assert states.shape == (4, 2)
    x = 0.2
    for t in range(1, 4):
        x = 5.0 / (1 + np.exp(-x)) - 0.5
        assert states[t, 1] == pytest.approx(x, rel=1e-14)
    assert loss_surface([1.0, 2.0, 3.0], [0.0, 1.0]).shape == (2, 3)
    assert loss_surface([1.0, 2.0, 3.0], [0.0, 1.0])[1, 2] == pytest.approx(
        float(one_unit_loss(3.0, 1.0)), rel=1e-14)


def test_the_wall_is_steep():
    """Along b at w = 6 the loss jumps by more than 5 between two biases 1e-3 apart; the wall
    found by bisection lies between them and the gradient there (checked with torch) is more
    than 1e5 times its median along the line."""
    b = np.linspace(-6, -2, 4001)                        # spacing 1e-3
    loss = one_unit_loss(6.0, b)
    jump = int(np.argmax(np.abs(np.diff(loss))))
    assert abs(loss[jump + 1] - loss[jump]) > 5
    wall = find_wall(6.0, -6.0, -2.0)
    assert b[jump] <= wall <= b[jump + 1]
    _, _, grad_b_at_wall = torch_loss_and_gradient(6.0, wall)
    assert abs(one_unit_gradient(6.0, wall)[1]) == pytest.approx(abs(grad_b_at_wall), rel=1e-6)
    median = np.median(np.abs(one_unit_gradient(6.0, b)[1]))
    assert abs(grad_b_at_wall) > 1e5 * median


def test_descent_with_clipping_matches_torch_clip_grad_norm():
    path = descent_path(6.0, -3.5, learning_rate=0.01, steps=80, clip_norm=1.0)
    w = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-3.5, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=0.01)
    for step in range(1, 81):
        optimizer.zero_grad()
        x = torch.tensor(0.5, dtype=torch.float64)
        for _ in range(50):
            x = w * torch.sigmoid(x) + b
        ((x - 0.7) ** 2).backward()
        torch.nn.utils.clip_grad_norm_([w, b], 1.0)
        optimizer.step()
        assert path[step] == pytest.approx([w.item(), b.item()], rel=1e-9), f"step {step}"


def test_clipped_steps_are_short_and_the_unclipped_run_is_thrown():
    unclipped = descent_path(6.0, -3.5, learning_rate=0.01, steps=100)
    clipped = descent_path(6.0, -3.5, learning_rate=0.01, steps=100, clip_norm=1.0)
    assert np.hypot(*np.diff(clipped, axis=0).T).max() <= 0.01 * (1 + 1e-9)
    assert np.hypot(*np.diff(unclipped, axis=0).T).max() > 1.0


def test_bad_input_is_reported():
    with pytest.raises(TypeError, match="w: expected a real number"):
        one_unit_loss("a", 1.0)
    with pytest.raises(ValueError, match="num_steps: expected a positive int"):
        one_unit_states(1.0, 0.0, num_steps=0)
    with pytest.raises(ValueError, match="target: expected a finite real number"):
        one_unit_loss(1.0, 0.0, target=float("nan"))
    with pytest.raises(ValueError, match="w_values: expected a non-empty 1-D array"):
        loss_surface(np.ones((2, 2)), [1.0])
    with pytest.raises(ValueError, match="learning_rate: expected a positive number"):
        descent_path(1.0, 0.0, learning_rate=0.0, steps=3)
    with pytest.raises(ValueError, match="b_high: expected a value above b_low"):
        find_wall(6.0, -2.0, -6.0)
    with pytest.raises(ValueError, match="max_norm"):
        descent_path(1.0, 0.0, learning_rate=0.1, steps=3, clip_norm=-1.0)
