"""``python -m course_pkg.grading validate notebook.ipynb``: see :mod:`.validate`."""

import sys

from course_pkg.grading import validate


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "validate":
        print("usage: python -m course_pkg.grading validate NOTEBOOK.ipynb [--timeout S]\n"
              "(the instructor's commands are in python -m course_pkg.grading.instructor.pipeline)",
              file=sys.stderr)
        return 2
    return validate.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
