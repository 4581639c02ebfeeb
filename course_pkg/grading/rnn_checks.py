"""Checks of assignment 1 (``rnn_bptt``): the Elman RNN forward, BPTT, and a gradient check.

The student writes, with the signatures and return values of ``course_pkg.numpy_rnn`` (tanh)::

    rnn_step_forward(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> (h_t, cache)
    rnn_step_backward(dh_t, cache) -> (dx_t, dh_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh)
    rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh) -> (out, h_n, cache)
    rnn_backward(dout, dh_n, cache) -> {"x": ..., "h0": ..., "weight_ih": ..., ...}
    numerical_gradient(f, array, df=None, h=1e-6) -> gradient of sum(df * f(array))

and each is compared with the reference in ``course_pkg.numpy_rnn`` (itself checked against
torch autograd and finite differences in the package's tests). The probes know the usual
mistakes: a bias left out, ``W_hh`` without its transpose, a missing tanh or its derivative, an
output stored one step late, a hidden state not carried to the next step, the gradient from
step t+1 not added, a one-sided finite difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_pkg.grading import callers, integrity, kit
from course_pkg.grading.cell_inputs import cell_inputs, describe_case
from course_pkg.grading.compare import (
    BATCH, HIDDEN_IN, INPUT, TIME, UNIT, Tolerance, compare_values,
)
from course_pkg.grading.part import FunctionSpec, OutputSpec
from course_pkg.grading.probes import Isolation, Variant
from course_pkg.grading.report import SubCheck
from course_pkg.numpy_rnn import gradcheck as reference_gradcheck
from course_pkg.numpy_rnn import rnn as reference

# Calling any of course_pkg's recurrent implementations (or torch's) is delegation.
FORBIDDEN = integrity.Forbidden(
    modules=("course_pkg.numpy_rnn", "course_pkg.nn", "course_pkg.models"),
    allowed=("relative_error", "sigmoid"),
    torch_recurrent=True,
)
DEFAULTS = {"T": 4, "B": 3, "D": 5, "H": 6, "seed": 0, "dtype": "float64", "fixed": False}
STEP_NAMES = ("x_t", "h_prev", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
SEQUENCE_NAMES = ("x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
STEP_GRADIENTS = ("dx_t", "dh_prev", "dweight_ih", "dweight_hh", "dbias_ih", "dbias_hh")
SEQUENCE_GRADIENTS = ("x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _sequence(inputs: dict[str, Any]) -> np.ndarray:
    """The reference out (T, B, H) on ``inputs``."""
    return reference.rnn_forward(*(inputs[n] for n in SEQUENCE_NAMES))[0]


def _step(inputs: dict[str, Any], **changes: Any) -> np.ndarray:
    """The reference h_t on ``inputs`` with some arguments replaced."""
    args = {name: inputs[name] for name in STEP_NAMES}
    args.update(changes)
    return reference.rnn_step_forward(*(args[n] for n in STEP_NAMES))[0]


# ------------------------------------------------------------------------------------------
# Correct stand-ins for the step functions (see FunctionSpec.stand_ins): written here rather
# than taken from course_pkg.numpy_rnn, whose functions are tripwires while a part is graded.
# ------------------------------------------------------------------------------------------


def stand_in_step_forward(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    h_t = np.tanh(x_t @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)
    return h_t, (x_t, h_prev, h_t, weight_ih, weight_hh)


def stand_in_step_backward(dh_t, cache):
    x_t, h_prev, h_t, weight_ih, weight_hh = cache
    da = dh_t * (1 - h_t * h_t)
    db = da.sum(axis=0)
    return da @ weight_ih, da @ weight_hh, da.T @ x_t, da.T @ h_prev, db, db.copy()


# ------------------------------------------------------------------------------------------
# rnn_step_forward
# ------------------------------------------------------------------------------------------


class StepForward(FunctionSpec):
    title = "rnn_step_forward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    outputs = (OutputSpec("h_t", kit.axes(BATCH, UNIT), weight=2.0),)
    combine_hint = "h_t = tanh(x_t W_ih^T + b_ih + h_prev W_hh^T + b_hh): one tanh of the sum"

    def describe(self, params):
        return describe_case(params, ("B", "D", "H"))

    def inputs(self, params):
        return cell_inputs(params, gates=1, sequence=False)

    def expected(self, inputs, params):
        return {"h_t": _step(inputs)}

    caller = "positional"

    def caller_options(self, params):
        return {"names": STEP_NAMES}

    def unpack(self, raw, params):
        got = kit.unpack_tuple(raw, ("h_t", "cache"), "rnn_step_forward")
        return got if isinstance(got, str) else {"h_t": got["h_t"]}

    def variants(self, params):
        def pre_activation(i):
            return (i["x_t"] @ i["weight_ih"].T + i["bias_ih"] + i["h_prev"] @ i["weight_hh"].T
                    + i["bias_hh"])
        return (
            Variant("no bias_hh", lambda i: {"h_t": _step(i, bias_hh=0 * i["bias_hh"])},
                    "h_t equals the reference computed without bias_hh: add bias_hh to the "
                    "pre-activation"),
            Variant("no bias_ih", lambda i: {"h_t": _step(i, bias_ih=0 * i["bias_ih"])},
                    "h_t equals the reference computed without bias_ih: add bias_ih to the "
                    "pre-activation"),
            Variant("no biases", lambda i: {"h_t": _step(i, bias_ih=0 * i["bias_ih"],
                                                         bias_hh=0 * i["bias_hh"])},
                    "h_t equals the reference computed without any bias: add bias_ih and bias_hh"),
            Variant("W_hh not transposed", lambda i: {"h_t": _step(i, weight_hh=i["weight_hh"].T)},
                    "you multiply h_prev by weight_hh where weight_hh.T is needed (row j of "
                    "weight_hh holds the weights INTO unit j, as in torch.nn.RNN)"),
            Variant("no h_prev", lambda i: {"h_t": _step(i, h_prev=0 * i["h_prev"])},
                    "h_t does not depend on h_prev: add the recurrent term h_prev W_hh^T"),
            Variant("no tanh", lambda i: {"h_t": pre_activation(i)},
                    "h_t is the pre-activation: apply tanh to it"),
            Variant("sigmoid", lambda i: {"h_t": 1 / (1 + np.exp(-pre_activation(i)))},
                    "h_t uses the sigmoid: this RNN uses tanh"),
        )

    def isolations(self, params):
        def only(*keep):
            def transform(i):
                for name in ("x_t", "h_prev", "bias_ih", "bias_hh"):
                    if name not in keep:
                        i[name] = np.zeros_like(i[name])
                return i
            return transform
        return (
            Isolation("x_t W_ih^T", only("x_t"), "check the input term x_t @ weight_ih.T"),
            Isolation("h_prev W_hh^T", only("h_prev"),
                      "check the recurrent term h_prev @ weight_hh.T"),
            Isolation("bias_ih", only("bias_ih"), "check how bias_ih is added"),
            Isolation("bias_hh", only("bias_hh"), "check how bias_hh is added"),
        )


# ------------------------------------------------------------------------------------------
# rnn_step_backward
# ------------------------------------------------------------------------------------------


def _step_gradients(i: dict[str, Any], derivative: str = "tanh",
                    recurrent_transposed: bool = False) -> dict[str, np.ndarray]:
    """The step gradients, exactly or with a typical mistake (for the variants)."""
    a = i["x_t"] @ i["weight_ih"].T + i["bias_ih"] + i["h_prev"] @ i["weight_hh"].T + i["bias_hh"]
    h = np.tanh(a)
    da = {"tanh": i["dh_t"] * (1 - h * h), "none": i["dh_t"],
          "of a": i["dh_t"] * (1 - a * a)}[derivative]
    w_hh = i["weight_hh"].T if recurrent_transposed else i["weight_hh"]
    return {"dx_t": da @ i["weight_ih"], "dh_prev": da @ w_hh,
            "dweight_ih": da.T @ i["x_t"], "dweight_hh": da.T @ i["h_prev"],
            "dbias_ih": da.sum(axis=0), "dbias_hh": da.sum(axis=0)}


def step_quantities(i: dict[str, Any]) -> dict[str, np.ndarray]:
    """What a step's cache may hold: the step's inputs, a_t = x_t W_ih^T + b_ih + h_prev W_hh^T
    + b_hh, h_t = tanh(a_t) and tanh'(a_t) = 1 - h_t^2."""
    a = i["x_t"] @ i["weight_ih"].T + i["bias_ih"] + i["h_prev"] @ i["weight_hh"].T + i["bias_hh"]
    h = np.tanh(a)
    return {**{n: i[n] for n in STEP_NAMES}, "h_t": h, "a_t": a, "1 - h_t**2": 1 - h * h}


