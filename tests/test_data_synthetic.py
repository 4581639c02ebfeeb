"""course_pkg.data.synthetic: the adding problem and the copy task, rechecked in numpy."""

import numpy as np
import pytest
import torch

from course_pkg.data.synthetic import BLANK, adding_problem, copy_task


def test_adding_problem_shapes_and_ranges():
    x, y = adding_problem(64, 11, seed=0)
    assert x.shape == (11, 64, 2) and y.shape == (64,)
    assert x.dtype == y.dtype == torch.float32
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0 and values.max() < 1
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert 0 <= y.min() and y.max() < 2
    x64, y64 = adding_problem(3, 5, seed=0, dtype=torch.float64)
    assert x64.dtype == y64.dtype == torch.float64


@pytest.mark.parametrize("length", [2, 7, 50])
def test_adding_problem_markers_and_target(length):
    x, y = adding_problem(500, length, seed=length)
    x, y = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    half = length // 2
    for b in range(x.shape[1]):
        marked = np.flatnonzero(x[:, b, 1])
        assert len(marked) == 2  # exactly two marks
        assert marked[0] < half <= marked[1]  # one per half
        assert y[b] == pytest.approx(x[marked, b, 0].sum(), abs=1e-6)


def test_adding_problem_marks_cover_both_halves():
    # The marks are uniform within their half: every position gets used with enough samples.
    x, _ = adding_problem(2000, 10, seed=1)
    counts = x[..., 1].sum(dim=1)  # (T,)
    assert (counts > 0).all()
    assert counts[:5].sum() == counts[5:].sum() == 2000


def test_adding_problem_mean_baseline_is_one_sixth():
    # y = u1 + u2, u ~ U[0, 1]: predicting the mean 1 gives MSE Var(y) = 1/6. With n = 40000 the
    # standard error of the MSE is sqrt(7/180 / n) ~ 0.001, so 0.005 is a 5-sigma tolerance.
    _, y = adding_problem(40_000, 20, seed=2, dtype=torch.float64)
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(1 / 6, abs=0.005)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    # a wrong target (e.g. the sum of the first two values, or of one value) has another MSE
    x, _ = adding_problem(40_000, 20, seed=2, dtype=torch.float64)
    one_value = x[0, :, 0]
    assert abs(((one_value - 0.5) ** 2).mean().item() - 1 / 6) > 0.05


def test_adding_problem_reproducible_and_batch_first():
    a = adding_problem(8, 6, seed=3)
    b = adding_problem(8, 6, generator=torch.Generator().manual_seed(3))
    c = adding_problem(8, 6, seed=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    xb, yb = adding_problem(8, 6, seed=3, batch_first=True)
    assert xb.shape == (8, 6, 2) and torch.equal(xb, a[0].transpose(0, 1)) and torch.equal(yb, a[1])


def test_adding_problem_bad_input():
    with pytest.raises(ValueError, match=r"^length: expected at least 2"):
        adding_problem(4, 1)
    with pytest.raises(ValueError, match=r"^n: expected a positive int"):
        adding_problem(0, 10)
    with pytest.raises(TypeError, match=r"^length:"):
        adding_problem(4, 10.0)
    with pytest.raises(ValueError, match="seed"):
        adding_problem(4, 10, seed=1, generator=torch.Generator())
    with pytest.raises(TypeError, match="seed"):
        adding_problem(4, 10, seed=1.5)
    with pytest.raises(TypeError, match="generator"):
        adding_problem(4, 10, generator=0)


@pytest.mark.parametrize("length, n_symbols, delay", [(5, 8, 10), (3, 2, 1), (1, 1, 4)])
def test_copy_task_layout(length, n_symbols, delay):
    n = 200
    inputs, targets = copy_task(n, length, n_symbols, delay, seed=5)
    total = 2 * length + delay
    assert inputs.shape == targets.shape == (total, n)
    assert inputs.dtype == targets.dtype == torch.int64
    x, y = inputs.numpy(), targets.numpy()
    delimiter = n_symbols + 1
    for b in range(n):
        symbols = x[:length, b]
        assert ((1 <= symbols) & (symbols <= n_symbols)).all()
        # the input: symbols, delay - 1 blanks, the delimiter, blanks while the answer is due
        expected_input = np.concatenate(
            [symbols, np.zeros(delay - 1, int), [delimiter], np.zeros(length, int)]
        )
        np.testing.assert_array_equal(x[:, b], expected_input)
        # the target: blanks until the delimiter has been read, then the symbols in order
        expected_target = np.concatenate([np.zeros(length + delay, int), symbols])
        np.testing.assert_array_equal(y[:, b], expected_target)
    assert BLANK == 0
    assert set(np.unique(x[:length]).tolist()) == set(range(1, n_symbols + 1))  # all symbols used


def test_copy_task_reproducible_and_batch_first():
    a = copy_task(10, 4, 5, 3, seed=6)
    b = copy_task(10, 4, 5, 3, generator=torch.Generator().manual_seed(6))
    c = copy_task(10, 4, 5, 3, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    xb, yb = copy_task(10, 4, 5, 3, seed=6, batch_first=True)
    assert xb.shape == (10, 11) and torch.equal(xb, a[0].t()) and torch.equal(yb, a[1].t())


@pytest.mark.parametrize("argument", ["n", "length", "n_symbols", "delay"])
def test_copy_task_bad_input(argument):
    kwargs = {"n": 4, "length": 3, "n_symbols": 4, "delay": 2}
    kwargs[argument] = 0
    with pytest.raises(ValueError, match=rf"^{argument}: expected a positive int, got 0"):
        copy_task(**kwargs)


# ---- bit recall ------------------------------------------------------------------------------

from course_pkg.data.synthetic import bit_recall  # noqa: E402


def test_bit_recall_layout_rechecked_in_numpy():
    x, y = bit_recall(400, 9, seed=3)
    assert x.shape == (9, 400, 2) and y.shape == (400,) and x.dtype == y.dtype == torch.float32
    signs, markers = x[..., 0].numpy(), x[..., 1].numpy()
    assert set(np.unique(signs)) == {-1.0, 1.0}
    assert np.array_equal(markers[0], np.ones(400)) and not markers[1:].any()
    # the target is the first sign as a bit, and nothing else
    assert np.array_equal(y.numpy(), (signs[0] + 1) / 2)


def test_bit_recall_is_balanced_and_its_distractors_carry_no_information():
    x, y = bit_recall(20000, 6, seed=0)
    signs = x[..., 0].numpy().astype(np.float64)
    assert abs(y.mean().item() - 0.5) < 0.02
    # later signs are independent of the bit: their correlation with it is ~0
    bit = 2 * y.numpy().astype(np.float64) - 1
    for t in range(1, 6):
        assert abs(np.corrcoef(signs[t], bit)[0, 1]) < 0.03, t
        assert abs(signs[t].mean()) < 0.03, t


def test_bit_recall_is_reproducible_and_checks_its_arguments():
    a, b = bit_recall(5, 4, seed=1), bit_recall(5, 4, seed=1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    generator = torch.Generator().manual_seed(1)
    c = bit_recall(5, 4, generator=generator)
    assert torch.equal(a[0], c[0])
    assert bit_recall(2, 1, seed=0, dtype=torch.float64)[0].dtype == torch.float64
    with pytest.raises(ValueError, match="length"):
        bit_recall(3, 0)
    with pytest.raises(ValueError, match="n"):
        bit_recall(-1, 5)
    with pytest.raises(ValueError, match="seed"):
        bit_recall(3, 5, seed=1, generator=torch.Generator())
