"""What the assignments' specs share: the kit every ``*_checks`` module builds its parts from.

A spec module (``rnn_checks``, ``gated_checks``, ``lm_checks``, ``attention_checks``,
``memory_checks``, ``modern_checks``) imports the engine (:mod:`~.part`, :mod:`~.compare`,
:mod:`~.probes`, :mod:`~.report`) and this kit, and nothing of another spec module:

- output axes and tuple unpacking: :func:`axes`, :func:`unpack_tuple`, :func:`forward_wrong`,
  :func:`forward_note`;
- the equations' pieces in float64 numpy: :func:`sigmoid`, :func:`softmax_rows`,
  :func:`random_mask`;
- the probes of stacked gate blocks: :func:`order_variants` (blocks read in another order),
  :func:`only_block` and :func:`zero` (one term at a time);
- :class:`TorchFunctionSpec`, the spec of a function called with torch tensors;
- :func:`load_modules`, which imports references before a part is graded.
"""

from __future__ import annotations

import importlib
import itertools
from typing import Any, Callable, Sequence

import numpy as np

from course_pkg.grading import integrity
from course_pkg.grading.compare import FLOAT32, Axis, compare_values
from course_pkg.grading.part import FunctionSpec
from course_pkg.grading.probes import Variant


def torch_module():
    import torch  # imported on use: the numpy assignments never pay for it

    return torch


def load_modules(names: Sequence[str]) -> None:
    """Import ``names`` (references the tripwires of the student's own runs must cover)."""
    for name in names:
        importlib.import_module(name)


def axes(*named: Any) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The axes of an output, the same for every case."""
    return lambda params: named


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def unpack_tuple(raw: Any, names: Sequence[str], what: str) -> dict[str, Any] | str:
    """The tuple ``raw`` as a dict keyed by ``names``, or a message about its structure."""
    if not isinstance(raw, (tuple, list)) or len(raw) != len(names):
        count = f"{len(raw)} values" if isinstance(raw, (tuple, list)) else type(raw).__name__
        return f"{what}: expected a tuple ({', '.join(names)}), got {count}"
    return dict(zip(names, raw))


def forward_wrong(got: Any, expected: np.ndarray, output: str) -> bool:
    """Whether the student's own forward returned a wrong ``output`` (None: not known)."""
    return got is not None and not compare_values(output, got, expected, FLOAT32).ok


def forward_note(got: Any, expected: np.ndarray, forward_name: str, output: str) -> list[str]:
    """A note when the student's own forward (whose cache the backward uses) is wrong."""
    if not forward_wrong(got, expected, output):
        return []
    return [f"note: your {forward_name} returns a wrong {output} on these inputs, and the "
            f"backward runs on its cache: fix {forward_name} first"]


def softmax_rows(scores: np.ndarray, mask: np.ndarray | None = None, axis: int = -1
                 ) -> np.ndarray:
    """softmax along ``axis`` with -inf where ``mask`` is False (exactly 0 weight there)."""
    scores = np.asarray(scores, dtype=np.float64)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.max(scores, axis=axis, keepdims=True)
    weights = np.exp(scores - top)
    return weights / weights.sum(axis=axis, keepdims=True)


def random_mask(rng: np.random.Generator, B: int, T: int, kind: str) -> np.ndarray:
    """(B, T) bool: 'padding' keeps a prefix of each row (lengths T, T-1, ...); 'random'
    drops positions at random but keeps at least one per row; 'none' keeps everything."""
    if kind == "none":
        return np.ones((B, T), dtype=bool)
    if kind == "padding":
        lengths = np.maximum(T - np.arange(B), 1)
        return np.arange(T)[None, :] < lengths[:, None]
    mask = rng.random((B, T)) < 0.6
    mask[np.arange(B), rng.integers(0, T, size=B)] = True
    return mask


# ------------------------------------------------------------------------------------------
# Stacked gate blocks (rows k*H:(k+1)*H of the weights and biases belong to gate k)
# ------------------------------------------------------------------------------------------


def reorder_blocks(inputs: dict[str, Any], order: Sequence[str], gates: Sequence[str]
                   ) -> dict[str, Any]:
    """Inputs on which the reference computes what a student reading the blocks in ``order``
    computes: the reference's block of gate n is the student's block of n."""
    H = inputs["weight_hh"].shape[1]
    changed = dict(inputs)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        blocks = [inputs[name][k * H:(k + 1) * H] for k in range(len(gates))]
        changed[name] = np.concatenate([blocks[list(order).index(gate)] for gate in gates])
    return changed