def sequence_quantities(i: dict[str, Any]) -> dict[str, Any]:
    """What a sequence's cache may hold: the inputs, and per step t the step's x_t, h_t, a_t and
    1 - h_t^2 (lists over t, also stacked), h0 followed by every h_t, and every h_prev."""
    steps = [step_quantities({"x_t": i["x"][t], "h_prev": h, **{n: i[n] for n in STEP_NAMES[2:]}})
             for t, h in enumerate([i["h0"], *_sequence(i)[:-1]])]
    per_step = {key: [q[key] for q in steps] for key in ("x_t", "h_t", "a_t", "1 - h_t**2")}
    hidden = [i["h0"], *per_step["h_t"]]  # h0, then h_0 ... h_{T-1}
    return {**{n: i[n] for n in SEQUENCE_NAMES}, "out": np.stack(per_step["h_t"]),
            "h_n": per_step["h_t"][-1], **per_step, "h0 and out": hidden, "h_prev": hidden[:-1]}


class StepBackward(FunctionSpec):
    title = "rnn_step_backward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    outputs = (
        OutputSpec("dx_t", kit.axes(BATCH, INPUT)),
        OutputSpec("dh_prev", kit.axes(BATCH, UNIT)),
        OutputSpec("dweight_ih", kit.axes(UNIT, INPUT)),
        OutputSpec("dweight_hh", kit.axes(UNIT, HIDDEN_IN)),
        OutputSpec("dbias_ih", kit.axes(UNIT)),
        OutputSpec("dbias_hh", kit.axes(UNIT)),
    )

    def describe(self, params):
        return describe_case(params, ("B", "D", "H"))

    def inputs(self, params):
        return cell_inputs(params, gates=1, sequence=False, upstream=True)

    def expected(self, inputs, params):
        _, cache = reference.rnn_step_forward(*(inputs[n] for n in STEP_NAMES))
        return dict(zip(STEP_GRADIENTS, reference.rnn_step_backward(inputs["dh_t"], cache)))

    caller = "forward_then_backward"

    def caller_options(self, params):
        return {"forward_names": STEP_NAMES, "returns": ("h_t", "cache"),
                "backward_names": ("dh_t", "cache")}

    def unpack(self, raw, params):
        got = kit.unpack_tuple(raw["gradients"], STEP_GRADIENTS, "rnn_step_backward")
        if not isinstance(got, str):
            got["_forward"] = raw["forward"]
        return got

    def notes(self, got, inputs, params):
        return kit.forward_note(got.get("_forward"), _step(inputs), "rnn_step_forward", "h_t")

    forward_name = "rnn_step_forward"
    cache_aliases = {"a": "a_t", "pre_activation": "a_t"}

    def reference_quantities(self, inputs, params):
        return step_quantities(inputs)

    def forward_is_wrong(self, got, inputs, params):
        return kit.forward_wrong(got.get("_forward"), _step(inputs), "h_t")

    def variants(self, params):
        return (
            Variant("no tanh derivative", lambda i: _step_gradients(i, "none"),
                    "the gradients miss tanh': multiply dh_t by (1 - h_t**2) before the products",
                    outputs=("dx_t", "dweight_ih")),
            Variant("tanh derivative of a", lambda i: _step_gradients(i, "of a"),
                    "tanh'(a) is 1 - tanh(a)**2 = 1 - h_t**2, not 1 - a**2",
                    outputs=("dx_t", "dweight_ih")),
            Variant("dh_prev with W_hh^T", lambda i: _step_gradients(i, recurrent_transposed=True),
                    "dh_prev = da @ weight_hh (the transpose of the forward's h_prev @ "
                    "weight_hh.T), not da @ weight_hh.T", outputs=("dh_prev",)),
        )


