"""The adding-problem experiment of chapters 5 and 6.

Outside references: a plain training loop written here with torch.nn.LSTM/GRU/RNN, torch.optim.Adam
and torch.nn.utils.clip_grad_norm_ (float64) must give the same training losses as
`train_adding`; centred finite differences check `marker_gradients`; numpy computes the table's
statistics.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from course_pkg.data.synthetic import adding_problem
from course_pkg.tasks.adding import (
    BASELINE_MSE,
    VALIDATION_SEED,
    AddingRun,
    adding_loss,
    final_mse_table,
    fit_adding,
    marker_gradients,
    plot_validation_curves,
    run_adding,
    runs_of,
    steps_to_reach,
    time_train_steps,
    train_adding,
)
from course_pkg.models.sequence_regressor import SequenceRegressor
from course_pkg.nn import SRU
from course_pkg.training import History, evaluate, train

SMALL = dict(length=10, hidden_size=6, steps=12, batch_size=8, eval_every=5,
             validation_size=40, dtype=torch.float64)


def test_baseline_is_the_variance_of_the_target():
    _, y = adding_problem(200_000, 4, seed=0, dtype=torch.float64)
    assert BASELINE_MSE == pytest.approx(1 / 6)
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(BASELINE_MSE, rel=0.01)


def test_adding_loss_is_the_mean_squared_error():
    torch.manual_seed(0)
    model = SequenceRegressor("gru", 2, 4).double()
    x, y = adding_problem(6, 8, seed=1, dtype=torch.float64)
    prediction = model(x)[:, 0]
    expected = sum((p - t) ** 2 for p, t in zip(prediction.tolist(), y.tolist())) / 6
    assert adding_loss(model, (x, y)).item() == pytest.approx(expected, rel=1e-12)


def plain_loop_losses(layer, seed):
    """The recipe written out with torch.optim.Adam and torch.nn.utils.clip_grad_norm_: the batch
    losses of SMALL["steps"] steps of ``layer`` (built right after ``torch.manual_seed(seed)``)
    and a head built after it, and the trained (layer, head)."""
    head = torch.nn.Linear(6, 1).double()
    parameters = list(layer.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-2)
    data = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(SMALL["steps"]):
        x, y = adding_problem(8, 10, generator=data, dtype=torch.float64)
        optimizer.zero_grad()
        loss = ((head(layer(x)[0][-1])[:, 0] - y) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 0.5)
        optimizer.step()
        losses.append(loss.item())
    return losses, head


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_training_matches_a_plain_torch_loop(cell):
    run = train_adding(cell, seed=4, clip_norm=0.5, **SMALL)

    torch.manual_seed(4)  # same seed, same construction order: same initial weights
    layer = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](2, 6).double()
    losses, head = plain_loop_losses(layer, seed=4)
    np.testing.assert_allclose(run.train_losses, losses, rtol=1e-9, atol=0)

    xv, yv = adding_problem(40, 10, seed=VALIDATION_SEED, dtype=torch.float64)
    with torch.no_grad():
        final = ((head(layer(xv)[0][-1])[:, 0] - yv) ** 2).mean().item()
    assert run.final_mse == pytest.approx(final, rel=1e-9)


def test_sru_trains_through_the_same_recipe_as_a_plain_loop():
    # the SRU has no torch counterpart: the loop uses the package's SRU layer, torch.optim and
    # torch's clipping, and must give the recipe's losses step for step
    run = train_adding("sru", seed=3, clip_norm=0.5, **SMALL)
    torch.manual_seed(3)
    losses, _ = plain_loop_losses(SRU(2, 6).double(), seed=3)
    np.testing.assert_allclose(run.train_losses, losses, rtol=1e-9, atol=0)
    assert "SRU" in final_mse_table([run])


def test_fit_adding_trains_any_many_to_one_model():
    class SumOfValues(torch.nn.Module):
        """y_hat = w * (sum of the values) + b: no memory of the markers."""

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, x):                            # (T, B, 2) -> (B, 1)
            return self.linear(x[:, :, :1].sum(0))

    torch.manual_seed(0)
    model = SumOfValues().double()
    history = fit_adding(model, 0, length=10, steps=40, batch_size=16, learning_rate=0.05,
                         eval_every=20, validation_size=200, dtype=torch.float64)
    assert history.eval_steps == [0, 20, 40] and len(history.losses) == 40
    # a model that ignores the markers cannot get far below the predict-the-mean baseline
    assert 0.5 * BASELINE_MSE < history.eval_losses[-1] < history.eval_losses[0]
    with pytest.raises(ValueError, match="eval_every"):
        fit_adding(model, 0, eval_every=0)
    with pytest.raises(TypeError, match="seed: expected an int"):
        fit_adding(model, 1.5)


def test_run_records_and_is_reproducible():
    first = train_adding("lstm", seed=1, **SMALL)
    again = train_adding("lstm", seed=1, **SMALL)
    other = train_adding("lstm", seed=2, **SMALL)
    assert first.eval_steps == [0, 5, 10, 12]
    assert len(first.val_mse) == 4 and len(first.train_losses) == 12
    assert first.train_losses == again.train_losses and first.val_mse == again.val_mse
    assert first.train_losses != other.train_losses
    assert first.seconds > 0 and first.cell == "lstm" and first.length == 10

    # the validation MSE at step 0 is the untrained model's, on the fixed validation set
    torch.manual_seed(1)
    untrained = SequenceRegressor("lstm", 2, 6).double()
    xv, yv = adding_problem(40, 10, seed=VALIDATION_SEED, dtype=torch.float64)
    assert first.val_mse[0] == pytest.approx(adding_loss(untrained, (xv, yv)).item(), rel=1e-12)


def test_run_adding_covers_every_cell_and_seed():
    settings = dict(SMALL, steps=3, eval_every=3)
    runs = run_adding(["rnn", "gru"], [0, 1], **settings)
    assert [(r.cell, r.seed) for r in runs] == [("rnn", 0), ("rnn", 1), ("gru", 0), ("gru", 1)]
    assert [r.seed for r in runs_of(runs, "gru")] == [0, 1]
    with pytest.raises(ValueError, match="cell"):
        run_adding(["rnn", "mlp"], [0], **settings)


def fake_run(cell, seed, curve):
    history = History(eval_steps=[0, 100, 200, 300][:len(curve)], eval_losses=list(curve))
    return AddingRun(cell, seed, 50, model=None, history=history)


def test_final_mse_table_prints_mean_spread_and_count():
    runs = [fake_run("rnn", s, [0.2, v]) for s, v in zip((0, 1, 2), (0.1671, 0.1652, 0.1700))]
    runs += [fake_run("lstm", s, [0.2, v]) for s, v in zip((0, 1, 2), (0.0011, 0.0035, 0.0009))]
    table = final_mse_table(runs, threshold=2e-3)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["model", "seed", "0", "seed"]
    lstm_line = next(line for line in lines if line.startswith("LSTM"))
    values = [0.0011, 0.0035, 0.0009]
    assert f"{np.mean(values):.4f}" in lstm_line
    assert f"{np.std(values, ddof=1):.4f}" in lstm_line
    assert lstm_line.split()[-1] == "2/3"
    rnn_line = next(line for line in lines if line.startswith("tanh RNN"))
    assert rnn_line.split()[-1] == "0/3"
    assert lines[-1].startswith("predict 1") and "0.1667" in lines[-1]
    assert len({len(line) for line in lines}) == 1, "columns should be aligned"
    with pytest.raises(ValueError, match="runs"):
        final_mse_table([])


def test_final_mse_table_with_one_seed_has_no_spread():
    table = final_mse_table([fake_run("gru", 0, [0.2, 0.01]), fake_run("lstm", 1, [0.2, 0.02])])
    gru_line = next(line for line in table.splitlines() if line.startswith("GRU"))
    assert gru_line.split() == ["GRU", "0.0100", "-", "0.0100", "-", "0/1"]


def test_steps_to_reach():
    run = fake_run("gru", 0, [0.17, 0.05, 0.001, 0.0005])
    assert steps_to_reach(run, 0.01) == 200
    assert steps_to_reach(run, 1e-4) is None


def test_plot_validation_curves_draws_one_line_per_run():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [fake_run("rnn", 0, [0.2, 0.17]), fake_run("lstm", 0, [0.2, 0.01]),
            fake_run("lstm", 1, [0.2, 0.02])]
    ax = plot_validation_curves(runs)
    assert len(ax.lines) == 4  # three runs and the baseline
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["tanh RNN", "LSTM", "predict the mean (1/6)"]
    plt.close(ax.figure)


def test_marker_gradients_match_finite_differences():
    torch.manual_seed(0)
    model = SequenceRegressor("lstm", 2, 5).double()
    first, second = marker_gradients(model, length=8, num_examples=6, seed=3)

    x, _ = adding_problem(6, 8, seed=3, dtype=torch.float64)
    eps = 1e-6
    numeric = []
    for half in (range(0, 4), range(4, 8)):
        slopes = []
        for b in range(6):
            t = next(s for s in half if x[s, b, 1] == 1)
            plus, minus = x.clone(), x.clone()
            plus[t, b, 0] += eps
            minus[t, b, 0] -= eps
            with torch.no_grad():
                slopes.append(((model(plus) - model(minus))[b, 0] / (2 * eps)).item())
        numeric.append(np.mean(slopes))
    assert first == pytest.approx(numeric[0], rel=1e-6, abs=1e-9)
    assert second == pytest.approx(numeric[1], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("implementation", ["course", "torch"])
def test_time_train_steps_returns_a_positive_time_per_cell(implementation):
    seconds = time_train_steps(["gru", "rnn"], hidden_size=4, length=5, batch_size=3, repeats=2,
                               warmup=1, implementation=implementation)
    assert list(seconds) == ["gru", "rnn"]
    assert all(0 < s < 5 for s in seconds.values())


def test_time_train_steps_restores_the_onednn_switch():
    before = torch.backends.mkldnn.enabled
    seconds = time_train_steps(["lstm"], hidden_size=4, length=5, batch_size=3, repeats=1,
                               warmup=0, implementation="torch", use_onednn=not before)
    assert seconds["lstm"] > 0
    assert torch.backends.mkldnn.enabled == before
    with pytest.raises(TypeError, match="use_onednn"):
        time_train_steps(["lstm"], use_onednn="no")


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="cell"):
        train_adding("transformer")
    with pytest.raises(ValueError, match="steps"):
        train_adding("gru", steps=0)
    with pytest.raises(TypeError, match="batch_size"):
        train_adding("gru", batch_size=8.0)
    with pytest.raises(ValueError, match="learning_rate"):
        train_adding("gru", learning_rate=-1.0)
    with pytest.raises(ValueError, match="implementation"):
        time_train_steps(["lstm"], implementation="cuda")
    with pytest.raises(ValueError, match="repeats"):
        time_train_steps(["lstm"], repeats=0)
    with pytest.raises(ValueError, match="cells"):
        time_train_steps([])
    with pytest.raises(ValueError, match="cell"):
        time_train_steps(["lstm", "gru4"])
    with pytest.raises(ValueError, match="cell: expected one of"):
        time_train_steps(["lstm", "sru"], implementation="torch")
    with pytest.raises(ValueError, match="num_examples"):
        marker_gradients(SequenceRegressor("rnn"), num_examples=0)
    with pytest.raises(TypeError, match="seed"):
        train_adding("gru", seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        train_adding("gru", seed=-1)


# The adding-problem training cells of chapters 5 and 6, cut from the pages and run on small
# settings, give exactly the runs of run_adding (chapter 6 called it before it assembled the loop).

BOOK = Path(__file__).resolve().parents[1] / "book"
PAGE_SETTINGS = dict(length=10, hidden_size=6, steps=12, batch_size=8, learning_rate=1e-2,
             clip_norm=1.0, eval_every=5)


def page_runs(chapter, seeds_line):
    """The chapter's training cell (from ``SETTINGS = dict(`` to the first ``print``), with
    ``SETTINGS`` replaced by `PAGE_SETTINGS` and its ``SEEDS`` line by ``seeds_line``, run in a namespace
    holding the chapter's imports; returns the list ``runs`` it builds."""
    text = (BOOK / chapter).read_text()
    start = text.index("SETTINGS = dict(")
    lines = text[start:text.index("\nprint(", start)].split("\n")
    settings_end = next(k for k, line in enumerate(lines) if line.endswith(")")) + 1
    assert lines[settings_end].startswith("SEEDS = ")
    namespace = dict(torch=torch, adding_problem=adding_problem, VALIDATION_SEED=VALIDATION_SEED,
                     SequenceRegressor=SequenceRegressor, train=train, evaluate=evaluate,
                     adding_loss=adding_loss, AddingRun=AddingRun)
    exec("\n".join([f"SETTINGS = {PAGE_SETTINGS!r}", seeds_line] + lines[settings_end + 1:]), namespace)
    return namespace["runs"]


def assert_same_runs(page, recipe):
    assert [(r.cell, r.seed, r.length) for r in page] == [(r.cell, r.seed, r.length)
                                                          for r in recipe]
    for a, b in zip(page, recipe):
        assert a.train_losses == b.train_losses
        assert a.history.grad_norms == b.history.grad_norms
        assert (a.eval_steps, a.val_mse) == (b.eval_steps, b.val_mse)
        for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(),
                        strict=True):
            assert torch.equal(x, y)


def test_chapter_6_cell_gives_the_runs_of_run_adding():
    page = page_runs("part2/06_gru.md", 'SEEDS = {"rnn": [0], "lstm": [0], "gru": [0, 1]}')
    recipe = run_adding(["rnn", "lstm"], [0], **PAGE_SETTINGS) + run_adding(["gru"], [0, 1], **PAGE_SETTINGS)
    assert_same_runs(page, recipe)


def test_chapter_5_cell_gives_the_runs_of_run_adding():
    page = page_runs("part2/05_lstm.md", "SEEDS = [0, 1]")
    assert_same_runs(page, run_adding(["rnn", "lstm"], [0, 1], **PAGE_SETTINGS))

