"""Autograde on Dask: the same rnn_bptt submissions graded by the runner's process pool and by a
Dask LocalCluster of two worker processes give the same exported scores; a Dask task kills its
own stuck child after the timeout, and a submission's memory limit holds inside the worker;
bad Dask options are refused by name.

Each run starts from a fresh gradebook, so that every exported score comes from that run. The
module takes a few minutes on two cores.
"""

from __future__ import annotations

import shutil

import pytest

from course_builder import (append, autograded_output, export_scores, make_submission,
                            nbgrader, new_course, replace)
from rnn_gated_lm_class import A1, EXPECTED_SCORES, SUBMISSIONS

from course_pkg.grading.instructor import pipeline

STUDENTS = ("solution", "untouched", "missing_bias", "wrong_axis")
CHOSEN = {(A1, student): SUBMISSIONS[(A1, student)] for student in STUDENTS}


def fresh_gradebook(course, env, tmp, keep_as: str) -> None:
    """Move the gradebook and the autograded notebooks aside; release again (a new gradebook)."""
    (course / "gradebook.db").rename(tmp / keep_as)
    shutil.rmtree(course / "autograded")
    nbgrader(course, "generate_assignment", A1, "--force", env=env)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course-dask")
    course, env = new_course(tmp, (A1,), CHOSEN)
    return course, env, tmp


@pytest.fixture(scope="module")
def graded_both_ways(course, monkeypatch_module):
    course, env, tmp = course
    pool = {r.student: r for r in pipeline.autograde(course, A1, jobs=2, timeout=300)}
    pool_scores = export_scores(course, env, tmp / "pool.csv")
    fresh_gradebook(course, env, tmp, "gradebook-pool.db")

    def no_fork_here(*args, **kwargs):
        raise AssertionError("a submission was forked by the client, not by a Dask worker")

    # the workers are processes of their own: this only stops forks in the client's process
    monkeypatch_module.setattr(pipeline, "_fork_child", no_fork_here)
    dask = {r.student: r for r in pipeline.autograde(course, A1, dask_local=2, timeout=300)}
    monkeypatch_module.undo()
    dask_scores = export_scores(course, env, tmp / "dask.csv")
    return dict(pool=pool, dask=dask, pool_scores=pool_scores, dask_scores=dask_scores)


@pytest.fixture(scope="module")
def monkeypatch_module():
    patcher = pytest.MonkeyPatch()
    yield patcher
    patcher.undo()


@pytest.mark.pipeline
def test_dask_gives_the_scores_of_the_process_pool(graded_both_ways):
    assert graded_both_ways["dask_scores"] == graded_both_ways["pool_scores"]
    assert sorted(graded_both_ways["dask_scores"]) == sorted(CHOSEN)  # none lost


@pytest.mark.pipeline
@pytest.mark.parametrize("student", STUDENTS)
def test_dask_gives_the_expected_score(graded_both_ways, student):
    result = graded_both_ways["dask"][student]
    assert result.ok, result.failure
    assert result.score == pytest.approx(EXPECTED_SCORES[(A1, student)], abs=1e-6)
    assert graded_both_ways["dask_scores"][(A1, student)] == pytest.approx(
        EXPECTED_SCORES[(A1, student)], abs=1e-6)


@pytest.mark.pipeline
def test_a_dask_task_kills_its_child_after_the_timeout(course, graded_both_ways):
    """Through --scheduler: an existing LocalCluster, addressed by its scheduler's address.
    The submission (never graded before) loops for ever at top level, ignoring SIGINT: its
    autograde cannot end before the 30 s cell timeout, so the task must kill its child at the
    runner's 2 s timeout, zero the submission and say why, instead of waiting for it."""
    from distributed import LocalCluster

    course, env, tmp = course
    make_submission(course, A1, "late", edits={"rnn_forward": append(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=None) as cluster:
        [result] = pipeline.autograde(course, A1, students=["late"], timeout=2,
                                      scheduler=cluster.scheduler_address)
    assert not result.ok
    assert result.failure.startswith("autograde killed after 2 s"), result.failure
    score, _, ungraded = pipeline.gradebook_score(course, A1, "late")
    assert result.score == score == 0 and ungraded == 0


@pytest.mark.pipeline
def test_a_dask_task_keeps_the_memory_limits_of_a_submission(course, graded_both_ways):
    """Through --scheduler, with 3 GB of address space for the submission (``memory_gb``): a
    top-level 4 GiB allocation, which this 24 GB machine grants without the limit, fails in the
    jail on the worker; and an rnn_step_backward that allocates 8 GiB runs out of the graded
    call's own memory. Only that part is lost: the report says why, and rnn_backward, which calls
    it, is scored with the correct stand-in."""
    from distributed import LocalCluster

    course, env, tmp = course
    make_submission(course, A1, "greedy", edits={
        "rnn_step_forward": append(
            "try:\n    hog = np.ones((1 << 29,))  # 4 GiB of float64\n    print('ALLOCATED')\n"
            "except MemoryError:\n    print('MEMORY LIMIT HELD')\nhog = None\n"),
        "rnn_step_backward": replace(
            "    dbias = delta.sum(axis=0)",
            "    hog = np.ones((1 << 30,))  # 8 GiB of float64\n    dbias = delta.sum(axis=0)")})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=None) as cluster:
        [result] = pipeline.autograde(course, A1, students=["greedy"], timeout=300,
                                      memory_gb=3.0, scheduler=cluster.scheduler_address)
    assert result.ok, result.failure
    printed = autograded_output(course, A1, "greedy")
    assert "MEMORY LIMIT HELD" in printed and "ALLOCATED" not in printed, printed
    assert any("rnn_step_backward" in fault and "ran out of memory" in fault
               for fault in result.faults), result.faults
    assert result.score == pytest.approx(12 - 3)  # rnn_step_backward's 3 points only


def test_bad_dask_options_are_refused_by_name(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(ValueError, match="^dask_local: expected a positive int"):
        pipeline.autograde(tmp_path, A1, dask_local=0, jail=False)
    with pytest.raises(ValueError, match="^scheduler: expected a Dask scheduler address"):
        pipeline.autograde(tmp_path, A1, scheduler="localhost:8786", jail=False)
    with pytest.raises(ValueError, match="^scheduler, dask_local: give one of them"):
        pipeline.autograde(tmp_path, A1, scheduler="tcp://127.0.0.1:8786", dask_local=2,
                           jail=False)
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(["autograde", A1, "--course", str(tmp_path), "--dask-local", "-1"])
    assert exit_.value.code == 2
    assert "dask_local: expected a positive int" in capsys.readouterr().err
