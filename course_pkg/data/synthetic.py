"""Synthetic long-memory tasks: the adding problem, the copy task and bit recall.

**Adding problem** (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015,
*A simple way to initialize recurrent networks of rectified linear units*). Each example is a
sequence of T pairs ``x_t = (v_t, m_t)``:

- channel 0: values ``v_t ~ U[0, 1]``, independent;
- channel 1: markers, all 0 except two 1s: one at a uniform position in the first half
  ``[0, T//2)``, the other at a uniform position in the second half ``[T//2, T)``;
- target: ``y = v_i + v_j``, the sum of the two marked values.

``y`` is a sum of two independent U[0, 1] values: mean 1, variance 2 * 1/12 = 1/6. A model that
ignores the input and always predicts 1 therefore has MSE 1/6 ~ 0.167, the baseline a tanh RNN
fails to beat on long sequences.

**Copy task** (Hochreiter & Schmidhuber 1997; the layout of Arjovsky, Shah & Bengio 2016). Ids:
``0`` is the blank, ``1..n_symbols`` are the symbols, ``n_symbols + 1`` is the delimiter. With
``L = length`` and ``D = delay``, every sequence has ``2L + D`` steps::

    step:     0 .. L-1 | L .. L+D-2 | L+D-1     | L+D .. 2L+D-1
    input:    s_1..s_L | blank      | delimiter | blank
    target:   blank    | blank      | blank     | s_1..s_L

The network reads L random symbols, waits D steps (the last of them shows the delimiter, "now
repeat"), then must output the symbols in order. A memoryless strategy (blank, then a uniform
guess) scores a cross-entropy of ``L * log(n_symbols) / (2L + D)`` nats per step.

**Bit recall** (the "latch" or "flip-flop" test of long memory, as in Hochreiter & Schmidhuber
1997, with distractors). Each example is a sequence of T pairs ``x_t = (s_t, m_t)``:

- channel 0: a sign ``s_t`` in {-1, +1} at every step; ``s_0`` is the bit to remember
  (+1 for bit 1, -1 for bit 0), ``s_1 .. s_{T-1}`` are independent random distractors;
- channel 1: the marker, 1 at step 0 and 0 elsewhere;
- target: the bit ``y = (s_0 + 1) / 2``, read after the last step.

The distractors look exactly like the bit, so only the marker says which sign counts; guessing
scores 50 %.

Every function draws from a ``torch.Generator``: pass ``seed`` or ``generator`` (not both) for
reproducible data; with neither, torch's global generator is used.
"""

from __future__ import annotations

import numbers

import torch

from course_pkg.validation import require_positive_int

BLANK = 0  # copy task: the "nothing" id, in inputs and targets


def _make_generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator | None:
    if seed is not None and generator is not None:
        raise ValueError("seed: give either seed or generator, not both")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed: expected an int, got {type(seed).__name__} {seed!r}")
        return torch.Generator().manual_seed(int(seed))
    return generator


def adding_problem(
    n: int,
    length: int,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    batch_first: bool = False,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples of the adding problem of length ``T = length`` (see the module doc).

    Returns ``(x, y)``: ``x`` is (T, n, 2) (or (n, T, 2) with ``batch_first``), channel 0 the
    values in [0, 1), channel 1 the two markers; ``y`` is (n,), the sum of the two marked values.
    """
    require_positive_int("n", n)
    require_positive_int("length", length)
    if length < 2:
        raise ValueError(f"length: expected at least 2 (one marker per half), got {length}")
    generator = _make_generator(seed, generator)
    half = length // 2
    values = torch.rand(length, n, generator=generator, dtype=dtype)  # (T, n)
    first = torch.randint(0, half, (n,), generator=generator)  # (n,) in the first half
    second = torch.randint(half, length, (n,), generator=generator)  # (n,) in the second half
    examples = torch.arange(n)
    markers = torch.zeros(length, n, dtype=dtype)  # (T, n)
    markers[first, examples] = 1.0
    markers[second, examples] = 1.0
    x = torch.stack([values, markers], dim=2)  # (T, n, 2)
    y = values[first, examples] + values[second, examples]  # (n,)
    if batch_first:
        x = x.transpose(0, 1).contiguous()  # (n, T, 2)
    return x, y


def copy_task(
    n: int,
    length: int,
    n_symbols: int = 8,
    delay: int = 10,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    batch_first: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples of the copy task (layout in the module doc).

    Args:
        n: number of sequences.
        length: L, symbols to remember.
        n_symbols: symbols are ids ``1..n_symbols``; the delimiter is ``n_symbols + 1``.
        delay: D >= 1 steps between the last symbol and the first output; the last of them
            carries the delimiter.

    Returns:
        inputs, targets: LongTensors (2L + D, n) (or (n, 2L + D) with ``batch_first``); inputs
        take ``n_symbols + 2`` values, targets ``n_symbols + 1`` (blank and symbols).
    """
    for name, value in (("n", n), ("length", length), ("n_symbols", n_symbols), ("delay", delay)):
        require_positive_int(name, value)
    generator = _make_generator(seed, generator)
    total = 2 * length + delay
    symbols = torch.randint(1, n_symbols + 1, (length, n), generator=generator)  # (L, n)
    inputs = torch.full((total, n), BLANK, dtype=torch.int64)  # (2L+D, n)
    targets = torch.full((total, n), BLANK, dtype=torch.int64)  # (2L+D, n)
    inputs[:length] = symbols
    inputs[length + delay - 1] = n_symbols + 1  # the delimiter
    targets[length + delay :] = symbols
    if batch_first:
        inputs, targets = inputs.t().contiguous(), targets.t().contiguous()  # (n, 2L+D)
    return inputs, targets


def bit_recall(
    n: int,
    length: int,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples of bit recall over ``T = length`` steps (see the module doc).

    Returns ``(x, y)``: ``x`` is (T, n, 2), channel 0 the signs (the bit at step 0, distractors
    after it), channel 1 the marker (1 at step 0 only); ``y`` is (n,), the bit as 0. or 1.
    """
    require_positive_int("n", n)
    require_positive_int("length", length)
    generator = _make_generator(seed, generator)
    bits = torch.randint(0, 2, (n,), generator=generator).to(dtype)  # (n,) 0 or 1
    signs = 2 * torch.randint(0, 2, (length, n), generator=generator).to(dtype) - 1  # (T, n)
    signs[0] = 2 * bits - 1  # the bit, as -1 or +1
    markers = torch.zeros(length, n, dtype=dtype)  # (T, n)
    markers[0] = 1.0
    return torch.stack([signs, markers], dim=2), bits  # (T, n, 2), (n,)
