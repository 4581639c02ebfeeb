"""The grading library of the course's nbgrader assignments.

Every test cell of ``assignments/source/*`` grades one function with a :class:`~.part.Part`::

    import sys; [sys.modules.pop(m) for m in list(sys.modules) if m.split(".")[0] == "course_pkg"]
    from course_pkg.grading import rnn_checks
    part = rnn_checks.step_forward(rnn_step_forward, grade_id="test_rnn_step_forward", points=2)
    part.check("fixed inputs", fixed=True)
    part.check("random", seed=0)
    part.score()

(the first line re-imports the library and the references from disk, so nothing a cell above
did to them survives). Modules, one idea each:

- :mod:`.cell_inputs` fixed and seeded inputs of the recurrent cells' checks
- :mod:`.compare`     tolerances per dtype; where two arrays differ, in the array's own terms
- :mod:`.sandbox`     the student's function runs in a forked child: time, memory, output limits
- :mod:`.integrity`   delegation to the reference (static and tripwires); tampered kernels
- :mod:`.probes`      ablation probes: known-mistake variants and one-term-at-a-time isolation
- :mod:`.report`      sub-checks, partial credit, the printed report and the grade report
- :mod:`.part`        one graded part: runs the cases of a function spec
- :mod:`.rnn_checks`, :mod:`.gated_checks`, :mod:`.lm_checks`  the specs of assignments 1-3
- :mod:`.nbgrader_plugins`  nbgrader preprocessors: score from the report, a kernel that dies
- :mod:`.pipeline`    the instructor's robust, parallel autograde
- :mod:`.offline_feedback`  feedback pages that render their math without a network

Importing this package pins BLAS/OpenMP to one thread (when numpy is not loaded yet), so the
numbers a student sees are the numbers the grader sees.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from course_pkg.grading.part import FunctionSpec, OutputSpec, Part  # noqa: E402
from course_pkg.grading.report import REPORT_MIME  # noqa: E402

__all__ = ["Part", "FunctionSpec", "OutputSpec", "REPORT_MIME"]
