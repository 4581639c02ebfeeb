"""Inputs for checking a recurrent cell: fixed formulas or seeded random numbers.

Every case of a recurrent-cell check is described by a few numbers (``T, B, D, H``, ``seed``,
``dtype``, ``fixed``) and :func:`cell_inputs` turns them into arrays, the same on every machine:

- ``fixed=True``: smooth fixed patterns, ``scale * sin(0.7 k + phase)`` over the entries k of each
  array, easy to reproduce by hand;
- otherwise ``numpy.random.default_rng(seed)`` normal draws times a scale that keeps tanh and
  the sigmoids away from saturation (where mistakes would be hidden).

The default sizes are all different (T=4, B=3, D=5, H=6; 3H=18, 4H=24) so that a wrong shape
can be named: "(3,) = (B,)" instead of "(3,)".
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCALES = {"x": 1.0, "h": 0.6, "c": 0.8, "weight": 0.4, "bias": 0.3, "grad": 1.0}


def _pattern(shape: tuple[int, ...], phase: float, scale: float) -> np.ndarray:
    count = int(np.prod(shape)) if shape else 1
    return scale * np.sin(0.7 * np.arange(count) + phase).reshape(shape)


def cell_inputs(params: dict[str, Any], *, gates: int, sequence: bool, cell_state: bool = False,
                upstream: bool = False) -> dict[str, Any]:
    """The arguments of a cell (step or sequence), and optionally its upstream gradients.

    Step: ``x_t (B, D), h_prev (B, H)[, c_prev (B, H)]``; sequence: ``x (T, B, D), h0 (B, H)
    [, c0 (B, H)]``; then ``weight_ih (G*H, D), weight_hh (G*H, H), bias_ih, bias_hh (G*H,)``.
    With ``upstream``: ``dh_t[, dc_t]`` (step) or ``dout (T, B, H), dh_n[, dc_n]`` (sequence).
    """
    T, B, D, H = params.get("T", 1), params["B"], params["D"], params["H"]
    dtype = np.dtype(params.get("dtype", "float64"))
    G = gates
    x_name, h_name, c_name = ("x", "h0", "c0") if sequence else ("x_t", "h_prev", "c_prev")
    shapes = {x_name: ((T, B, D) if sequence else (B, D), "x"), h_name: ((B, H), "h")}
    if cell_state:
        shapes[c_name] = ((B, H), "c")
    shapes.update({"weight_ih": ((G * H, D), "weight"), "weight_hh": ((G * H, H), "weight"),
                   "bias_ih": ((G * H,), "bias"), "bias_hh": ((G * H,), "bias")})
    if upstream:
        if sequence:
            shapes["dout"] = ((T, B, H), "grad")
            shapes["dh_n"] = ((B, H), "grad")
            if cell_state:
                shapes["dc_n"] = ((B, H), "grad")
        else:
            shapes["dh_t"] = ((B, H), "grad")
            if cell_state:
                shapes["dc_t"] = ((B, H), "grad")
    rng = np.random.default_rng(params.get("seed", 0))
    arrays = {}
    for number, (name, (shape, kind)) in enumerate(shapes.items()):
        if params.get("fixed"):
            values = _pattern(shape, phase=1.3 * number, scale=SCALES[kind])
        else:
            values = SCALES[kind] * rng.standard_normal(shape)
        arrays[name] = values.astype(dtype)
    return arrays


def describe_case(params: dict[str, Any], names: tuple[str, ...] = ("T", "B", "D", "H")) -> str:
    """'T=4, B=3, D=5, H=6, float64, seed 0' (no seed for fixed inputs)."""
    sizes = ", ".join(f"{n}={params[n]}" for n in names if n in params)
    seed = "" if params.get("fixed") else f", seed {params.get('seed', 0)}"
    return f"{sizes}, {params.get('dtype', 'float64')}{seed}"
