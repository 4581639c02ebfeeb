"""The instructor's course folder on the hub: a copy of the repository's assignments/
(nbgrader_config.py and source/). The formgrader reads that folder's nbgrader_config.py too,
so the course's own settings (the gradebook, the preprocessors) apply unchanged."""

import os

c = get_config()  # noqa: F821 (provided by nbgrader's config loader)

c.CourseDirectory.root = os.environ.get("COURSE_ROOT") or os.path.expanduser("~/rnn-course")
