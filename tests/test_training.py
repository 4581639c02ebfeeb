"""course_pkg.training: parity with a hand-written torch loop, reproducibility, evaluate, the
evaluation hook and early stop of train, and the evaluating context."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.data.synthetic import adding_problem
from course_pkg.training import History, evaluate, evaluating, random_minibatches, train


class LastStepRegressor(torch.nn.Module):
    """A GRU over (T, B, 2), a linear read-out of the last hidden state; dropout adds randomness."""

    def __init__(self, hidden_size=8):
        super().__init__()
        self.rnn = torch.nn.GRU(2, hidden_size)
        self.dropout = torch.nn.Dropout(0.2)
        self.readout = torch.nn.Linear(hidden_size, 1)

    def forward(self, x):  # (T, B, 2) -> (B,)
        outputs, _ = self.rnn(x)  # (T, B, H)
        return self.readout(self.dropout(outputs[-1])).squeeze(1)


def mse_loss(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)


def linear_loss(model, batch):
    x, y = batch
    return F.mse_loss(model(x).squeeze(1), y)


def fresh_batch():
    return adding_problem(16, 10)  # drawn from torch's global generator


def make_model(seed=0):
    torch.manual_seed(seed)
    return LastStepRegressor().double()


def fresh_double_batch():
    x, y = fresh_batch()
    return x.double(), y.double()


def run(seed, steps=8, clip_norm=1.0):
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    return train(
        model, fresh_double_batch, mse_loss, optimizer, steps, clip_norm, seed=seed, progress=False
    )


def test_same_seed_same_history_other_seed_other_history():
    a, b, c = run(seed=1), run(seed=1), run(seed=2)
    assert len(a.losses) == len(a.grad_norms) == 8
    assert a.losses == b.losses and a.grad_norms == b.grad_norms
    assert a.losses != c.losses
    assert a.seconds > 0


@pytest.mark.parametrize("clip_norm", [None, 0.05])
def test_matches_a_hand_written_torch_loop(clip_norm):
    """The same steps written out with torch.nn.utils.clip_grad_norm_ give the same numbers."""
    torch.manual_seed(3)
    data = [
        (torch.randn(6, 4, 2, dtype=torch.float64), torch.randn(4, dtype=torch.float64))
        for _ in range(3)
    ]
    model = make_model()
    reference = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train(model, data, mse_loss, optimizer, 7, clip_norm, seed=4, progress=False)

    torch.manual_seed(4)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    reference.train()
    losses, norms = [], []
    for step in range(7):
        optimizer.zero_grad()
        loss = mse_loss(reference, data[step % 3])  # the list is cycled
        loss.backward()
        max_norm = math.inf if clip_norm is None else clip_norm
        norms.append(torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm).item())
        optimizer.step()
        losses.append(loss.item())
    assert history.losses == pytest.approx(losses, rel=1e-12)
    assert history.grad_norms == pytest.approx(norms, rel=1e-12)
    if clip_norm is not None:
        assert max(norms) > clip_norm  # clipping really happened
    for ours, theirs in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)


def test_loss_goes_down_on_a_learnable_problem():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train(model, [(x, y)], linear_loss, optimizer, steps=100, seed=0, progress=False)
    assert history.losses[-1] < 1e-3 * history.losses[0]


def test_batches_cycle_and_an_exhausted_iterator_fails():
    model = torch.nn.Linear(1, 1)
    seen = []

    def loss_fn(m, batch):
        seen.append(batch)
        return m(torch.ones(1, 1)).sum() * batch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    train(model, [1.0, 2.0, 3.0], loss_fn, optimizer, steps=7, progress=False)
    assert seen == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]
    with pytest.raises(ValueError, match="batches"):
        train(model, iter([1.0, 2.0]), loss_fn, optimizer, steps=3, progress=False)


def test_stops_at_a_nonfinite_loss():
    model = torch.nn.Linear(1, 1)
    losses = iter([1.0, 2.0, float("nan"), 3.0, 4.0])

    def loss_fn(m, batch):
        return m(torch.ones(1, 1)).sum() * 0 + next(losses)

    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    history = train(model, lambda: None, loss_fn, optimizer, steps=5, progress=False)
    assert len(history.losses) == 3 and math.isnan(history.losses[-1])
    losses = iter([1.0, float("inf"), 3.0])
    history = train(
        model, lambda: None, loss_fn, optimizer, steps=3, progress=False, stop_if_nonfinite=False
    )
    assert history.losses == [1.0, float("inf"), 3.0]


def test_progress_bar_runs(capsys):
    model = torch.nn.Linear(2, 1)
    batch = (torch.ones(4, 2), torch.zeros(4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train(model, [batch], linear_loss, optimizer, steps=3, progress=True)
    assert len(history.losses) == 3
    assert "training" in capsys.readouterr().err


def test_evaluate_mean_loss_eval_mode_and_no_grad():
    model = make_model()
    torch.manual_seed(5)
    batches = [fresh_double_batch() for _ in range(4)]
    modes = []

    def loss_fn(m, batch):
        modes.append((m.training, torch.is_grad_enabled()))
        return mse_loss(m, batch)

    model.eval()
    expected = sum(mse_loss(model, b).item() for b in batches) / 4  # dropout off: deterministic
    model.train()
    assert evaluate(model, batches, loss_fn) == pytest.approx(expected, rel=1e-12)
    assert modes == [(False, False)] * 4 and model.training  # mode restored
    assert evaluate(model, batches, loss_fn, max_batches=2) == pytest.approx(
        sum(mse_loss(model.eval(), b).item() for b in batches[:2]) / 2, rel=1e-12)


def test_evaluation_hook_runs_at_step_zero_every_k_steps_and_at_the_end():
    seen = []

    def evaluate_fn(m):
        seen.append(m.training)
        return float(len(seen))

    model = make_model()
    with_hook = train(model, fresh_double_batch, mse_loss,
                      torch.optim.Adam(model.parameters(), lr=1e-2), 7, seed=3,
                      progress=False, eval_every=3, evaluate_fn=evaluate_fn)
    assert with_hook.eval_steps == [0, 3, 6, 7] and with_hook.eval_losses == [1.0, 2.0, 3.0, 4.0]
    # the hook sees the model as train left it; train puts it back in training mode
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    modes = []

    def eval_mode_hook(m):
        modes.append(m.training)
        m.eval()
        return 0.0

    hooked = train(model, fresh_double_batch, mse_loss, optimizer, 7, seed=3, progress=False,
                   eval_every=3, evaluate_fn=eval_mode_hook)
    assert modes == [True] * 4 and model.training
    # evaluating does not disturb training: the same losses as without the hook
    model = make_model()
    plain = train(model, fresh_double_batch, mse_loss,
                  torch.optim.Adam(model.parameters(), lr=1e-2), 7, seed=3, progress=False)
    assert hooked.losses == plain.losses and plain.eval_steps == [] == plain.eval_losses


def test_stop_when_ends_training_after_an_evaluation():
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    batches = [(torch.ones(1, 1), torch.ones(1, 1))]
    values = iter([5.0, 4.0, 3.5, 3.4, 3.3, 3.2])

    def loss_fn(m, b):
        return F.mse_loss(m(b[0]), b[1])

    # stop once an evaluation improves on the previous one by less than 0.2
    history = train(model, batches, loss_fn, optimizer, 100, progress=False, eval_every=2,
                    evaluate_fn=lambda m: next(values),
                    stop_when=lambda h: len(h.eval_losses) > 1
                    and h.eval_losses[-2] - h.eval_losses[-1] < 0.2)
    assert history.eval_steps == [0, 2, 4, 6] and history.eval_losses == [5.0, 4.0, 3.5, 3.4]
    assert len(history.losses) == 6
    # a stop at step 0 takes no step at all
    history = train(model, batches, loss_fn, optimizer, 10, progress=False, eval_every=2,
                    evaluate_fn=lambda m: 0.0, stop_when=lambda h: True)
    assert history.losses == [] and history.eval_steps == [0]


def test_a_nonfinite_loss_is_evaluated_before_training_stops():
    model = torch.nn.Linear(1, 1)
    losses = iter([1.0, float("nan"), 3.0])

    def loss_fn(m, batch):
        return m(torch.ones(1, 1)).sum() * 0 + next(losses)

    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    history = train(model, lambda: None, loss_fn, optimizer, steps=3, progress=False,
                    eval_every=5, evaluate_fn=lambda m: 1.0)
    assert history.eval_steps == [0, 2] and len(history.losses) == 2


def test_evaluating_switches_to_eval_mode_and_restores_the_mode_on_error():
    model = make_model()
    with evaluating(model) as inside:
        assert inside is model and not model.training and torch.is_grad_enabled()
    assert model.training
    model.eval()
    with pytest.raises(RuntimeError, match="boom"):
        with evaluating(model):
            model.dropout.train()          # a block may change a sub-module's mode ...
            raise RuntimeError("boom")
    assert not model.training              # ... the model's own earlier mode comes back
    model.train()
    with pytest.raises(RuntimeError, match="boom"):
        with evaluating(model):
            raise RuntimeError("boom")
    assert model.training and model.dropout.training


def test_history_plot():
    import matplotlib.pyplot as plt

    ax = History(losses=[3.0, 2.0, 1.5], grad_norms=[1.0, 1.0, 1.0]).plot(label="run")
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [1, 2, 3] and list(line.get_ydata()) == [3.0, 2.0, 1.5]
    plt.close(ax.figure)


def test_bad_arguments():
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.ones(1, 1), torch.ones(1, 1))]
    args = (model, batches, lambda m, b: F.mse_loss(m(b[0]), b[1]), optimizer)
    with pytest.raises(ValueError, match="steps"):
        train(*args, steps=0, progress=False)
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="clip_norm"):
            train(*args, steps=1, clip_norm=bad, progress=False)
    with pytest.raises(ValueError, match="seed"):
        train(*args, steps=1, seed=-1, progress=False)
    with pytest.raises(TypeError, match="seed"):
        train(*args, steps=1, seed=1.5, progress=False)
    with pytest.raises(ValueError, match="max_batches"):
        evaluate(model, args[1], args[2], max_batches=0)
    with pytest.raises(ValueError, match="batches"):
        evaluate(model, [], args[2])
    with pytest.raises(ValueError, match="eval_every, evaluate_fn: expected both or neither"):
        train(*args, steps=1, eval_every=2, progress=False)
    with pytest.raises(ValueError, match="eval_every"):
        train(*args, steps=1, eval_every=0, evaluate_fn=lambda m: 0.0, progress=False)
    with pytest.raises(ValueError, match="stop_when: needs eval_every"):
        train(*args, steps=1, stop_when=lambda h: True, progress=False)


def test_random_minibatches_repeat_with_the_seed_and_ignore_the_global_generator():
    first, second = random_minibatches(10, 4, seed=3), random_minibatches(10, 4, seed=3)
    draws = [first() for _ in range(3)]
    torch.manual_seed(123)  # the global generator does not move the minibatches
    assert all(torch.equal(a, second()) for a in draws)
    assert all(a.shape == (4,) and 0 <= a.min() and a.max() < 10 for a in draws)
    with pytest.raises(ValueError, match="batch_size: expected a positive int"):
        random_minibatches(10, 0, seed=0)
