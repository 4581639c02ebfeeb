"""Checks of assignment 3 (``char_lm``): training and sampling a character language model.

The student writes, in PyTorch::

    clip_grad_norm(parameters, max_norm) -> total_norm            # in place on p.grad
    sample_next(logits, temperature=1.0, top_k=None, generator=None) -> LongTensor (B,)
    perplexity(logits, targets) -> float                          # exp(mean cross-entropy)
    train_step(model, inputs, targets, optimizer, max_norm) -> (loss, total_norm)

References: ``course_pkg.clipping.clip_grad_norm`` (Pascanu et al. 2013, Algorithm 1);
``course_pkg.sampling.sample``, whose distribution is ``softmax(top_k(logits) / temperature)``;
perplexity ``exp(-(1/N) sum log softmax(s)[target])``, computed here in float64 with a
log-sum-exp (and equal to ``exp(F.cross_entropy)``, which the package's tests check); one
training step as the course runs it everywhere: zero the gradients, forward, mean
cross-entropy, backward, clip, step (:mod:`course_pkg.training`).

Sampling is random, so it is checked by what must hold for every draw (greedy is the argmax,
top-k never leaves the k largest) and by frequencies: 6,000 draws per case, from a seeded
generator, each frequency within 4.5 standard errors of its probability (a correct sampler
fails a case with probability below 1e-4, and the seed makes the verdict reproducible).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_pkg.grading import callers, integrity, kit
from course_pkg.grading.compare import (
    BATCH, FLOAT32, Comparison, Tolerance, as_float_array, compare_values,
)
from course_pkg.grading.part import FunctionSpec, OutputSpec
from course_pkg.grading.probes import Variant
from course_pkg.grading.report import SubCheck

FORBIDDEN = integrity.Forbidden(
    modules=("course_pkg.clipping", "course_pkg.sampling", "course_pkg.training",
             "torch.nn.utils.clip_grad"),
    functions=("torch.nn.utils.clip_grad.clip_grad_norm_",
               "torch.nn.utils.clip_grad.clip_grad_value_"),
)


# ------------------------------------------------------------------------------------------
# clip_grad_norm
# ------------------------------------------------------------------------------------------

CLIP_SHAPES = ((4, 3), (5,), (2, 2, 3))


def stand_in_clip_grad_norm(parameters, max_norm):
    """A correct clip_grad_norm for FunctionSpec.stand_ins (no course_pkg.clipping: tripwired)."""
    torch = kit.torch_module()
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)) if grads else torch.tensor(0.)
    scale = min(1.0, float(max_norm) / (float(total) + 1e-6))
    for g in grads:
        g.mul_(scale)
    return total


class ClipGradNorm(FunctionSpec):
    title = "clip_grad_norm"
    forbidden = FORBIDDEN
    defaults = {"seed": 0, "scale": 1.0, "max_norm": 1.0, "dtype": "float32", "none_grad": False}
    outputs = (OutputSpec("total_norm", weight=1.0), OutputSpec("gradients", weight=2.0))
    dtype_weight = 0.0

    def describe(self, params):
        none = ", one parameter without a gradient" if params["none_grad"] else ""
        return (f"gradients of scale {params['scale']:g}, max_norm={params['max_norm']:g}, "
                f"{params['dtype']}{none}, seed {params['seed']}")

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        grads = [params["scale"] * rng.standard_normal(shape) for shape in CLIP_SHAPES]
        if params["none_grad"]:
            grads.insert(1, None)
        return {"grads": grads, "max_norm": float(params["max_norm"])}

    def _dtype(self, params):
        return getattr(kit.torch_module(), params["dtype"])

    def expected(self, inputs, params):
        from course_pkg.clipping import clip_grad_norm
        parameters = callers.gradient_parameters(inputs["grads"], kit.torch_module().float64)
        total = clip_grad_norm(parameters, inputs["max_norm"])
        return {"total_norm": np.array(float(total)),
                "gradients": np.concatenate([p.grad.numpy().ravel() for p in parameters
                                             if p.grad is not None])}

    caller = "clip_grad_norm"

    def unpack(self, raw, params):
        total = raw["total_norm"]
        if as_float_array(total) is None or np.ndim(as_float_array(total)) != 0:
            return (f"clip_grad_norm: expected to return the total norm (a number or a 0-d "
                    f"tensor), got {total!r}"[:300])
        grads = raw["gradients"]
        return {"total_norm": total, "gradients": grads}

    def compare(self, name, got, expected, tolerance, params):
        if name == "gradients":
            kept = [g for g in got if g is not None]
            arrays = [as_float_array(g) for g in kept]
            if any(a is None for a in arrays):
                return Comparison(name, False, "gradients: a .grad is no longer a tensor")
            got = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
        return compare_values(name, got, expected, FLOAT32 if params["dtype"] == "float32"
                              else tolerance)

    def extra_checks(self, got, inputs, expected, params):
        if not params["none_grad"]:
            return []
        ok = got["gradients"][1] is None
        return [SubCheck("grad None kept", 1.0, ok, "" if ok else
                         "a parameter whose .grad is None must be skipped (and keep None)")]

    def variants(self, params):
        def per_tensor(i):
            grads = [g for g in i["grads"] if g is not None]
            total = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
            clipped = [g * min(1.0, i["max_norm"] / (math.sqrt(float((g ** 2).sum())) + 1e-6))
                       for g in grads]
            return {"total_norm": np.array(total),
                    "gradients": np.concatenate([g.ravel() for g in clipped])}

        def by_value(i):
            grads = [g for g in i["grads"] if g is not None]
            return {"gradients": np.concatenate([np.clip(g, -i["max_norm"], i["max_norm"]).ravel()
                                                 for g in grads])}

        def always_rescaled(i):
            grads = [g for g in i["grads"] if g is not None]
            total = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
            return {"gradients": np.concatenate([(g * i["max_norm"] / total).ravel()
                                                 for g in grads])}

        def norm_after(i):
            grads = [g for g in i["grads"] if g is not None]
            total = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
            return {"total_norm": np.array(min(total, i["max_norm"]))}

        return [
            Variant("per-tensor clipping", per_tensor,
                    "each tensor is clipped to max_norm on its own: the norm is GLOBAL, "
                    "sqrt(sum over all tensors of ||g||^2), and one scale applies to every tensor",
                    outputs=("gradients",)),
            Variant("clip by value", by_value,
                    "the entries are clamped to [-max_norm, max_norm] (clipping by value): "
                    "rescale the whole gradient by max_norm / ||g|| instead"),
            Variant("always rescaled", always_rescaled,
                    "the gradients are rescaled even when their norm is below max_norm: scale "
                    "by min(1, max_norm / ||g||)"),
            Variant("norm after clipping", norm_after,
                    "the returned norm is the one after clipping: return the norm before "
                    "clipping (it is what training curves plot)", outputs=("total_norm",)),
        ]


# ------------------------------------------------------------------------------------------
# sample_next
# ------------------------------------------------------------------------------------------

SAMPLE_LOGITS = np.array([2.0, -1.0, 0.5, 1.2, -0.3, 0.9])  # distinct: no ties at the top-k cut
DRAWS = 6000


def sampling_probabilities(logits: np.ndarray, temperature: float, top_k: int | None
                           ) -> np.ndarray:
    """softmax(top_k(logits) / temperature) in float64 (the distribution of ``sample``)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None:
        cut = np.sort(scaled)[-top_k]
        scaled = np.where(scaled >= cut, scaled, -np.inf)
    weights = np.exp(scaled - scaled.max())
    return weights / weights.sum()


