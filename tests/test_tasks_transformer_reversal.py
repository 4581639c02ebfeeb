"""course_pkg.tasks.transformer_reversal: a short training run on the attention chapter's
batches (the same batches as the GRU reverser for the same seed), the run's interface, the
chapter's training cell against the wrappers, and the timing table."""

import time
from pathlib import Path

import torch

from course_pkg.tasks.reversal import (
    VOCAB_SIZE,
    ReversalRun,
    accuracy_by_length,
    reversal_batches,
    reversal_loss,
    train_reverser,
)
from course_pkg.tasks.transformer_reversal import (
    TransformerRun,
    time_by_length,
    train_transformer_reverser,
)
from course_pkg.models.seq2seq import Seq2Seq
from course_pkg.models.transformer import TransformerSeq2Seq
from course_pkg.training import train

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "part5" / "18_transformer.md"


def test_short_run_learns_and_reports():
    run = train_transformer_reverser(steps=60, batch_size=16, min_length=3, max_length=5,
                                     d_model=16, num_heads=2, ff_size=16, learning_rate=1e-2)
    assert isinstance(run.model, TransformerSeq2Seq) and run.name == "Transformer"
    assert len(run.history.losses) == 60 and run.cpu_seconds > 0
    assert sum(run.history.losses[-10:]) < sum(run.history.losses[:10])
    accuracy = accuracy_by_length(run, (4,), num_strings=20)
    assert 0.0 <= accuracy[4][0] <= 1.0


def test_page_recipe_reproduces_the_wrapper():
    """The Transformer chapter's training cell, written out, gives the wrapper's run exactly."""
    steps, batch_size, min_length, max_length = 8, 4, 3, 5
    learning_rate, clip_norm, seed = 1e-2, 1.0, 2
    d_model, num_heads, num_layers, ff_size = 8, 2, 1, 8
    wrapped = train_transformer_reverser(steps, batch_size, min_length, max_length, d_model,
                                         num_heads, num_layers, ff_size, learning_rate,
                                         clip_norm, seed)
    batches = reversal_batches(batch_size, min_length, max_length, seed=seed)
    torch.manual_seed(seed)
    model = TransformerSeq2Seq(VOCAB_SIZE, VOCAB_SIZE, d_model, num_heads, num_layers, ff_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = train(model, batches, reversal_loss, optimizer, steps, clip_norm=clip_norm,
                    seed=seed, progress=False)
    page = TransformerRun("transformer", model, history)
    assert page.name == wrapped.name and page.task == wrapped.task
    assert page.history.losses == wrapped.history.losses
    assert page.history.grad_norms == wrapped.history.grad_norms
    for a, b in zip(page.model.state_dict().values(), wrapped.model.state_dict().values()):
        assert torch.equal(a, b)
    for run in (page, wrapped):
        accuracy_by_length(run, (4, 6), num_strings=10)
    assert page.accuracy == wrapped.accuracy


def test_the_chapter_s_training_cell_gives_both_wrappers_runs_exactly():
    """The Transformer chapter's cell, run from the page's text on tiny knobs: its recurrent
    baseline is train_reverser's run, its Transformer train_transformer_reverser's."""
    text = CHAPTER.read_text()
    start = text.index("batch_size, min_length, max_length, learning_rate, clip_norm, seed = ")
    end = text.index("\n", text.index("transformer = TransformerRun(", start))
    cell = text[start:end].split("\n")
    assert cell[1].startswith("recurrent_steps, embedding_size, hidden_size = ")
    assert cell[2].startswith("steps, d_model, num_heads, num_layers, ff_size = ")
    knobs = ["batch_size, min_length, max_length, learning_rate, clip_norm, seed = 4, 3, 5, 1e-2, 1.0, 2",
             "recurrent_steps, embedding_size, hidden_size = 6, 4, 8",
             "steps, d_model, num_heads, num_layers, ff_size = 8, 8, 2, 1, 8"]
    namespace = dict(time=time, torch=torch, VOCAB_SIZE=VOCAB_SIZE, ReversalRun=ReversalRun,
                     TransformerRun=TransformerRun, Seq2Seq=Seq2Seq,
                     TransformerSeq2Seq=TransformerSeq2Seq, reversal_batches=reversal_batches,
                     reversal_loss=reversal_loss, train=train)
    exec("\n".join(knobs + cell[3:]), namespace)
    wrapped = {
        "recurrent": train_reverser("additive", steps=6, batch_size=4, min_length=3, max_length=5,
                                    embedding_size=4, hidden_size=8, learning_rate=1e-2,
                                    clip_norm=1.0, seed=2),
        "transformer": train_transformer_reverser(8, 4, 3, 5, 8, 2, 1, 8, 1e-2, 1.0, 2),
    }
    for name, theirs in wrapped.items():
        mine = namespace[name]
        assert type(mine) is type(theirs) and mine.name == theirs.name
        assert mine.history.losses == theirs.history.losses
        assert mine.history.grad_norms == theirs.history.grad_norms
        for a, b in zip(mine.model.state_dict().values(), theirs.model.state_dict().values(),
                        strict=True):
            assert torch.equal(a, b)
        for run in (mine, theirs):
            accuracy_by_length(run, (4, 6), num_strings=10)
        assert mine.accuracy == theirs.accuracy
    assert namespace["recurrent_cpu"] > 0 and namespace["transformer"].cpu_seconds > 0


def test_batches_are_those_of_chapter_9():
    a, b = reversal_batches(4, 3, 6, seed=3), reversal_batches(4, 3, 6, seed=3)
    for _ in range(3):
        assert torch.equal(a().src, b().src)


def test_time_by_length_measures_both_kinds():
    gru = train_reverser("additive", steps=1, batch_size=4, hidden_size=8, embedding_size=4).model
    transformer = TransformerSeq2Seq(13, 13, d_model=8, num_heads=2, ff_size=8)
    timings = time_by_length({"gru": gru, "transformer": transformer}, lengths=(3, 5),
                             batch_size=4, repeats=1)
    for table in (timings.training, timings.generation):
        assert set(table) == {"gru", "transformer"}
        assert all(table[n][L] > 0 for n in table for L in (3, 5))
    assert all(p.grad is None for p in transformer.parameters())
