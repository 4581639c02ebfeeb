"""Chapter 4's clipping experiment against outside references: a plain PyTorch loop
(torch.nn.RNN + Linear, torch.optim.SGD, torch.nn.utils.clip_grad_norm_) started from the same
weights on the same batches, torch.nn.utils.clip_grad_value_, and autograd through torch.nn.RNN.
The chapter's training cells, cut from the page and run on small settings, give exactly the
numbers of the recipes they replaced (`clipping_run`, and the former `vanishing_under_clipping`,
kept below as the reference)."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.synthetic import adding_problem
from course_pkg.tasks.adding import adding_loss
from course_pkg.gradients.clipping_runs import (
    clipping_run,
    compare_clipping,
    exploding_network,
    first_nan_step,
    first_nonfinite_step,
    input_gradient_norms,
)
from course_pkg.models import ElmanNetwork
from course_pkg.training import train

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "part1" / "04_vanishing_gradients.md"


def page_cell(first_line, *settings):
    """Run the chapter's code cell that starts with ``first_line`` (up to its closing fence or
    its first blank line, where the printing starts) in a namespace holding the chapter's imports, with its first lines (the cell's settings)
    replaced by the lines ``settings``, each assigning the same names; returns the namespace."""
    fence = "```{code-cell} ipython3\n"
    text = CHAPTER.read_text()
    start = text.index(fence + first_line) + len(fence)
    end = min(text.index("\n```", start), text.index("\n\n", start))
    lines = text[start:end].split("\n")
    for line, setting in zip(lines, settings, strict=False):
        assert line.split(" = ")[0] == setting.split(" = ")[0], (line, setting)
    namespace = dict(torch=torch, np=np, exploding_network=exploding_network, train=train,
                     adding_problem=adding_problem, adding_loss=adding_loss,
                     ElmanNetwork=ElmanNetwork, input_gradient_norms=input_gradient_norms)
    exec("\n".join(list(settings) + lines[len(settings):]), namespace)
    return namespace


def assert_same_history(a, b):
    """Identical losses and gradient norms, NaN included."""
    assert len(a.losses) == len(b.losses)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.grad_norms, b.grad_norms)


def assert_same_weights(a, b):
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x.nan_to_num(), y.nan_to_num()) and torch.equal(x.isnan(), y.isnan())


def torch_copy(model):
    """torch.nn.RNN + torch.nn.Linear holding the weights of an ElmanNetwork."""
    H = model.rnn.hidden_size
    dtype = model.output.weight.dtype
    rnn = torch.nn.RNN(2, H, nonlinearity="tanh", dtype=dtype)
    readout = torch.nn.Linear(H, 1, dtype=dtype)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(rnn, name).copy_(getattr(model.rnn, name))
        readout.weight.copy_(model.output.weight)
        readout.bias.copy_(model.output.bias)
    return rnn, readout


def torch_reference_run(clip_norm, steps, hidden_size=64, seed=0, length=30, batch_size=32,
                        dtype=torch.float64):
    """The run of clipping_run written with torch.nn only; returns the list of losses."""
    rnn, readout = torch_copy(exploding_network(hidden_size, 1.5, seed, dtype))
    parameters = list(rnn.parameters()) + list(readout.parameters())
    optimizer = torch.optim.SGD(parameters, lr=0.05)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x, y = adding_problem(batch_size, length, generator=generator, dtype=dtype)
        optimizer.zero_grad()
        out, _ = rnn(x)
        loss = F.mse_loss(readout(out[-1]).squeeze(-1), y)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
        optimizer.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            break
    return losses


def test_exploding_network_has_every_singular_value_at_gain():
    model = exploding_network(hidden_size=16, gain=1.5, seed=3)
    singular_values = torch.linalg.svdvals(model.rnn.weight_hh_l0.detach())
    torch.testing.assert_close(singular_values, torch.full((16,), 1.5), rtol=1e-5, atol=0)
    default = exploding_network(hidden_size=16, gain=None, seed=3).rnn.weight_hh_l0.detach()
    assert default.abs().max() <= 1 / 4, "PyTorch's U(-1/sqrt(H), 1/sqrt(H)) initialisation"
    assert torch.linalg.eigvals(default).abs().max() < 1.0


def test_clipped_run_matches_a_plain_torch_loop():
    """float64: the dynamics are chaotic, float32 rounding differences grow step by step."""
    _, history = clipping_run(1.0, steps=25, seed=0, dtype=torch.float64)
    reference = torch_reference_run(1.0, steps=25, seed=0)
    assert len(history.losses) == 25
    torch.testing.assert_close(torch.tensor(history.losses), torch.tensor(reference),
                               rtol=1e-7, atol=0)
    _, float32 = clipping_run(1.0, steps=8, seed=0)   # the default dtype, before chaos sets in
    reference32 = torch_reference_run(1.0, steps=8, seed=0, dtype=torch.float32)
    torch.testing.assert_close(torch.tensor(float32.losses), torch.tensor(reference32),
                               rtol=1e-4, atol=0)


@pytest.fixture(scope="module")
def unclipped_run():
    """The chapter's unclipped float32 run, continued past the first non-finite loss."""
    return clipping_run(None, steps=120, seed=0, stop_if_nonfinite=False)


