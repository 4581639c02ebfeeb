"""course_pkg.models.elman (chapter 2): the Elman network against torch.nn.RNN + nn.Linear."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from course_pkg.models import ElmanNetwork


def torch_twin(model: ElmanNetwork, nonlinearity="tanh"):
    """torch.nn.RNN and nn.Linear holding the same weights (the outside reference)."""
    rnn = torch.nn.RNN(model.rnn.input_size, model.rnn.hidden_size, nonlinearity=nonlinearity,
                       dtype=torch.float64)
    rnn.load_state_dict(model.rnn.state_dict())
    linear = torch.nn.Linear(model.output.in_features, model.output.out_features, dtype=torch.float64)
    linear.load_state_dict(model.output.state_dict())
    return rnn, linear


def make_model(many_to_one, nonlinearity="tanh", seed=0):
    torch.manual_seed(seed)
    return ElmanNetwork(3, 5, 4, nonlinearity=nonlinearity, many_to_one=many_to_one).double()


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_many_to_many_equals_torch_rnn_plus_linear(nonlinearity):
    model = make_model(False, nonlinearity)
    rnn, linear = torch_twin(model, nonlinearity)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 5, dtype=torch.float64)
    y = model(x, h0=h0)
    assert y.shape == (7, 2, 4)
    expected = linear(rnn(x, h0)[0])
    assert torch.allclose(y, expected, rtol=1e-12, atol=1e-12)
    # the gradients agree too
    y.square().sum().backward()
    expected.square().sum().backward()
    assert torch.allclose(model.rnn.weight_hh_l0.grad, rnn.weight_hh_l0.grad, rtol=1e-10, atol=1e-12)
    assert torch.allclose(model.output.weight.grad, linear.weight.grad, rtol=1e-10, atol=1e-12)


def test_many_to_one_on_a_padded_batch_equals_each_sequence_alone():
    model = make_model(True)
    lengths = [4, 1, 6, 3]
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in lengths]
    padded = pad_sequence(seqs, padding_value=5.0)  # large padding: must not matter
    y = model(padded, torch.tensor(lengths))
    assert y.shape == (4, 4)
    alone = torch.cat([model(s.unsqueeze(1)) for s in seqs])  # (B, O), each run on its own
    assert torch.allclose(y, alone, rtol=1e-12, atol=1e-12)
    # and equals torch's packed run, read out by the same linear layer
    rnn, linear = torch_twin(model)
    _, h_n = rnn(pack_padded_sequence(padded, torch.tensor(lengths), enforce_sorted=False))
    assert torch.allclose(y, linear(h_n[0]), rtol=1e-12, atol=1e-12)


def test_many_to_one_without_lengths_reads_the_last_step():
    model = make_model(True)
    rnn, linear = torch_twin(model)
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    assert torch.allclose(model(x), linear(rnn(x)[1][0]), rtol=1e-12, atol=1e-12)


def test_hidden_states_shape_and_values():
    model = make_model(False)
    rnn, _ = torch_twin(model)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    assert torch.allclose(model.hidden_states(x), rnn(x)[0], rtol=1e-12, atol=1e-12)


def test_elman_bad_input():
    model = make_model(False)
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, 3\)"):
        model(torch.zeros(4, 2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="x: expected a 3-D array"):
        model(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="lengths: only used with many_to_one=True"):
        model(torch.zeros(4, 2, 3, dtype=torch.float64), [4, 2])
    with pytest.raises(ValueError, match="lengths: expected every length <= T = 4"):
        make_model(True)(torch.zeros(4, 2, 3, dtype=torch.float64), [5, 2])
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        ElmanNetwork(3, 5, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size: expected a positive int"):
        ElmanNetwork(3, 0, 4)
