"""Integrity of grading: no points for delegating to the reference, no gain from patching.

Two things a submission could do in the kernel the tests run in, and how grading answers them.

**Delegation.** A function that calls ``course_pkg``'s own implementation of the part (or
``torch.nn.LSTM`` and friends) would match the reference perfectly. Such a part earns nothing,
and the feedback says which forbidden function was used. It is found two ways:

- statically, by :func:`find_delegation`: the function's bytecode is walked, with the helpers
  it calls that the notebook defined, and every global, closure cell, default value, import
  and attribute chain (``course_pkg.numpy_rnn.rnn_forward``, ``nn.LSTM``) it names is resolved
  and compared with the :class:`Forbidden` list;
- at run time, by :func:`install_tripwires`, inside the forked child of
  :mod:`~course_pkg.grading.sandbox` only: every forbidden function of the loaded modules has
  its ``__code__`` swapped for a tripwire (so every reference to the function object trips it),
  and the forward methods of the forbidden torch modules are replaced, so even a reference
  reached through ``importlib`` or ``getattr`` with a computed name is caught. The tripwires
  only fire inside ``with armed():`` (the call under test); elsewhere they call the original.

**Patching.** A cell can replace ``numpy.allclose``, ``numpy.testing.assert_allclose``,
``builtins.print`` or a function of the grading library. The grading library therefore

- is imported afresh from disk by every test cell (the cell drops ``course_pkg.*`` from
  ``sys.modules`` first), which discards any patch of it or of the reference implementations;
- never uses numpy's comparison helpers: it computes errors with array operators;
- calls :func:`check_kernel` before grading, which refuses to grade (an error, so the cell
  scores 0) when numpy's comparison or arithmetic functions, or the builtins it relies on, are
  no longer the genuine ones, and says which were replaced.

What remains possible, and is documented in the instructor's guide: code that rewrites
Python's import machinery or IPython's display machinery can fool any grader that runs in the
student's own process. Such code is deliberate and visible in the submission.
"""

from __future__ import annotations

import builtins
import dis
import math
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np


class GradingIntegrityError(RuntimeError):
    """Raised when the kernel's comparison machinery has been tampered with."""


class DelegationDetected(BaseException):
    """Raised by a tripwire in the grading child (a BaseException: ``except Exception`` misses it)."""


# ------------------------------------------------------------------------------------------
# What a part may not call
# ------------------------------------------------------------------------------------------

TORCH_RECURRENT_CLASSES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
TORCH_RECURRENT_FUNCTIONS = ("rnn_tanh", "rnn_relu", "lstm", "gru", "rnn_tanh_cell",
                             "rnn_relu_cell", "lstm_cell", "gru_cell")


