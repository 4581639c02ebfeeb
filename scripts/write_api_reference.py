"""Write book/api.md: one automodule block per module of course_pkg, grouped by sub-package.

Run it after adding a module (tests/test_api_reference.py fails until the page lists it):
    .venv/bin/python scripts/write_api_reference.py
"""

from __future__ import annotations

import pathlib
import pkgutil

import course_pkg

ROOT = pathlib.Path(__file__).resolve().parents[1]

# (title, one-line description, module-name prefix; None = the top-level modules)
GROUPS = [
    ("Recurrent cores in numpy", "Hand-written forward and backward passes, and the gradient checker.",
     "course_pkg.numpy_rnn."),
    ("PyTorch modules", "Recurrent modules, attention and newer cells, built from tensor operations.",
     "course_pkg.nn."),
    ("Models", "Networks the chapters train, composed from the modules above.", "course_pkg.models."),
    ("Data", "Every data set of the course is generated in code or ships with Python.", "course_pkg.data."),
    ("Training, sampling and other tools", "", None),
    ("Tasks", "Per task the chapters train on: its batches, loss, scores and tables.",
     "course_pkg.tasks."),
    ("Gradients", "Backpropagation through time checked, and the gradient studied (chapters 3, 4).",
     "course_pkg.gradients."),
    ("Layer cost", "Serial operations and measured time of recurrent and attention layers.",
     "course_pkg.layer_cost."),
    ("Widgets", "Each function returns an ipywidgets widget. In the static book its views are "
     "computed when it is built; in a live kernel its controls compute the view on demand "
     "(`course_pkg.widgets.live`).",
     "course_pkg.widgets."),
    ("Grading", "The library the assignments' test cells call, the instructor's side (the jail, "
     "the judge, the runner, the grade export) and the students' validate command (see the "
     "instructor's guide).",
     "course_pkg.grading."),
]


def modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages(course_pkg.__path__, "course_pkg.")
                  if not info.ispkg)


def page() -> str:
    names = modules()
    lines = ["# API reference of `course_pkg`", "",
             "Every module of the companion package, with the docstrings written in the code: the",
             "equations each function implements, the shapes of its arguments, and what it checks.",
             "The chapters show the same code where they use it.", ""]
    for title, blurb, prefix in GROUPS:
        members = [n for n in names if (n.startswith(prefix) if prefix else n.count(".") == 1)]
        if not members:
            continue
        lines += [f"## {title}", ""] + ([blurb, ""] if blurb else []) + ["```{eval-rst}"]
        for name in members:
            lines += [f".. automodule:: {name}", "   :members:", ""]
        lines[-1:] = ["```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    (ROOT / "book" / "api.md").write_text(page(), encoding="utf-8")
    print(f"wrote book/api.md ({len(modules())} modules)")
