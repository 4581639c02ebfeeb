"""Similarity of graded functions: renaming and re-wrapping change nothing, other code differs."""

from __future__ import annotations

import ast

from course_pkg.grading.instructor import similarity

ORIGINAL = '''
def rnn_step(x, h, w_ih, w_hh, b):
    """Docstring that differs."""
    a = x @ w_ih.T + h @ w_hh.T + b
    out = np.tanh(a)
    return out, (x, h, out)
'''

RENAMED = '''
def rnn_step(inputs, state, weight_in, weight_rec, bias):
    # a different comment, other names, the same computation
    pre = (inputs @ weight_in.T
           + state @ weight_rec.T + bias)
    new_state = np.tanh(pre)
    return new_state, (inputs, state, new_state)
'''

DIFFERENT = '''
def rnn_step(x, h, w_ih, w_hh, b):
    out = h.copy()
    for t in range(x.shape[0]):
        out = np.maximum(0, x[t] @ w_ih.T + out @ w_hh.T)
    return out, None
'''


def tokens(source):
    return similarity.normalised_tokens(ast.parse(source).body[0])


def test_renamed_variables_and_comments_are_the_same_code():
    assert similarity._ratio(tokens(ORIGINAL), tokens(RENAMED)) == 1.0


def test_a_different_computation_scores_below_the_threshold():
    assert similarity._ratio(tokens(ORIGINAL), tokens(DIFFERENT)) < similarity.THRESHOLD


def test_global_names_are_kept_so_the_library_called_matters():
    torch_version = ORIGINAL.replace("np.tanh", "torch.tanh")
    assert tokens(torch_version) != tokens(ORIGINAL)


def test_functions_in_reads_top_level_definitions_without_running_them():
    found = similarity.functions_in("raise SystemExit\ndef f(x):\n    return x\n")
    assert list(found) == ["f"]
    assert similarity.functions_in("def broken(:\n") == {}


def test_the_runner_prints_reference_matches_first_and_caps_the_rest(tmp_path, monkeypatch):
    from course_pkg.grading.instructor import pipeline

    pairs = [similarity.Match("a1", f"s{k}", "f", f"student s{k + 1}", 0.95) for k in range(300)]
    pasted = similarity.Match("a1", "mallory", "f", "reference course_pkg.x.f", 1.0)
    monkeypatch.setattr(similarity, "compare", lambda *args, **kwargs: pairs + [pasted])
    monkeypatch.setattr(pipeline, "submissions", lambda course, assignment: [])
    monkeypatch.setattr(pipeline, "hidden_modules", lambda course, assignment: [])
    lines = []
    monkeypatch.setattr(pipeline, "_log", lines.append)
    pipeline._report_similarity(tmp_path, "a1")
    assert lines[0].startswith("SIMILAR a1/mallory: f matches the reference course_pkg.x.f")
    assert len(lines) == pipeline.MAX_SIMILAR_LINES + 1
    assert lines[-1] == "SIMILAR a1: 101 more close matches in similarity.csv"
    with open(tmp_path / "similarity.csv") as handle:
        assert len(handle.readlines()) == 1 + 301  # header and every match


def test_scores_are_computed_once_per_distinct_pair_and_agree_with_the_full_ratio(monkeypatch):
    """A class hands in many identical functions: 60 submissions in two versions make 1,770
    pairs but only one pair of distinct token lists, so difflib runs once, not 1,770 times."""
    calls = []
    real = similarity.difflib.SequenceMatcher.ratio
    monkeypatch.setattr(similarity.difflib.SequenceMatcher, "ratio",
                        lambda self: calls.append(1) or real(self))
    score = similarity._Scores(similarity.THRESHOLD)
    versions = [tokens(ORIGINAL), tokens(RENAMED.replace("np.tanh", "np.sin"))]
    submissions = [list(versions[i % 2]) for i in range(60)]
    results = {(i, j): score(submissions[i], submissions[j])
               for i in range(60) for j in range(i + 1, 60)}
    assert len(calls) == 1
    assert results[(0, 2)] == 1.0
    assert results[(0, 1)] == similarity._ratio(versions[0], versions[1])
    assert score(tokens(ORIGINAL), tokens(DIFFERENT)) < similarity.THRESHOLD