@dataclass(frozen=True)
class Forbidden:
    """What a graded part must not call.

    ``modules``: module names (and their submodules) whose functions and classes are all
    forbidden, except the names in ``allowed`` (e.g. ``sigmoid``). ``functions``: single
    functions as "module.qualname". ``torch_recurrent``: also ``torch.nn.RNN/LSTM/GRU`` and their
    cells, and the ``torch.lstm``-style functions behind them.
    """

    modules: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    torch_recurrent: bool = False

    def describe(self, obj: Any, torch_objects: dict[int, str] | None = None) -> str | None:
        """'course_pkg.numpy_rnn.rnn.rnn_forward' when ``obj`` is forbidden, else None.

        ``torch_objects`` is :meth:`torch_objects`, passed in when many objects are checked.
        """
        if isinstance(obj, types.ModuleType):
            return None
        if self.torch_recurrent:
            if torch_objects is None:
                torch_objects = self.torch_objects()
            if id(obj) in torch_objects:
                return torch_objects[id(obj)]
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not isinstance(module, str) or not isinstance(qualname, str):
            return None
        full = f"{module}.{qualname}"
        if full in self.functions:
            return full
        if qualname.split(".")[0] in self.allowed or qualname in self.allowed:
            return None
        if any(module == m or module.startswith(m + ".") for m in self.modules):
            return full
        return None

    def may_hold(self, module_name: str) -> bool:
        """Could importing ``module_name`` bring forbidden functions into memory?"""
        root = module_name.split(".")[0]
        roots = {m.split(".")[0] for m in self.modules + self.functions}
        return root in roots or (self.torch_recurrent and root == "torch")

    def torch_objects(self) -> dict[int, str]:
        """id -> name of torch's recurrent modules, their forward methods and functions."""
        torch = sys.modules.get("torch")
        if not self.torch_recurrent or torch is None:
            return {}
        found = {}
        for name in TORCH_RECURRENT_CLASSES:
            cls = getattr(torch.nn, name)
            found[id(cls)] = found[id(cls.forward)] = f"torch.nn.{name}"
        for name in TORCH_RECURRENT_FUNCTIONS:
            for owner in (torch, torch._VF):
                obj = getattr(owner, name, None)
                if obj is not None:
                    found[id(obj)] = f"torch.{name}"
        return found

    def forbids_module_import(self, module_name: str, names: Iterable[str]) -> list[str]:
        """For ``from module_name import names``: the forbidden ones (nothing is imported here)."""
        found = []
        module = sys.modules.get(module_name)
        inside = any(module_name == m or module_name.startswith(m + ".") for m in self.modules)
        for name in names:
            obj = getattr(module, name, None) if module is not None else None
            description = self.describe(obj) if obj is not None else None
            if description is None and inside and name not in self.allowed \
                    and not isinstance(obj, types.ModuleType):
                description = f"{module_name}.{name}"
            if description:
                found.append(description)
        return found


# ------------------------------------------------------------------------------------------
# Static analysis of a student's function
# ------------------------------------------------------------------------------------------


def is_notebook_function(obj: Any) -> bool:
    """A function (or method) the notebook defined, whose code we should follow."""
    code = getattr(obj, "__code__", None)
    if not isinstance(code, types.CodeType):
        return False
    filename = code.co_filename or ""
    return filename.startswith("<") or "/ipykernel_" in filename or \
        getattr(obj, "__module__", None) == "__main__"


def _code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _attribute_chains(code: types.CodeType) -> Iterable[tuple[str, list[str]]]:
    """(first name, [attr, attr, ...]) for every ``name.attr.attr`` read in ``code``
    (a local first name is given as ``"local:" + name``)."""
    instructions = list(dis.get_instructions(code))
    for position, instruction in enumerate(instructions):
        if instruction.opname not in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF",
                                      "LOAD_CLASSDEREF", "LOAD_FAST"):
            continue
        chain = []
        for following in instructions[position + 1:]:
            if following.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                chain.append(following.argval)
            elif following.opname in ("CACHE", "EXTENDED_ARG", "PRECALL"):
                continue
            else:
                break
        if instruction.opname == "LOAD_FAST":
            yield "local:" + str(instruction.argval), chain
        else:
            yield instruction.argval, chain


def _local_imports(code: types.CodeType) -> dict[str, Any]:
    """Local names bound by import statements in ``code``, resolved to the objects they name
    (only for modules already loaded: nothing is imported here)."""
    bound: dict[str, Any] = {}
    instructions = list(dis.get_instructions(code))
    for position, instruction in enumerate(instructions):
        if instruction.opname != "IMPORT_NAME":
            continue
        module = str(instruction.argval)
        fromlist = instructions[position - 1].argval if position else None
        base = sys.modules.get(module if fromlist else module.split(".")[0])
        attribute = None
        for following in instructions[position + 1:]:
            if following.opname == "IMPORT_FROM":
                attribute = following.argval
            elif following.opname.startswith("STORE_"):
                target = getattr(base, attribute, None) if attribute else base
                if target is not None:
                    bound[following.argval] = target
                if not fromlist:
                    break
                attribute = None
            elif following.opname in ("CACHE",):
                continue
            else:
                break
    return bound


