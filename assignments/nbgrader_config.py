"""nbgrader settings of the course (read by every nbgrader command run in assignments/).

Each setting below is chosen deliberately; the instructor's guide (book/instructors.md)
explains them. The course's own preprocessors live in
course_pkg/grading/instructor/nbgrader_plugins.py.
"""

import os

from nbgrader.preprocessors import (
    AssignLatePenalties,
    ClearHiddenTests,
    GetGrades,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor

from course_pkg.grading.instructor.nbgrader_plugins import (
    DropScoreEcho,
    RobustExecute,
    ScoreFromReport,
)

HERE = os.path.dirname(os.path.abspath(__file__))
c = get_config()  # noqa: F821 (provided by nbgrader's config loader)

c.CourseDirectory.course_id = "rnn-course"
c.CourseDirectory.root = HERE
# The gradebook: nbgrader's SQLite default, with a busy timeout so that the parallel runner's
# processes (course_pkg.grading.instructor.pipeline) wait for each other's writes instead of
# failing.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db") + "?timeout=60"

# Per-cell timeout (seconds). A test cell runs every student call in a sandbox limited to a few
# seconds, so 120 s only ever stops top-level code of the student's own cells.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.RobustExecute.timeout = 120

# Editing a test cell is undone by nbgrader (OverwriteCells); a *deleted* test cell is put back
# too, instead of staying "needs manual grading" for ever.
c.OverwriteCells.add_missing_cells = True

# Autograding: RobustExecute survives a kernel that dies or ignores the interrupt, and
# ScoreFromReport takes each test cell's score from the grading library's report, so that a
# warning on stderr never zeroes a passing cell and a hidden output never earns full marks.
c.Autograde.autograde_preprocessors = [
    RobustExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    ScoreFromReport,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Warnings in the student's own cells are kept (they are useful), limited like all output.
c.LimitOutput.max_lines = 200

# Feedback HTML: the hook names each part in the page's contents ("Tests of rnn_forward", not
# "Test cell") and inlines a local MathJax (nbconvert points it at a CDN), so that the feedback
# renders its math offline (see course_pkg/grading/instructor/feedback_pages.py and
# offline_feedback.py).
c.GenerateFeedback.post_convert_hook = "course_pkg.grading.instructor.feedback_pages.feedback_hook"
# Hidden tests stay hidden: the feedback shows each hidden check's name and result (printed by
# the grading library), never the test code (the autograded notebook holds it). The score that
# ScoreFromReport left as each test cell's Out[] is dropped: the cell's heading shows it.
c.GenerateFeedback.preprocessors = [ClearHiddenTests, GetGrades, DropScoreEcho,
                                    CSSHTMLHeaderPreprocessor]
