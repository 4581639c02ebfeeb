"""Chapter 18: the timing recipe on tiny configurations (structure, the counts of sequential steps
and attention scores against their formulas, the crossover read by hand, bad input), and the
page's training cells (short sequences, the learning-rate sweep and its exercise, self-attention
against the LSTM), run on tiny settings, against chapter 5's recipes and the code they replaced.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from course_pkg.data.synthetic import adding_problem
from course_pkg.tasks.adding import (
    BASELINE_MSE,
    CELL_NAMES,
    VALIDATION_SEED,
    AddingRun,
    adding_loss,
    final_mse_table,
    fit_adding,
    run_adding,
    runs_of,
    train_adding,
)
from course_pkg.layer_cost.recurrence_vs_attention import (
    TIMED_MODELS,
    TimingResult,
    crossover_length,
    time_recurrence_vs_attention,
)
from course_pkg.models.last_step_attention import LastStepAttentionRegressor
from course_pkg.models.parameter_count import count_parameters
from course_pkg.models.sequence_regressor import SequenceRegressor
from course_pkg.training import evaluate, train

torch.set_num_threads(1)


def test_timing_structure_and_counts():
    result = time_recurrence_vs_attention(lengths=(4, 8), batch_size=2, width=8, num_heads=2,
                                          repeats=2, warmup=1)
    assert result.lengths == [4, 8]
    for T in (4, 8):
        assert set(result.seconds[T]) == set(TIMED_MODELS)
        assert all(0 < s < 5 for s in result.seconds[T].values())
        # the recurrence makes T updates in a chain; one attention layer is one step deep
        assert result.sequential_steps[T]["course LSTM"] == T
        assert result.sequential_steps[T]["torch.nn.LSTM"] == T
        assert result.sequential_steps[T]["self-attention"] == 1
        assert result.score_entries[T] == 2 * 2 * T * T
        assert result.ratio(T, "self-attention") == 1.0
        ratio = result.seconds[T]["course LSTM"] / result.seconds[T]["self-attention"]
        assert result.ratio(T, "course LSTM") == pytest.approx(ratio)


def fake_result(seconds):
    lengths = sorted(seconds)
    return TimingResult(lengths, seconds, {T: {} for T in lengths}, {T: 0 for T in lengths},
                        1, 1, 1)


def test_crossover_by_hand():
    seconds = {16: {"torch.nn.LSTM": 1.0, "course LSTM": 5.0, "self-attention": 2.0},
               32: {"torch.nn.LSTM": 2.0, "course LSTM": 9.0, "self-attention": 3.0},
               64: {"torch.nn.LSTM": 4.0, "course LSTM": 16.0, "self-attention": 12.0},
               128: {"torch.nn.LSTM": 8.0, "course LSTM": 30.0, "self-attention": 40.0}}
    result = fake_result(seconds)
    assert crossover_length(result, "torch.nn.LSTM") == 16       # attention slower throughout
    assert crossover_length(result, "course LSTM") == 128
    # a noisy inversion at a short length does not move the crossover
    seconds[16]["course LSTM"] = 1.0
    assert crossover_length(fake_result(seconds), "course LSTM") == 128
    # attention faster at the longest length: no crossover
    seconds[128]["self-attention"] = 20.0
    assert crossover_length(fake_result(seconds), "course LSTM") is None
    with pytest.raises(ValueError, match="model"):
        crossover_length(result, "self-attention")


def test_bad_arguments():
    with pytest.raises(ValueError, match="lengths"):
        time_recurrence_vs_attention(lengths=())
    with pytest.raises(ValueError, match="lengths"):
        time_recurrence_vs_attention(lengths=(0,))
    with pytest.raises(ValueError, match="num_heads"):
        time_recurrence_vs_attention(lengths=(4,), width=6, num_heads=4)
    with pytest.raises(TypeError, match="batch_size"):
        time_recurrence_vs_attention(lengths=(4,), batch_size=2.5)


# ----------------------------------------------------------------------------------------------
# the page's training cells on tiny settings
# ----------------------------------------------------------------------------------------------
CHAPTER = Path(__file__).resolve().parents[1] / "book" / "part5" / "17_limits.md"


def page_code(first_line: str, until: str | None = None) -> str:
    """The chapter's code from the line that starts with ``first_line`` to the end of its cell
    (or of its ``python`` block), or to the line before the one that starts with ``until``."""
    text = CHAPTER.read_text()
    start = text.index("\n" + first_line) + 1
    end = text.index("\n```", start)
    if until is not None:
        end = min(end, text.index("\n" + until, start))
    return text[start:end]


def with_knobs(code: str, knobs: dict[str, str]) -> str:
    """``code`` with each settings line of ``knobs`` (its left-hand side, as on the page)
    replaced by a tiny one; every left-hand side must be on the page."""
    lines = code.split("\n")
    for target, values in knobs.items():
        hits = [k for k, line in enumerate(lines) if line.startswith(target + " = ")]
        assert len(hits) == 1, (target, hits)
        lines[hits[0]] = f"{target} = {values}"
    return "\n".join(lines)


def page_namespace() -> dict:
    return dict(np=np, torch=torch, adding_problem=adding_problem, BASELINE_MSE=BASELINE_MSE,
                CELL_NAMES=CELL_NAMES, VALIDATION_SEED=VALIDATION_SEED, AddingRun=AddingRun,
                adding_loss=adding_loss, final_mse_table=final_mse_table, fit_adding=fit_adding,
                runs_of=runs_of, LastStepAttentionRegressor=LastStepAttentionRegressor,
                count_parameters=count_parameters, SequenceRegressor=SequenceRegressor,
                evaluate=evaluate, train=train)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_page_s_short_sequence_cell_gives_run_adding_s_runs_exactly():
    """Experiment 2's loop, on tiny knobs, against chapter 5's `run_adding` (the call it
    replaced): the same losses, validation MSE, clipping norms and weights, run by run."""
    namespace = page_namespace()
    code = with_knobs(page_code("SOLVED_MSE = 2e-3"),
                      {"SEEDS, LENGTHS": "(0, 1), (3, 5)",
                       "hidden_size, steps, batch_size, learning_rate, clip_norm":
                       "4, 3, 8, 1e-2, 1.0"})
    exec(code, namespace)
    for T in (3, 5):
        previous = run_adding(["rnn", "lstm"], (0, 1), length=T, hidden_size=4, steps=3,
                              batch_size=8, learning_rate=1e-2, clip_norm=1.0, eval_every=3,
                              validation_size=500)
        page = namespace["short"][T]
        assert [(r.cell, r.seed, r.length) for r in page] == \
            [(r.cell, r.seed, r.length) for r in previous]
        for a, b in zip(page, previous):
            assert a.history.losses == b.history.losses
            assert a.history.grad_norms == b.history.grad_norms
            assert (a.eval_steps, a.val_mse) == (b.eval_steps, b.val_mse)
            assert a.eval_steps == [0, 3]
            assert_same_weights(a.model, b.model)
    assert set(namespace["final"]) == {3, 5}


SWEEP_KNOBS = {"LEARNING_RATES, HIDDEN_SIZES": "(1e-3, 1e-1), (2, 3)",
               "sweep_length, sweep_steps, sweep_seed": "4, 4, 0"}


def test_the_page_s_sweep_gives_the_previous_sweep_s_grid_exactly():
    """Experiment 3's cell, on a 2 x 2 grid of 4 steps, against the code it replaced: one
    `train_adding` run per cell, learning rate and size (validation every 25 steps on 500
    sequences), whose final validation MSE fills the grid."""
    namespace = page_namespace()
    exec(with_knobs(page_code("LEARNING_RATES, HIDDEN_SIZES = "), SWEEP_KNOBS), namespace)
    sweep = namespace["sweep"]
    assert list(sweep) == ["rnn", "lstm"]
    for cell in ("rnn", "lstm"):
        assert sweep[cell].shape == (2, 2)
        previous = [[train_adding(cell, 0, length=4, hidden_size=H, steps=4, learning_rate=lr,
                                  eval_every=25, validation_size=500).final_mse
                     for H in (2, 3)] for lr in (1e-3, 1e-1)]
        assert sweep[cell].tolist() == previous
    assert sweep["rnn"][0, 1] != sweep["rnn"][1, 1]       # the learning rate matters


def test_the_sweep_exercise_s_solution_runs_and_repeats_the_page_s_grid_for_seed_0():
    namespace = page_namespace()
    exec(with_knobs(page_code("LEARNING_RATES, HIDDEN_SIZES = "), SWEEP_KNOBS), namespace)
    exec(page_code("lstm_grids = []"), namespace)          # the solution's python block
    grids = namespace["lstm_grids"]
    assert len(grids) == 3 and all(grid.shape == (2, 2) for grid in grids)
    np.testing.assert_array_equal(grids[0], namespace["sweep"]["lstm"])
    assert not np.array_equal(grids[0], grids[1])          # another seed, another grid


def previous_attention_run(seed, length, steps, learning_rate):
    """The removed recipe's training of the attention model (d_model 16, 2 heads, 2 blocks,
    ff 32, batches of 64, clipping at 1, validation every 50 steps on 500 sequences)."""
    torch.manual_seed(seed)
    model = LastStepAttentionRegressor(max_len=length, d_model=16, num_heads=2, num_layers=2,
                                       ff_size=32)
    return model, fit_adding(model, seed, length, steps, 64, learning_rate, clip_norm=1.0,
                             eval_every=50, validation_size=500)


def test_the_page_s_race_gives_the_previous_recipe_s_runs_exactly():
    """Experiment 4's training, on T = 6 and 4 steps, against the code it replaced:
    `train_adding` for the LSTM and the attention model's former training function."""
    namespace = page_namespace()
    code = with_knobs(page_code("race_length, race_steps, race_seeds = ", until="print("),
                      {"race_length, race_steps, race_seeds": "6, 4, (0, 1)"})
    exec(code, namespace)
    race = namespace["race"]
    assert list(race) == [("LSTM", 0), ("self-attention", 0), ("LSTM", 1), ("self-attention", 1)]
    for seed in (0, 1):
        lstm = train_adding("lstm", seed, length=6, hidden_size=32, steps=4, batch_size=64,
                            learning_rate=1e-2, eval_every=50, validation_size=500)
        model, history = race["LSTM", seed]
        assert (history.losses, history.eval_steps, history.eval_losses) == \
            (lstm.train_losses, lstm.eval_steps, lstm.val_mse)
        assert_same_weights(model, lstm.model)
        assert count_parameters(model) == 4 * 32 * (2 + 32) + 2 * 4 * 32 + 32 + 1
        attention, previous = previous_attention_run(seed, 6, 4, 3e-3)
        model, history = race["self-attention", seed]
        assert isinstance(model, LastStepAttentionRegressor)
        assert (history.losses, history.eval_steps, history.eval_losses) == \
            (previous.losses, previous.eval_steps, previous.eval_losses)
        assert history.eval_steps == [0, 4]
        assert_same_weights(model, attention)