def imported_modules(function: Any, depth: int = 6) -> set[str]:
    """Every module named by an import statement in ``function`` and the notebook helpers it
    calls (so that the grading child can load them before the tripwires are set)."""
    names: set[str] = set()
    seen: set[int] = set()

    def visit(fn: Any, level: int) -> None:
        if id(fn) in seen or level > depth or not is_notebook_function(fn):
            return
        seen.add(id(fn))
        globals_ = getattr(fn, "__globals__", {}) or {}
        for sub in _code_objects(fn.__code__):
            names.update(module for module, _ in _imports(sub))
            for first, _ in _attribute_chains(sub):
                if first in globals_:
                    visit(globals_[first], level + 1)
    visit(function, 0)
    return names


def _imports(code: types.CodeType) -> Iterable[tuple[str, list[str]]]:
    """(module, [names imported from it]) for every import statement in ``code``."""
    instructions = list(dis.get_instructions(code))
    for position, instruction in enumerate(instructions):
        if instruction.opname != "IMPORT_NAME":
            continue
        names = []
        for following in instructions[position + 1:]:
            if following.opname == "IMPORT_FROM":
                names.append(following.argval)
            elif following.opname in ("STORE_FAST", "STORE_NAME", "STORE_GLOBAL",
                                      "STORE_DEREF", "CACHE"):
                continue
            else:
                break
        yield instruction.argval, names


def find_delegation(function: Any, forbidden: Forbidden, *, depth: int = 6) -> list[str]:
    """The forbidden functions that ``function`` (or a notebook helper it calls) refers to."""
    found: list[str] = []
    seen: set[int] = set()
    torch_objects = forbidden.torch_objects()

    def note(description: str | None, via: str) -> None:
        if description and description not in found:
            found.append(description if not via else f"{description} (through {via})")

    def check_object(obj: Any, via: str, level: int) -> None:
        note(forbidden.describe(obj, torch_objects), via)
        if isinstance(obj, type) and obj.__module__ == "__main__" and level < depth:
            for member in vars(obj).values():
                check_object(member, via or obj.__qualname__, level + 1)
        elif is_notebook_function(obj) and level < depth:
            visit(obj, via if via else "", level + 1)
        elif isinstance(obj, (staticmethod, classmethod)):
            check_object(obj.__func__, via, level)

    def visit(fn: Any, via: str, level: int) -> None:
        if id(fn) in seen:
            return
        seen.add(id(fn))
        helper_via = via or ""
        name_here = getattr(fn, "__qualname__", "?")
        globals_ = getattr(fn, "__globals__", {}) or {}
        closure = {}
        code = fn.__code__
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                closure[name] = cell.cell_contents
            except ValueError:
                pass
        for default in (fn.__defaults__ or ()) + tuple((fn.__kwdefaults__ or {}).values()):
            check_object(default, helper_via, level)
        for sub in _code_objects(code):
            local_modules = _local_imports(sub)
            for first, chain in _attribute_chains(sub):
                if first.startswith("local:"):
                    obj = local_modules.get(first[len("local:"):])
                    if obj is None:
                        continue
                elif first in closure:
                    obj = closure[first]
                elif first in globals_:
                    obj = globals_[first]
                elif hasattr(builtins, first):
                    continue
                else:
                    continue
                via_here = helper_via or ("" if fn is function else name_here)
                check_object(obj, via_here, level)
                for attribute in chain:
                    try:
                        obj = getattr(obj, attribute)
                    except Exception:
                        break
                    check_object(obj, via_here, level)
            for module_name, names in _imports(sub):
                via_here = helper_via or ("" if fn is function else name_here)
                for description in forbidden.forbids_module_import(module_name, names):
                    note(description, via_here)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated torch objects warn when inspected
        if is_notebook_function(function):
            visit(function, "", 0)
        else:
            note(forbidden.describe(function, torch_objects), "")
    return found


