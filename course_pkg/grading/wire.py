"""Plain data between the jailed student process and the judge: JSON with ``.npy`` arrays.

The judge and the jail (see :mod:`~course_pkg.grading.instructor.jail`) exchange messages, each
a JSON document framed by its length (4 bytes, big-endian). Values are encoded as JSON where
JSON can hold them; everything else is a tagged object::

    ndarray      {"~": "ndarray", "npy": <base64 of numpy.save(..., allow_pickle=False)>}
    tuple        {"~": "tuple", "items": [...]}
    dict         {"~": "dict", "items": [[key, value], ...]}   (keys of any plain type)
    float        {"~": "float", "repr": "nan" | "inf" | "-inf"} (JSON has no such numbers)
    complex      {"~": "complex", "re": ..., "im": ...}
    tensor       {"~": "tensor", "npy": ..., "dtype": "torch.float32", "requires_grad": false}
    opaque       {"~": "opaque", "type": "MyCache", "text": "<repr, cut>"}
    outcome      {"~": "outcome", ...the fields of sandbox.Outcome}

Nothing is ever unpickled: arrays are read with ``numpy.load(..., allow_pickle=False)``, and an
object the codec does not know becomes an :class:`~course_pkg.grading.sandbox.Opaque` record
(its type name and a cut repr), which no grader code treats as a right answer.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import sys
from typing import Any, BinaryIO

import numpy as np

from course_pkg.grading.sandbox import Opaque, Outcome, TensorValue

MAX_MESSAGE = 256 * 1024**2  # bytes: a larger frame is refused, not read
MAX_DEPTH = 20
MAX_ITEMS = 10_000


class WireError(RuntimeError):
    """A message that is not a well-formed frame of the protocol."""


def _npy(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.array(array, copy=True, order="C"), allow_pickle=False)  # keeps 0-d
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _from_npy(text: Any) -> np.ndarray:
    if not isinstance(text, str):
        raise WireError(f"npy: expected base64 text, got {type(text).__name__}")
    array = np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)
    if array.dtype.kind not in "biufc":
        raise WireError(f"npy: expected a numeric array, got dtype {array.dtype}")
    return array


def encode(value: Any, depth: int = 0) -> Any:
    """A JSON-able tree for ``value`` (see the module docstring for the tags)."""
    if depth > MAX_DEPTH:
        return {"~": "opaque", "type": "nested too deep", "text": ""}
    if value is None or isinstance(value, (bool, str)):
        return value[:100_000] if isinstance(value, str) else value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else {"~": "opaque", "type": "int", "text": "huge"}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"~": "float", "repr": repr(value)}
    if isinstance(value, complex):
        return {"~": "complex", "re": encode(value.real), "im": encode(value.imag)}
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return encode(value.item(), depth)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return {"~": "opaque", "type": f"ndarray of {value.dtype}", "text": ""}
        return {"~": "ndarray", "npy": _npy(value)}
    if isinstance(value, TensorValue):
        return {"~": "tensor", "npy": _npy(value.array), "dtype": value.dtype,
                "requires_grad": bool(value.requires_grad)}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        array = value.detach().cpu().resolve_conj().resolve_neg().numpy()
        tree = {"~": "tensor", "npy": _npy(array), "dtype": str(value.dtype),
                "requires_grad": bool(value.requires_grad)}
        grad = value.grad if value.is_leaf else None
        if grad is not None:
            tree["grad"] = _npy(grad.detach().cpu().numpy())
        return tree
    if isinstance(value, Opaque):
        return {"~": "opaque", "type": value.type_name[:200], "text": value.text[:300]}
    if isinstance(value, Outcome):
        return {"~": "outcome", "value": encode(value.value, depth + 1), "kind": value.kind,
                "error": value.error, "where": value.where,
                "delegation": [str(d) for d in value.delegation], "printed": value.printed,
                "printed_chars": int(value.printed_chars),
                "warnings": [str(w) for w in value.warnings], "seconds": float(value.seconds)}
    if isinstance(value, tuple):
        return {"~": "tuple", "items": [encode(v, depth + 1) for v in value[:MAX_ITEMS]]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {"~": "dict", "items": [[encode(k, depth + 1), encode(v, depth + 1)]
                                       for k, v in items]}
    try:
        text = repr(value)[:300]
    except Exception:  # noqa: BLE001 (a student's __repr__ may raise)
        text = ""
    return {"~": "opaque", "type": type(value).__name__[:200], "text": text}


def decode(tree: Any, *, live_tensors: bool = False, depth: int = 0) -> Any:
    """The value a tree of :func:`encode` stands for.

    Tensors come back as :class:`TensorValue` records, or, with ``live_tensors``, as torch
    tensors (for values handed to code that computes with them).
    """
    if depth > MAX_DEPTH + 2:
        raise WireError("nested too deep")
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v, live_tensors=live_tensors, depth=depth + 1) for v in tree]
    if not isinstance(tree, dict):
        raise WireError(f"unexpected JSON value of type {type(tree).__name__}")
    tag = tree.get("~")
    again = lambda v: decode(v, live_tensors=live_tensors, depth=depth + 1)  # noqa: E731
    if tag == "ndarray":
        return _from_npy(tree.get("npy"))
    if tag == "tensor":
        array = _from_npy(tree.get("npy"))
        dtype, grad = str(tree.get("dtype", "")), bool(tree.get("requires_grad", False))
        if not live_tensors:
            return TensorValue(array, dtype, grad)
        import torch

        tensor = torch.from_numpy(array.copy())
        if grad and tensor.is_floating_point():
            tensor.requires_grad_(True)
            if tree.get("grad") is not None:
                tensor.grad = torch.from_numpy(_from_npy(tree["grad"]).copy())
        return tensor
    if tag == "tuple":
        return tuple(again(v) for v in tree.get("items", []))
    if tag == "dict":
        return {_hashable(again(k)): again(v) for k, v in tree.get("items", [])}
    if tag == "float":
        return float(tree.get("repr", "nan"))
    if tag == "complex":
        return complex(again(tree.get("re", 0.0)), again(tree.get("im", 0.0)))
    if tag == "opaque":
        return Opaque(str(tree.get("type", ""))[:200], str(tree.get("text", ""))[:300])
    if tag == "outcome":
        return Outcome(value=again(tree.get("value")), kind=str(tree.get("kind", "returned")),
                       error=str(tree.get("error", "")), where=str(tree.get("where", "")),
                       delegation=[str(d) for d in tree.get("delegation", [])],
                       printed=str(tree.get("printed", "")),
                       printed_chars=int(tree.get("printed_chars", 0)),
                       warnings=[str(w) for w in tree.get("warnings", [])],
                       seconds=float(tree.get("seconds", 0.0)))
    raise WireError(f"unknown tag {tag!r}")


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, np.ndarray)):
        return Opaque("unhashable key", "")
    return key


# ------------------------------------------------------------------------------------------
# Framing
# ------------------------------------------------------------------------------------------


def send(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one message: 4 bytes of length, then the JSON document (allow_nan=False)."""
    data = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def frame(message: dict[str, Any]) -> bytes:
    """The bytes of one message, for writers that use a raw file descriptor."""
    data = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(data)) + data


def parse(data: bytes) -> dict[str, Any]:
    """The message in one frame's body; :class:`WireError` when it is not a JSON object."""
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"a message that is not JSON ({error})") from None
    if not isinstance(message, dict):
        raise WireError(f"a message that is not a JSON object ({type(message).__name__})")
    return message


def length(header: bytes) -> int:
    (size,) = struct.unpack(">I", header)
    if size > MAX_MESSAGE:
        raise WireError(f"a message of {size} bytes (more than {MAX_MESSAGE})")
    return size
