"""course_pkg.tasks.reversal: batches, accuracy and alignment are measured right,
and a few dozen training steps reduce the loss, deterministically."""

import pytest
import torch

from course_pkg.data.algorithmic import END, digit_strings
from course_pkg.tasks.reversal import (
    VOCAB_SIZE,
    ReversalRun,
    accuracy_by_length,
    format_length_table,
    mirror_attention,
    reversal_accuracy,
    reversal_batches,
    reversal_loss,
    train_reverser,
)
from course_pkg.models.seq2seq import Seq2Seq
from course_pkg.training import History, train



class ScriptedDecoder(Seq2Seq):
    """A Seq2Seq whose greedy decoding and attention are given, not computed."""

    def __init__(self, tokens=None, weights=None):
        super().__init__(VOCAB_SIZE, VOCAB_SIZE, 4, 4, attention="additive")
        self.tokens, self.weights = tokens, weights

    def greedy_decode(self, src, start_id, max_length, end_id=None, src_lengths=None,
                      return_attention=False):
        return self.tokens[:max_length]

    def forward(self, src, tgt_in, src_lengths=None, return_attention=False):
        return None, self.weights


def test_batches_are_seeded_and_have_one_length_each():
    first, second = reversal_batches(4, 3, 7, seed=5), reversal_batches(4, 3, 7, seed=5)
    lengths = set()
    for _ in range(20):
        a, b = first(), second()
        assert torch.equal(a.src, b.src) and torch.equal(a.tgt_out, b.tgt_out)
        assert len(set(a.src_lengths.tolist())) == 1  # one length per batch, no padding
        length = a.src.shape[0]
        assert 3 <= length <= 7 and torch.equal(a.tgt_out[:length], a.src.flip(0))
        lengths.add(length)
    assert len(lengths) > 2  # the lengths do vary from batch to batch
    other = reversal_batches(4, 3, 7, seed=6)()
    assert not torch.equal(other.src, reversal_batches(4, 3, 7, seed=5)().src)
    copy = reversal_batches(4, 3, 7, seed=5, task="copy")()
    length = copy.src.shape[0]
    assert torch.equal(copy.tgt_out[:length], copy.src)


def test_accuracy_counts_digits_and_whole_strings():
    batch = digit_strings(4, 2, 5, seed=1)  # padded, several lengths
    lengths = batch.src_lengths.tolist()
    width = batch.src.shape[0]
    perfect = ScriptedDecoder(tokens=batch.tgt_out.clone())
    assert reversal_accuracy(perfect, batch) == (1.0, 1.0)

    tokens = batch.tgt_out.clone()
    tokens[0, 0] = END  # one wrong digit in string 0
    tokens[lengths[1] - 1, 1] = END  # the last digit of string 1
    tokens[lengths[2]:, 2] = 7  # string 2 writes junk only after its end: not counted
    token_accuracy, sequence_accuracy = reversal_accuracy(ScriptedDecoder(tokens=tokens), batch)
    assert token_accuracy == pytest.approx(1 - 2 / sum(lengths))
    assert sequence_accuracy == pytest.approx(2 / 4)
    assert width == max(lengths)

    wrong = ScriptedDecoder(tokens=torch.full_like(batch.tgt_out, END))
    assert reversal_accuracy(wrong, batch) == (0.0, 0.0)


class Parrot(Seq2Seq):
    """Writes its source back unchanged: perfect at copying, not at reversing."""

    def __init__(self):
        super().__init__(VOCAB_SIZE, VOCAB_SIZE, 4, 4, attention=None)

    def greedy_decode(self, src, start_id, max_length, end_id=None, src_lengths=None,
                      return_attention=False):
        return src[:max_length]


def test_accuracy_by_length_evaluates_the_run_s_task():
    copying = ReversalRun(None, Parrot(), History(), task="copy")
    assert accuracy_by_length(copying, (3, 6), num_strings=50) == {3: (1.0, 1.0), 6: (1.0, 1.0)}
    reversing = ReversalRun(None, Parrot(), History())
    token_accuracy, sequence_accuracy = accuracy_by_length(reversing, (6,), num_strings=50)[6]
    assert token_accuracy < 0.5 and sequence_accuracy < 0.1  # palindromes are rare