# ------------------------------------------------------------------------------------------
# Tripwires, in the grading child only
# ------------------------------------------------------------------------------------------

_TRIPPED: list[str] = []
_ORIGINALS: dict[str, tuple[str, Callable[..., Any]]] = {}  # key -> (description, original)
_ARMED = [False]


class armed:
    """Within ``with armed():`` a forbidden call raises; outside it, it runs as usual.

    A backward part calls the student's forward first (unarmed: it is another part, graded on
    its own) and then the backward under test (armed).
    """

    def __enter__(self) -> "armed":
        _ARMED[0] = True
        return self

    def __exit__(self, *exc: Any) -> None:
        _ARMED[0] = False


def _trip(key: str, args: tuple, kwargs: dict) -> Any:
    description, original = _ORIGINALS[key]
    if _ARMED[0]:
        if description not in _TRIPPED:
            _TRIPPED.append(description)
        raise DelegationDetected(description)
    return original(*args, **kwargs)


def reference_hidden(module_name: str) -> None:
    """Called by a masked module of the jail's student edition when code imports it: while a
    graded call is armed, that counts as delegation to the reference (see grading.instructor.jail)."""
    description = f"{module_name} (a reference implementation; hidden during grading)"
    if _ARMED[0] and description not in _TRIPPED:
        _TRIPPED.append(description)


def tripped() -> list[str]:
    """The forbidden functions called so far (armed) in this child process."""
    return list(_TRIPPED)


def _tripwire_function(description: str, original: Callable[..., Any], key: str
                       ) -> Callable[..., Any]:
    _ORIGINALS.setdefault(key, (description, original))

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        return _trip(key, args, kwargs)
    return tripwire


def _tripwire_code(description: str, original: types.FunctionType) -> types.CodeType:
    """A code object with no free variables that calls the tripwire from any globals."""
    key = f"{description}@{id(original)}"
    copy = types.FunctionType(original.__code__, original.__globals__, original.__name__,
                              original.__defaults__)
    copy.__kwdefaults__ = original.__kwdefaults__
    _ORIGINALS[key] = (description, copy)
    namespace: dict[str, Any] = {}
    exec(f"def tripwire(*args, **kwargs):\n"
         f"    return __course_grading_trip__({key!r}, args, kwargs)\n", namespace)
    return namespace["tripwire"].__code__


def tripwire_targets(forbidden: Forbidden) -> list[tuple[Any, str]]:
    """The forbidden functions and classes of the loaded modules, with their descriptions.

    Computed once per part in the kernel and handed to each grading child, which only has to
    rewire them (:func:`install_tripwires`). The modules' namespaces are walked (where
    ``importlib`` and ``getattr`` find things); copies a notebook imported before the test cell
    re-imported the package are named in the student's code, where :func:`find_delegation`
    finds them.
    """
    targets: dict[int, tuple[Any, str]] = {}
    torch_objects = forbidden.torch_objects()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated torch objects warn when inspected
        for name, module in list(sys.modules.items()):
            if module is None or not any(name == m or name.startswith(m + ".")
                                         for m in forbidden.modules):
                continue
            for obj in list(vars(module).values()):
                if isinstance(obj, (types.FunctionType, type)):
                    description = forbidden.describe(obj, torch_objects)
                    if description:
                        targets[id(obj)] = (obj, description)
                if isinstance(obj, type) and id(obj) in targets:
                    for member in vars(obj).values():  # methods without free variables
                        if isinstance(member, types.FunctionType):
                            targets[id(member)] = (member, targets[id(obj)][1])
        torch = sys.modules.get("torch")
        if torch is not None and forbidden.torch_recurrent:
            for name in TORCH_RECURRENT_CLASSES:
                cls = getattr(torch.nn, name)
                targets[id(cls)] = (cls, f"torch.nn.{name}")
    return list(targets.values())


