"""Checks of assignment 4 (``attention_seq2seq``): attention inside one seq2seq decoder step.

The student writes, in PyTorch (B batch rows, T source positions)::

    masked_softmax(scores, mask) -> weights (B, T)                 # 0 exactly where mask False
    additive_scores(query, keys, W_q, W_k, v) -> scores (B, T)     # Bahdanau et al. (2015)
    dot_scores(query, keys, scaled) -> scores (B, T)               # Luong / Vaswani scaling
    attention_context(weights, values) -> context (B, Dv)
    decoder_step(y_prev, s_prev, memory, mask, W_q, W_k, v, cell, W_out)
        -> (logits (B, V), s_t (B, H), weights (B, T))

The equations (Bahdanau, Cho and Bengio 2015, appendix A; Vaswani et al. 2017, eq. 1)::

    e_t = v . tanh(W_q q + W_k k_t)                   additive score
    e_t = q . k_t   (/ sqrt(D) when scaled)           dot-product score
    a   = softmax(e) over the allowed positions        (masked ones get exactly 0)
    c   = sum_t a_t v_t                                context
    decoder step: a from (s_prev, memory), c, s_t = GRUCell([y_prev; c], s_prev),
                  logits = [s_t; c] W_out^T

The expected values are computed here in float64 numpy from these equations (the package's
``course_pkg.nn.attention`` is tested against them and against torch elsewhere). Delegating to
``course_pkg``'s attention or seq2seq code, or to ``F.scaled_dot_product_attention`` /
``torch.nn.MultiheadAttention``, scores 0 for the part.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_pkg.grading import callers, kit
from course_pkg.grading.compare import (
    BATCH, UNIT, Axis, as_float_array,
)
from course_pkg.grading.part import OutputSpec
from course_pkg.grading.probes import Variant
from course_pkg.grading.report import SubCheck

FORBIDDEN = kit.ATTENTION_FORBIDDEN
POSITION = kit.POSITION
# ------------------------------------------------------------------------------------------
# The equations, in float64 numpy (the expected values and the known mistakes)
# ------------------------------------------------------------------------------------------


def additive(query, keys, W_q, W_k, v, nonlinearity=np.tanh):
    """e_t = v . f(W_q q + W_k k_t): query (B, Dq), keys (B, T, Dk) -> (B, T)."""
    hidden = (query @ W_q.T)[:, None, :] + keys @ W_k.T  # (B, T, A)
    return nonlinearity(hidden) @ v  # (B, T)


def dot(query, keys, divisor=1.0):
    """e_t = q . k_t / divisor: query (B, D), keys (B, T, D) -> (B, T)."""
    return np.einsum("bd,btd->bt", query, keys) / divisor


class _AttentionSpec(kit.TorchFunctionSpec):
    forbidden = FORBIDDEN
    references = kit.ATTENTION_REFERENCES

    def sizes(self, params):
        """Every size of the case (B, T, Dq, Dk, A, E, ...), to name axes and shapes."""
        return {k: v for k, v in params.items()
                if k != "seed" and isinstance(v, int) and not isinstance(v, bool)}


# ------------------------------------------------------------------------------------------
# masked_softmax
# ------------------------------------------------------------------------------------------


class MaskedSoftmax(_AttentionSpec):
    title = "masked_softmax"
    defaults = {"B": 3, "T": 5, "mask": "random", "scale": 2.0, "seed": 0, "dtype": "float64"}
    arguments = ("scores", "mask")
    outputs = (OutputSpec("weights", lambda params: (BATCH, POSITION), weight=2.0),)

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, T = params["B"], params["T"]
        scores = params["scale"] * rng.standard_normal((B, T))
        return {"scores": scores.astype(params["dtype"]),
                "mask": kit.random_mask(rng, B, T, params["mask"])}

    def expected(self, inputs, params):
        return {"weights": kit.softmax_rows(inputs["scores"], inputs["mask"])}

    def extra_checks(self, got, inputs, expected, params):
        weights = as_float_array(got["weights"])
        if weights is None or weights.shape != inputs["mask"].shape:
            return [SubCheck("zero where masked", 1.0, False, "")]
        leaked = np.abs(np.where(inputs["mask"], 0.0, weights))
        if not np.isfinite(leaked).all() or leaked.max() > 0:
            worst = np.nan_to_num(leaked, nan=np.inf)  # a nan weight is the worst leak
            row, col = np.unravel_index(int(np.argmax(worst)), leaked.shape)
            return [SubCheck("zero where masked", 1.0, False,
                             f"weights must be exactly 0 where mask is False: batch row {row}, "
                             f"source position {col} has {weights[row, col]:.3g}")]
        return [SubCheck("zero where masked", 1.0, True)]

    def variants(self, params):
        return [
            Variant("mask ignored", lambda i: {"weights": kit.softmax_rows(i["scores"])},
                    "your weights ignore the mask: set the scores of masked positions to -inf "
                    "before the softmax"),
            Variant("masked with 0", lambda i: {
                "weights": kit.softmax_rows(np.where(i["mask"], i["scores"], 0.0))},
                "the masked scores were set to 0, which still gets exp(0) = 1 of weight: "
                "set them to -inf (masked_fill(~mask, float('-inf')))"),
            Variant("masked after the softmax", lambda i: {
                "weights": kit.softmax_rows(i["scores"]) * i["mask"]},
                "the softmax was masked after it was taken, so a row no longer sums to 1: "
                "mask the scores with -inf first"),
            Variant("softmax over the batch", lambda i: {
                "weights": kit.softmax_rows(i["scores"], i["mask"], axis=0)},
                "the softmax runs over the batch (dim=0): normalise over the source "
                "positions, dim=-1"),
        ]


def stand_in_masked_softmax(scores, mask):
    """A correct masked_softmax for FunctionSpec.stand_ins."""
    torch = kit.torch_module()
    return torch.softmax(scores.masked_fill(~mask, -math.inf), dim=-1)


# ------------------------------------------------------------------------------------------
# additive_scores
# ------------------------------------------------------------------------------------------


class AdditiveScores(_AttentionSpec):
    title = "additive_scores"
    defaults = {"B": 2, "T": 4, "Dq": 3, "Dk": 5, "A": 6, "seed": 0, "dtype": "float64"}
    arguments = ("query", "keys", "W_q", "W_k", "v")
    outputs = (OutputSpec("scores", lambda params: (BATCH, POSITION), weight=2.0),)

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, T, Dq, Dk, A = (params[k] for k in ("B", "T", "Dq", "Dk", "A"))
        normal = lambda *shape: rng.standard_normal(shape).astype(params["dtype"])  # noqa: E731
        return {"query": normal(B, Dq), "keys": normal(B, T, Dk), "W_q": normal(A, Dq),
                "W_k": normal(A, Dk), "v": normal(A)}

    def expected(self, inputs, params):
        return {"scores": additive(**inputs)}

    def variants(self, params):
        return [
            Variant("no tanh", lambda i: {"scores": additive(**i, nonlinearity=lambda x: x)},
                    "the tanh is missing: e_t = v . tanh(W_q q + W_k k_t)"),
            Variant("sigmoid", lambda i: {
                "scores": additive(**i, nonlinearity=lambda x: 1 / (1 + np.exp(-x)))},
                "a sigmoid instead of tanh: e_t = v . tanh(W_q q + W_k k_t)"),
            Variant("query left out", lambda i: {
                "scores": additive(**{**i, "query": 0 * i["query"]})},
                "your scores do not depend on the query: add W_q q to every W_k k_t "
                "(broadcast over the source positions) before the tanh"),
        ]


def stand_in_additive_scores(query, keys, W_q, W_k, v):
    torch = kit.torch_module()
    return torch.tanh((query @ W_q.T).unsqueeze(1) + keys @ W_k.T) @ v


# ------------------------------------------------------------------------------------------
# dot_scores
# ------------------------------------------------------------------------------------------


class DotScores(_AttentionSpec):
    title = "dot_scores"
    defaults = {"B": 2, "T": 5, "D": 4, "scaled": True, "seed": 0, "dtype": "float64"}
    arguments = ("query", "keys", "scaled")
    constants = ("scaled",)
    outputs = (OutputSpec("scores", lambda params: (BATCH, POSITION), weight=2.0),)

    def describe(self, params):
        return f"scaled={params['scaled']}, " + super().describe(
            {k: v for k, v in params.items() if k != "scaled"})

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, T, D = params["B"], params["T"], params["D"]
        return {"query": rng.standard_normal((B, D)).astype(params["dtype"]),
                "keys": rng.standard_normal((B, T, D)).astype(params["dtype"]),
                "scaled": params["scaled"]}

    def expected(self, inputs, params):
        D = params["D"]
        return {"scores": dot(inputs["query"], inputs["keys"],
                              math.sqrt(D) if params["scaled"] else 1.0)}

    def variants(self, params):
        D = params["D"]
        if params["scaled"]:
            return [
                Variant("unscaled", lambda i: {"scores": dot(i["query"], i["keys"])},
                        "with scaled=True the scores must be divided by sqrt(D) (D = "
                        f"{D} here): yours are not scaled"),
                Variant("divided by D", lambda i: {"scores": dot(i["query"], i["keys"], D)},
                        "the scores are divided by D: divide by sqrt(D)"),
            ]
        return [Variant("scaled anyway", lambda i: {
            "scores": dot(i["query"], i["keys"], math.sqrt(D))},
            "with scaled=False the scores are the plain dot products q . k_t: yours are "
            "divided by sqrt(D)")]


# ------------------------------------------------------------------------------------------
# attention_context
# ------------------------------------------------------------------------------------------


class AttentionContext(_AttentionSpec):
    title = "attention_context"
    defaults = {"B": 3, "T": 4, "Dv": 5, "seed": 0, "dtype": "float64"}
    arguments = ("weights", "values")
    outputs = (OutputSpec("context", lambda params: (BATCH, UNIT), weight=2.0),)

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, T, Dv = params["B"], params["T"], params["Dv"]
        weights = kit.softmax_rows(rng.standard_normal((B, T)))
        return {"weights": weights.astype(params["dtype"]),
                "values": rng.standard_normal((B, T, Dv)).astype(params["dtype"])}

    def expected(self, inputs, params):
        return {"context": kit.context(inputs["weights"], inputs["values"])}

    def variants(self, params):
        return [Variant("unweighted mean", lambda i: {"context": i["values"].mean(axis=1)},
                        "the context is the plain mean of the values: weight each v_t by a_t")]


def stand_in_attention_context(weights, values):
    return (weights.unsqueeze(2) * values).sum(dim=1)


# ------------------------------------------------------------------------------------------
# decoder_step
# ------------------------------------------------------------------------------------------


def reference_decoder_step(inputs: dict[str, Any], params: dict[str, Any], *,
                           use_mask: bool = True, logits_from_prev: bool = False
                           ) -> dict[str, np.ndarray]:
    """The decoder step in float64 (torch only for the GRUCell), or a known mistake."""
    torch = kit.torch_module()
    weights = kit.softmax_rows(additive(inputs["s_prev"], inputs["memory"], inputs["W_q"], inputs["W_k"], inputs["v"]),
                           inputs["mask"] if use_mask else None)  # (B, T)
    c = kit.context(weights, inputs["memory"])  # (B, H)
    cell = callers.decoder_cell(params)
    with torch.no_grad():
        s_t = cell(torch.from_numpy(np.concatenate([inputs["y_prev"], c], axis=1)),
                   torch.from_numpy(inputs["s_prev"])).numpy()  # (B, H)
    state = inputs["s_prev"] if logits_from_prev else s_t
    logits = np.concatenate([state, c], axis=1) @ inputs["W_out"].T  # (B, V)
    return {"logits": logits, "s_t": s_t, "weights": weights}


class DecoderStep(_AttentionSpec):
    title = "decoder_step"
    defaults = {"B": 3, "T": 5, "E": 4, "H": 6, "A": 5, "V": 7, "seed": 0}
    arguments = ("y_prev", "s_prev", "memory", "mask", "W_q", "W_k", "v", "cell", "W_out")
    constants = ("cell",)
    outputs = (OutputSpec("logits", lambda params: (BATCH, Axis("token"))),
               OutputSpec("s_t", lambda params: (BATCH, UNIT)),
               OutputSpec("weights", lambda params: (BATCH, POSITION)))
    stand_ins = {"masked_softmax": stand_in_masked_softmax,
                 "additive_scores": stand_in_additive_scores,
                 "attention_context": stand_in_attention_context}

    def describe(self, params):
        return (f"B={params['B']}, T={params['T']}, E={params['E']}, H={params['H']}, "
                f"A={params['A']}, V={params['V']}, padded source, GRUCell, seed {params['seed']}")

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, T, E, H, A, V = (params[k] for k in ("B", "T", "E", "H", "A", "V"))
        normal = lambda *shape: rng.standard_normal(shape)  # noqa: E731
        return {"y_prev": normal(B, E), "s_prev": np.tanh(normal(B, H)),
                "memory": np.tanh(normal(B, T, H)), "mask": kit.random_mask(rng, B, T, "padding"),
                "W_q": normal(A, H), "W_k": normal(A, H), "v": normal(A),
                "cell": None, "W_out": normal(V, 2 * H) / math.sqrt(2 * H)}

    def caller_options(self, params):
        return {**super().caller_options(params), "gru_cell": True}

    def expected(self, inputs, params):
        return reference_decoder_step(inputs, params)

    def variants(self, params):
        return [
            Variant("mask ignored", lambda i: reference_decoder_step(i, params, use_mask=False),
                    "the attention weights ignore the source mask: padded positions get weight",
                    outputs=("weights",)),
            Variant("logits from s_prev", lambda i: reference_decoder_step(
                i, params, logits_from_prev=True),
                "the logits were computed from s_prev: use the new state s_t (and the context)",
                outputs=("logits",)),
        ]