# ------------------------------------------------------------------------------------------
# rnn_forward
# ------------------------------------------------------------------------------------------


class SequenceForward(FunctionSpec):
    title = "rnn_forward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    outputs = (OutputSpec("out", kit.axes(TIME, BATCH, UNIT), weight=2.0),
               OutputSpec("h_n", kit.axes(BATCH, UNIT)))
    combine_hint = "h_t = tanh(x[t] W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), h_{-1} = h0"
    stand_ins = {"rnn_step_forward": stand_in_step_forward}

    def describe(self, params):
        return describe_case(params)

    def inputs(self, params):
        return cell_inputs(params, gates=1, sequence=True)

    def expected(self, inputs, params):
        out, h_n, _ = reference.rnn_forward(*(inputs[n] for n in SEQUENCE_NAMES))
        return {"out": out, "h_n": h_n}

    caller = "positional"

    def caller_options(self, params):
        return {"names": SEQUENCE_NAMES}

    def unpack(self, raw, params):
        got = kit.unpack_tuple(raw, ("out", "h_n", "cache"), "rnn_forward")
        return got if isinstance(got, str) else {"out": got["out"], "h_n": got["h_n"]}

    def variants(self, params):
        def run(i, **changes):
            args = {n: i[n] for n in SEQUENCE_NAMES}
            args.update(changes)
            out, h_n, _ = reference.rnn_forward(*(args[n] for n in SEQUENCE_NAMES))
            return out, h_n

        def late(i):  # out[t] = h_{t-1}
            out, h_n = run(i)
            return {"out": np.concatenate([i["h0"][None], out[:-1]])}

        def not_carried(i):  # every step starts from h0
            out = np.stack([_step({**{n: i[n] for n in STEP_NAMES[2:]}, "x_t": i["x"][t],
                                   "h_prev": i["h0"]}) for t in range(i["x"].shape[0])])
            return {"out": out}

        return (
            Variant("out one step late", late,
                    "out[t] holds h_{t-1} (off by one in time): store h_t in out[t] after "
                    "computing it, not before"),
            Variant("h not carried", not_carried,
                    "every step starts again from h0: pass the new h_t on to the next step"),
            Variant("no bias_hh", lambda i: dict(zip(("out", "h_n"),
                                                     run(i, bias_hh=0 * i["bias_hh"]))),
                    "out equals the reference computed without bias_hh: add bias_hh"),
            Variant("no bias_ih", lambda i: dict(zip(("out", "h_n"),
                                                     run(i, bias_ih=0 * i["bias_ih"]))),
                    "out equals the reference computed without bias_ih: add bias_ih"),
            Variant("h_n is h0", lambda i: {"out": run(i)[0], "h_n": i["h0"]},
                    "h_n should be the last hidden state h_{T-1} = out[-1], not h0"),
        )

    def isolations(self, params):
        def zero(*names):
            def transform(i):
                for name in names:
                    i[name] = np.zeros_like(i[name])
                return i
            return transform
        return (
            Isolation("input terms (h0 = 0, W_hh = 0, biases = 0)",
                      zero("h0", "weight_hh", "bias_ih", "bias_hh"),
                      "with no recurrence your out is wrong: check x[t] @ weight_ih.T at every t"),
            Isolation("recurrence only (x = 0, biases = 0)", zero("x", "bias_ih", "bias_hh"),
                      "with only h0 and W_hh your out is wrong: check the recurrent term and how "
                      "h is carried from step to step"),
        )


