"""LastStepAttentionRegressor: the last position of the wrapped encoder, no causal mask, the
encoder's parameters and nothing else, and bad input named."""

import pytest
import torch

from course_pkg.models.last_step_attention import LastStepAttentionRegressor
from course_pkg.models.self_attention import SelfAttentionSequenceModel

torch.set_num_threads(1)


def test_reads_the_encoder_s_last_position():
    torch.manual_seed(0)
    model = LastStepAttentionRegressor(d_model=8, num_heads=2, num_layers=1, max_len=10).double()
    x = torch.randn(7, 3, 2, dtype=torch.float64)                        # (T, B, D)
    torch.testing.assert_close(model(x), model.encoder(x)[-1])
    assert model(x).shape == (3, 1)                                       # (B, O)
    # no causal mask: the last output depends on the first step
    changed = x.clone()
    changed[0] += 1.0
    assert not torch.allclose(model(x), model(changed))


def test_has_exactly_the_encoder_s_parameters_and_its_initial_draws():
    torch.manual_seed(3)
    model = LastStepAttentionRegressor(input_size=3, d_model=4, num_heads=1, num_layers=2,
                                       ff_size=5, max_len=6, output_size=2)
    torch.manual_seed(3)
    encoder = SelfAttentionSequenceModel(3, 2, d_model=4, num_heads=1, num_layers=2, ff_size=5,
                                         max_len=6)
    ours = model.state_dict()
    assert list(ours) == [f"encoder.{name}" for name in encoder.state_dict()]
    assert all(torch.equal(ours[f"encoder.{name}"], value)
               for name, value in encoder.state_dict().items())
    x = torch.randn(6, 2, 3)
    assert model(x).shape == (2, 2)


def test_bad_input_is_named():
    model = LastStepAttentionRegressor(d_model=4, num_heads=2, num_layers=1, max_len=5)
    with pytest.raises(ValueError, match="x"):
        model(torch.randn(4, 2, 3))                  # 3 features, the model expects 2
    with pytest.raises(ValueError, match="max_len"):
        model(torch.randn(6, 2, 2))                  # longer than max_len
    with pytest.raises(ValueError, match="num_heads"):
        LastStepAttentionRegressor(d_model=5, num_heads=2)
