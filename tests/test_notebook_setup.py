"""course_pkg.setup_notebook: one torch thread, thread variables set before torch loads, seeds,
the book's matplotlib style, and clear errors on bad arguments."""

import json
import os
import subprocess
import sys

import pytest

from course_pkg import setup_notebook
from course_pkg.notebook_setup import BOOK_STYLE, THREAD_VARIABLES


def run_fresh(code: str, env_drop=(), env_set=None) -> dict:
    """Run ``code`` in a fresh interpreter (nothing imported yet); it prints one JSON line."""
    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    env.update(env_set or {})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_before_torch_loads_sets_the_thread_variables_and_one_thread():
    code = (
        "import json, os, sys\n"
        "import course_pkg\n"
        "loaded_early = 'torch' in sys.modules or 'numpy' in sys.modules\n"
        "report = course_pkg.setup_notebook(seed=3)\n"
        "import torch\n"
        "print(json.dumps({'early': loaded_early, 'threads': torch.get_num_threads(),\n"
        "  'env': {k: os.environ.get(k) for k in %r}, 'set': report.environment,\n"
        "  'too_late': report.too_late}))\n" % (THREAD_VARIABLES + ("OMP_WAIT_POLICY",),)
    )
    result = run_fresh(code, env_drop=THREAD_VARIABLES + ("OMP_WAIT_POLICY",))
    assert result["early"] is False, "import course_pkg must not import torch or numpy"
    assert result["threads"] == 1
    assert result["env"] == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                             "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    assert result["set"] == result["env"]
    assert result["too_late"] == []


def test_keeps_variables_the_user_set_and_reports_libraries_loaded_too_early():
    code = (
        "import json, os, torch\n"
        "torch.set_num_threads(2)\n"
        "from course_pkg import setup_notebook\n"
        "report = setup_notebook()\n"
        "print(json.dumps({'threads': torch.get_num_threads(), 'set': report.environment,\n"
        "  'omp': os.environ['OMP_NUM_THREADS'], 'too_late': report.too_late}))\n"
    )
    env_drop = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")
    result = run_fresh(code, env_drop=env_drop, env_set={"OMP_NUM_THREADS": "2"})
    assert result["threads"] == 1, "torch is pinned even when it was imported first"
    assert "OMP_NUM_THREADS" not in result["set"], "a variable the user set is left alone"
    assert result["omp"] == "2"
    assert "torch" in result["too_late"] and "numpy" in result["too_late"]


def test_seeds_make_random_draws_repeat():
    import random

    import numpy as np
    import torch

    setup_notebook(seed=5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    setup_notebook(seed=5)
    second = (random.random(), np.random.rand(), torch.rand(1).item())
    setup_notebook(seed=6)
    third = (random.random(), np.random.rand(), torch.rand(1).item())
    assert first == second
    assert all(a != b for a, b in zip(first, third))


def test_matplotlib_style_is_the_books():
    import matplotlib

    matplotlib.rcParams["font.size"] = 23
    matplotlib.rcParams["lines.linewidth"] = 7
    setup_notebook(torch=False)
    for key, value in BOOK_STYLE.items():
        assert matplotlib.rcParams[key] == value, key
    assert matplotlib.rcParams["lines.linewidth"] == matplotlib.rcParamsDefault["lines.linewidth"]


def test_style_false_leaves_matplotlib_alone():
    import matplotlib

    matplotlib.rcParams["font.size"] = 23
    try:
        setup_notebook(torch=False, style=False)
        assert matplotlib.rcParams["font.size"] == 23
    finally:
        matplotlib.rcParams["font.size"] = BOOK_STYLE["font.size"]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True, None])
def test_bad_seed_names_the_argument(seed):
    with pytest.raises(ValueError, match=r"seed: expected an int in \[0, 2\*\*32\), got"):
        setup_notebook(seed=seed)


@pytest.mark.parametrize("name", ["torch", "style"])
def test_bad_flags_name_the_argument(name):
    with pytest.raises(TypeError, match=rf"{name}: expected True or False, got 'yes'"):
        setup_notebook(**{name: "yes"})
