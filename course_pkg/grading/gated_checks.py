"""Checks of assignment 2 (``gated_cells``): one step of the LSTM and of the GRU, both ways.

The student writes, with the signatures and gate layouts of ``course_pkg.numpy_rnn`` (PyTorch's:
LSTM blocks i, f, g, o; GRU blocks r, z, n with the reset gate applied to ``W_hn h + b_hn``)::

    lstm_step_forward(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh)
        -> (h_t, c_t, cache)
    lstm_step_backward(dh_t, dc_t, cache)
        -> (dx_t, dh_prev, dc_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh)
    gru_step_forward(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> (h_t, cache)
    gru_step_backward(dh_t, cache)
        -> (dx_t, dh_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh)

Gradients of the stacked weights and biases are compared block by block, so a report says
"wrong in gate block(s) f; right in i, g, o". The variants know every order of the gate blocks
(24 for the LSTM, 6 for the GRU), the GRU's update-gate convention and reset-gate placement,
a missing bias, a missing tanh, and the usual slips in the backward pass; the ablations zero all
but one term or one gate block, or remove ``f_t * c_prev``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from course_pkg.grading import integrity, kit
from course_pkg.grading.cell_inputs import cell_inputs, describe_case
from course_pkg.grading.compare import BATCH, HIDDEN_IN, INPUT, UNIT, GateAxis
from course_pkg.grading.part import FunctionSpec, OutputSpec
from course_pkg.grading.probes import Isolation, Variant
from course_pkg.numpy_rnn import gru as reference_gru
from course_pkg.numpy_rnn import lstm as reference_lstm

FORBIDDEN = integrity.Forbidden(
    modules=("course_pkg.numpy_rnn", "course_pkg.nn", "course_pkg.models"),
    allowed=("relative_error",),
    torch_recurrent=True,
)
DEFAULTS = {"B": 3, "D": 5, "H": 6, "seed": 0, "dtype": "float64", "fixed": False}
LSTM_GATES = kit.LSTM_GATES
GRU_GATES = ("r", "z", "n")
LSTM_ARGS = ("x_t", "h_prev", "c_prev", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
GRU_ARGS = ("x_t", "h_prev", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
LSTM_GRADIENTS = ("dx_t", "dh_prev", "dc_prev", "dweight_ih", "dweight_hh", "dbias_ih",
                  "dbias_hh")
GRU_GRADIENTS = ("dx_t", "dh_prev", "dweight_ih", "dweight_hh", "dbias_ih", "dbias_hh")


def _gate_axes(gates: Sequence[str]) -> Callable[[dict[str, Any]], Sequence[Any]]:
    return lambda params: (GateAxis(tuple(gates), params["H"]),)


def _weight_axes(gates: Sequence[str], column: Any) -> Callable[[dict[str, Any]], Sequence[Any]]:
    return lambda params: (GateAxis(tuple(gates), params["H"]), column)


# ------------------------------------------------------------------------------------------
# The equations, with switches for the mistakes the variants name
# ------------------------------------------------------------------------------------------


def lstm_equations(i: dict[str, Any], *, candidate: str = "tanh", squash_c: bool = True,
                   forget: bool = True, input_gate: bool = True) -> dict[str, np.ndarray]:
    H = i["h_prev"].shape[1]
    a = i["x_t"] @ i["weight_ih"].T + i["bias_ih"] + i["h_prev"] @ i["weight_hh"].T + i["bias_hh"]
    in_gate, f_gate, o_gate = (kit.sigmoid(a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * H:3 * H]) if candidate == "tanh" else kit.sigmoid(a[:, 2 * H:3 * H])
    c = (f_gate * i["c_prev"] if forget else i["c_prev"]) + (in_gate * g if input_gate else g)
    h = o_gate * (np.tanh(c) if squash_c else c)
    return {"h_t": h, "c_t": c}


def lstm_backward_equations(i: dict[str, Any], *, path_through_h: bool = True,
                            times_f: bool = True) -> dict[str, np.ndarray]:
    H = i["h_prev"].shape[1]
    a = i["x_t"] @ i["weight_ih"].T + i["bias_ih"] + i["h_prev"] @ i["weight_hh"].T + i["bias_hh"]
    in_gate, f_gate, o_gate = (kit.sigmoid(a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f_gate * i["c_prev"] + in_gate * g
    tanh_c = np.tanh(c)
    dh, dc_t = i["dh_t"], i["dc_t"]
    dc = dc_t + (dh * o_gate * (1 - tanh_c ** 2) if path_through_h else 0)
    da = np.concatenate([dc * g * in_gate * (1 - in_gate), dc * i["c_prev"] * f_gate * (1 - f_gate),
                         dc * in_gate * (1 - g ** 2), dh * tanh_c * o_gate * (1 - o_gate)], axis=1)
    return {"dx_t": da @ i["weight_ih"], "dh_prev": da @ i["weight_hh"],
            "dc_prev": dc * f_gate if times_f else dc,
            "dweight_ih": da.T @ i["x_t"], "dweight_hh": da.T @ i["h_prev"],
            "dbias_ih": da.sum(axis=0), "dbias_hh": da.sum(axis=0)}


def gru_equations(i: dict[str, Any], *, update: str = "pytorch", reset: str = "pytorch"
                  ) -> dict[str, np.ndarray]:
    H = i["h_prev"].shape[1]
    w_hh, b_hh = i["weight_hh"], i["bias_hh"]
    xp = i["x_t"] @ i["weight_ih"].T + i["bias_ih"]
    hp = i["h_prev"] @ w_hh.T + b_hh
    r = kit.sigmoid(xp[:, :H] + hp[:, :H])
    z = kit.sigmoid(xp[:, H:2 * H] + hp[:, H:2 * H])
    if reset == "pytorch":
        n = np.tanh(xp[:, 2 * H:] + r * hp[:, 2 * H:])
    elif reset == "before product":  # Cho et al. v3: W_hn (r * h) + b_hn
        n = np.tanh(xp[:, 2 * H:] + (r * i["h_prev"]) @ w_hh[2 * H:].T + b_hh[2 * H:])
    elif reset == "bias outside":
        n = np.tanh(xp[:, 2 * H:] + r * (i["h_prev"] @ w_hh[2 * H:].T) + b_hh[2 * H:])
    else:  # "none"
        n = np.tanh(xp[:, 2 * H:] + hp[:, 2 * H:])
    if update == "pytorch":
        h = (1 - z) * n + z * i["h_prev"]
    else:  # "flipped"
        h = z * n + (1 - z) * i["h_prev"]
    return {"h_t": h}


def gru_backward_equations(i: dict[str, Any], *, reset_in_hn_path: bool = True,
                           direct_path: bool = True) -> dict[str, np.ndarray]:
    H = i["h_prev"].shape[1]
    xp = i["x_t"] @ i["weight_ih"].T + i["bias_ih"]
    hp = i["h_prev"] @ i["weight_hh"].T + i["bias_hh"]
    r = kit.sigmoid(xp[:, :H] + hp[:, :H])
    z = kit.sigmoid(xp[:, H:2 * H] + hp[:, H:2 * H])
    hn = hp[:, 2 * H:]
    n = np.tanh(xp[:, 2 * H:] + r * hn)
    dh = i["dh_t"]
    da_n = dh * (1 - z) * (1 - n ** 2)
    da_r = da_n * hn * r * (1 - r)
    da_z = dh * (i["h_prev"] - n) * z * (1 - z)
    d_x = np.concatenate([da_r, da_z, da_n], axis=1)
    d_h = np.concatenate([da_r, da_z, da_n * r if reset_in_hn_path else da_n], axis=1)
    return {"dx_t": d_x @ i["weight_ih"],
            "dh_prev": (dh * z if direct_path else 0) + d_h @ i["weight_hh"],
            "dweight_ih": d_x.T @ i["x_t"], "dweight_hh": d_h.T @ i["h_prev"],
            "dbias_ih": d_x.sum(axis=0), "dbias_hh": d_h.sum(axis=0)}


# ------------------------------------------------------------------------------------------
# LSTM
# ------------------------------------------------------------------------------------------


def _lstm_reference(i: dict[str, Any]) -> dict[str, np.ndarray]:
    h, c, _ = reference_lstm.lstm_step_forward(*(i[n] for n in LSTM_ARGS))
    return {"h_t": h, "c_t": c}


def lstm_quantities(i: dict[str, Any]) -> dict[str, np.ndarray]:
    """What an LSTM step's cache may hold: the inputs, the pre-activations
    a = x_t W_ih^T + b_ih + h_prev W_hh^T + b_hh (B, 4H), the gates i, f, g, o (also side by
    side, (B, 4H)), c_t, tanh(c_t) and h_t."""
    h, c, (_, _, (_, _, gi, gf, gg, go, tanh_c, _)) = reference_lstm.lstm_step_forward(
        *(i[n] for n in LSTM_ARGS))
    a = i["x_t"] @ i["weight_ih"].T + i["bias_ih"] + i["h_prev"] @ i["weight_hh"].T + i["bias_hh"]
    return {**{n: i[n] for n in LSTM_ARGS}, "h_t": h, "c_t": c, "i": gi, "f": gf, "g": gg,
            "o": go, "tanh(c_t)": tanh_c, "gates": np.concatenate([gi, gf, gg, go], axis=1),
            "pre-activations": a}


class LSTMStepForward(FunctionSpec):
    title = "lstm_step_forward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    outputs = (OutputSpec("h_t", kit.axes(BATCH, UNIT), weight=2.0),
               OutputSpec("c_t", kit.axes(BATCH, UNIT), weight=2.0))
    combine_hint = "c_t = f_t * c_prev + i_t * g_t and h_t = o_t * tanh(c_t)"

    def describe(self, params):
        return describe_case(params, ("B", "D", "H"))

    def inputs(self, params):
        return cell_inputs(params, gates=4, sequence=False, cell_state=True)

    def expected(self, inputs, params):
        return _lstm_reference(inputs)

    caller = "positional"

    def caller_options(self, params):
        return {"names": LSTM_ARGS}

    def unpack(self, raw, params):
        got = kit.unpack_tuple(raw, ("h_t", "c_t", "cache"), "lstm_step_forward")
        return got if isinstance(got, str) else {"h_t": got["h_t"], "c_t": got["c_t"]}

    def variants(self, params):
        zero_bias = lambda name: (lambda i: _lstm_reference({**i, name: 0 * i[name]}))  # noqa
        return [
            *kit.order_variants(LSTM_GATES, _lstm_reference),
            Variant("no bias_ih", zero_bias("bias_ih"),
                    "h_t and c_t equal the reference computed without bias_ih: add bias_ih"),
            Variant("no bias_hh", zero_bias("bias_hh"),
                    "h_t and c_t equal the reference computed without bias_hh: add bias_hh"),
            Variant("sigmoid candidate", lambda i: lstm_equations(i, candidate="sigmoid"),
                    "g_t uses the sigmoid: the candidate is g_t = tanh(a_g), in [-1, 1]"),
            Variant("h without tanh", lambda i: lstm_equations(i, squash_c=False),
                    "h_t = o_t * c_t: squash the cell first, h_t = o_t * tanh(c_t)",
                    outputs=("h_t",)),
            Variant("f * h_prev", lambda i: _lstm_reference({**i, "c_prev": i["h_prev"]}),
                    "c_t uses f_t * h_prev: the forget gate scales the previous CELL state, "
                    "c_t = f_t * c_prev + i_t * g_t"),
            Variant("no forget gate", lambda i: lstm_equations(i, forget=False),
                    "c_t keeps all of c_prev: multiply it by the forget gate, f_t * c_prev"),
            Variant("no input gate", lambda i: lstm_equations(i, input_gate=False),
                    "c_t adds g_t unscaled: multiply the candidate by the input gate, i_t * g_t"),
        ]

    def isolations(self, params):
        gate_alone = [
            Isolation(f"gate {gate} alone", kit.only_block(k, LSTM_GATES),
                      f"with only the weights and biases of gate {gate} non-zero your output is "
                      f"wrong: check the rows of block {gate} and its nonlinearity",
                      group="gate blocks")
            for k, gate in enumerate(LSTM_GATES)
        ]
        return [
            Isolation("x_t W_ih^T", kit.zero("h_prev", "c_prev", "bias_ih", "bias_hh"),
                      "check the input projection x_t @ weight_ih.T"),
            Isolation("h_prev W_hh^T", kit.zero("x_t", "c_prev", "bias_ih", "bias_hh"),
                      "check the recurrent projection h_prev @ weight_hh.T"),
            Isolation("the biases", kit.zero("x_t", "h_prev", "c_prev"),
                      "check how bias_ih and bias_hh are added"),
            *gate_alone,
            Isolation("the forget gate's contribution f_t * c_prev", kit.zero("c_prev"),
                      "check how you use f_t * c_prev", kind="without"),
        ]


class LSTMStepBackward(FunctionSpec):
    title = "lstm_step_backward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    outputs = (
        OutputSpec("dx_t", kit.axes(BATCH, INPUT)),
        OutputSpec("dh_prev", kit.axes(BATCH, UNIT)),
        OutputSpec("dc_prev", kit.axes(BATCH, UNIT)),
        OutputSpec("dweight_ih", _weight_axes(LSTM_GATES, INPUT)),
        OutputSpec("dweight_hh", _weight_axes(LSTM_GATES, HIDDEN_IN)),
        OutputSpec("dbias_ih", _gate_axes(LSTM_GATES)),
        OutputSpec("dbias_hh", _gate_axes(LSTM_GATES)),
    )

    def describe(self, params):
        return describe_case(params, ("B", "D", "H"))

    def inputs(self, params):
        return cell_inputs(params, gates=4, sequence=False, cell_state=True, upstream=True)

    def expected(self, inputs, params):
        _, _, cache = reference_lstm.lstm_step_forward(*(inputs[n] for n in LSTM_ARGS))
        grads = reference_lstm.lstm_step_backward(inputs["dh_t"], inputs["dc_t"], cache)
        return dict(zip(LSTM_GRADIENTS, grads))

    caller = "forward_then_backward"

    def caller_options(self, params):
        return {"forward_names": LSTM_ARGS, "returns": ("h_t", "c_t", "cache"),
                "backward_names": ("dh_t", "dc_t", "cache")}

    def unpack(self, raw, params):
        got = kit.unpack_tuple(raw["gradients"], LSTM_GRADIENTS, "lstm_step_backward")
        if not isinstance(got, str):
            got["_forward"] = raw["forward"]
        return got

    def notes(self, got, inputs, params):
        return kit.forward_note(got.get("_forward"), _lstm_reference(inputs)["h_t"],
                             "lstm_step_forward", "h_t")

    forward_name = "lstm_step_forward"
    cache_aliases = {"squashed": "tanh(c_t)", "tanh_c": "tanh(c_t)", "tanh_c_t": "tanh(c_t)",
                     "i_t": "i", "f_t": "f", "g_t": "g", "o_t": "o", "a": "pre-activations"}

    def reference_quantities(self, inputs, params):
        return lstm_quantities(inputs)

    def forward_is_wrong(self, got, inputs, params):
        return kit.forward_wrong(got.get("_forward"), _lstm_reference(inputs)["h_t"], "h_t")

    def variants(self, params):
        return [
            Variant("dc without the path through h", lambda i: lstm_backward_equations(
                i, path_through_h=False),
                "the cell gradient misses the path through h_t = o_t * tanh(c_t): "
                "dc = dc_t + dh_t * o_t * (1 - tanh(c_t)**2)",
                outputs=("dc_prev", "dx_t")),
            Variant("dc_prev not times f", lambda i: lstm_backward_equations(i, times_f=False),
                    "dc_prev = dc * f_t: the forget gate scales what flows back to c_prev",
                    outputs=("dc_prev",)),
        ]


# ------------------------------------------------------------------------------------------
# GRU
# ------------------------------------------------------------------------------------------


def _gru_reference(i: dict[str, Any]) -> dict[str, np.ndarray]:
    h, _ = reference_gru.gru_step_forward(*(i[n] for n in GRU_ARGS))
    return {"h_t": h}


def gru_quantities(i: dict[str, Any]) -> dict[str, np.ndarray]:
    """What a GRU step's cache may hold: the inputs, the gates r, z, n, hn = h_prev W_hn^T + b_hn,
    the input and hidden projections x_t W_ih^T + b_ih and h_prev W_hh^T + b_hh (B, 3H), h_t."""
    h, (_, _, (_, r, z, n, hn, _)) = reference_gru.gru_step_forward(*(i[k] for k in GRU_ARGS))
    return {**{k: i[k] for k in GRU_ARGS}, "h_t": h, "r": r, "z": z, "n": n, "hn": hn,
            "x projection": i["x_t"] @ i["weight_ih"].T + i["bias_ih"],
            "h projection": i["h_prev"] @ i["weight_hh"].T + i["bias_hh"],
            "gates": np.concatenate([r, z, n], axis=1)}


class GRUStepForward(FunctionSpec):
    title = "gru_step_forward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    outputs = (OutputSpec("h_t", kit.axes(BATCH, UNIT), weight=3.0),)
    combine_hint = ("n = tanh(x W_in^T + b_in + r * (h_prev W_hn^T + b_hn)), "
                    "h_t = (1 - z) * n + z * h_prev")

    def describe(self, params):
        return describe_case(params, ("B", "D", "H"))

    def inputs(self, params):
        return cell_inputs(params, gates=3, sequence=False)

    def expected(self, inputs, params):
        return _gru_reference(inputs)

    caller = "positional"

    def caller_options(self, params):
        return {"names": GRU_ARGS}

    def unpack(self, raw, params):
        got = kit.unpack_tuple(raw, ("h_t", "cache"), "gru_step_forward")
        return got if isinstance(got, str) else {"h_t": got["h_t"]}

    def variants(self, params):
        zero_bias = lambda name: (lambda i: _gru_reference({**i, name: 0 * i[name]}))  # noqa
        return [
            Variant("update flipped", lambda i: gru_equations(i, update="flipped"),
                    "the update gate is used the other way round: z near 1 keeps the old "
                    "state, h_t = (1 - z) * n + z * h_prev"),
            Variant("reset before the product", lambda i: gru_equations(i, reset="before product"),
                    "you apply the reset gate before the product, W_hn (r * h_prev) (Cho et al.); "
                    "this course follows PyTorch: r * (h_prev W_hn^T + b_hn)"),
            Variant("reset without b_hn", lambda i: gru_equations(i, reset="bias outside"),
                    "b_hn must be inside the reset: r * (h_prev W_hn^T + b_hn), not "
                    "r * (h_prev W_hn^T) + b_hn"),
            Variant("no reset", lambda i: gru_equations(i, reset="none"),
                    "the reset gate is not used: n = tanh(x W_in^T + b_in + r * (h_prev W_hn^T "
                    "+ b_hn))"),
            *kit.order_variants(GRU_GATES, _gru_reference),
            Variant("no bias_ih", zero_bias("bias_ih"),
                    "h_t equals the reference computed without bias_ih: add bias_ih"),
            Variant("no bias_hh", zero_bias("bias_hh"),
                    "h_t equals the reference computed without bias_hh: add bias_hh"),
        ]

    def isolations(self, params):
        return [
            Isolation("x_t W_ih^T", kit.zero("h_prev", "bias_ih", "bias_hh"),
                      "check the input projection x_t @ weight_ih.T"),
            Isolation("h_prev W_hh^T", kit.zero("x_t", "bias_ih", "bias_hh"),
                      "check the recurrent projection h_prev @ weight_hh.T"),
            Isolation("the biases", kit.zero("x_t", "h_prev"),
                      "check how bias_ih and bias_hh are added"),
            *[Isolation(f"gate {gate} alone", kit.only_block(k, GRU_GATES),
                        f"with only the weights and biases of gate {gate} non-zero your output "
                        f"is wrong: check the rows of block {gate} and how {gate} is used",
                        group="gate blocks")
              for k, gate in enumerate(GRU_GATES)],
        ]


class GRUStepBackward(FunctionSpec):
    title = "gru_step_backward"
    forbidden = FORBIDDEN
    defaults = DEFAULTS
    outputs = (
        OutputSpec("dx_t", kit.axes(BATCH, INPUT)),
        OutputSpec("dh_prev", kit.axes(BATCH, UNIT)),
        OutputSpec("dweight_ih", _weight_axes(GRU_GATES, INPUT)),
        OutputSpec("dweight_hh", _weight_axes(GRU_GATES, HIDDEN_IN)),
        OutputSpec("dbias_ih", _gate_axes(GRU_GATES)),
        OutputSpec("dbias_hh", _gate_axes(GRU_GATES)),
    )

    def describe(self, params):
        return describe_case(params, ("B", "D", "H"))

    def inputs(self, params):
        return cell_inputs(params, gates=3, sequence=False, upstream=True)

    def expected(self, inputs, params):
        _, cache = reference_gru.gru_step_forward(*(inputs[n] for n in GRU_ARGS))
        return dict(zip(GRU_GRADIENTS, reference_gru.gru_step_backward(inputs["dh_t"], cache)))

    caller = "forward_then_backward"

    def caller_options(self, params):
        return {"forward_names": GRU_ARGS, "returns": ("h_t", "cache"),
                "backward_names": ("dh_t", "cache")}

    def unpack(self, raw, params):
        got = kit.unpack_tuple(raw["gradients"], GRU_GRADIENTS, "gru_step_backward")
        if not isinstance(got, str):
            got["_forward"] = raw["forward"]
        return got

    def notes(self, got, inputs, params):
        return kit.forward_note(got.get("_forward"), _gru_reference(inputs)["h_t"],
                             "gru_step_forward", "h_t")

    forward_name = "gru_step_forward"
    cache_aliases = {"h_n": "hn", "r_t": "r", "z_t": "z", "n_t": "n", "from_x": "x projection",
                     "from_h": "h projection"}

    def reference_quantities(self, inputs, params):
        return gru_quantities(inputs)

    def forward_is_wrong(self, got, inputs, params):
        return kit.forward_wrong(got.get("_forward"), _gru_reference(inputs)["h_t"], "h_t")

    def variants(self, params):
        return [
            Variant("reset missing in the hn path", lambda i: gru_backward_equations(
                i, reset_in_hn_path=False),
                "the gradient of W_hn h + b_hn is da_n * r: the reset gate scales that path",
                outputs=("dweight_hh", "dbias_hh")),
            Variant("no direct path", lambda i: gru_backward_equations(i, direct_path=False),
                    "dh_prev misses the direct path dh_t * z (from h_t = ... + z * h_prev)",
                    outputs=("dh_prev",)),
        ]

