"""course_pkg.grading.shape_errors: failed matrix products said in the assignment's terms."""

import numpy as np
import pytest
import torch

from course_pkg.grading.shape_errors import explain

SIZES = {"B": 3, "D": 5, "H": 4}
INPUTS = {"x": np.zeros((3, 5)), "W": np.zeros((4, 5)), "b": np.zeros(4)}


def error_of(call) -> str:
    try:
        call()
    except (RuntimeError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
    raise AssertionError("expected the product to fail")


def test_torch_weight_used_as_it_is():
    text = error_of(lambda: torch.zeros(3, 5) @ torch.zeros(4, 5))
    assert explain(text, INPUTS, SIZES) == (
        "your W has shape (H, D) = (4, 5) and is used as it is on the right of a matrix with D "
        "columns: the product needs W.T, shape (D, H)")


def test_numpy_weight_used_as_it_is():
    text = error_of(lambda: np.zeros((3, 5)) @ np.zeros((4, 5)))
    assert explain(text, INPUTS, SIZES).startswith("your W has shape (H, D) = (4, 5)")


def test_a_transpose_too_many():
    inputs = {"x": np.zeros((3, 5)), "W": np.zeros((5, 4))}  # W stored (D, H): use it as it is
    text = error_of(lambda: torch.zeros(3, 5) @ torch.zeros(5, 4).T)
    assert explain(text, inputs, SIZES) == (
        "your code uses W.T, shape (H, D), on the right of a matrix with D columns: the product "
        "needs W as it is, shape (D, H) = (5, 4)")


def test_other_errors_and_unmatched_shapes_say_nothing():
    assert explain("ValueError: something else", INPUTS, SIZES) is None
    text = error_of(lambda: torch.zeros(3, 7) @ torch.zeros(2, 2))
    assert explain(text, INPUTS, SIZES) is None


def test_the_error_must_be_text():
    with pytest.raises(TypeError, match=r"error: expected the exception's text \(str\), got int"):
        explain(3, INPUTS, SIZES)