# ------------------------------------------------------------------------------------------
# rnn_backward
# ------------------------------------------------------------------------------------------


def _bptt(i: dict[str, Any], from_future: bool = True, use_dh_n: bool = True,
          h_prev_shift: bool = False) -> dict[str, np.ndarray]:
    """BPTT written out, exactly or with a typical mistake (for the variants)."""
    out, _, _ = reference.rnn_forward(*(i[n] for n in SEQUENCE_NAMES))
    T = out.shape[0]
    h_prev = np.concatenate([i["h0"][None], out[:-1]])
    if h_prev_shift:
        h_prev = out
    dh = i["dh_n"] if use_dh_n else np.zeros_like(i["dh_n"])
    da = np.empty_like(out)
    for t in reversed(range(T)):
        total = i["dout"][t] + (dh if (from_future or t == T - 1) else 0 * dh)
        da[t] = total * (1 - out[t] ** 2)
        dh = da[t] @ i["weight_hh"]
    return {"x": da @ i["weight_ih"], "h0": dh,
            "weight_ih": np.einsum("tbh,tbd->hd", da, i["x"]),
            "weight_hh": np.einsum("tbh,tbk->hk", da, h_prev),
            "bias_ih": da.sum(axis=(0, 1)), "bias_hh": da.sum(axis=(0, 1))}


