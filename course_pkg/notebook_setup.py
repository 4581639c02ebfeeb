"""One set-up call at the top of every chapter: threads, seeds and the figure style.

A chapter must run as fast in a reader's plain ``jupyter lab`` as in ``make book`` (which exports
``OMP_NUM_THREADS=1`` and ``OMP_WAIT_POLICY=PASSIVE``). On a busy 2-core machine a chapter that
left torch at its default number of threads ran 9x slower (chapter 8's training: 436 s against
49 s): the chapters' models are tiny, and two OpenMP threads on two shared cores mostly wait for
each other. ``setup_notebook()`` therefore

- asks for one thread from OpenMP, OpenBLAS and MKL through their environment variables, and
  for passive waiting (idle OpenMP threads sleep instead of spinning), *if* the libraries that
  read them have not been loaded yet: these variables are read once, when a library loads;
- pins torch to one thread (``torch.set_num_threads(1)``), which works at any time;
- seeds Python's ``random``, numpy's global generator and torch;
- applies the book's matplotlib style (`BOOK_STYLE`), so figures look the same whatever the
  reader's own ``matplotlibrc``.

It returns a `NotebookSetup` that says what it could and could not do.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, field

__all__ = ["BOOK_STYLE", "NotebookSetup", "THREAD_VARIABLES", "setup_notebook"]

#: Environment variables read once by the thread pools (OpenMP, OpenBLAS, MKL) when they load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: The book's matplotlib style: matplotlib's defaults, plus these settings.
BOOK_STYLE = {
    "figure.dpi": 100,              # the same size on screen in Lab as in the HTML book
    "savefig.dpi": "figure",
    "axes.grid": False,
    "font.size": 10,
    "image.cmap": "viridis",
}


@dataclass
class NotebookSetup:
    """What `setup_notebook` did.

    ``environment``: the variables it set (name -> value); those already set are left alone.
    ``too_late``: libraries already loaded, so changing their variables had no effect.
    """

    seed: int
    torch_threads: int | None
    environment: dict[str, str] = field(default_factory=dict)
    too_late: list[str] = field(default_factory=list)


def _require_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed: expected an int in [0, 2**32), got {seed!r}")
    return seed


def setup_notebook(seed: int = 0, torch: bool = True, style: bool = True) -> NotebookSetup:
    """Make a chapter's speed and results independent of how it was launched.

    Parameters
    ----------
    seed: seeds ``random``, numpy's global generator and (if ``torch``) torch; an int in
        ``[0, 2**32)``.
    torch: import torch and pin it to one thread (``False`` for a chapter that never uses torch).
    style: apply `BOOK_STYLE` to matplotlib.
    """
    seed = _require_seed(seed)
    for name, value in (("torch", torch), ("style", style)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: expected True or False, got {value!r}")

    report = NotebookSetup(seed=seed, torch_threads=None)
    # Read once when the libraries load: effective only before torch/numpy are imported.
    loaded = [name for name in ("torch", "numpy") if name in sys.modules]
    report.too_late = loaded
    wanted = {name: "1" for name in THREAD_VARIABLES}
    wanted["OMP_WAIT_POLICY"] = "PASSIVE"
    for name, value in wanted.items():
        if name not in os.environ:
            os.environ[name] = value
            report.environment[name] = value

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if torch:
        import torch as torch_module

        torch_module.set_num_threads(1)
        torch_module.manual_seed(seed)
        report.torch_threads = torch_module.get_num_threads()
    if style:
        import matplotlib
        import matplotlib.style

        matplotlib.style.use("default")  # leaves the backend alone
        matplotlib.rcParams.update(BOOK_STYLE)
    return report
