"""nbgrader settings every user of the course hub shares (students and instructors).

The hub (deploy/hub/jupyterhub_config.py) puts this folder on JUPYTER_CONFIG_PATH and passes
the exchange's path in COURSE_EXCHANGE.
"""

import os

c = get_config()  # noqa: F821 (provided by nbgrader's config loader)

# The same id as assignments/nbgrader_config.py: the exchange keeps one folder per course id.
c.CourseDirectory.course_id = "rnn-course"
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
