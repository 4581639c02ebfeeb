"""Matrix-product shape errors, said in the assignment's terms.

A weight used without its transpose (``x @ W_q`` where ``x @ W_q.T`` is meant) makes torch raise
``RuntimeError: mat1 and mat2 shapes cannot be multiplied (3x5 and 4x5)`` and numpy
``ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0 ... (size 4 is
different from 5)``. Neither names the argument. :func:`explain` reads the sizes from such a
message, finds the case's input whose shape (or transpose) is the right-hand factor, and says::

    your W_q has shape (A, Dq) = (4, 5) and is used as it is on the right of a (B, Dq) matrix:
    the product needs W_q.T, shape (Dq, A)

The sizes are named by the case's size letters where a value belongs to one letter only.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["explain"]

_TORCH = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_NUMPY = re.compile(r"matmul: Input operand 1 has a mismatch in its core dimension 0.*"
                    r"\(size (\d+) is different from (\d+)\)")


def _named(shape: tuple[int, ...], sizes: dict[str, int]) -> str:
    def letter(n: int) -> str:
        letters = [k for k, v in sizes.items() if v == n]
        return letters[0] if len(letters) == 1 else str(n)

    return "(" + ", ".join(letter(n) for n in shape) + ")"


def _shown(shape: tuple[int, ...], sizes: dict[str, int]) -> str:
    named = _named(shape, sizes)
    plain = "(" + ", ".join(str(n) for n in shape) + ")"
    return named if named == plain else f"{named} = {plain}"


def explain(error: str, inputs: dict[str, Any], sizes: dict[str, int]) -> str | None:
    """A sentence naming the input used with the wrong orientation in a failed matrix product,
    or None when ``error`` is not such an error or no input fits it.

    error: the exception's text, e.g. "RuntimeError: mat1 and mat2 shapes cannot be ...".
    inputs: the case's inputs by argument name (arrays; anything else is ignored).
    sizes: the case's sizes by letter, e.g. {"B": 3, "Dq": 5, "A": 4}.
    """
    if not isinstance(error, str):
        raise TypeError(f"error: expected the exception's text (str), got {type(error).__name__}")
    found = _TORCH.search(error)
    if found:
        inner, right_rows = int(found.group(2)), int(found.group(3))
    else:
        found = _NUMPY.search(error)
        if not found:
            return None
        right_rows, inner = int(found.group(1)), int(found.group(2))
    as_is, transposed = [], []
    for name, value in inputs.items():
        shape = tuple(getattr(value, "shape", ()))
        if len(shape) != 2 or not isinstance(value, np.ndarray):
            continue
        rows, columns = shape
        if rows == right_rows and columns == inner and rows != inner:
            as_is.append((name, shape))
        elif columns == right_rows and rows == inner and rows != columns:
            transposed.append((name, shape))
    left = f"on the right of a matrix with {_named((inner,), sizes)[1:-1]} columns"
    if as_is:
        names, shape = " or ".join(n for n, _ in as_is), as_is[0][1]
        fix = " / ".join(f"{n}.T" for n, _ in as_is)
        return (f"your {names} has shape {_shown(shape, sizes)} and is used as it is {left}: "
                f"the product needs {fix}, shape {_named(shape[::-1], sizes)}")
    if transposed:
        names, shape = " or ".join(n for n, _ in transposed), transposed[0][1]
        used = " / ".join(f"{n}.T" for n, _ in transposed)
        return (f"your code uses {used}, shape {_named(shape[::-1], sizes)}, {left}: the "
                f"product needs {names} as it is, shape {_shown(shape, sizes)}")
    return None