def install_tripwires(forbidden: Forbidden, targets: list[tuple[Any, str]] | None = None) -> None:
    """Make every forbidden function raise :class:`DelegationDetected` while :class:`armed`.

    Call it in the grading child only: it rewrites function objects in place. ``targets`` is
    :func:`tripwire_targets` (computed here when not given).
    """
    builtins.__course_grading_trip__ = _trip  # type: ignore[attr-defined]
    warnings.simplefilter("ignore")
    for obj, description in (targets if targets is not None else tripwire_targets(forbidden)):
        if isinstance(obj, types.FunctionType):
            if not obj.__code__.co_freevars:
                obj.__code__ = _tripwire_code(description, obj)
        else:  # a class: methods that use super() have a free variable, replace them here
            for name, member in list(vars(obj).items()):
                if isinstance(member, types.FunctionType) and member.__code__.co_freevars:
                    setattr(obj, name, _tripwire_function(description, member,
                                                          f"{description}.{name}@{id(obj)}"))
    torch = sys.modules.get("torch")
    if forbidden.torch_recurrent and torch is not None:
        for name in TORCH_RECURRENT_CLASSES:
            cls = getattr(torch.nn, name)
            cls.forward = _tripwire_function(f"torch.nn.{name}", cls.forward,
                                             f"torch.nn.{name}.forward")
        for name in TORCH_RECURRENT_FUNCTIONS:
            for owner in (torch, torch._VF):
                original = getattr(owner, name, None)
                if original is not None:
                    try:
                        setattr(owner, name, _tripwire_function(
                            f"torch.{name}", original, f"torch.{name}@{id(owner)}"))
                    except Exception:
                        pass


# ------------------------------------------------------------------------------------------
# Has the kernel been tampered with?
# ------------------------------------------------------------------------------------------

# numpy functions whose replacement would change a verdict, with their genuine __name__.
_NUMPY_FUNCTIONS = {
    "allclose": "allclose", "isclose": "isclose", "array_equal": "array_equal",
    "array_equiv": "array_equiv", "abs": "absolute", "absolute": "absolute",
    "maximum": "maximum", "minimum": "minimum", "isfinite": "isfinite", "isnan": "isnan",
    "tanh": "tanh", "exp": "exp", "log": "log", "sqrt": "sqrt", "sum": "sum", "max": "max",
    "min": "min", "amax": "amax", "argmax": "argmax", "concatenate": "concatenate",
    "asarray": "asarray", "array": "array", "zeros": "zeros", "ones": "ones",
    "empty": "empty", "where": "where", "matmul": "matmul", "dot": "dot", "einsum": "einsum",
    "mean": "mean", "multiply": "multiply", "add": "add", "subtract": "subtract",
    "divide": "divide", "square": "square", "clip": "clip", "logical_or": "logical_or",
    "unravel_index": "unravel_index", "flatnonzero": "flatnonzero",
}
_NUMPY_TESTING = ("assert_allclose", "assert_array_equal", "assert_array_almost_equal",
                  "assert_almost_equal", "assert_equal", "assert_array_less")
_BUILTINS = ("print", "abs", "max", "min", "sum", "len", "round", "float", "int", "isinstance",
             "range", "sorted", "any", "all", "getattr", "repr", "str", "zip", "enumerate",
             "__import__")
_TORCH_FUNCTIONS = ("allclose", "isclose", "equal", "abs", "max", "exp", "log", "tanh",
                    "sigmoid", "softmax", "log_softmax", "multinomial", "topk", "sum")