def _smallest_k(temperature: float, top_k: int) -> np.ndarray:
    """The distribution of a sampler that keeps the k smallest logits (a variant)."""
    scaled = SAMPLE_LOGITS / temperature
    cut = np.sort(scaled)[top_k - 1]
    weights = np.where(scaled <= cut, np.exp(scaled - scaled.max()), 0.0)
    return weights / weights.sum()


class SampleNext(FunctionSpec):
    title = "sample_next"
    forbidden = FORBIDDEN
    defaults = {"seed": 0, "temperature": 1.0, "top_k": None, "greedy": False, "B": 6}
    outputs = (OutputSpec("ids", lambda params: (BATCH,), weight=2.0),)
    dtype_weight = 0.0

    def describe(self, params):
        if params["greedy"]:
            return f"temperature=0 (greedy), B={params['B']}, seed {params['seed']}"
        return (f"temperature={params['temperature']:g}, top_k={params['top_k']}, "
                f"{DRAWS} draws, seed {params['seed']}")

    def inputs(self, params):
        if params["greedy"]:
            rng = np.random.default_rng(params["seed"])
            return {"logits": rng.standard_normal((params["B"], 9)).astype(np.float32)}
        return {"logits": np.tile(SAMPLE_LOGITS, (DRAWS, 1)).astype(np.float32)}

    def expected(self, inputs, params):
        if params["greedy"]:
            return {"ids": np.argmax(inputs["logits"], axis=1).astype(np.float64)}
        return {"ids": sampling_probabilities(SAMPLE_LOGITS, params["temperature"],
                                              params["top_k"])}

    caller = "sample_next"

    def unpack(self, raw, params):
        B = params["B"] if params["greedy"] else DRAWS
        dtype = getattr(raw, "dtype", None)
        array = getattr(raw, "array", None)
        if array is None or array.shape != (B,):
            shape = getattr(array, "shape", None)
            return (f"sample_next: expected a LongTensor of shape ({B},) (one id per row of "
                    f"logits), got {type(raw).__name__ if shape is None else shape}")
        if dtype != "torch.int64":
            return f"sample_next: expected a LongTensor (torch.int64) of ids, got {dtype}"
        if params["greedy"]:
            return {"ids": array}
        V = len(SAMPLE_LOGITS)
        if array.min() < 0 or array.max() >= V:
            return f"sample_next: ids must lie in [0, {V - 1}], got {array.min()}..{array.max()}"
        return {"ids": np.bincount(array, minlength=V) / DRAWS}  # frequencies (V,)

    def compare(self, name, got, expected, tolerance, params):
        if params["greedy"]:
            return compare_values("ids", got, expected, Tolerance(0.0, 0.0), (BATCH,))
        probabilities = np.asarray(expected)
        allowed = 4.5 * np.sqrt(probabilities * (1 - probabilities) / DRAWS) + 0.5 / DRAWS
        off = np.abs(np.asarray(got) - probabilities) > allowed
        if not off.any():
            return Comparison(name, True)
        k = int(np.argmax(np.abs(np.asarray(got) - probabilities) - allowed))
        outside = [int(v) for v in np.flatnonzero((probabilities == 0) & (np.asarray(got) > 0))]
        text = (f"the frequency of token {k} is {got[k]:.4f}, its probability is "
                f"{probabilities[k]:.4f} (allowed: +-{allowed[k]:.4f})")
        if outside:
            text += f"; tokens {outside} were drawn although they are outside the top-k"
        return Comparison(name, False, text)

    def variants(self, params):
        if params["greedy"]:
            return []
        t, k = params["temperature"], params["top_k"]
        return [
            Variant("temperature multiplies", lambda i: {
                "ids": sampling_probabilities(SAMPLE_LOGITS, 1 / t, k)},
                "your draws follow softmax(logits * temperature): divide the logits by the "
                "temperature (low temperature = sharper)"),
            Variant("temperature ignored", lambda i: {
                "ids": sampling_probabilities(SAMPLE_LOGITS, 1.0, k)},
                "your draws ignore the temperature: sample from softmax(logits / temperature)"),
            Variant("top-k ignored", lambda i: {
                "ids": sampling_probabilities(SAMPLE_LOGITS, t, None)},
                "your draws include tokens outside the top k: set the other logits to -inf "
                "before the softmax"),
            Variant("smallest k", lambda i: {"ids": _smallest_k(t, k)} if k else {},
                "your draws keep the k SMALLEST logits: keep the k largest"),
        ]