def test_mirror_attention_is_one_on_the_anti_diagonal_and_one_over_l_when_uniform():
    batch = digit_strings(3, 4, 6, seed=2)
    lengths = batch.src_lengths.tolist()
    steps, batch_size, width = batch.tgt_in.shape[0], 3, batch.src.shape[0]
    mirror = torch.zeros(steps, batch_size, width)
    uniform = torch.zeros(steps, batch_size, width)
    for b, length in enumerate(lengths):
        for t in range(length):
            mirror[t, b, length - 1 - t] = 1.0
        uniform[:, b, :length] = 1.0 / length
    assert mirror_attention(ScriptedDecoder(weights=mirror), batch) == pytest.approx(1.0)
    expected = sum(length * (1 / length) for length in lengths) / sum(lengths)
    assert mirror_attention(ScriptedDecoder(weights=uniform), batch) == pytest.approx(expected)
    assert mirror_attention(ScriptedDecoder(weights=torch.zeros_like(mirror)), batch) == 0.0
    # one position to the right of the anti-diagonal (the first step's target is off the end)
    shifted = torch.zeros_like(mirror)
    for b, length in enumerate(lengths):
        for t in range(1, length):
            shifted[t, b, length - t] = 1.0
    model = ScriptedDecoder(weights=shifted)
    assert mirror_attention(model, batch) == 0.0
    assert mirror_attention(model, batch, offset=1) == pytest.approx(
        sum(length - 1 for length in lengths) / sum(lengths))
    assert mirror_attention(ScriptedDecoder(weights=mirror), batch, offset=-1) == 0.0


def test_a_few_dozen_steps_reduce_the_loss_deterministically():
    settings = dict(steps=40, batch_size=16, min_length=3, max_length=5, embedding_size=8,
                    hidden_size=16, learning_rate=1e-2, seed=3)
    run = train_reverser("additive", **settings)
    again = train_reverser("additive", **settings)
    assert run.history.losses == again.history.losses and len(run.history.losses) == 40
    first, last = sum(run.history.losses[:5]) / 5, sum(run.history.losses[-5:]) / 5
    assert last < 0.8 * first
    # the loss is the teacher-forced cross-entropy over digits and </s>
    batch = digit_strings(8, 4, seed=9)
    logits = run.model(batch.src, batch.tgt_in, batch.src_lengths)
    expected = torch.nn.functional.cross_entropy(logits[batch.tgt_mask], batch.tgt_out[batch.tgt_mask])
    assert torch.allclose(reversal_loss(run.model, batch), expected)

    without = train_reverser(None, **settings)
    assert without.model.attention is None and without.name == "no attention"
    copier = train_reverser(None, task="copy", **{**settings, "steps": 2})
    assert copier.name == "no attention, copy" and copier.task == "copy"
    accuracy = accuracy_by_length(run, (3, 5), num_strings=20)
    assert set(accuracy) == {3, 5} and run.accuracy is accuracy
    assert all(0.0 <= value <= 1.0 for pair in accuracy.values() for value in pair)
    table = format_length_table([run, without])
    assert "additive attention" in table and "no attention" in table
    assert f"{accuracy[5][0]:.3f}" in table and "40 steps" in table


@pytest.mark.parametrize("attention", ["additive", None])
def test_the_parts_spelled_out_give_the_wrapper_s_run_exactly(attention):
    # chapter 10 assembles the experiment from the module's parts; the wrapper must be that recipe
    settings = dict(steps=6, batch_size=8, min_length=3, max_length=6, embedding_size=5,
                    hidden_size=7, learning_rate=1e-2, clip_norm=1.0, seed=11)
    wrapped = train_reverser(attention, **settings)
    batches = reversal_batches(8, 3, 6, seed=11)
    torch.manual_seed(11)
    model = Seq2Seq(VOCAB_SIZE, VOCAB_SIZE, 5, 7, attention=attention)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = train(model, batches, reversal_loss, optimizer, 6, clip_norm=1.0, seed=11,
                    progress=False)
    assert history.losses == wrapped.history.losses
    assert history.grad_norms == wrapped.history.grad_norms
    for mine, theirs in zip(model.parameters(), wrapped.model.parameters()):
        assert torch.equal(mine, theirs)


def test_bad_input():
    with pytest.raises(ValueError, match="attention"):
        train_reverser("luong", steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_reverser("additive", steps=0)
    with pytest.raises(ValueError, match="max_length"):
        reversal_batches(4, 5, 3)
    with pytest.raises(ValueError, match="task"):
        train_reverser("additive", steps=1, task="sort")
    with pytest.raises(TypeError, match="batch_size"):
        reversal_batches(4.0, 3, 5)
    model = Seq2Seq(VOCAB_SIZE, VOCAB_SIZE, 4, 4, attention=None)
    with pytest.raises(TypeError, match="batch"):
        reversal_accuracy(model, (1, 2))
    with pytest.raises(ValueError, match="model"):
        mirror_attention(model, digit_strings(2, 3))
    with pytest.raises(TypeError, match="offset"):
        mirror_attention(ScriptedDecoder(), digit_strings(2, 3), offset=0.5)
    run = ReversalRun(None, model, History())
    with pytest.raises(ValueError, match="num_strings"):
        accuracy_by_length(run, (3,), num_strings=0)
