"""A small training loop for the course's models, and an evaluation helper.

One step of gradient descent on a recurrent model, as the book runs it everywhere::

    loss = loss_fn(model, batch)         # forward pass, a scalar
    loss.backward()                      # backpropagation through time
    n = clip_grad_norm(params, c)        # Pascanu et al. (2013), Algorithm 1 (optional)
    optimizer.step()

:func:`train` repeats it for a fixed number of steps and records the loss and the gradient norm
(before clipping) of every step in a :class:`History`, ready for plotting. A ``seed`` seeds torch,
numpy and ``random`` first, so two runs with the same seed (and the same initial model) give
identical histories. With ``eval_every=k`` and ``evaluate_fn`` it also evaluates the model before
the first step, every k steps and after the last one (``History.eval_steps``/``eval_losses``), and
``stop_when(history)``, asked after every evaluation, ends training early; a
:class:`BestWeights` as ``evaluate_fn`` keeps the weights of the best evaluation (early stopping
by checkpoint).

``loss_fn(model, batch)`` is the caller's: it says how a batch goes through the model, e.g. for
the adding problem ``lambda model, batch: F.mse_loss(model(batch[0]), batch[1])``.
``batches`` is either an iterable of batches (a list, :class:`~course_pkg.data.text.BPTTBatches`;
it is restarted when it runs out) or a function with no argument that returns a fresh batch
(``lambda: adding_problem(64, 50)``), called once per step.
"""

from __future__ import annotations

import math
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm  # a widget in notebooks, a text bar in a terminal

from course_pkg.clipping import clip_grad_norm, grad_norm
from course_pkg.validation import require_in_range, require_positive_int

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]