# ------------------------------------------------------------------------------------------
# perplexity
# ------------------------------------------------------------------------------------------


def _cross_entropies(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[target] at every position, float64, with a log-sum-exp."""
    s = np.asarray(logits, dtype=np.float64)
    top = s.max(axis=-1, keepdims=True)
    log_z = top[..., 0] + np.log(np.exp(s - top).sum(axis=-1))
    picked = np.take_along_axis(s, targets[..., None].astype(np.int64), axis=-1)[..., 0]
    return log_z - picked


class Perplexity(FunctionSpec):
    title = "perplexity"
    forbidden = FORBIDDEN
    defaults = {"T": 5, "B": 3, "V": 7, "seed": 0, "scale": 2.0, "dtype": "float32"}
    outputs = (OutputSpec("perplexity", weight=2.0),)
    dtype_weight = 0.0

    def describe(self, params):
        return (f"T={params['T']}, B={params['B']}, V={params['V']}, logits of scale "
                f"{params['scale']:g}, {params['dtype']}, seed {params['seed']}")

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        shape = (params["T"], params["B"], params["V"])
        logits = (params["scale"] * rng.standard_normal(shape)).astype(params["dtype"])
        targets = rng.integers(0, params["V"], size=shape[:2])
        return {"logits": logits, "targets": targets}

    def expected(self, inputs, params):
        return {"perplexity": np.array(math.exp(
            _cross_entropies(inputs["logits"], inputs["targets"]).mean()))}

    caller = "torch_positional"

    def caller_options(self, params):
        return {"names": ("logits", "targets")}

    def unpack(self, raw, params):
        value = as_float_array(raw)
        if value is None or value.size != 1:
            return f"perplexity: expected a number, got {raw!r}"[:300]
        return {"perplexity": value.reshape(())}

    def compare(self, name, got, expected, tolerance, params):
        tolerance = Tolerance(rtol=1e-4, atol=1e-6)  # exp() magnifies float32 rounding
        verdict = compare_values(name, got, expected, tolerance)
        value = as_float_array(got)
        if not verdict.ok and value is not None and not np.isfinite(value).all():
            verdict.message += ("\nyour perplexity is not finite: exp() of large logits "
                                "overflows; compute log-probabilities with torch.log_softmax "
                                "(or logsumexp) instead of log(softmax(...))")
        return verdict

    def variants(self, params):
        ce = lambda i: _cross_entropies(i["logits"], i["targets"])  # noqa: E731
        return [
            Variant("mean of per-token perplexities", lambda i: {
                "perplexity": np.array(np.exp(ce(i)).mean())},
                "you average exp(loss) over the tokens: average the cross-entropy first, then "
                "exponentiate, perplexity = exp(mean cross-entropy)"),
            Variant("base 2", lambda i: {"perplexity": np.array(2.0 ** ce(i).mean())},
                    "2 ** cross-entropy: with the natural log in the cross-entropy, perplexity "
                    "is exp(mean cross-entropy) (2 ** applies to bits per character)"),
            Variant("summed", lambda i: {"perplexity": np.array(math.exp(min(ce(i).sum(), 700)))},
                    "exp of the SUMMED cross-entropy: average over all T * B positions"),
            Variant("no exp", lambda i: {"perplexity": np.array(ce(i).mean())},
                    "this is the mean cross-entropy: perplexity is its exp"),
        ]


# ------------------------------------------------------------------------------------------
# train_step
# ------------------------------------------------------------------------------------------


def reference_step(params: dict[str, Any], inputs: dict[str, Any], *, zero_grad: bool = True,
                   clip: str = "before step", reduction: str = "mean") -> dict[str, Any]:
    """One training step done right (or with one of the usual mistakes, for the variants)."""
    torch = kit.torch_module()
    import torch.nn.functional as F

    model, optimizer = callers.char_lm_model_and_optimizer(params)
    if zero_grad:
        optimizer.zero_grad()
    ids, targets = torch.from_numpy(inputs["inputs"]), torch.from_numpy(inputs["targets"])
    logits, _ = model(ids)
    loss = F.cross_entropy(logits.reshape(-1, params["V"]), targets.reshape(-1),
                           reduction=reduction)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    if clip == "before step":
        scale = min(1.0, params["max_norm"] / (float(norm) + 1e-6))
        for g in grads:
            g.mul_(scale)
    optimizer.step()
    return {"loss": np.array(float(loss)), "total_norm": np.array(float(norm)),
            "parameters": callers.flat_parameters(model)}


class TrainStep(FunctionSpec):
    title = "train_step"
    forbidden = FORBIDDEN
    defaults = {"seed": 0, "T": 6, "B": 2, "V": 8, "lr": 0.5, "max_norm": 0.5}
    outputs = (OutputSpec("loss"), OutputSpec("total_norm"),
               OutputSpec("parameters", weight=2.0))
    dtype_weight = 0.0
    stand_ins = {"clip_grad_norm": stand_in_clip_grad_norm}

    def describe(self, params):
        return (f"CharLM(V={params['V']}, E=4, H=6), T={params['T']}, B={params['B']}, SGD "
                f"lr={params['lr']:g}, max_norm={params['max_norm']:g}, seed {params['seed']}")

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        ids = rng.integers(0, params["V"], size=(params["T"] + 1, params["B"]))
        return {"inputs": ids[:-1].copy(), "targets": ids[1:].copy()}

    def expected(self, inputs, params):
        return reference_step(params, inputs)

    caller = "train_step"

    def unpack(self, raw, params):
        result = raw["result"]
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return f"train_step: expected to return (loss, total_norm), got {result!r}"[:300]
        return {"loss": result[0], "total_norm": result[1], "parameters": raw["parameters"]}

    def compare(self, name, got, expected, tolerance, params):
        return compare_values(name, got, expected, Tolerance(rtol=2e-4, atol=2e-5))

    def variants(self, params):
        return [
            Variant("no zero_grad", lambda i: reference_step(params, i, zero_grad=False),
                    "the gradients left in .grad by an earlier step were added to this one: "
                    "call optimizer.zero_grad() before loss.backward()",
                    outputs=("parameters",)),
            Variant("clipped after the step", lambda i: reference_step(params, i, clip="after"),
                    "the parameters moved by the unclipped gradient: clip between "
                    "loss.backward() and optimizer.step()", outputs=("parameters",)),
            Variant("summed loss", lambda i: reference_step(params, i, reduction="sum"),
                    "the loss is summed over the positions: use the mean cross-entropy",
                    outputs=("loss",)),
        ]

