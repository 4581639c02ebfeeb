"""course_pkg.nn.RNN / LSTM / GRU against torch.nn.RNN / LSTM / GRU (the outside reference).

Each case builds a torch module, loads its state_dict into the course module, runs both on the
same input (padded or packed) and initial states, and compares outputs, final states and the
gradients of a random weighted loss with respect to the input, the initial states and every
parameter. Relative error = max|course - torch| / max|torch|: below 1e-10 in float64 and 1e-5
in float32.

The cases cover every combination of cell (tanh RNN, relu RNN, LSTM, GRU), input layout (padded,
packed sorted, packed unsorted) and direction (one, two), in float64 and float32; the number of
layers (1-3), batch_first, bias, h0 given or not and the sizes are drawn from a seeded generator.
"""

import itertools
import random

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import course_pkg.nn as course_nn

CELLS = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
LAYOUTS = ["padded", "packed_sorted", "packed_unsorted"]
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    scale = expected.abs().max().item() if expected.numel() else 0.0
    gap = (actual - expected).abs().max().item() if expected.numel() else 0.0
    return gap / max(scale, 1e-30)


def build_pair(cell: str, dtype, seed: int, **kwargs):
    """A torch module and the course module with the torch module's weights."""
    name = "RNN" if cell.startswith("RNN") else cell
    if cell.startswith("RNN"):
        kwargs["nonlinearity"] = cell[4:].lower()
    torch.manual_seed(seed)
    reference = getattr(torch.nn, name)(**kwargs).to(dtype)
    course = getattr(course_nn, name)(**kwargs).to(dtype)
    course.load_state_dict(reference.state_dict())
    return reference, course


def random_case(index: int, cell: str, layout: str, bidirectional: bool, dtype):
    rng = random.Random(1000 + index)
    return dict(cell=cell, layout=layout, bidirectional=bidirectional, dtype=dtype,
                num_layers=rng.randint(1, 3), batch_first=rng.random() < 0.5,
                bias=rng.random() < 0.6, with_h0=rng.random() < 0.6,
                steps=rng.randint(1, 6), batch=rng.randint(1, 4),
                input_size=rng.randint(1, 5), hidden_size=rng.randint(1, 5), seed=index)


CASES = [random_case(i, *combo) for i, combo in enumerate(
    itertools.product(CELLS, LAYOUTS, [False, True], [torch.float64, torch.float32]))]


def case_id(case):
    return (f"{case['cell']}-{case['layout']}-{'bi' if case['bidirectional'] else 'uni'}-"
            f"L{case['num_layers']}-{'bf' if case['batch_first'] else 'tm'}-"
            f"{'bias' if case['bias'] else 'nobias'}-{str(case['dtype'])[6:]}")


