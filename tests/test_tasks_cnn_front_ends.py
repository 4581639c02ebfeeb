"""course_pkg.tasks.cnn_front_ends on tiny configurations: structure, ranges, per-type F1 on
hand-scored examples, the per-frame CNN sees one frame only, tiny runs beat chance, the chapter's
training cells give the wrappers' numbers exactly, bad input."""

from pathlib import Path

import pytest
import torch

from course_pkg.data.entity_tagging import entity_tagging
from course_pkg.data.digit_glyphs import digit_sequences
from course_pkg.tasks.cnn_front_ends import (
    ENTITY_KINDS, FRAME_MODELS, TAGGER_NAMES, FrameRun, TaggerComparison,
    caption_two_digit_numbers, compare_frame_models, compare_taggers, delayed_targets, frame_loss,
    frame_table, kind_f1, score_frame_model, score_tagger, tagger_comparison, tagger_loss,
    tagger_table,
)
from course_pkg.models.char_cnn_tagger import CharCNNTagger
from course_pkg.models.image_sequence import FrameSequenceClassifier
from course_pkg.models.per_frame_classifier import PerFrameClassifier
from course_pkg.training import History, random_minibatches, train


def test_kind_f1_on_hand_scored_sentences():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    predicted = [["B-PER", "O", "O", "B-LOC"], ["B-LOC", "B-PER"]]
    # PER: gold {(0,0-2)}, predicted {(0,0-1), (1,1-2)}: 0 correct -> F1 0.
    assert kind_f1(gold, predicted, "PER") == 0.0
    # LOC: gold and predicted both {(0,3-4), (1,0-1)} -> F1 1.
    assert kind_f1(gold, predicted, "LOC") == 1.0
    # PER with one of two predictions right: P = 1/2, R = 1/1, F1 = 2/3.
    assert kind_f1([["B-PER", "O"]], [["B-PER", "B-PER"]], "PER") == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def tiny_comparison():
    return compare_taggers(seeds=(0, 1), num_train=80, num_test=40, steps=60, batch_size=16,
                           word_dim=8, char_filters=12, hidden_size=12, num_examples=3)


def test_compare_taggers_structure_and_ranges(tiny_comparison):
    result = tiny_comparison
    assert isinstance(result, TaggerComparison)
    assert sorted((r.seed, r.model) for r in result.runs) == \
        sorted((s, m) for s in (0, 1) for m in TAGGER_NAMES)
    for run in result.runs:
        assert 0.0 <= run.test_f1 <= 1.0 and 0.0 <= run.valid_f1 <= 1.0
        assert set(run.test_kind_f1) == set(ENTITY_KINDS)
        assert len(run.losses) == 60 and run.parameters > 0 and run.seconds > 0
    chars = {r.seed: r for r in result.runs if r.model == "chars"}
    words = {r.seed: r for r in result.runs if r.model == "words"}
    assert all(chars[s].parameters > words[s].parameters for s in (0, 1))
    assert 0.5 < result.unseen_fraction <= 1.0          # test names are new words
    assert len(result.examples) == 3
    for example in result.examples:
        n = len(example.words)
        assert len(example.gold) == n and len(example.unseen) == n
        assert all(len(example.predicted[k]) == n for k in TAGGER_NAMES)
        # every entity's first word is a name from the test pool, so unseen (places may add
        # a seen word such as "Bay" after it)
        assert all(u for u, tag in zip(example.unseen, example.gold) if tag.startswith("B-"))


CHAPTER = Path(__file__).resolve().parents[1] / "book" / "part5" / "16_cnn_bilstm.md"


