"""course_pkg.grading.reference_cache: a student's cache layout refilled with reference values."""

import numpy as np
import pytest

from course_pkg.grading import reference_cache as rc

RNG = np.random.default_rng(5)
X = RNG.normal(size=(3, 4))
W = RNG.normal(size=(6, 4))
A = X @ W.T  # (3, 6)
H = np.tanh(A)


def quantities():
    return {"x_t": X, "weight_ih": W, "h_t": H, "a_t": A}


def test_a_leaf_equal_to_the_students_own_output_gets_the_reference_value():
    wrong_h = np.tanh(A + 0.3)
    keys = rc.keys_from({"h_t": wrong_h}, quantities())
    filled = rc.fill_cache((X, wrong_h, W), rc.candidates_from(quantities()), keys)
    assert filled.replaced == ["cache[1] (h_t)"]
    np.testing.assert_array_equal(filled.cache[1], H)
    assert filled.cache[0] is X and filled.cache[2] is W  # right leaves are left alone


def test_derived_outputs_and_time_steps_are_keys_too():
    wrong_out = np.stack([np.tanh(A + 0.1 * t) for t in range(3)])  # (T=3, 3, 6)
    out = np.stack([H] * 3)
    keys = rc.keys_from({"out": wrong_out}, {"out": out})
    cache = [{"one_minus": 1 - wrong_out[t] ** 2, "h": wrong_out[t]} for t in range(3)]
    filled = rc.fill_cache(cache, rc.candidates_from({"out": out}), keys)
    assert not filled.unknown
    for t in range(3):
        np.testing.assert_allclose(filled.cache[t]["h"], H)
        np.testing.assert_allclose(filled.cache[t]["one_minus"], 1 - H ** 2)


def test_a_wrong_leaf_is_matched_with_the_quantity_whose_pattern_it_shares():
    gates = {"r": 1 / (1 + np.exp(-A)), "z": 1 / (1 + np.exp(-RNG.normal(size=(3, 6))))}
    wrong_r = 1 / (1 + np.exp(-(A + RNG.normal(scale=0.3, size=A.shape))))
    filled = rc.fill_cache({"gate": wrong_r}, rc.candidates_from(gates))
    assert filled.replaced == ["cache['gate'] (r)"]


def test_a_leaf_near_nothing_is_kept_and_listed():
    noise = RNG.normal(size=(3, 6))
    filled = rc.fill_cache((noise,), rc.candidates_from(quantities()))
    assert filled.unknown == ["cache[0]"] and not filled.changed
    assert filled.cache[0] is noise


def test_non_arrays_stay_and_dtypes_are_kept():
    wrong_h = np.tanh(A - 0.2).astype(np.float32)
    keys = rc.keys_from({"h_t": wrong_h}, quantities())
    filled = rc.fill_cache(("tanh", 3, None, wrong_h), rc.candidates_from(quantities()), keys)
    assert filled.cache[:3] == ("tanh", 3, None)
    assert filled.cache[3].dtype == np.float32
    np.testing.assert_allclose(filled.cache[3], H, rtol=1e-6)


def test_a_value_met_twice_gets_one_name_and_transposes_are_candidates():
    candidates = rc.candidates_from({"x_t": X, "cache": (X, W)})
    assert "cache[0]" not in candidates and "x_t" in candidates
    np.testing.assert_array_equal(candidates["cache[1].T"], W.T)


def test_candidates_must_be_a_dict():
    with pytest.raises(TypeError, match="candidates: expected a dict of arrays, got list"):
        rc.fill_cache((X,), [X])


def test_slot_names_are_read_from_the_forwards_code():
    import ast

    source = ("def step(x_t, h_prev):\n"
              "    h_t = x_t + h_prev\n"
              "    cache = (x_t, (h_prev, h_t), 2 * h_t)\n"
              "    return h_t, cache\n")
    function = ast.parse(source).body[0]
    assert rc.slot_names(function, ("h_t", "cache")) == ("x_t", ("h_prev", "h_t"), None)
    inline = ast.parse("def f(x):\n    return x, [x, x]\n").body[0]
    assert rc.slot_names(inline, ("y", "cache")) == ("x", "x")
    opaque = ast.parse("def f(x):\n    return x, make(x)\n").body[0]
    assert rc.slot_names(opaque, ("y", "cache")) is None
    with pytest.raises(ValueError, match=r"returns: expected names with 'cache' among them"):
        rc.slot_names(function, ("h_t",))


def test_a_named_slot_gets_its_quantity_even_when_its_value_looks_like_another():
    swapped = (np.tanh(A), 1 / (1 + np.exp(-A)))  # the student's g holds what o should
    truth = {"g": np.tanh(A + 1.0), "o": 1 / (1 + np.exp(-(A - 1.0)))}
    filled = rc.fill_cache(swapped, rc.candidates_from(truth), names=("g", "o_t"),
                           aliases={"o_t": "o"})
    assert filled.replaced == ["cache[0] (g)", "cache[1] (o_t)"]
    np.testing.assert_array_equal(filled.cache[0], truth["g"])
    np.testing.assert_array_equal(filled.cache[1], truth["o"])