def run_and_differentiate(module, inputs, states, loss_weights, leaves):
    """Forward, then the gradients of sum(weights * outputs) with respect to ``leaves``."""
    is_lstm = isinstance(module, (torch.nn.LSTM, course_nn.LSTM))
    hx = None if states is None else (tuple(states) if is_lstm else states[0])
    output, final = module(inputs, hx)
    finals = list(final) if is_lstm else [final]
    out_tensor = output.data if isinstance(output, PackedSequence) else output
    loss = sum((w * t).sum() for w, t in zip(loss_weights, [out_tensor] + finals))
    grads = torch.autograd.grad(loss, leaves + list(module.parameters()), retain_graph=True)
    return output, finals, grads


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch_outputs_states_and_every_gradient(case):
    dtype, tol = case["dtype"], TOLERANCE[case["dtype"]]
    reference, course = build_pair(
        case["cell"], dtype, case["seed"], input_size=case["input_size"],
        hidden_size=case["hidden_size"], num_layers=case["num_layers"], bias=case["bias"],
        batch_first=case["batch_first"], bidirectional=case["bidirectional"])
    T, B = case["steps"], case["batch"]
    gen = torch.Generator().manual_seed(case["seed"])
    shape = (B, T, case["input_size"]) if case["batch_first"] else (T, B, case["input_size"])
    x = torch.randn(shape, generator=gen, dtype=dtype, requires_grad=True)
    leaves = [x]

    if case["layout"] == "padded":
        inputs = x
    else:
        lengths = torch.randint(1, T + 1, (B,), generator=gen)
        lengths[torch.randint(0, B, (1,), generator=gen)] = T          # one full-length sequence
        if case["layout"] == "packed_sorted":
            lengths = lengths.sort(descending=True).values
        inputs = pack_padded_sequence(x, lengths, batch_first=case["batch_first"],
                                      enforce_sorted=case["layout"] == "packed_sorted")

    num_states = 2 if case["cell"] == "LSTM" else 1
    stacked = case["num_layers"] * (2 if case["bidirectional"] else 1)
    states = None
    if case["with_h0"]:
        states = [torch.randn(stacked, B, case["hidden_size"], generator=gen, dtype=dtype,
                              requires_grad=True) for _ in range(num_states)]
        leaves += states

    out_shape = (inputs.data if case["layout"] != "padded" else x).shape[:-1] + (
        case["hidden_size"] * (2 if case["bidirectional"] else 1),)
    loss_weights = [torch.randn(out_shape, generator=gen, dtype=dtype)] + [
        torch.randn(stacked, B, case["hidden_size"], generator=gen, dtype=dtype)
        for _ in range(num_states)]

    ref_out, ref_finals, ref_grads = run_and_differentiate(reference, inputs, states,
                                                           loss_weights, leaves)
    out, finals, grads = run_and_differentiate(course, inputs, states, loss_weights, leaves)

    if case["layout"] == "padded":
        assert out.shape == ref_out.shape
        assert relative_error(out, ref_out) < tol
    else:
        assert isinstance(out, PackedSequence)
        assert torch.equal(out.batch_sizes, ref_out.batch_sizes)
        for got, want in [(out.sorted_indices, ref_out.sorted_indices),
                          (out.unsorted_indices, ref_out.unsorted_indices)]:
            assert (got is None and want is None) or torch.equal(got, want)
        assert relative_error(out.data, ref_out.data) < tol
    for name, got, want in zip(["h_n", "c_n"], finals, ref_finals):
        assert got.shape == want.shape, name
        assert relative_error(got, want) < tol, name

    names = ["input"] + ["h_0", "c_0"][:len(leaves) - 1] + [n for n, _ in course.named_parameters()]
    assert len(grads) == len(ref_grads) == len(names)
    for name, got, want in zip(names, grads, ref_grads):
        assert relative_error(got, want) < tol, f"gradient of {name}"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_matches_torch(cell, batch_first):
    dtype = torch.float64
    reference, course = build_pair(cell, dtype, 7, input_size=3, hidden_size=4, num_layers=2,
                                   bidirectional=True, batch_first=batch_first)
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(5, 3, generator=gen, dtype=dtype, requires_grad=True)      # (T, D)
    states = [torch.randn(4, 4, generator=gen, dtype=dtype, requires_grad=True)
              for _ in range(2 if cell == "LSTM" else 1)]                      # (L*dirs, H)
    weights = [torch.randn(5, 8, generator=gen, dtype=dtype)] + [
        torch.randn(4, 4, generator=gen, dtype=dtype) for _ in states]
    ref_out, ref_finals, ref_grads = run_and_differentiate(reference, x, states, weights,
                                                           [x] + states)
    out, finals, grads = run_and_differentiate(course, x, states, weights, [x] + states)
    assert out.shape == ref_out.shape == (5, 8)
    assert relative_error(out, ref_out) < 1e-10
    for got, want in zip(finals + list(grads), ref_finals + list(ref_grads)):
        assert got.shape == want.shape
        assert relative_error(got, want) < 1e-10


def test_final_states_are_taken_at_each_sequences_own_last_step():
    """h_n of a packed batch equals the output at step length-1 of each sequence (forward
    direction) and at step 0 (backward direction), in the caller's batch order."""
    torch.manual_seed(3)
    lstm = course_nn.LSTM(2, 3, bidirectional=True).double()
    x = torch.randn(6, 4, 2, dtype=torch.float64)
    lengths = torch.tensor([2, 6, 1, 4])
    out, (h_n, _) = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
    padded, _ = torch.nn.utils.rnn.pad_packed_sequence(out)                    # (T, B, 2H)
    for b, length in enumerate(lengths.tolist()):
        assert torch.equal(h_n[0, b], padded[length - 1, b, :3])
        assert torch.equal(h_n[1, b], padded[0, b, 3:])
        # and running the sequence alone, without padding, gives the same state
        alone, (h_alone, _) = lstm(x[:length, b:b + 1])
        assert torch.allclose(h_alone[:, 0], h_n[:, b], rtol=0, atol=1e-12)


def test_padding_after_a_sequence_changes_nothing_when_packed():
    torch.manual_seed(4)
    gru = course_nn.GRU(3, 4, num_layers=2).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 3])
    out_a, h_a = gru(pack_padded_sequence(x, lengths))
    x[3:, 1] = 1e3                                                             # garbage padding
    out_b, h_b = gru(pack_padded_sequence(x, lengths))
    assert torch.equal(out_a.data, out_b.data) and torch.equal(h_a, h_b)
