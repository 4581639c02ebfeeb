"""A backward pass graded on the reference forward's values, kept in the student's cache layout.

The backward parts (``rnn_step_backward``, ``lstm_step_backward``, ...) receive a cache that the
student's own forward built, in a layout the student chose ("whatever your backward needs").
When that forward is wrong, a correct backward returns wrong gradients, and one mistake would
cost points twice. The judge therefore rebuilds the student's cache with the reference values:

- a leaf whose slot the forward's code names (``cache = (x_t, h_prev, ..., i, f, g, o)``,
  read from its syntax tree by :func:`slot_names`) gets the reference's quantity of that name
  (names a part does not use are mapped through its aliases, e.g. ``squashed`` -> tanh(c_t));
- otherwise every array leaf (tuples, lists and dicts, nested) is looked up
  among the student's own forward outputs (``h_t``, ``c_t``, ``out`` ..., each also per time
  step and through tanh and 1 - x^2): a leaf equal to one of them is that quantity, and gets
  the reference's value of it (:func:`keys_from`);
- otherwise it is matched with the reference's named quantities of the same shape (the inputs,
  the forward's outputs, their transposes, and what the part adds, e.g. the pre-activation):
  a leaf within ``SAME`` (relative error) of a quantity is already right and stays as it is;
- a wrong leaf is replaced by the quantity it is clearly closest to: relative error of the
  deviations from the mean, ``r = ||(leaf - mean) - (q - mean_q)|| / ||q - mean_q|| < CLOSE``,
  and every other quantity of that shape at least ``APART`` times farther. A leaf that is near nothing, or near two quantities alike, stays as
  the student wrote it (listed in :attr:`FilledCache.unknown`);
- anything that is not an array (a string, a number, None) stays as it is.

The judge then calls the student's backward on that cache (see :class:`~course_pkg.grading.part.Part`).
This module runs in the judge only: it holds reference values.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

SAME = 1e-5  # relative error below which a leaf already holds the quantity
CLOSE = 1.0  # a wrong leaf is identified only if it is closer than this to a quantity
APART = 1.25  # ... and every other candidate of its shape is this many times farther
# (lenient on purpose: a leaf wrongly identified cannot cost points, since the judge keeps the
# rerun only when it passes more checks than the student's own cache did)

__all__ = ["APART", "CLOSE", "SAME", "FilledCache", "Key", "candidates_from", "fill_cache",
           "keys_from", "slot_names"]

# Elementwise functions under which a cache may keep a forward output (h_t -> 1 - h_t^2 ...).
DERIVED = (("tanh({})", np.tanh), ("1 - {}**2", lambda v: 1 - v * v))


@dataclass
class Key:
    """A value the student's forward returned (``student``) and the reference's (``reference``)."""

    name: str
    student: np.ndarray
    reference: np.ndarray


def slot_names(function: ast.FunctionDef, returns: Sequence[str]) -> Any:
    """The variable names the forward puts in its cache, in the cache's shape: for
    ``return h_t, cache`` after ``cache = (x_t, h_prev, h_t)``, ``("x_t", "h_prev", "h_t")``
    (None for a slot that is not a plain name; None when the cache is not built that way).

    function: the forward's ``def`` (its syntax tree); returns: what it returns, by name, with
    ``"cache"`` among them (as the part's caller options say)."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise TypeError(f"function: expected a def's syntax tree, got {type(function).__name__}")
    if "cache" not in returns:
        raise ValueError(f"returns: expected names with 'cache' among them, got {list(returns)}")
    position = list(returns).index("cache")
    assigned: dict[str, ast.AST] = {}
    returned: ast.AST | None = None
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(
                node.value.elts) == len(returns):
            returned = node.value.elts[position]
    if isinstance(returned, ast.Name):
        returned = assigned.get(returned.id)

    def names(node: ast.AST | None) -> Any:
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(names(element) for element in node.elts)
        return node.id if isinstance(node, ast.Name) else None

    return names(returned) if isinstance(returned, (ast.Tuple, ast.List)) else None


def keys_from(student: dict[str, Any], reference: dict[str, Any]) -> list[Key]:
    """Pairs (the student's value, the reference's) for each named forward output, for each of
    its time steps (3-D outputs, first axis), and through tanh and 1 - x^2."""
    keys: list[Key] = []
    for name, got in student.items():
        wanted = reference.get(name)
        got = np.asarray(got) if isinstance(got, np.ndarray) else None
        if got is None or not isinstance(wanted, np.ndarray) or got.shape != wanted.shape:
            continue
        pairs = [(name, got, wanted)]
        if got.ndim == 3:
            pairs += [(f"{name}[{t}]", got[t], wanted[t]) for t in range(got.shape[0])]
        for label, g, w in list(pairs):
            pairs += [(form.format(label), f(g.astype(np.float64)), f(w)) for form, f in DERIVED]
        keys += [Key(label, g, w) for label, g, w in pairs]
    return keys


@dataclass
class FilledCache:
    """The student's cache with reference values in place of its wrong leaves."""

    cache: Any
    replaced: list[str] = field(default_factory=list)  # "cache[2] (h_t)"
    unknown: list[str] = field(default_factory=list)  # wrong leaves nothing was found for

    @property
    def changed(self) -> bool:
        return bool(self.replaced)


def candidates_from(named: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every float array in ``named`` (nested tuples/lists/dicts are walked, their leaves named
    ``name[i]``), each 2-D one also transposed (``name.T``), and each list of equal-shape arrays
    also stacked (``stack(name)``), as the student may keep them either way. A value met twice
    (an input the reference also caches) keeps its first name, so that no leaf is ever
    ambiguous between two copies of one quantity."""
    out: dict[str, np.ndarray] = {}

    def keep(name: str, array: np.ndarray) -> None:  # one name per distinct value (the first)
        if not any(a.shape == array.shape and np.array_equal(a, array) for a in out.values()):
            out[name] = array

    def add(name: str, value: Any) -> None:
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            keep(name, value)
            if value.ndim == 2:
                keep(f"{name}.T", value.T)
        elif isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                add(f"{name}[{i}]", item)
            arrays = [v for v in value if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
            if len(arrays) == len(value) > 1 and len({a.shape for a in arrays}) == 1:
                keep(f"stack({name})", np.stack(arrays))
        elif isinstance(value, dict):
            for key, item in value.items():
                add(f"{name}[{key!r}]", item)

    for name, value in named.items():
        add(name, value)
    return out


def _centred_error(leaf: np.ndarray, quantity: np.ndarray) -> float:
    """The relative error of the deviations from each array's mean: gates all sit around 0.5,
    so raw errors cannot tell a wrong r_t from z_t, while their patterns differ."""
    leaf = leaf.astype(np.float64)
    return _relative_error(leaf - leaf.mean(), quantity - quantity.mean())


def _relative_error(leaf: np.ndarray, quantity: np.ndarray) -> float:
    scale = float(np.linalg.norm(quantity))
    error = float(np.linalg.norm(leaf.astype(np.float64) - quantity))
    return error / scale if scale > 0 else (0.0 if error == 0 else np.inf)


def fill_cache(cache: Any, candidates: dict[str, np.ndarray], keys: Sequence[Key] = (),
               names: Any = None, aliases: dict[str, str] | None = None,
               path: str = "cache") -> FilledCache:
    """``cache`` with each wrong array leaf replaced by the reference quantity it stands for.

    cache: the student's cache, as it came back from the jail (arrays in tuples, lists, dicts).
    candidates: the reference's quantities by name (see :func:`candidates_from`), float64.
    keys: the student's forward outputs beside the reference's (see :func:`keys_from`).
    names: the slots' variable names in the cache's shape (see :func:`slot_names`), or None.
    aliases: variable name -> quantity name, for names that are not the quantities' own.
    """
    if not isinstance(candidates, dict):
        raise TypeError(f"candidates: expected a dict of arrays, got {type(candidates).__name__}")
    result = FilledCache(cache=None)
    result.cache = _fill(cache, candidates, list(keys), names, dict(aliases or {}), path, result)
    return result


def _fill(value: Any, candidates: dict[str, np.ndarray], keys: list[Key], names: Any,
          aliases: dict[str, str], path: str, result: FilledCache) -> Any:
    def slot(i: int) -> Any:
        return names[i] if isinstance(names, tuple) and len(names) == len(value) else None

    if isinstance(value, (tuple, list)):
        filled = [_fill(v, candidates, keys, slot(i), aliases, f"{path}[{i}]", result)
                  for i, v in enumerate(value)]
        return tuple(filled) if isinstance(value, tuple) else filled
    if isinstance(value, dict):
        return {k: _fill(v, candidates, keys, None, aliases, f"{path}[{k!r}]", result)
                for k, v in value.items()}
    if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        return value
    named = aliases.get(names, names) if isinstance(names, str) else None
    if named in candidates and candidates[named].shape == value.shape:
        if _relative_error(value, candidates[named]) <= SAME:
            return value
        result.replaced.append(f"{path} ({names})")
        return np.array(candidates[named], dtype=value.dtype)
    for key in keys:  # one of the student's own outputs: the reference's value of it
        if key.student.shape == value.shape and _relative_error(value, key.student) <= SAME:
            if _relative_error(value, key.reference) <= SAME:
                return value
            result.replaced.append(f"{path} ({key.name})")
            return np.array(key.reference, dtype=value.dtype)
    same_shape = {name: q for name, q in candidates.items() if q.shape == value.shape}
    if not same_shape or min(_relative_error(value, q) for q in same_shape.values()) <= SAME:
        return value
    errors = sorted((_centred_error(value, q), name) for name, q in same_shape.items())
    best, name = errors[0]
    runner_up = errors[1][0] if len(errors) > 1 else np.inf
    if best < CLOSE and runner_up >= APART * best:
        result.replaced.append(f"{path} ({name})")
        return np.array(candidates[name], dtype=value.dtype)
    result.unknown.append(path)
    return value
