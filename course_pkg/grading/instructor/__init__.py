"""The instructor's side of the grading library: everything that runs where student code never
ran, and drives nbgrader.

- :mod:`.pipeline`      the robust, parallel autograde runner (``python -m
  course_pkg.grading.instructor.pipeline``) and the grade export
- :mod:`.jail`          bubblewrap: the student's kernel as nobody, no network, no course
- :mod:`.judge`         the nbgrader preprocessor that runs cells in the jail, tests outside
- :mod:`.grades`        grades.csv per part, "not submitted" apart from 0, the LMS CSV
- :mod:`.similarity`    graded functions compared with the reference and with classmates
- :mod:`.nbgrader_plugins`  nbgrader preprocessors: score from the report, dying kernels
- :mod:`.feedback_pages`, :mod:`.offline_feedback`  feedback pages: parts named, math offline

Its dependencies beyond the package's own are declared as the ``instructor`` extra of
``pyproject.toml`` (nbgrader, nbformat, traitlets); the jail also needs Debian's bubblewrap and
util-linux, which ``make jail-tools`` installs. None of these modules is in the jail's view
(:data:`.jail.HARNESS` keeps only the harness of ``course_pkg.grading``).
"""
