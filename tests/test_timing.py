"""course_pkg.timing: the models take turns in a shuffled order, the warm-up rounds
are not timed, every pass runs the backward, ratios pair passes of the same round, and bad
arguments are named."""

import pytest
import torch
from torch import nn

from course_pkg.timing import (
    interleaved_times,
    median_pass_ratios,
    median_pass_seconds,
    turn_order,
)


class Recorder(nn.Module):
    """Doubles its input; appends its name to a shared log on every call."""

    def __init__(self, name, log):
        super().__init__()
        self.name, self.log = name, log
        self.scale = nn.Parameter(torch.tensor(2.0))

    def forward(self, x):
        self.log.append(self.name)
        return self.scale * x, None


def test_models_take_turns_and_warmup_rounds_run_untimed():
    log = []
    modules = {name: Recorder(name, log) for name in ("a", "b", "c")}
    x = torch.ones(3, 2, requires_grad=True)
    seconds = median_pass_seconds(modules, x, torch.ones(3, 2), repeats=3, warmup=1)
    assert set(seconds) == {"a", "b", "c"} and all(s > 0 for s in seconds.values())
    # 4 rounds (1 warm-up + 3 timed), each running every model once, in the round's order
    assert log == [name for r in range(4) for name in turn_order(["a", "b", "c"], r)]


def test_each_round_is_a_permutation_and_successors_vary():
    names = ["a", "b", "c", "d", "e"]
    orders = [turn_order(names, r) for r in range(40)]
    assert all(sorted(order) == names for order in orders)
    assert turn_order(names, 7) == turn_order(names, 7)                 # seeded
    # a rotation would give "e" the same successor in every round; shuffles do not
    successors = {order[order.index("e") + 1] for order in orders if order[-1] != "e"}
    assert len(successors) >= 3
    firsts = {order[0] for order in orders}
    assert firsts == set(names)


def test_interleaved_times_counts_calls_and_stops_at_the_time_limit():
    calls = {"x": 0, "y": 0}
    runs = {name: (lambda name=name: calls.__setitem__(name, calls[name] + 1)) for name in calls}
    times = interleaved_times(runs, repeats=4, warmup=2)
    assert {name: len(values) for name, values in times.items()} == {"x": 4, "y": 4}
    assert calls == {"x": 6, "y": 6}
    stopped = interleaved_times(runs, repeats=50, warmup=0, max_seconds=0.0)
    assert all(len(values) == 3 for values in stopped.values())       # at least three rounds
    with pytest.raises(ValueError, match="runs: expected at least one"):
        interleaved_times({}, repeats=1)


def test_every_pass_runs_the_backward_from_the_upstream_gradient():
    log = []
    module = Recorder("only", log)
    x = torch.ones(4, requires_grad=True)
    upstream = torch.arange(4.0)
    median_pass_seconds({"only": module}, x, upstream, repeats=2, warmup=0)
    # gradients are cleared before each pass, so they hold one pass's values
    assert torch.equal(x.grad, 2 * upstream)
    assert module.scale.grad.item() == pytest.approx(upstream.sum().item())


class Ticker(nn.Module):
    """Advances a shared fake clock by the next of its scripted durations on every call."""

    def __init__(self, durations, clock):
        super().__init__()
        self.durations, self.clock = list(durations), clock
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        self.clock[0] += self.durations.pop(0)
        return self.scale * x, None


def test_ratios_are_taken_within_a_round_not_between_medians():
    clock = [0.0]
    # round by round: "slow" takes twice as long as "base" in rounds 0 and 1, as long in round 2
    slow = Ticker([2.0, 20.0, 3.0], clock)
    base = Ticker([1.0, 10.0, 3.0], clock)
    x = torch.ones(2, requires_grad=True)
    ratios = median_pass_ratios({"slow": slow, "base": base}, x, torch.ones(2), "base",
                                repeats=3, warmup=0, clock=lambda: clock[0])
    # per-round ratios 2, 2, 1: median 2; the ratio of the two medians (3 / 3) would be 1
    assert ratios == {"slow": 2.0, "base": 1.0}
    with pytest.raises(ValueError, match=r"baseline: expected one of \['slow', 'base'\], got 'b'"):
        median_pass_ratios({"slow": slow, "base": base}, x, x, "b")


def test_bad_arguments_are_named():
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="modules: expected at least one"):
        median_pass_seconds({}, x, x)
    with pytest.raises(ValueError, match="repeats: expected a positive int"):
        median_pass_seconds({"a": Recorder("a", [])}, x, x, repeats=0)
    with pytest.raises(ValueError, match="warmup: expected a non-negative int"):
        median_pass_seconds({"a": Recorder("a", [])}, x, x, warmup=-1)
