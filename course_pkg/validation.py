"""Argument checks shared by the public functions of course_pkg.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) with a message
that names the argument, says what was expected and what was given, e.g.::

    ValueError: x: expected shape (T, B, 3) with input size 3, got (5, 2, 4)

The helpers accept numpy arrays and torch tensors alike (anything with ``.shape``/``.dtype``).
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np


def _describe_shape(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def require_array(name: str, value: Any) -> None:
    """Raise TypeError unless ``value`` is a numpy array or a torch tensor."""
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        raise TypeError(
            f"{name}: expected a numpy array or torch tensor, got {type(value).__name__}"
        )


def require_shape(name: str, value: Any, expected: Sequence[Any], meaning: str = "") -> None:
    """Check ``value.shape`` against ``expected``.

    ``expected`` holds ints (must match) or strings/None (any size, used only in the message),
    e.g. ``require_shape("x", x, ("T", "B", 3), "time-major input (T, B, D)")``.
    """
    require_array(name, value)
    shape = tuple(value.shape)
    ok = len(shape) == len(expected) and all(
        not isinstance(e, numbers.Integral) or s == e for s, e in zip(shape, expected)
    )
    if not ok:
        what = f" ({meaning})" if meaning else ""
        raise ValueError(
            f"{name}: expected shape {_describe_shape(expected)}{what}, got {_describe_shape(shape)}"
        )


def require_ndim(name: str, value: Any, ndim: int | Sequence[int], meaning: str = "") -> None:
    """Check the number of dimensions (one value or a set of allowed values)."""
    require_array(name, value)
    allowed = (ndim,) if isinstance(ndim, numbers.Integral) else tuple(ndim)
    if value.ndim not in allowed:
        what = f" ({meaning})" if meaning else ""
        want = " or ".join(str(a) for a in allowed)
        raise ValueError(
            f"{name}: expected a {want}-D array{what}, got {value.ndim}-D with shape "
            f"{_describe_shape(tuple(value.shape))}"
        )


def require_floating(name: str, value: Any) -> None:
    """Check that an array/tensor has a floating-point dtype."""
    require_array(name, value)
    dtype = value.dtype
    is_float = getattr(dtype, "is_floating_point", None)
    if is_float is None:  # numpy
        is_float = np.issubdtype(dtype, np.floating)
    if not is_float:
        raise TypeError(f"{name}: expected a floating-point dtype, got {dtype}")


def require_positive_int(name: str, value: Any) -> None:
    """Check that ``value`` is an int >= 1 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")


def require_in_range(name: str, value: Any, low: float, high: float) -> None:
    """Check ``low <= value <= high`` for a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number in [{low}, {high}], got {value!r}")
    if not (low <= value <= high):  # also refuses NaN
        raise ValueError(f"{name}: expected a number in [{low}, {high}], got {value}")


def require_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def require_seed(name: str, value: Any) -> None:
    """Check that ``value`` is an int in [0, 2**63 - 1] (what ``torch.manual_seed`` accepts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    require_in_range(name, value, 0, 2**63 - 1)


def require_seeds(seeds: Any) -> list[int]:
    """Check that ``seeds`` is a non-empty sequence of ints >= 0; return it as a list."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds: expected at least one seed, got none")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seeds: expected ints >= 0, got {seed!r}")
    return seeds


def require_word_ids(name: str, words: Any, vocabulary_size: int) -> "torch.Tensor":
    """Check that ``words`` holds integer word ids in [0, vocabulary_size), as ``(T,)`` or
    time-major ``(T, B)``; return it as a ``(T, B)`` tensor."""
    import torch

    words = torch.as_tensor(words)
    require_ndim(name, words, (1, 2), "(T,) or time-major (T, B) word ids")
    if words.dtype.is_floating_point or words.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer word ids, got {words.dtype}")
    if words.numel() and (words.min() < 0 or words.max() >= vocabulary_size):
        raise ValueError(f"{name}: expected ids in [0, {vocabulary_size - 1}], got values in "
                         f"[{int(words.min())}, {int(words.max())}]")
    return words.reshape(words.shape[0], -1)  # (T, B)


def require_int64_tokens(name: str, tokens: Any, meaning: str) -> None:
    """Check that ``tokens`` is a 2-D int64 tensor of token ids (``meaning`` says which layout,
    e.g. "time-major source token ids (S, B)")."""
    import torch

    require_ndim(name, tokens, 2, meaning)
    if tokens.dtype != torch.int64:
        raise TypeError(f"{name}: expected int64 token ids, got {tokens.dtype}")


def numpy_rng(seed: Any) -> np.random.Generator:
    """A numpy Generator from ``seed``: an int >= 0, or a Generator passed through as it is."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0 or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed)


def require_lengths(lengths: Any, batch: int, steps: int) -> "torch.Tensor":
    """Check ``lengths``, the real length of each of ``batch`` sequences padded to ``steps``:
    ``batch`` integers in [1, steps]. Returns them as a tensor."""
    import torch  # imported on use: the numpy code of the course never loads torch
    lengths = torch.as_tensor(lengths)
    if tuple(lengths.shape) != (batch,) or lengths.dtype.is_floating_point:
        raise ValueError(f"lengths: expected {batch} integer lengths (B,), got shape "
                         f"{tuple(lengths.shape)} {lengths.dtype}")
    if lengths.min() < 1 or lengths.max() > steps:
        raise ValueError(f"lengths: expected values in [1, {steps}], got {lengths.tolist()}")
    return lengths
