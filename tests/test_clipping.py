"""course_pkg.clipping checked against torch.nn.utils.clip_grad_norm_ and clip_grad_value_."""

import math

import pytest
import torch

from course_pkg.clipping import clip_grad_norm, clip_grad_value, grad_norm


def make_parameter_pairs(seed, grad_scale, dtype=torch.float64, with_missing_grad=True):
    """Two identical lists of parameters with identical random gradients: ours and torch's."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [(4, 3), (3,), (2, 5, 2), (1,)]
    ours, theirs = [], []
    for index, shape in enumerate(shapes):
        value = torch.randn(shape, generator=generator, dtype=dtype)
        grad = grad_scale * torch.randn(shape, generator=generator, dtype=dtype)
        a = torch.nn.Parameter(value.clone())
        b = torch.nn.Parameter(value.clone())
        if not (with_missing_grad and index == 1):  # the second parameter has no gradient
            a.grad = grad.clone()
            b.grad = grad.clone()
        ours.append(a)
        theirs.append(b)
    return ours, theirs


def assert_same_grads(ours, theirs):
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None
        else:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("grad_scale", [0.01, 1.0, 100.0])  # below, around and above max_norm
@pytest.mark.parametrize("seed", [0, 1])
def test_clip_grad_norm_matches_torch(norm_type, grad_scale, seed):
    ours, theirs = make_parameter_pairs(seed, grad_scale)
    max_norm = 1.5
    our_norm = clip_grad_norm(ours, max_norm, norm_type=norm_type)
    their_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    torch.testing.assert_close(our_norm, their_norm, rtol=1e-12, atol=0)
    assert_same_grads(ours, theirs)


def test_clip_grad_norm_result_has_norm_max_norm_when_clipped():
    ours, _ = make_parameter_pairs(3, grad_scale=50.0, with_missing_grad=False)
    before = clip_grad_norm(ours, 2.0)
    assert before > 2.0
    flat = torch.cat([p.grad.flatten() for p in ours])
    # Algorithm 1: the new norm is max_norm (up to the 1e-6 eps), the direction is unchanged.
    expected = 2.0 * before.item() / (before.item() + 1e-6)
    assert flat.norm().item() == pytest.approx(expected, rel=1e-12)


def test_clip_grad_norm_small_gradients_untouched():
    ours, theirs = make_parameter_pairs(4, grad_scale=1e-3)
    clip_grad_norm(ours, 10.0)
    assert_same_grads(ours, theirs)  # theirs were not clipped at all


def test_clip_grad_norm_single_tensor_and_generator():
    generator = torch.Generator().manual_seed(5)
    a = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    a.grad = 10 * torch.randn(6, generator=generator, dtype=torch.float64)
    b.grad = a.grad.clone()
    our_norm = clip_grad_norm(a, 1.0)  # a single tensor
    their_norm = torch.nn.utils.clip_grad_norm_(b, 1.0)
    torch.testing.assert_close(our_norm, their_norm)
    torch.testing.assert_close(a.grad, b.grad)
    ours, theirs = make_parameter_pairs(6, 10.0)
    clip_grad_norm((p for p in ours), 1.0)  # a generator, consumed once
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert_same_grads(ours, theirs)


def test_clip_grad_norm_float32_and_module():
    torch.manual_seed(0)
    model_a = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    model_b = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    model_b.load_state_dict(model_a.state_dict())
    x = torch.randn(7, 5)
    for model in (model_a, model_b):
        (100 * model(x).pow(2).sum()).backward()
    our_norm = clip_grad_norm(model_a.parameters(), 0.5)
    their_norm = torch.nn.utils.clip_grad_norm_(model_b.parameters(), 0.5)
    torch.testing.assert_close(our_norm, their_norm)
    assert_same_grads(list(model_a.parameters()), list(model_b.parameters()))


def test_no_gradients_gives_zero_norm():
    p = torch.nn.Parameter(torch.ones(3))
    assert clip_grad_norm([p], 1.0).item() == 0.0
    assert torch.nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0
    assert p.grad is None


def test_grad_norm_matches_flattened_vector():
    ours, _ = make_parameter_pairs(7, 2.0)
    flat = torch.cat([p.grad.flatten() for p in ours if p.grad is not None])
    for norm_type in (1.0, 2.0, 3.5, math.inf):
        expected = torch.linalg.vector_norm(flat, norm_type)
        torch.testing.assert_close(grad_norm(ours, norm_type), expected)
    before = [p.grad.clone() if p.grad is not None else None for p in ours]
    grad_norm(ours)  # only measures
    assert all(b is None or torch.equal(b, p.grad) for b, p in zip(before, ours))


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 5.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = make_parameter_pairs(8, grad_scale=3.0)
    assert clip_grad_value(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_same_grads(ours, theirs)
    assert max(p.grad.abs().max().item() for p in ours if p.grad is not None) <= clip_value


def test_clip_grad_value_single_tensor():
    a = torch.zeros(4, requires_grad=True)
    a.grad = torch.tensor([-7.0, -0.5, 0.5, 7.0])
    clip_grad_value(a, 1.0)
    assert a.grad.tolist() == [-1.0, -0.5, 0.5, 1.0]


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_bad_max_norm(bad):
    ours, _ = make_parameter_pairs(0, 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(ours, bad)


@pytest.mark.parametrize("bad", [0, -2.0, float("nan")])
def test_bad_norm_type(bad):
    ours, _ = make_parameter_pairs(0, 1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm(ours, 1.0, norm_type=bad)


@pytest.mark.parametrize("bad", [0, -0.5, float("nan")])
def test_bad_clip_value(bad):
    ours, _ = make_parameter_pairs(0, 1.0)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value(ours, bad)


def test_wrong_kind_of_threshold():
    ours, _ = make_parameter_pairs(0, 1.0)
    with pytest.raises(TypeError, match="max_norm"):
        clip_grad_norm(ours, "1.0")
    with pytest.raises(TypeError, match="clip_value"):
        clip_grad_value(ours, None)