@dataclass
class History:
    """What :func:`train` measured: one entry per step taken."""

    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)  # global 2-norm before clipping
    seconds: float = 0.0  # wall time of the training steps (evaluations not included)
    eval_steps: list[int] = field(default_factory=list)    # 0, k, 2k, ..., the last step
    eval_losses: list[float] = field(default_factory=list)  # evaluate_fn(model) at those steps

    def plot(self, ax: Any = None, label: str | None = None) -> Any:
        """Loss against step on a matplotlib ``ax`` (a new figure if None); returns the ax."""
        import matplotlib.pyplot as plt

        ax = plt.subplots(figsize=(6, 3))[1] if ax is None else ax
        ax.plot(range(1, len(self.losses) + 1), self.losses, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        return ax


def _batch_stream(batches: Iterable[Any] | Callable[[], Any]) -> Iterator[Any]:
    """Endless batches: call a function each time, or cycle through an iterable."""
    if callable(batches):
        while True:
            yield batches()
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:  # an exhausted iterator, or nothing in the first place
            raise ValueError("batches: ran out of batches (pass a list, or a function)")


def random_minibatches(num_examples: int, batch_size: int, seed: int
                       ) -> Callable[[], torch.Tensor]:
    """A function returning the row indices (batch_size,) of the next minibatch, drawn with
    replacement from its own generator seeded with ``seed``: models trained with the same seed
    see the same minibatches, whatever else uses torch's global generator."""
    require_positive_int("num_examples", num_examples)
    require_positive_int("batch_size", batch_size)
    order = torch.Generator().manual_seed(seed)
    return lambda: torch.randint(0, num_examples, (batch_size,), generator=order)


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python's ``random``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__} {seed!r}")
    require_in_range("seed", seed, 0, 2**32 - 1)  # what numpy accepts
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def train(
    model: torch.nn.Module,
    batches: Iterable[Any] | Callable[[], Any],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    steps: int,
    clip_norm: float | None = None,  # max global gradient norm; None: no clipping
    seed: int | None = None,  # seeds torch, numpy and random before the first batch
    progress: bool = True,  # show a tqdm progress bar
    stop_if_nonfinite: bool = True,  # stop at the first NaN/inf loss (it is still recorded)
    eval_every: int | None = None,  # evaluate every this many steps (with evaluate_fn)
    evaluate_fn: Callable[[torch.nn.Module], float] | None = None,  # model -> validation loss
    stop_when: Callable[[History], bool] | None = None,  # early stop, asked after evaluations
) -> History:
    """Run ``steps`` optimisation steps and return the :class:`History` of losses and norms.

    Args:
        model: put in training mode; its parameters with ``requires_grad`` are clipped/measured.
        batches: an iterable of batches (cycled) or a function returning a batch (see module doc).
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``.
        optimizer: any ``torch.optim`` optimiser over the model's parameters.
        steps: the number of updates (fewer if a loss is NaN/inf and ``stop_if_nonfinite``, or
            if ``stop_when`` says so).
        eval_every, evaluate_fn: ``evaluate_fn(model)`` (e.g. ``lambda m: evaluate(m,
            validation, loss_fn)``) runs before the first step, after every ``eval_every``
            steps and after the last step taken; the model is back in training mode after it.
        stop_when: ``stop_when(history) -> bool``, asked after every evaluation; True ends
            training there.
    """
    require_positive_int("steps", steps)
    if clip_norm is not None:
        require_in_range("clip_norm", clip_norm, 0.0, math.inf)
        if clip_norm == 0:
            raise ValueError("clip_norm: expected a positive number, got 0")
    if (eval_every is None) != (evaluate_fn is None):
        raise ValueError("eval_every, evaluate_fn: expected both or neither, got "
                         f"eval_every={eval_every!r}, evaluate_fn={evaluate_fn!r}")
    if eval_every is not None:
        require_positive_int("eval_every", eval_every)
    if stop_when is not None and evaluate_fn is None:
        raise ValueError("stop_when: needs eval_every and evaluate_fn (it is asked after "
                         "every evaluation), got neither")
    if seed is not None:
        seed_everything(seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    history = History()

    def evaluate_now() -> bool:
        """Record one evaluation at the current step; True if ``stop_when`` says stop."""
        history.eval_steps.append(len(history.losses))
        history.eval_losses.append(float(evaluate_fn(model)))
        model.train()
        return stop_when is not None and bool(stop_when(history))

    model.train()
    stream = _batch_stream(batches)
    stopped = evaluate_fn is not None and evaluate_now()
    with tqdm(total=steps, disable=not progress, desc="training") as bar:
        for step in range(0 if stopped else steps):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model, next(stream))
            loss.backward()
            if clip_norm is None:
                norm = grad_norm(parameters)
            else:
                norm = clip_grad_norm(parameters, clip_norm)
            optimizer.step()
            history.losses.append(loss.item())
            history.grad_norms.append(norm.item())
            history.seconds += time.perf_counter() - start
            bar.update(1)
            if step % 10 == 0 or step == steps - 1:
                bar.set_postfix(loss=f"{history.losses[-1]:.4f}", refresh=False)
            nonfinite = stop_if_nonfinite and not math.isfinite(history.losses[-1])
            if evaluate_fn is not None and ((step + 1) % eval_every == 0 or step == steps - 1
                                            or nonfinite):
                if evaluate_now():
                    break
            if nonfinite:
                break
    return history


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``with evaluating(model):`` runs the block with ``model`` in eval mode (dropout off) and
    puts back the mode it had before, also when the block raises. Gradients stay on (wrap the
    block in ``torch.no_grad()`` too when none are needed)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    batches: Iterable[Any],
    loss_fn: LossFn,
    max_batches: int | None = None,
) -> float:
    """The mean of ``loss_fn(model, batch)`` over ``batches`` (at most ``max_batches``), in eval
    mode and without gradients; the model's train/eval mode is restored afterwards."""
    if max_batches is not None:
        require_positive_int("max_batches", max_batches)
    losses = []
    with evaluating(model):
        for batch in batches:
            losses.append(loss_fn(model, batch).item())
            if max_batches is not None and len(losses) == max_batches:
                break
    if not losses:
        raise ValueError("batches: expected at least one batch, got none")
    return sum(losses) / len(losses)


class BestWeights:
    """Early stopping by checkpoint, used as the ``evaluate_fn`` of `course_pkg.training.train`.

    ``best(model)`` returns ``measure(model)`` (lower is better, e.g. a validation error) and,
    when it is the lowest so far, keeps a copy of the model's weights (of equal values, the
    earliest). ``train`` calls it before the first step and every ``eval_every`` steps;
    afterwards ``best.restore(model)`` loads the kept weights, ``best.value`` is their
    measurement and ``best.index`` the number of that evaluation, so that
    ``history.eval_steps[best.index]`` is the step they come from.
    """

    def __init__(self, measure: Callable[[torch.nn.Module], float]) -> None:
        if not callable(measure):
            raise TypeError(f"measure: expected a function model -> float, got {measure!r}")
        self.measure = measure
        self.value = float("inf")
        self.index: int | None = None
        self.state: dict[str, torch.Tensor] | None = None
        self.calls = 0

    def __call__(self, model: torch.nn.Module) -> float:
        value = float(self.measure(model))
        if value < self.value or self.state is None:
            self.value, self.index = value, self.calls
            self.state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        self.calls += 1
        return value

    def restore(self, model: torch.nn.Module) -> None:
        """Load the kept weights into ``model``."""
        if self.state is None:
            raise RuntimeError("BestWeights: nothing kept yet (pass it to train as evaluate_fn)")
        model.load_state_dict(self.state)