class SequenceBackward(FunctionSpec):
    title = "rnn_backward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    stand_ins = {"rnn_step_forward": stand_in_step_forward,
                 "rnn_step_backward": stand_in_step_backward}
    outputs = (
        OutputSpec("x", kit.axes(TIME, BATCH, INPUT)),
        OutputSpec("h0", kit.axes(BATCH, UNIT)),
        OutputSpec("weight_ih", kit.axes(UNIT, INPUT)),
        OutputSpec("weight_hh", kit.axes(UNIT, HIDDEN_IN)),
        OutputSpec("bias_ih", kit.axes(UNIT)),
        OutputSpec("bias_hh", kit.axes(UNIT)),
    )

    def describe(self, params):
        return describe_case(params)

    def inputs(self, params):
        return cell_inputs(params, gates=1, sequence=True, upstream=True)

    def expected(self, inputs, params):
        _, _, cache = reference.rnn_forward(*(inputs[n] for n in SEQUENCE_NAMES))
        return reference.rnn_backward(inputs["dout"], inputs["dh_n"], cache)

    caller = "forward_then_backward"

    def caller_options(self, params):
        return {"forward_names": SEQUENCE_NAMES, "returns": ("out", "h_n", "cache"),
                "backward_names": ("dout", "dh_n", "cache")}

    def notes(self, got, inputs, params):
        return kit.forward_note(got.get("_forward"), _sequence(inputs), "rnn_forward", "out")

    forward_name = "rnn_forward"

    def reference_quantities(self, inputs, params):
        return sequence_quantities(inputs)

    def forward_is_wrong(self, got, inputs, params):
        return kit.forward_wrong(got.get("_forward"), _sequence(inputs), "out")

    def unpack(self, raw, params):
        forward_out, raw = raw["forward"], raw["gradients"]
        if not isinstance(raw, dict):
            return (f"rnn_backward: expected a dict with keys {list(SEQUENCE_GRADIENTS)}, "
                    f"got {type(raw).__name__}")
        missing = [k for k in SEQUENCE_GRADIENTS if k not in raw]
        if missing:
            return f"rnn_backward: the dict has no key(s) {missing} (it has {sorted(raw)})"
        return {**{k: raw[k] for k in SEQUENCE_GRADIENTS}, "_forward": forward_out}

    def variants(self, params):
        return (
            Variant("dout[t] only", lambda i: _bptt(i, from_future=False, use_dh_n=False),
                    "each step gets only dout[t] (the classic rnn_step_backward(dout[t], "
                    "cache[t])): both the gradient handed back by step t+1 and dh_n are "
                    "dropped; start with dh = dh_n and pass dout[t] + dh to every step",
                    outputs=("x", "weight_hh")),
            Variant("no gradient from the future", lambda i: _bptt(i, from_future=False),
                    "at step t you use only dout[t]: add the gradient handed back by step t+1 "
                    "(dh_prev of the later step) before multiplying by tanh'",
                    outputs=("x", "weight_hh")),
            Variant("dh_n ignored", lambda i: _bptt(i, use_dh_n=False),
                    "dh_n is ignored: start the backward loop with dh = dh_n",
                    outputs=("x", "weight_ih")),
            Variant("h_t instead of h_{t-1}", lambda i: _bptt(i, h_prev_shift=True),
                    "dweight_hh uses h_t where h_{t-1} is needed (off by one in time): the "
                    "product at step t is da_t^T h_{t-1}, with h_{-1} = h0",
                    outputs=("weight_hh",)),
        )


