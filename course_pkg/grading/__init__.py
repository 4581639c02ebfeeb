"""The grading library of the course's nbgrader assignments.

Every test cell of ``assignments/source/*`` grades one function with a :class:`~.part.Part`::

    from course_pkg.grading.parts import grade
    part = grade("rnn_step_forward", rnn_step_forward, grade_id="test_rnn_step_forward", points=2)
    part.check("fixed inputs", fixed=True)
    part.check("random", seed=0)
    part.score()

(in a student's kernel `grade` re-imports the library and the references from disk first, so
nothing a cell above did to them survives). Modules, one idea each:

The parts and their specs (the judge's side: they hold the right answers)

- :mod:`.parts`         the registry: every graded part by its function's name, and `grade`
- :mod:`.part`          one graded part: runs the cases of a function spec, stand-ins, scoring
- :mod:`.kit`           what every assignment's specs share (axes, unpacking, gates, softmax)
- :mod:`.rnn_checks`, :mod:`.gated_checks`, :mod:`.lm_checks`, :mod:`.attention_checks`,
  :mod:`.memory_checks`, :mod:`.modern_checks`  the specs of assignments 1-6
- :mod:`.cell_inputs`   fixed and seeded inputs of the recurrent cells' checks
- :mod:`.compare`       tolerances per dtype; where two arrays differ, in the array's own terms
- :mod:`.probes`        ablation probes: known-mistake variants and one-term-at-a-time isolation
- :mod:`.reference_cache`  a backward graded on the student's cache layout, reference values
- :mod:`.shape_errors`  a failed matrix product said in the assignment's terms
- :mod:`.report`        sub-checks, partial credit, the printed report and the grade report

Running student code (the harness: the only grading modules inside the jail)

- :mod:`.callers`       how a part calls the student's functions
- :mod:`.sandbox`       each call in a forked child: time, memory and output limits
- :mod:`.integrity`     delegation to the reference (static and tripwires); tampered kernels
- :mod:`.agent`, :mod:`.wire`  the jail's side of the judge's protocol; plain data both ways

The instructor's side: the sub-package :mod:`.instructor` (the runner, the jail, the judge,
the nbgrader plugins, the similarity report, the grade export and the feedback pages), which
needs ``pip install course_pkg[instructor]`` (nbgrader, nbformat, traitlets)

The student's side

- :mod:`.validate`      ``python -m course_pkg.grading validate notebook.ipynb``: the report

Importing this package pins BLAS/OpenMP to one thread (when numpy is not loaded yet), so the
numbers a student sees are the numbers the grader sees.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from course_pkg.grading.part import FunctionSpec, OutputSpec, Part  # noqa: E402
from course_pkg.grading.report import REPORT_MIME  # noqa: E402

__all__ = ["Part", "FunctionSpec", "OutputSpec", "REPORT_MIME"]