def _numpy_origin_ok(obj: Any, numpy_dir: str) -> bool:
    """A numpy function is genuine when its code lives in numpy's folder (or it is a ufunc)."""
    if isinstance(obj, np.ufunc):
        return True
    code = getattr(obj, "__code__", None)
    if code is not None:
        return code.co_filename.startswith(numpy_dir)
    wrapped = getattr(obj, "__wrapped__", None)
    if wrapped is not None:
        return _numpy_origin_ok(wrapped, numpy_dir)
    return type(obj).__name__ in ("builtin_function_or_method", "_ArrayFunctionDispatcher",
                                  "cython_function_or_method")


def check_kernel() -> None:
    """Raise :class:`GradingIntegrityError` naming every replaced function; silent when genuine.

    Checks numpy's comparison and arithmetic functions (identity and behaviour), the builtins
    the report uses, and torch's comparison functions when torch is loaded.
    """
    replaced: list[str] = []
    numpy_dir = np.__spec__.origin.rsplit("/", 1)[0] if np.__spec__ and np.__spec__.origin else ""
    for name, genuine_name in _NUMPY_FUNCTIONS.items():
        obj = getattr(np, name, None)
        if obj is None:
            continue
        if getattr(obj, "__name__", None) != genuine_name or not _numpy_origin_ok(obj, numpy_dir):
            replaced.append(f"numpy.{name}")
    for name in _NUMPY_TESTING:
        obj = getattr(np.testing, name, None)
        if obj is not None and not _numpy_origin_ok(obj, numpy_dir):
            replaced.append(f"numpy.testing.{name}")
    try:  # behaviour, in case something passes the identity test
        one, zero = np.ones(3), np.zeros(3)
        if np.allclose(one, zero) or np.isclose(1.0, 0.0) or np.array_equal(one, zero):
            replaced.append("numpy comparison behaviour")
        if float(np.tanh(0.5)) != math.tanh(0.5) or float(np.exp(0.5)) != math.exp(0.5):
            replaced.append("numpy arithmetic behaviour")
    except Exception as error:  # noqa: BLE001 (a broken function is tampering too)
        replaced.append(f"numpy functions ({type(error).__name__})")
    for name in _BUILTINS:
        obj = getattr(builtins, name, None)
        if not (isinstance(obj, type) or type(obj).__name__ == "builtin_function_or_method"):
            replaced.append(f"builtins.{name}")
    for name in ("isclose", "isfinite", "exp", "tanh", "fsum"):
        if type(getattr(math, name, None)).__name__ != "builtin_function_or_method":
            replaced.append(f"math.{name}")
    torch = sys.modules.get("torch")
    if torch is not None:
        for name in _TORCH_FUNCTIONS:
            obj = getattr(torch, name, None)
            if obj is not None and type(obj).__name__ != "builtin_function_or_method":
                code = getattr(obj, "__code__", None)
                if code is None or "/torch/" not in code.co_filename:
                    replaced.append(f"torch.{name}")
        testing = getattr(torch, "testing", None)
        assert_close = getattr(testing, "assert_close", None)
        if assert_close is not None:
            code = getattr(assert_close, "__code__", None)
            if code is None or "/torch/" not in code.co_filename:
                replaced.append("torch.testing.assert_close")
    if replaced:
        raise GradingIntegrityError(
            "grading refuses to run: a cell of this notebook replaced "
            + ", ".join(sorted(set(replaced)))
            + ". Restart the kernel and remove the code that does this; tests never earn "
            "points in a kernel whose comparison functions were changed.")


@dataclass
class IntegrityVerdict:
    """What :func:`find_delegation` and the tripwires found for one part."""

    static: list[str] = field(default_factory=list)
    runtime: list[str] = field(default_factory=list)

    @property
    def delegated(self) -> bool:
        return bool(self.static or self.runtime)

    def message(self, function_name: str) -> str:
        names = list(dict.fromkeys(self.static + self.runtime))
        return (f"{function_name} uses {', '.join(names)}, which implements this part for you: "
                "no points for this part. Write the computation with numpy (or torch tensor "
                "operations) yourself.")
