"""The data protocol between the jail and the judge: values survive, nothing else gets through."""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np
import pytest
import torch

from course_pkg.grading import wire
from course_pkg.grading.sandbox import Opaque, Outcome, TensorValue


def roundtrip(value, **options):
    # through JSON text, as on the pipe
    return wire.decode(json.loads(json.dumps(wire.encode(value), allow_nan=False)), **options)


@pytest.mark.parametrize("array", [
    np.arange(12.0).reshape(3, 4), np.float32(2.5) * np.ones((2, 1), np.float32),
    np.array(3.25), np.arange(6, dtype=np.int64), np.array([True, False]),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.arange(10.0)[::3],
])
def test_arrays_keep_values_dtype_and_shape(array):
    back = roundtrip(array)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)


def test_containers_numbers_and_special_floats():
    value = {"a": (1, 2.5, None, True), 3: [float("nan"), float("inf"), -math.inf],
             "c": complex(1, -2), "s": "text"}
    back = roundtrip(value)
    assert isinstance(back["a"], tuple) and back["a"] == (1, 2.5, None, True)
    assert math.isnan(back[3][0]) and back[3][1:] == [math.inf, -math.inf]
    assert back["c"] == complex(1, -2) and back["s"] == "text"


def test_tensors_come_back_as_records_or_live_with_their_gradient():
    leaf = torch.arange(4.0, dtype=torch.float64, requires_grad=True)
    leaf.grad = torch.full((4,), 0.5, dtype=torch.float64)
    record = roundtrip(leaf)
    assert isinstance(record, TensorValue) and record.dtype == "torch.float64"
    assert record.requires_grad and np.array_equal(record.array, np.arange(4.0))
    live = roundtrip(leaf, live_tensors=True)
    assert isinstance(live, torch.Tensor) and live.dtype == torch.float64
    assert torch.equal(live.detach(), leaf.detach()) and torch.equal(live.grad, leaf.grad)
    zero_d = roundtrip(torch.tensor(4.5))
    assert zero_d.array.shape == ()


def test_unknown_objects_become_opaque_records():
    class Cache:
        def __repr__(self):
            return "Cache(secret)"

    back = roundtrip([Cache(), np.array(["a", "b"])])
    assert back[0] == Opaque("Cache", "Cache(secret)")
    assert isinstance(back[1], Opaque) and back[1].type_name.startswith("ndarray of")


def test_outcomes_keep_every_field():
    outcome = Outcome(value=(np.ones(2), 3), kind="exception", error="ValueError: x",
                      where="line 3: y = f(x)", delegation=["torch.nn.LSTM"], printed="hi",
                      printed_chars=2, warnings=["UserWarning: w"], seconds=0.25)
    back = roundtrip(outcome)
    assert back.kind == "exception" and back.error == outcome.error and back.where == outcome.where
    assert back.delegation == ["torch.nn.LSTM"] and back.warnings == outcome.warnings
    assert np.array_equal(back.value[0], np.ones(2)) and back.value[1] == 3


def test_object_arrays_and_pickles_are_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    import base64
    forged = {"~": "ndarray", "npy": base64.b64encode(buffer.getvalue()).decode()}
    with pytest.raises(ValueError):  # numpy refuses to unpickle the object array
        wire.decode(forged)
    with pytest.raises(wire.WireError, match="unknown tag"):
        wire.decode({"~": "pickle", "data": "gARLAS4="})


def test_frames_carry_one_json_object_each():
    message = {"op": "cell", "printed": "é", "n": 3}
    frame = wire.frame(message)
    assert wire.length(frame[:4]) == len(frame) - 4
    assert wire.parse(frame[4:]) == message
    with pytest.raises(wire.WireError, match="not a JSON object"):
        wire.parse(b"[1, 2]")
    with pytest.raises(wire.WireError, match="not JSON"):
        wire.parse(b"\xff{")
    with pytest.raises(wire.WireError, match="bytes"):
        wire.length(struct.pack(">I", wire.MAX_MESSAGE + 1))