def test_unclipped_run_diverges_like_the_torch_loop():
    """float64 follows the torch loop step for step at first, and both losses grow by orders of
    magnitude. The dynamics are chaotic, so only the first steps are compared value by value
    (even the number of threads changes the rounding, and with it the later steps)."""
    _, history = clipping_run(None, steps=20, seed=0, dtype=torch.float64)
    reference = torch_reference_run(None, steps=20, seed=0)
    torch.testing.assert_close(torch.tensor(history.losses[:10]), torch.tensor(reference[:10]),
                               rtol=1e-6, atol=0)
    assert max(history.losses) > 1e6 * history.losses[0]
    assert max(reference) > 1e6 * reference[0]


def test_float32_runs_leave_the_finite_numbers(unclipped_run):
    _, history = unclipped_run
    assert first_nonfinite_step(history.losses) is not None
    reference32 = torch_reference_run(None, steps=120, seed=0, dtype=torch.float32)
    assert first_nonfinite_step(reference32) is not None


def test_unclipped_run_ends_in_nan_weights_when_it_runs_on(unclipped_run):
    model, history = unclipped_run
    assert len(history.losses) == 120
    assert first_nonfinite_step(history.losses) <= first_nan_step(history.losses) < 120
    assert all(torch.isnan(p).all() for p in model.parameters())


def test_a_run_stops_at_its_first_nonfinite_loss(unclipped_run):
    _, history = clipping_run(None, steps=120, seed=0)
    step = first_nonfinite_step(history.losses)
    assert step is not None and len(history.losses) == step
    assert history.losses[:step - 1] == unclipped_run[1].losses[:step - 1]
    _, clipped = clipping_run(1.0, steps=60, seed=0)
    assert first_nonfinite_step(clipped.losses) is None and len(clipped.losses) == 60
    assert max(clipped.grad_norms) > 1.0        # clipping was actually needed


def test_compare_clipping_against_torch_utils():
    model = exploding_network(hidden_size=16, seed=0)
    batch = adding_problem(8, 20, seed=1)
    result = compare_clipping(model, adding_loss(model, batch), max_norm=1.0, clip_value=0.05)

    rnn, readout = torch_copy(model)
    parameters = list(rnn.parameters()) + list(readout.parameters())
    out, _ = rnn(batch[0])
    F.mse_loss(readout(out[-1]).squeeze(-1), batch[1]).backward()
    raw = torch.cat([p.grad.reshape(-1) for p in parameters])
    assert result.raw_norm == pytest.approx(float(raw.norm()), rel=1e-5)
    # the model keeps the raw gradient
    ours_raw = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(ours_raw.norm(), raw.norm(), rtol=1e-5, atol=0)

    torch.nn.utils.clip_grad_value_(parameters, 0.05)
    by_value = torch.cat([p.grad.reshape(-1) for p in parameters])
    cosine = float(torch.nn.functional.cosine_similarity(raw, by_value, dim=0))
    assert result.value_clipped_cosine == pytest.approx(cosine, rel=1e-5)
    assert result.value_clipped_norm == pytest.approx(float(by_value.norm()), rel=1e-5)
    assert result.fraction_entries_clamped == pytest.approx(
        float((raw.abs() > 0.05).float().mean()), abs=1e-9)
    assert result.value_clipped_cosine < 0.99, "element-wise clipping should turn this gradient"
    assert result.norm_clipped_cosine == pytest.approx(1.0, abs=1e-5)
    assert result.norm_clipped_norm == pytest.approx(1.0, rel=1e-5)


