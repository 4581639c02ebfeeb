"""Chapter 4's gradient-flow measurements against outside references.

- ``||dh_T/dh_{T-k}||`` is recomputed with torch autograd: torch.nn.RNN is run from the state
  h_{T-k} over the remaining inputs and ``torch.autograd.functional.jacobian`` gives dh_T/dh_{T-k}.
- The linear network with ``W_hh = r Q`` (Q orthogonal) must give exactly ``r ** k``.
- Every measured norm must respect the bound ``(gamma * sigma_max) ** k`` with gamma = 1.
"""

import numpy as np
import pytest
import torch

from course_pkg.gradients.flow import (
    gradient_flow_network,
    gradient_norm_over_time,
    jacobian_product_norms,
    scaled_orthogonal,
)


def torch_jacobian_norm(radius, nonlinearity, k, num_steps, hidden_size, seed=0):
    """||dh_T/dh_{T-k}||_2 from torch.nn.RNN and autograd (float64)."""
    weight_ih, weight_hh, x = gradient_flow_network(radius, num_steps, hidden_size, seed=seed)
    rnn = torch.nn.RNN(4, hidden_size, nonlinearity=nonlinearity, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(weight_ih))
        rnn.weight_hh_l0.copy_(torch.tensor(weight_hh))
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
        x_t = torch.tensor(x)
        h_start = torch.zeros(1, 1, hidden_size, dtype=torch.float64)
        if num_steps - k > 0:
            _, h_start = rnn(x_t[: num_steps - k], h_start)       # h_{T-k}
    if k == 0:
        return 1.0
    jacobian = torch.autograd.functional.jacobian(
        lambda h: rnn(x_t[num_steps - k:], h)[1].reshape(-1), h_start)  # (H, 1, 1, H)
    return float(torch.linalg.matrix_norm(jacobian.reshape(hidden_size, hidden_size), ord=2))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("radius", [0.7, 1.0, 1.5, 2.0])
def test_norms_match_torch_autograd(nonlinearity, radius):
    num_steps, hidden_size = 25, 6
    norms = gradient_norm_over_time(radius, nonlinearity, num_steps, hidden_size, seed=1)
    assert norms.shape == (num_steps + 1,)
    for k in (0, 1, 2, 7, 25):
        expected = torch_jacobian_norm(radius, nonlinearity, k, num_steps, hidden_size, seed=1)
        assert norms[k] == pytest.approx(expected, rel=1e-9, abs=1e-300), f"k = {k}"


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.1, 1.5])
def test_linear_network_gives_radius_to_the_power_k(radius):
    norms = gradient_norm_over_time(radius, "linear", num_steps=40, hidden_size=10)
    np.testing.assert_allclose(norms, radius ** np.arange(41), rtol=1e-10)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("radius", [0.5, 0.9, 1.1, 1.5, 2.0])
def test_bound_holds(nonlinearity, radius):
    norms = gradient_norm_over_time(radius, nonlinearity, num_steps=40, hidden_size=12, seed=2)
    assert np.all(norms <= radius ** np.arange(41) * (1 + 1e-9))


def test_small_radius_vanishes_large_radius_explodes_in_tanh_net():
    """The qualitative claim of the chapter, with margins: r = 0.5 -> below 1e-12 after 50 steps;
    r = 2.0 (tanh, small inputs) -> above 1e3."""
    assert gradient_norm_over_time(0.5, "tanh", num_steps=50)[50] < 1e-12
    assert gradient_norm_over_time(2.0, "tanh", num_steps=50)[50] > 1e3


def test_jacobian_product_norms_against_explicit_products():
    rng = np.random.default_rng(0)
    weight_hh = rng.standard_normal((5, 5))
    derivatives = rng.uniform(0, 1, (6, 5))
    norms = jacobian_product_norms(weight_hh, derivatives)
    for k in range(7):
        product = np.eye(5)
        for t in range(6 - k, 6):                  # J_{T-k+1} ... J_T, applied right to left
            product = (derivatives[t][:, None] * weight_hh) @ product
        assert norms[k] == pytest.approx(np.linalg.svd(product, compute_uv=False)[0], rel=1e-12)


def test_scaled_orthogonal_has_all_singular_values_equal_to_radius():
    w = scaled_orthogonal(16, 1.3, seed=4)
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), 1.3, rtol=1e-12)
    assert np.max(np.abs(np.linalg.eigvals(w))) == pytest.approx(1.3, rel=1e-10)
    assert not np.allclose(w, scaled_orthogonal(16, 1.3, seed=5))


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="radius: expected a number >= 0"):
        gradient_norm_over_time(-1.0)
    with pytest.raises(ValueError, match="nonlinearity"):
        gradient_norm_over_time(1.0, "sigmoid")
    with pytest.raises(ValueError, match="num_steps: expected a positive int"):
        gradient_norm_over_time(1.0, num_steps=0)
    with pytest.raises(ValueError, match=r"derivatives: expected shape \(T, 3\)"):
        jacobian_product_norms(np.eye(3), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"weight_hh: expected shape \(3, 3\)"):
        jacobian_product_norms(np.ones((3, 2)), np.ones((4, 3)))
    with pytest.raises(TypeError, match="size: expected a positive int"):
        scaled_orthogonal(2.5, 1.0)
