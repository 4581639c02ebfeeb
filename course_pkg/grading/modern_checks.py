"""Checks of assignment 6 (``modern_cells``): a ConvLSTM step, the Mogrifier rounds, the SRU
recurrence.

The student writes, in PyTorch::

    conv_lstm_step(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> (h_t, c_t)
        x (B, C, S, S); h_prev, c_prev (B, F, S, S); weight_ih (4F, C, k, k);
        weight_hh (4F, F, k, k); biases (4F,); gate blocks i, f, g, o; 'same' padding
    mogrify(x, h, weight_q, weight_r) -> (x_up, h_up)
        x (B, D), h (B, H); weight_q (ceil(r/2), D, H), weight_r (floor(r/2), H, D)
    sru_recurrence(projections, x_highway, v_f, v_r, b_f, b_r, c0, alpha) -> (h, c)
        projections (T, B, 3H) = [x~, W_f x, W_r x]; x_highway (T, B, H); v_*, b_* (H,);
        c0 (B, H); alpha a float; h and c (T, B, H)

The equations::

    ConvLSTM (Shi et al. 2015, eq. 3 without peepholes; * a 2-D cross-correlation, as conv2d):
        [a_i; a_f; a_g; a_o] = W_ih * X_t + b_ih + W_hh * H_{t-1} + b_hh
        C_t = sigmoid(a_f) C_{t-1} + sigmoid(a_i) tanh(a_g),  H_t = sigmoid(a_o) tanh(C_t)
    Mogrifier (Melis et al. 2020, eq. 1-2), for rounds i = 1..r:
        i odd:  x <- 2 sigmoid(h Q_i^T) x          i even:  h <- 2 sigmoid(x R_i^T) h
    SRU (Lei et al. 2018, eq. 3-7):
        f_t = sigmoid(W_f x_t + v_f c_{t-1} + b_f),  c_t = f_t c_{t-1} + (1 - f_t) x~_t
        r_t = sigmoid(W_r x_t + v_r c_{t-1} + b_r),  h_t = r_t c_t + (1 - r_t) alpha x^_t

The expected values are computed here in float64 numpy from these equations (the package's
``course_pkg.nn.convlstm``, ``mogrifier`` and ``sru`` are tested against torch and against loops
of the same equations elsewhere). Calling ``course_pkg`` or torch's recurrent modules scores 0
for the part.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course_pkg.grading import integrity, kit
from course_pkg.grading.compare import BATCH, TIME, UNIT, Axis
from course_pkg.grading.part import OutputSpec
from course_pkg.grading.probes import Isolation, Variant

FORBIDDEN = integrity.Forbidden(
    modules=("course_pkg.nn", "course_pkg.models", "course_pkg.numpy_rnn"),
    torch_recurrent=True,
)
# Loaded before a part is graded, so that the tripwires of every grading child cover them.
REFERENCE_MODULES = ("course_pkg.nn.convlstm", "course_pkg.nn.mogrifier", "course_pkg.nn.sru")
CHANNEL, ROW, COLUMN = Axis("channel"), Axis("pixel row"), Axis("pixel column")
FEATURE = Axis("feature")


class _ModernSpec(kit.TorchFunctionSpec):
    forbidden = FORBIDDEN
    references = REFERENCE_MODULES
    dtype_weight = 1.0  # float32 in, float32 out


# ------------------------------------------------------------------------------------------
# conv_lstm_step
# ------------------------------------------------------------------------------------------

CONV_ARGS = ("x", "h_prev", "c_prev", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def cross_correlate(images: np.ndarray, kernels: np.ndarray, flip: bool = False) -> np.ndarray:
    """'same' 2-D cross-correlation: images (B, C, S, S), kernels (O, C, k, k) -> (B, O, S, S).

    out[b, o, y, x] = sum_{c,u,v} kernels[o, c, u, v] * padded[b, c, y + u, x + v], with
    k // 2 zeros padded on every side; ``flip`` turns it into a true convolution (the mistake).
    """
    if flip:
        kernels = kernels[:, :, ::-1, ::-1]
    pad = kernels.shape[-1] // 2
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, kernels.shape[-2:], axis=(2, 3))  # (B, C, S, S, k, k)
    return np.einsum("bcyxuv,ocuv->boyx", windows, kernels)


def conv_lstm_equations(i: dict[str, Any], *, flip: bool = False, candidate: str = "tanh",
                        squash_c: bool = True, forget_on: str = "c_prev") -> dict[str, np.ndarray]:
    """The ConvLSTM step, with switches for the mistakes the variants name."""
    bias = lambda name: i[name][None, :, None, None]  # noqa: E731  (4F,) -> (1, 4F, 1, 1)
    pre = (cross_correlate(i["x"], i["weight_ih"], flip) + bias("bias_ih")
           + cross_correlate(i["h_prev"], i["weight_hh"], flip) + bias("bias_hh"))  # (B, 4F, S, S)
    a_i, a_f, a_g, a_o = np.split(pre, 4, axis=1)
    g = np.tanh(a_g) if candidate == "tanh" else kit.sigmoid(a_g)
    c = kit.sigmoid(a_f) * i[forget_on] + kit.sigmoid(a_i) * g
    h = kit.sigmoid(a_o) * (np.tanh(c) if squash_c else c)
    return {"h_t": h, "c_t": c}


class ConvLSTMStep(_ModernSpec):
    title = "conv_lstm_step"
    defaults = {"B": 2, "C": 2, "F": 3, "S": 5, "k": 3, "seed": 0, "dtype": "float64"}
    arguments = CONV_ARGS
    outputs = (OutputSpec("h_t", kit.axes(BATCH, CHANNEL, ROW, COLUMN), weight=2.0),
               OutputSpec("c_t", kit.axes(BATCH, CHANNEL, ROW, COLUMN), weight=2.0))
    combine_hint = "C_t = f * C_prev + i * g and H_t = o * tanh(C_t), gates split i, f, g, o"

    def sizes(self, params):
        return {k: params[k] for k in ("B", "C", "F", "S")}

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, C, F, S, k = (params[n] for n in ("B", "C", "F", "S", "k"))
        normal = lambda scale, *shape: (scale * rng.standard_normal(shape)  # noqa: E731
                                        ).astype(params["dtype"])
        return {"x": normal(1.0, B, C, S, S), "h_prev": normal(0.8, B, F, S, S),
                "c_prev": normal(1.0, B, F, S, S),
                "weight_ih": normal(0.4, 4 * F, C, k, k), "weight_hh": normal(0.4, 4 * F, F, k, k),
                "bias_ih": normal(0.5, 4 * F), "bias_hh": normal(0.5, 4 * F)}

    def expected(self, inputs, params):
        return conv_lstm_equations(inputs)

    def unpack(self, raw, params):
        return kit.unpack_tuple(raw, ("h_t", "c_t"), "conv_lstm_step")

    def variants(self, params):
        zero_bias = lambda name: (lambda i: conv_lstm_equations({**i, name: 0 * i[name]}))  # noqa
        variants = [
            Variant("flipped kernels", lambda i: conv_lstm_equations(i, flip=True),
                    "your kernels are flipped (a true convolution): the layers compute a "
                    "cross-correlation, out[y, x] = sum_uv W[u, v] * in[y + u - k//2, "
                    "x + v - k//2], which is what F.conv2d does"),
            Variant("no bias_ih", zero_bias("bias_ih"),
                    "H_t and C_t equal the step computed without bias_ih: add it"),
            Variant("no bias_hh", zero_bias("bias_hh"),
                    "H_t and C_t equal the step computed without bias_hh: add it"),
            Variant("sigmoid candidate", lambda i: conv_lstm_equations(i, candidate="sigmoid"),
                    "the candidate g uses the sigmoid: it is tanh(a_g), in [-1, 1]"),
            Variant("h without tanh", lambda i: conv_lstm_equations(i, squash_c=False),
                    "H_t = o * C_t: squash the cell first, H_t = o * tanh(C_t)",
                    outputs=("h_t",)),
            Variant("f * h_prev", lambda i: conv_lstm_equations(i, forget_on="h_prev"),
                    "C_t uses f * H_prev: the forget gate scales the previous CELL state, "
                    "C_t = f * C_prev + i * g"),
        ]
        return [*variants, *kit.order_variants(kit.LSTM_GATES, conv_lstm_equations)]

    def isolations(self, params):
        gate_alone = [
            Isolation(f"gate {gate} alone", kit.only_block(k, kit.LSTM_GATES),
                      f"with only the kernels and biases of gate {gate} non-zero your output is "
                      f"wrong: check output channels {k}F:{k + 1}F (gate {gate}) and its "
                      "nonlinearity", group="gate blocks")
            for k, gate in enumerate(kit.LSTM_GATES)
        ]
        return [
            Isolation("W_ih * X", kit.zero("h_prev", "c_prev", "bias_ih", "bias_hh"),
                      "check the convolution of the input x with weight_ih ('same' padding)"),
            Isolation("W_hh * H_prev", kit.zero("x", "c_prev", "bias_ih", "bias_hh"),
                      "check the convolution of h_prev with weight_hh ('same' padding)"),
            Isolation("the biases", kit.zero("x", "h_prev", "c_prev"),
                      "check how bias_ih and bias_hh are added (one value per output channel)"),
            *gate_alone,
            Isolation("the forget gate's contribution f * C_prev", kit.zero("c_prev"),
                      "check how you use f * C_prev", kind="without"),
        ]


# ------------------------------------------------------------------------------------------
# mogrify
# ------------------------------------------------------------------------------------------


def mogrifier_rounds(i: dict[str, Any], *, factor: float = 2.0, chained: bool = True
                     ) -> dict[str, np.ndarray]:
    """The rounds, with switches: ``factor`` 1 drops the 2; ``chained`` False gates each round
    with the *initial* value of the other variable."""
    x, h = i["x"], i["h"]
    x0, h0 = x, h
    rounds = len(i["weight_q"]) + len(i["weight_r"])
    for k in range(rounds):
        if k % 2 == 0:   # rounds 1, 3, 5, ...: h rescales x
            x = factor * kit.sigmoid((h if chained else h0) @ i["weight_q"][k // 2].T) * x  # (B, D)
        else:            # rounds 2, 4, ...: x rescales h
            h = factor * kit.sigmoid((x if chained else x0) @ i["weight_r"][k // 2].T) * h  # (B, H)
    return {"x_up": x, "h_up": h}


class Mogrify(_ModernSpec):
    title = "mogrify"
    defaults = {"B": 3, "D": 4, "H": 5, "rounds": 5, "scale": 1.0, "seed": 0, "dtype": "float64"}
    arguments = ("x", "h", "weight_q", "weight_r")
    outputs = (OutputSpec("x_up", kit.axes(BATCH, FEATURE)), OutputSpec("h_up", kit.axes(BATCH, UNIT)))
    combine_hint = "round 1 updates x with Q_1 and h, round 2 updates h with R_1 and the new x, ..."

    def sizes(self, params):
        return {k: params[k] for k in ("B", "D", "H")}

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        B, D, H, rounds = (params[n] for n in ("B", "D", "H", "rounds"))
        scale = params["scale"]
        normal = lambda s, *shape: (s * rng.standard_normal(shape)).astype(params["dtype"])  # noqa
        return {"x": normal(1.0, B, D), "h": normal(1.0, B, H),
                "weight_q": normal(scale, (rounds + 1) // 2, D, H),
                "weight_r": normal(scale, rounds // 2, H, D)}

    def expected(self, inputs, params):
        return mogrifier_rounds(inputs)

    def unpack(self, raw, params):
        return kit.unpack_tuple(raw, ("x_up", "h_up"), "mogrify")

    def variants(self, params):
        return [
            Variant("no factor 2", lambda i: mogrifier_rounds(i, factor=1.0),
                    "the gates miss their factor 2: x <- 2 sigmoid(h Q^T) * x, so that a gate "
                    "of sigmoid(0) = 0.5 leaves x unchanged"),
            Variant("not chained", lambda i: mogrifier_rounds(i, chained=False),
                    "every round is gated by the ORIGINAL x or h: each round must use the value "
                    "the previous round just produced"),
        ]


# ------------------------------------------------------------------------------------------
# sru_recurrence
# ------------------------------------------------------------------------------------------


def sru_equations(i: dict[str, Any], *, reset_on: str = "c_prev", keep_input: bool = True,
                  use_alpha: bool = True, highway_swapped: bool = False, use_v: bool = True
                  ) -> dict[str, np.ndarray]:
    """SRU eq. 3-7 step by step, with switches for the mistakes the variants name."""
    x_tilde, f_part, r_part = np.split(i["projections"], 3, axis=-1)  # each (T, B, H)
    alpha = float(i["alpha"]) if use_alpha else 1.0
    v_f, v_r = (i["v_f"], i["v_r"]) if use_v else (0 * i["v_f"], 0 * i["v_r"])
    c_prev = i["c0"]
    hs, cs = [], []
    for t in range(x_tilde.shape[0]):
        f = kit.sigmoid(f_part[t] + v_f * c_prev + i["b_f"])  # (B, H)
        c = f * c_prev + ((1 - f) if keep_input else 1.0) * x_tilde[t]
        r = kit.sigmoid(r_part[t] + v_r * (c_prev if reset_on == "c_prev" else c) + i["b_r"])
        if highway_swapped:
            r = 1 - r
        hs.append(r * c + (1 - r) * alpha * i["x_highway"][t])
        cs.append(c)
        c_prev = c
    return {"h": np.stack(hs), "c": np.stack(cs)}


class SRURecurrence(_ModernSpec):
    title = "sru_recurrence"
    defaults = {"T": 5, "B": 3, "H": 4, "alpha": 3 ** 0.5, "seed": 0, "dtype": "float64"}
    arguments = ("projections", "x_highway", "v_f", "v_r", "b_f", "b_r", "c0", "alpha")
    constants = ("alpha",)
    outputs = (OutputSpec("h", kit.axes(TIME, BATCH, UNIT), weight=2.0),
               OutputSpec("c", kit.axes(TIME, BATCH, UNIT), weight=2.0))
    combine_hint = ("f_t and r_t both read c_{t-1}; c_t = f_t c_{t-1} + (1 - f_t) x~_t; "
                    "h_t = r_t c_t + (1 - r_t) alpha x^_t")

    def sizes(self, params):
        return {k: params[k] for k in ("T", "B", "H")}

    def inputs(self, params):
        rng = np.random.default_rng(params["seed"])
        T, B, H = params["T"], params["B"], params["H"]
        normal = lambda s, *shape: (s * rng.standard_normal(shape)).astype(params["dtype"])  # noqa
        return {"projections": normal(1.0, T, B, 3 * H), "x_highway": normal(1.0, T, B, H),
                "v_f": normal(0.8, H), "v_r": normal(0.8, H), "b_f": normal(0.5, H),
                "b_r": normal(0.5, H), "c0": normal(1.0, B, H), "alpha": float(params["alpha"])}

    def expected(self, inputs, params):
        return sru_equations(inputs)

    def unpack(self, raw, params):
        return kit.unpack_tuple(raw, ("h", "c"), "sru_recurrence")

    def variants(self, params):
        return [
            Variant("r reads c_t", lambda i: sru_equations(i, reset_on="c_t"),
                    "the reset gate reads the new cell state c_t: like the forget gate it reads "
                    "c_{t-1}, r_t = sigmoid(W_r x_t + v_r * c_{t-1} + b_r)", outputs=("h",)),
            Variant("no (1 - f)", lambda i: sru_equations(i, keep_input=False),
                    "c_t adds x~_t unscaled: c_t = f_t c_{t-1} + (1 - f_t) x~_t"),
            Variant("no alpha", lambda i: sru_equations(i, use_alpha=False),
                    "the highway term misses its scale: (1 - r_t) * alpha * x^_t",
                    outputs=("h",)),
            Variant("highway swapped", lambda i: sru_equations(i, highway_swapped=True),
                    "r_t and 1 - r_t are swapped: h_t = r_t c_t + (1 - r_t) alpha x^_t",
                    outputs=("h",)),
            Variant("no v terms", lambda i: sru_equations(i, use_v=False),
                    "the gates ignore c_{t-1}: add v_f * c_{t-1} to the forget gate and "
                    "v_r * c_{t-1} to the reset gate"),
        ]

    def isolations(self, params):
        return [
            Isolation("v_f * c_{t-1}", kit.zero("v_f"),
                      "check the forget gate's term v_f * c_{t-1}", kind="without"),
            Isolation("v_r * c_{t-1}", kit.zero("v_r"),
                      "check the reset gate's term v_r * c_{t-1}", kind="without"),
        ]