def test_input_gradient_norms_against_torch_rnn():
    model = exploding_network(hidden_size=12, gain=None, seed=2)
    x, y = adding_problem(5, 15, seed=4)
    ours = input_gradient_norms(model, x, y)
    rnn, readout = torch_copy(model)
    x_leaf = x.clone().requires_grad_(True)
    out, _ = rnn(x_leaf)
    F.mse_loss(readout(out[-1]).squeeze(-1), y).backward()
    expected = x_leaf.grad.flatten(1).norm(dim=1)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-12)
    assert all(p.grad is None for p in model.parameters())


def test_page_training_runs_give_the_numbers_of_clipping_run():
    """The chapter's training cell with fewer steps: the unclipped run goes on past its first
    non-finite loss like ``clipping_run(None, stop_if_nonfinite=False)``, the clipped run is
    ``clipping_run(1.0)``, weights included."""
    page = page_cell("SEED, T, BATCH_SIZE, LEARNING_RATE = 0, 30, 32, 0.05",
                     "SEED, T, BATCH_SIZE, LEARNING_RATE = 0, 30, 32, 0.05",
                     'RUNS = {"no clipping": (None, 60), "clipped at 1": (1.0, 20)}')
    model, history = clipping_run(None, steps=60, stop_if_nonfinite=False)
    assert first_nonfinite_step(history.losses) is not None    # the run went past inf/NaN
    assert_same_history(page["unclipped"], history)
    assert_same_weights(page["unclipped_model"], model)
    model, history = clipping_run(1.0, steps=20)
    assert_same_history(page["clipped"], history)
    assert_same_weights(page["trained"]["clipped at 1"][0], model)


def test_exercise_cell_gives_the_numbers_of_clipping_run():
    page = page_cell("model = exploding_network(hidden_size=64, gain=1.5, seed=0)")
    assert len(page["history"].losses) == 30
    assert_same_history(page["history"], clipping_run(None, steps=30)[1])


def previous_vanishing_under_clipping(clip_norm, steps, length, hidden_size=64, batch_size=32,
                                      learning_rate=0.05, seed=0):
    """The package recipe the chapter called before it assembled this run on the page, kept as
    the reference: (input gradients before, after, History)."""
    model = exploding_network(hidden_size, gain=None, seed=seed)
    probe = adding_problem(256, length, seed=seed + 1)
    before = input_gradient_norms(model, *probe)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)

    def batches():
        return adding_problem(batch_size, length, generator=generator)

    history = train(model, batches, adding_loss, optimizer, steps, clip_norm=clip_norm,
                    progress=False)
    return before, input_gradient_norms(model, *probe), history


def test_page_vanishing_cell_gives_the_numbers_of_the_previous_recipe():
    """The chapter's clipped tanh run on shorter sequences and fewer steps: the same input
    gradients, history and share of clipped steps; the gradient at the first input stays
    orders of magnitude below the one at the last."""
    page = page_cell("SEED, T, STEPS, CLIP_NORM = 0, 50, 300, 1.0",
                     "SEED, T, STEPS, CLIP_NORM = 0, 40, 20, 0.05")
    before, after, history = previous_vanishing_under_clipping(0.05, steps=20, length=40)
    assert torch.equal(page["input_grad_before"], before)
    assert torch.equal(page["input_grad_after"], after)
    assert_same_history(page["history"], history)
    share = sum(n > 0.05 for n in history.grad_norms) / len(history.grad_norms)
    assert page["share_clipped"] == share and 0 < share <= 1     # the threshold was reached
    assert after.shape == (40,) and after[0] < 1e-4 * after[-1]


def test_first_nonfinite_and_first_nan_step():
    assert first_nonfinite_step([1.0, 2.0, float("nan"), float("inf")]) == 3
    assert first_nonfinite_step([1.0, float("inf")]) == 2
    assert first_nonfinite_step([1.0, 2.0]) is None
    assert first_nan_step([1.0, float("inf"), float("nan")]) == 3
    assert first_nan_step([1.0, float("inf")]) is None



def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="steps: expected a positive int"):
        clipping_run(steps=0)
    with pytest.raises(ValueError, match="hidden_size: expected a positive int"):
        exploding_network(hidden_size=0)
    with pytest.raises(ValueError, match="gain: expected a positive number or None"):
        exploding_network(gain=-1.5)
    with pytest.raises(ValueError, match="clip_norm"):
        clipping_run(clip_norm=0, steps=1)
    with pytest.raises(ValueError, match="x: expected a 3-D array"):
        input_gradient_norms(exploding_network(hidden_size=4), torch.zeros(5, 2), torch.zeros(5))