def order_variants(gates: Sequence[str], run: Callable[[dict[str, Any]], dict[str, Any]]
                   ) -> list[Variant]:
    """One variant per other order of the gate blocks."""
    variants = []
    for order in itertools.permutations(gates):
        if tuple(order) == tuple(gates):
            continue
        layout = ", ".join(f"rows {k}H:{k + 1}H = {g}" if k else f"rows 0:H = {g}"
                           for k, g in enumerate(gates))
        variants.append(Variant(
            f"gate order {''.join(order)}",
            lambda i, order=order: run(reorder_blocks(i, order, gates)),
            f"your code reads the gate blocks in the order {', '.join(order)}; the layout is "
            f"{', '.join(gates)} ({layout})"))
    return variants


def zero(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An isolation transform: the named inputs set to zero."""
    def transform(inputs: dict[str, Any]) -> dict[str, Any]:
        for name in names:
            inputs[name] = np.zeros_like(inputs[name])
        return inputs
    return transform


def only_block(block: int, gates: Sequence[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Every weight and bias row zeroed except those of one gate block."""
    def transform(inputs: dict[str, Any]) -> dict[str, Any]:
        H = inputs["weight_hh"].shape[1]
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            kept = inputs[name][block * H:(block + 1) * H].copy()
            inputs[name] = np.zeros_like(inputs[name])
            inputs[name][block * H:(block + 1) * H] = kept
        return inputs
    return transform


# ------------------------------------------------------------------------------------------
# Functions called with torch tensors
# ------------------------------------------------------------------------------------------


class TorchFunctionSpec(FunctionSpec):
    """A function of numpy-built inputs called with torch tensors, in ``arguments`` order."""

    arguments: Sequence[str] = ()
    constants: Sequence[str] = ()  # arguments passed as they are (not as tensors)
    dtype_weight = 0.0
    caller = "torch_positional"

    def describe(self, params):
        sizes = ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("seed", "dtype"))
        return f"{sizes}, {params.get('dtype', 'float64')}, seed {params['seed']}"

    def caller_options(self, params):
        return {"names": tuple(self.arguments), "constants": tuple(self.constants)}

    def unpack(self, raw, params):
        names = [o.name for o in self.outputs]
        if len(names) == 1:
            return {names[0]: raw}
        if not isinstance(raw, (tuple, list)) or len(raw) != len(names):
            return (f"{self.title}: expected to return ({', '.join(names)}), "
                    f"got {raw!r}"[:300])
        return dict(zip(names, raw))

    def compare(self, name, got, expected, tolerance, params):
        if params.get("dtype") == "float32":
            tolerance = FLOAT32
        spec = next(o for o in self.outputs if o.name == name)
        return compare_values(name, got, expected, tolerance, spec.axes(params),
                              self.sizes(params))


# ------------------------------------------------------------------------------------------
# Attention and memory (assignments 4 and 5)
# ------------------------------------------------------------------------------------------

POSITION = Axis("source position")
LSTM_GATES = ("i", "f", "g", "o")  # torch's order of the stacked LSTM gate blocks
# Calling course_pkg's attention or memory code, or torch's attention functions, is delegation.
ATTENTION_FORBIDDEN = integrity.Forbidden(
    modules=("course_pkg.nn", "course_pkg.models"),
    functions=("torch._C._nn.scaled_dot_product_attention",
               "torch.nn.functional.scaled_dot_product_attention",
               "torch.nn.functional.multi_head_attention_forward",
               "torch.nn.modules.activation.MultiheadAttention"),
)
# The references are loaded with the checks, so that the tripwires of a student's own runs cover
# them, also when a notebook reaches them through importlib (the static check sees the rest).
ATTENTION_REFERENCES = ("course_pkg.nn.attention", "course_pkg.models.seq2seq",
                        "course_pkg.models.pointer", "course_pkg.models.ntm",
                        "course_pkg.models.memory_network")


def context(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """c = sum_t a_t v_t: weights (B, T), values (B, T, Dv) -> (B, Dv)."""
    return np.einsum("bt,btd->bd", weights, values)