def test_page_recipe_reproduces_compare_taggers(tiny_comparison):
    """The chapter's training cell, run on the fixture's tiny knobs, gives compare_taggers'
    numbers exactly."""
    text = CHAPTER.read_text()
    start = text.index("seeds, num_train, num_test, steps, batch_size, learning_rate = ")
    end = text.index("\n", text.index("comparison = tagger_comparison(", start))
    recipe = text[start:end].split("\n")
    knobs = ["seeds, num_train, num_test, steps, batch_size, learning_rate = "
             "(0, 1), 80, 40, 60, 16, 1e-2",
             "word_dim, char_filters, hidden_size, word_dropout = 8, 12, 12, 0.1"]
    assert recipe[1].startswith("word_dim, char_filters, hidden_size, word_dropout = ")
    namespace = dict(torch=torch, entity_tagging=entity_tagging, TAGGER_NAMES=TAGGER_NAMES,
                     CharCNNTagger=CharCNNTagger, train=train,
                     random_minibatches=random_minibatches, tagger_loss=tagger_loss,
                     score_tagger=score_tagger, tagger_comparison=tagger_comparison)
    exec("\n".join(knobs + recipe[2:]), namespace)
    page, wrapped = namespace["comparison"], tiny_comparison
    assert len(page.runs) == len(wrapped.runs)
    for a, b in zip(page.runs, wrapped.runs):
        assert (a.model, a.seed, a.test_f1, a.valid_f1, a.test_kind_f1, a.parameters, a.losses) \
            == (b.model, b.seed, b.test_f1, b.valid_f1, b.test_kind_f1, b.parameters, b.losses)
    assert page.examples[:3] == wrapped.examples
    assert page.unseen_fraction == wrapped.unseen_fraction
    assert page.vocabularies == wrapped.vocabularies
    for key in TAGGER_NAMES:
        for a, b in zip(page.models[key].state_dict().values(),
                        wrapped.models[key].state_dict().values()):
            assert torch.equal(a, b)


def test_tiny_char_tagger_finds_entities_and_beats_its_word_only_twin(tiny_comparison):
    chars = [r.test_f1 for r in tiny_comparison.runs if r.model == "chars"]
    words = [r.test_f1 for r in tiny_comparison.runs if r.model == "words"]
    assert min(chars) > 0.5
    assert sum(chars) > sum(words)


def test_compare_taggers_is_deterministic():
    kwargs = dict(seeds=(3,), num_train=30, num_test=10, steps=5, batch_size=8, word_dim=4,
                  char_filters=4, hidden_size=4, num_examples=1)
    a, b = compare_taggers(**kwargs), compare_taggers(**kwargs)
    assert [r.losses for r in a.runs] == [r.losses for r in b.runs]


def test_tagger_table_lists_both_models_and_means(tiny_comparison):
    table = tagger_table(tiny_comparison.runs)
    for name in TAGGER_NAMES.values():
        assert name in table
    run = tiny_comparison.runs[0]
    assert f"{run.test_f1:.3f}" in table
    assert "+-" in table


def testdelayed_targets():
    digits = torch.tensor([[1, 2], [3, 4], [5, 6], [7, 8]])          # (T=4, B=2)
    targets, mask = delayed_targets(digits, 2)
    assert targets[2:].tolist() == [[1, 2], [3, 4]]
    assert mask.tolist() == [[False, False], [False, False], [True, True], [True, True]]
    same, everywhere = delayed_targets(digits, 0)
    assert torch.equal(same, digits) and bool(everywhere.all())


def test_per_frame_classifier_sees_only_its_frame_unlike_the_cnn_lstm():
    torch.manual_seed(0)
    frames = torch.rand(5, 2, 1, 8, 8)
    changed = frames.clone()
    changed[1] += 0.5                                                # change frame 2 only
    for model, later_moves in ((PerFrameClassifier(10), False),
                               (FrameSequenceClassifier(10), True)):
        with torch.no_grad():
            moved = (model(frames) - model(changed)).abs().amax(dim=(1, 2))   # (T,)
        assert moved[0] == 0 and moved[1] > 0
        assert bool((moved[2:] > 0).all()) == later_moves


@pytest.fixture(scope="module")
def tiny_frame_runs():
    return compare_frame_models(seeds=(0, 1), delays=(0, 2), length=4, num_train=128,
                                num_test=64, steps=60, batch_size=16, hidden_size=16)


def test_tiny_frame_run_beats_chance_and_table(tiny_frame_runs):
    runs = [run for run in tiny_frame_runs if run.seed == 0 and run.delay == 0]
    assert [(r.model, r.delay) for r in runs] == [("cnn", 0), ("cnn_lstm", 0)]
    assert all(isinstance(r, FrameRun) and 0.0 <= r.accuracy <= 1.0 for r in runs)
    assert runs[0].accuracy > 0.3                                    # chance is 0.1
    table = frame_table(runs)
    assert "CNN per frame" in table and "current digit" in table
    assert f"{runs[0].accuracy:.3f}" in table


