"""Checks of assignment 5 (``memory_addressing``): pointing, NTM addressing, a memory hop.

The student writes, in PyTorch (B batch rows, N memory slots or input positions)::

    pointer_step(scores, chosen) -> log_probs (B, N)            # -inf where already chosen
    content_addressing(memory, key, beta) -> w (B, N)            # NTM eq. (5)-(6)
    location_addressing(w_content, w_prev, g, s, gamma)
        -> (w_gated, w_shifted, w)                               # NTM eq. (7), (8), (9)
    memory_hop(u, memory_in, memory_out, mask) -> (u_next, p)    # MemN2N eq. (1)-(2)

The equations::

    pointer (Vinyals et al. 2015, with the usual mask of chosen positions):
        log p_j = u_j - log sum_{k not chosen} exp(u_k),  -inf where chosen
    NTM (Graves, Wayne and Danihelka 2014, section 3.3):
        w^c_i = softmax_i(beta K(k, M_i)),  K the cosine similarity          (5)-(6)
        w^g   = g w^c + (1 - g) w_prev                                        (7)
        w~_i  = sum_j w^g_j s(i - j)  (indices mod N; s over offsets -1, 0, +1) (8)
        w_i   = w~_i^gamma / sum_j w~_j^gamma                                 (9)
    end-to-end memory network (Sukhbaatar et al. 2015, eq. 1-2):
        p_i = softmax_i(u . m_i) over the real memories,  o = sum_i p_i c_i,  u' = u + o

Offset +1 of the shift moves the weight of slot j to slot j + 1 (slot N - 1 wraps round to 0).
The expected values are computed here in float64 numpy from these equations; delegating to
``course_pkg`` (its pointer, NTM and memory-network code is the reference) or to torch's
attention functions scores 0 for the part.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_pkg.grading import kit
from course_pkg.grading.compare import BATCH, UNIT, Axis, Comparison, as_float_array
from course_pkg.grading.part import OutputSpec
from course_pkg.grading.probes import Variant

SLOT = Axis("memory slot")
# Calling course_pkg's pointer, NTM or memory-network code (or torch's attention) is
# delegation, as in assignment 4.
FORBIDDEN = kit.ATTENTION_FORBIDDEN


class _MemorySpec(kit.TorchFunctionSpec):
    forbidden = FORBIDDEN
    references = kit.ATTENTION_REFERENCES


# ------------------------------------------------------------------------------------------
# pointer_step
# ------------------------------------------------------------------------------------------


def log_softmax_rows(scores: np.ndarray, mask: np.ndarray | None = None, axis: int = -1
                     ) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(kit.softmax_rows(scores, mask, axis))


class PointerStep(_MemorySpec):
    title = "pointer_step"
    defaults = {"B": 3, "N": 6, "chosen": "random", "seed": 0, "dtype": "float64"}
    arguments = ("scores", "chosen")
    outputs = (OutputSpec("log_probs", lambda params: (BATCH, kit.POSITION), weight=2.0),)

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, N = params["B"], params["N"]
        allowed = kit.random_mask(rng, B, N, params["chosen"])  # at least one free per row
        return {"scores": (2 * rng.standard_normal((B, N))).astype(params["dtype"]),
                "chosen": ~allowed}

    def expected(self, inputs, params):
        return {"log_probs": log_softmax_rows(inputs["scores"], ~inputs["chosen"])}

    def compare(self, name, got, expected, tolerance, params):
        expected = np.asarray(expected)
        array = as_float_array(got)
        if array is None or array.shape != expected.shape:
            return super().compare(name, got, expected, tolerance, params)
        chosen = np.isneginf(expected)
        leaked = chosen & ~np.isneginf(array)
        if leaked.any():
            row, col = np.argwhere(leaked)[0]
            return Comparison(name, False, f"log_probs must be -inf at the positions already "
                                           f"chosen: batch row {row}, position {col} is "
                                           f"{array[row, col]:.4g}")
        return super().compare(name, np.where(chosen, 0.0, array), np.where(chosen, 0.0, expected),
                               tolerance, params)

    def variants(self, params):
        return [
            Variant("mask ignored", lambda i: {"log_probs": log_softmax_rows(i["scores"])},
                    "positions already chosen can be pointed at again: set their scores to "
                    "-inf before the log-softmax"),
            Variant("masked with 0", lambda i: {"log_probs": np.where(
                i["chosen"], -np.inf, log_softmax_rows(np.where(i["chosen"], 0.0, i["scores"])))},
                "the chosen positions were given score 0, which still takes probability: "
                "give them -inf"),
            Variant("probabilities", lambda i: {
                "log_probs": kit.softmax_rows(i["scores"], ~i["chosen"])},
                "these are probabilities: return log-probabilities (log_softmax)"),
        ]


# ------------------------------------------------------------------------------------------
# content_addressing
# ------------------------------------------------------------------------------------------


def cosine(memory: np.ndarray, key: np.ndarray) -> np.ndarray:
    """K(k, M_i) for every slot: memory (B, N, M), key (B, M) -> (B, N)."""
    dots = np.einsum("bnm,bm->bn", memory, key)
    norms = np.linalg.norm(memory, axis=2) * np.linalg.norm(key, axis=1, keepdims=True)
    return dots / np.maximum(norms, 1e-8)


class ContentAddressing(_MemorySpec):
    title = "content_addressing"
    defaults = {"B": 3, "N": 6, "M": 4, "beta": 3.0, "seed": 0, "dtype": "float64"}
    arguments = ("memory", "key", "beta")
    outputs = (OutputSpec("w", lambda params: (BATCH, SLOT), weight=2.0),)

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, N, M = params["B"], params["N"], params["M"]
        beta = params["beta"] * (1 + np.arange(B, dtype=np.float64))[:, None] / B  # (B, 1)
        return {"memory": rng.standard_normal((B, N, M)).astype(params["dtype"]),
                "key": (3 * rng.standard_normal((B, M))).astype(params["dtype"]),
                "beta": beta.astype(params["dtype"])}

    def expected(self, inputs, params):
        return {"w": kit.softmax_rows(inputs["beta"] * cosine(inputs["memory"], inputs["key"]))}

    def variants(self, params):
        return [
            Variant("beta ignored", lambda i: {"w": kit.softmax_rows(cosine(i["memory"], i["key"]))},
                    "the key strength beta is not used: w = softmax(beta * cosine)"),
            Variant("dot product", lambda i: {"w": kit.softmax_rows(
                i["beta"] * np.einsum("bnm,bm->bn", i["memory"], i["key"]))},
                "the similarity is the plain dot product: divide by |k| |M_i| (cosine)"),
            Variant("softmax over the batch", lambda i: {"w": kit.softmax_rows(
                i["beta"] * cosine(i["memory"], i["key"]), axis=0)},
                "the softmax runs over the batch (dim=0): normalise over the memory slots"),
        ]


# ------------------------------------------------------------------------------------------
# location_addressing
# ------------------------------------------------------------------------------------------


def shift(w: np.ndarray, s: np.ndarray, direction: int = 1) -> np.ndarray:
    """w~_i = sum_o s[R + o] w_{i - o}: w (B, N), s (B, 2R+1); direction -1: the wrong way."""
    radius = s.shape[1] // 2
    return sum(s[:, [radius + o]] * np.roll(w, direction * o, axis=1)
               for o in range(-radius, radius + 1))


def location(i: dict[str, Any], *, g_swapped: bool = False, direction: int = 1,
             renormalise: bool = True) -> dict[str, np.ndarray]:
    g = 1 - i["g"] if g_swapped else i["g"]
    w_gated = g * i["w_content"] + (1 - g) * i["w_prev"]
    w_shifted = shift(w_gated, i["s"], direction)
    powered = np.maximum(w_shifted, 1e-12) ** i["gamma"]
    w = powered / powered.sum(axis=1, keepdims=True) if renormalise else powered
    return {"w_gated": w_gated, "w_shifted": w_shifted, "w": w}


class LocationAddressing(_MemorySpec):
    title = "location_addressing"
    defaults = {"B": 3, "N": 7, "gamma": 2.5, "seed": 0, "dtype": "float64"}
    arguments = ("w_content", "w_prev", "g", "s", "gamma")
    outputs = (OutputSpec("w_gated", lambda params: (BATCH, SLOT)),
               OutputSpec("w_shifted", lambda params: (BATCH, SLOT)),
               OutputSpec("w", lambda params: (BATCH, SLOT)))

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, N = params["B"], params["N"]
        dtype = params["dtype"]
        s = kit.softmax_rows(2 * rng.standard_normal((B, 3)))
        s[0] = [0.05, 0.15, 0.8]  # row 0 shifts mostly by +1: the direction shows
        return {"w_content": kit.softmax_rows(2 * rng.standard_normal((B, N))).astype(dtype),
                "w_prev": kit.softmax_rows(2 * rng.standard_normal((B, N))).astype(dtype),
                "g": np.linspace(0.2, 0.9, B)[:, None].astype(dtype),
                "s": s.astype(dtype),
                "gamma": (params["gamma"] * np.ones((B, 1))).astype(dtype)}

    def expected(self, inputs, params):
        return location(inputs)

    def variants(self, params):
        return [
            Variant("g swapped", lambda i: location(i, g_swapped=True),
                    "interpolation with g swapped: w_g = g * w_content + (1 - g) * w_prev "
                    "(g = 1 keeps the content weighting)", outputs=("w_gated",)),
            Variant("shift reversed", lambda i: location(i, direction=-1),
                    "the shift goes the wrong way: offset +1 moves the weight of slot j to "
                    "slot j + 1, w~_i = sum_j w_j s(i - j)", outputs=("w_shifted",)),
            Variant("not renormalised", lambda i: location(i, renormalise=False),
                    "after sharpening, w^gamma must be divided by its sum over the slots",
                    outputs=("w",)),
        ]


# ------------------------------------------------------------------------------------------
# memory_hop
# ------------------------------------------------------------------------------------------


def hop(i: dict[str, Any], *, use_mask: bool = True, read_from: str = "memory_out",
        residual: bool = True) -> dict[str, np.ndarray]:
    scores = np.einsum("bsd,bd->bs", i["memory_in"], i["u"])  # (B, S)
    p = kit.softmax_rows(scores, i["mask"] if use_mask else None)  # (B, S)
    o = kit.context(p, i[read_from])  # (B, d)
    return {"u_next": i["u"] + o if residual else o, "p": p}


class MemoryHop(_MemorySpec):
    title = "memory_hop"
    defaults = {"B": 3, "S": 5, "d": 4, "seed": 0, "dtype": "float64"}
    arguments = ("u", "memory_in", "memory_out", "mask")
    outputs = (OutputSpec("u_next", lambda params: (BATCH, UNIT), weight=1.0),
               OutputSpec("p", lambda params: (BATCH, Axis("memory")), weight=1.0))

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, S, d = params["B"], params["S"], params["d"]
        normal = lambda *shape: rng.standard_normal(shape).astype(params["dtype"])  # noqa: E731
        return {"u": normal(B, d), "memory_in": normal(B, S, d), "memory_out": normal(B, S, d),
                "mask": kit.random_mask(rng, B, S, "padding")}

    def expected(self, inputs, params):
        return hop(inputs)

    def variants(self, params):
        return [
            Variant("mask ignored", lambda i: hop(i, use_mask=False),
                    "the padding memories get attention: mask them with -inf before the "
                    "softmax", outputs=("p",)),
            Variant("read from memory_in", lambda i: hop(i, read_from="memory_in"),
                    "the output o was read from the input memories m_i: read it from the "
                    "output memories c_i, o = sum_i p_i c_i", outputs=("u_next",)),
            Variant("no residual", lambda i: hop(i, residual=False),
                    "u_next is o alone: the next state is u + o", outputs=("u_next",)),
        ]