# ------------------------------------------------------------------------------------------
# numerical_gradient
# ------------------------------------------------------------------------------------------

GRADIENT_TOLERANCE = Tolerance(rtol=1e-7, atol=1e-8)


class NumericalGradient(FunctionSpec):
    title = "numerical_gradient"
    forbidden = FORBIDDEN
    defaults = {"shape": (3,), "seed": 0, "upstream": True}
    outputs = (OutputSpec("gradient", weight=2.0),)
    dtype_weight = 0.0

    def describe(self, params):
        kind = "f returns an array, df given" if params["upstream"] else "f returns a scalar, df=None"
        return f"array of shape {params['shape']}, {kind}, seed {params['seed']}"

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        w = 0.5 * rng.standard_normal(params["shape"])
        inputs = {"array": w, "upstream": params["upstream"]}
        if params["upstream"]:
            inputs["df"] = rng.standard_normal(4)
        return inputs

    caller = "numerical_gradient"

    @staticmethod
    def _function(params):
        return callers.gradient_test_function(params)

    def expected(self, inputs, params):
        return {"gradient": reference_gradcheck.numerical_gradient(
            self._function(params), inputs["array"].copy(), inputs.get("df"))}

    def unpack(self, raw, params):
        if not isinstance(raw, dict) or "gradient" not in raw:
            return "numerical_gradient: internal error (no result)"
        return raw

    def compare(self, name, got, expected, tolerance, params):
        return compare_values(name, got, expected, GRADIENT_TOLERANCE)

    def extra_checks(self, got, inputs, expected, params):
        ok = bool(got.get("restored"))
        return [SubCheck("array restored", 1.0, ok,
                         "" if ok else "the array is changed after your function returns: put "
                                       "every perturbed entry back to its original value")]

    def variants(self, params):
        f = self._function(params)
        h = 1e-6

        def one_sided(i):
            w, df = i["array"].copy(), i.get("df")
            base = np.sum((df if df is not None else 1.0) * f(w))
            grad = np.zeros_like(w)
            for k in np.ndindex(w.shape):
                w[k] += h
                grad[k] = (np.sum((df if df is not None else 1.0) * f(w)) - base) / h
                w[k] -= h
            return {"gradient": grad}

        def exact(i):
            return {"gradient": reference_gradcheck.numerical_gradient(f, i["array"].copy(),
                                                                       i.get("df"))}

        return (
            Variant("one-sided difference", one_sided,
                    "your gradient matches the one-sided difference (f(w + h) - f(w)) / h, whose "
                    "error is of order h: use the centred difference (f(w + h) - f(w - h)) / (2h)"),
            Variant("divided by h", lambda i: {"gradient": 2 * exact(i)["gradient"]},
                    "your gradient is exactly twice the right one: the centred difference "
                    "divides by 2h"),
            Variant("df ignored", lambda i: {"gradient": reference_gradcheck.numerical_gradient(
                f, i["array"].copy(), None)} if i.get("df") is not None else {},
                "your gradient is that of sum(f(w)): weight the outputs by df, "
                "L = sum(df * f(w))"),
        )

