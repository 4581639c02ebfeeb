"""PostgreSQL as the gradebook: parallel autograde against PostgreSQL gives exactly the scores
of a serial run against SQLite, and loses none.

The same rnn_bptt submissions (the reference solution, typical mistakes, the untouched
release) are graded twice in one course: first one at a time (``jobs=1``) into the course's
SQLite gradebook, then two at a time into a throwaway PostgreSQL cluster
(``tests/postgres_cluster.py``) given with ``db_url``, which overrides the course's setting for
the runner and for every nbgrader child. Both gradebooks are exported with ``nbgrader export``
and compared. Takes a minute or two on two cores.
"""

from __future__ import annotations

import pytest

from course_builder import export_scores, nbgrader, new_course
from postgres_cluster import postgres_url  # noqa: F401 (the fixture)
from rnn_gated_lm_class import A1, EXPECTED_SCORES, SUBMISSIONS

from course_pkg.grading.instructor import pipeline

STUDENTS = ("solution", "untouched", "missing_bias", "wrong_axis", "one_sided")
CHOSEN = {(A1, student): SUBMISSIONS[(A1, student)] for student in STUDENTS}


@pytest.fixture(scope="module")
def graded_twice(tmp_path_factory, postgres_url):  # noqa: F811 (the imported fixture)
    tmp = tmp_path_factory.mktemp("course-postgres")
    course, env = new_course(tmp, (A1,), CHOSEN)
    serial = {r.student: r for r in pipeline.autograde(course, A1, jobs=1, timeout=300)}
    sqlite_scores = export_scores(course, env, tmp / "sqlite.csv")
    # from here on nothing may open the course's SQLite gradebook (opening it would create it)
    (course / "gradebook.db").rename(tmp / "gradebook-serial.db")
    nbgrader(course, "generate_assignment", A1, "--force",
             f"--CourseDirectory.db_url={postgres_url}", env=env)
    parallel = {r.student: r for r in pipeline.autograde(course, A1, jobs=2, timeout=300,
                                                          db_url=postgres_url)}
    postgres_scores = export_scores(course, env, tmp / "postgres.csv", db_url=postgres_url)
    in_gradebook = {student: pipeline.gradebook_score(course, A1, student, postgres_url)
                    for student in STUDENTS}
    return dict(course=course, serial=serial, parallel=parallel, sqlite=sqlite_scores,
                postgres=postgres_scores, in_gradebook=in_gradebook)


@pytest.mark.pipeline
def test_parallel_postgres_scores_equal_serial_sqlite_scores(graded_twice):
    assert graded_twice["postgres"] == graded_twice["sqlite"]


@pytest.mark.pipeline
@pytest.mark.parametrize("student", STUDENTS)
def test_both_runs_give_the_expected_score(graded_twice, student):
    expected = EXPECTED_SCORES[(A1, student)]
    assert graded_twice["sqlite"][(A1, student)] == pytest.approx(expected, abs=1e-6)
    assert graded_twice["postgres"][(A1, student)] == pytest.approx(expected, abs=1e-6)


@pytest.mark.pipeline
def test_no_grade_is_lost_or_left_ungraded(graded_twice):
    for run in ("serial", "parallel"):
        assert sorted(graded_twice[run]) == sorted(STUDENTS), run
        assert all(result.ok for result in graded_twice[run].values()), run
    for run in ("sqlite", "postgres"):
        assert sorted(graded_twice[run]) == sorted(CHOSEN), run
    for student, (score, max_score, ungraded) in graded_twice["in_gradebook"].items():
        assert ungraded == 0, student
        assert score == graded_twice["postgres"][(A1, student)]
        assert max_score == EXPECTED_SCORES[(A1, "solution")]


@pytest.mark.pipeline
def test_the_postgres_run_never_opened_the_sqlite_gradebook(graded_twice):
    # the runner, its nbgrader children, generate_assignment and export all took db_url
    assert not (graded_twice["course"] / "gradebook.db").exists()


def test_a_bad_db_url_is_refused_by_name(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(ValueError, match="^db_url: expected an SQLAlchemy URL"):
        pipeline.autograde(tmp_path, A1, db_url="gradebook.db", jail=False)
    with pytest.raises(ValueError, match="^db_url: no database driver for 'nosuchdb'"):
        pipeline.autograde(tmp_path, A1, db_url="nosuchdb://host/course", jail=False)
    unreachable = f"postgresql+psycopg://grader@/course?host={tmp_path / 'no-server'}"
    with pytest.raises(ValueError, match="^db_url: cannot open the gradebook postgresql"):
        pipeline.autograde(tmp_path, A1, db_url=unreachable, jail=False)
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(["autograde", A1, "--course", str(tmp_path), "--db-url", "gradebook.db"])
    assert exit_.value.code == 2
    assert "db_url: expected an SQLAlchemy URL" in capsys.readouterr().err