def test_page_recipe_reproduces_compare_frame_models(tiny_frame_runs):
    """The chapter's frame cell, run on the fixture's tiny knobs, gives compare_frame_models'
    numbers exactly."""
    text = CHAPTER.read_text()
    start = text.index("seeds, delays, length, num_train, num_test, steps = ")
    end = text.index("\n", text.index("                                                test_frames,", start))
    recipe = text[start:end].split("\n")
    assert recipe[1].startswith("batch_size, learning_rate, frame_size, noise, hidden_size = ")
    knobs = ["seeds, delays, length, num_train, num_test, steps = (0, 1), (0, 2), 4, 128, 64, 60",
             "batch_size, learning_rate, frame_size, noise, hidden_size = 16, 3e-3, 8, 0.25, 16"]
    namespace = dict(torch=torch, digit_sequences=digit_sequences, delayed_targets=delayed_targets,
                     FRAME_MODELS=FRAME_MODELS, PerFrameClassifier=PerFrameClassifier,
                     FrameSequenceClassifier=FrameSequenceClassifier, train=train,
                     random_minibatches=random_minibatches, frame_loss=frame_loss,
                     score_frame_model=score_frame_model)
    exec("\n".join(knobs + recipe[2:]), namespace)
    page = namespace["frame_runs"]
    assert len(page) == len(tiny_frame_runs) == 8
    def measured(run):  # everything but the wall-clock seconds
        return (run.model, run.delay, run.seed, run.accuracy, run.parameters,
                run.history.losses, run.history.grad_norms)

    assert [measured(run) for run in page] == [measured(run) for run in tiny_frame_runs]
    assert frame_table(page) == frame_table(tiny_frame_runs)


def test_frame_loss_and_score_read_the_masked_frames_only():
    torch.manual_seed(0)
    frames, digits = digit_sequences(6, 5, seed=3)                    # (5, 6, 1, 8, 8), (5, 6)
    targets, mask = delayed_targets(digits, 2)
    model = FrameSequenceClassifier(10, hidden_size=8)
    rows = torch.tensor([4, 0, 2])
    logits = model(frames[:, rows])                                   # (5, 3, 10)
    expected = torch.nn.functional.cross_entropy(logits[2:].flatten(0, 1),
                                                 targets[2:, rows].flatten())
    assert torch.allclose(frame_loss(frames, targets, mask)(model, rows), expected)
    run = score_frame_model(model, "cnn_lstm", 2, 0, History(losses=[2.0, 1.5]), frames,
                            targets, mask)
    with torch.no_grad():
        right = model(frames).argmax(dim=2)[2:] == targets[2:]
    assert run.accuracy == pytest.approx(right.float().mean().item())
    assert run.losses == [2.0, 1.5] and run.parameters == sum(p.numel() for p in model.parameters())
    assert not model.training


def test_bad_arguments():
    with pytest.raises(ValueError, match="seeds"):
        compare_taggers(seeds=())
    with pytest.raises(ValueError, match="seeds"):
        compare_taggers(seeds=(-1,))
    with pytest.raises(ValueError, match="steps"):
        compare_taggers(steps=0)
    with pytest.raises(ValueError, match="learning_rate"):
        compare_taggers(learning_rate=0.0)
    with pytest.raises(ValueError, match="kind"):
        kind_f1([["O"]], [["O"]], "ORG")
    with pytest.raises(ValueError, match="delays"):
        compare_frame_models(delays=(8,), length=8)
    with pytest.raises(ValueError, match="delays"):
        compare_frame_models(delays=())
    with pytest.raises(TypeError, match="batch_size"):
        compare_frame_models(batch_size=2.0)
    with pytest.raises(ValueError, match="frames"):
        PerFrameClassifier(10)(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="delay"):
        delayed_targets(torch.zeros(4, 2, dtype=torch.int64), 4)
    with pytest.raises(ValueError, match="digits"):
        delayed_targets(torch.zeros(4, dtype=torch.int64), 1)
    with pytest.raises(ValueError, match="model_key"):
        score_frame_model(PerFrameClassifier(10), "rnn", 0, 0, History(), torch.rand(2, 1, 1, 8, 8),
                          torch.zeros(2, 1, dtype=torch.int64), torch.ones(2, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="runs"):
        tagger_table([])
    with pytest.raises(ValueError, match="runs"):
        frame_table([])


def test_tiny_captioner_beats_chance_and_reports_its_captions():
    (run,) = caption_two_digit_numbers(seeds=(0,), num_train=1024, num_test=100,
                                       steps=200)
    assert run.written.shape == (2, 100) and run.test_digits.shape == (2, 100)
    assert run.test_images.shape == (100, 1, 16, 16)
    right = (run.written == run.test_digits)
    assert run.both_right == pytest.approx(right.all(dim=0).float().mean().item())
    assert run.position_accuracy == pytest.approx(right.float().mean(dim=1).tolist())
    assert min(run.position_accuracy) > 0.3                        # chance is 0.1 per digit
    with pytest.raises(ValueError, match="steps"):
        caption_two_digit_numbers(steps=0)
