"""course_pkg.data.text: vocabulary round trips, the positional split, truncated-BPTT batches."""

import pytest
import torch
from pydoc_data.topics import topics

from course_pkg.data.text import END_OF_TEXT, BPTTBatches, CharCorpus, CharVocabulary, pydoc_topics


@pytest.fixture(scope="module")
def corpus():
    return CharCorpus()


def test_pydoc_corpus_is_the_topics_in_sorted_key_order(corpus):
    keys = sorted(topics)
    assert len(corpus.text) > 100_000
    assert corpus.text.startswith(topics[keys[0]])
    assert corpus.text.endswith(topics[keys[-1]])
    assert len(corpus.text) == sum(len(t) for t in topics.values()) + len(keys) - 1  # "\n" between
    assert corpus.text.index(topics[keys[1]]) == len(topics[keys[0]]) + 1
    assert pydoc_topics()[0] == topics[keys[0]]


def test_vocabulary_on_a_small_text():
    vocabulary = CharVocabulary("hello")
    assert vocabulary.chars == ["e", "h", "l", "o"]
    assert vocabulary.encode("hello").tolist() == [1, 0, 2, 2, 3]
    assert vocabulary.encode("hello").dtype == torch.int64
    assert vocabulary.decode([3, 0, 2]) == "oel"
    assert vocabulary.decode(torch.tensor([], dtype=torch.int64)) == ""
    assert vocabulary.end_id is None and len(vocabulary) == 4


def test_round_trips(corpus):
    vocabulary = corpus.vocabulary
    assert vocabulary.decode(corpus.ids) == corpus.text
    assert vocabulary.chars == sorted(set(corpus.text))
    ids = torch.randint(0, len(vocabulary), (500,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(vocabulary.encode(vocabulary.decode(ids)), ids)
    assert vocabulary.decode(ids.numpy()) == vocabulary.decode(ids.tolist())


def test_end_token():
    documents = ["ab", "ba", "c"]
    corpus = CharCorpus(documents, validation_fraction=0.0, end_token=True)
    end_id = corpus.vocabulary.end_id
    assert end_id is not None and corpus.vocabulary.chars[end_id] == END_OF_TEXT
    assert corpus.text == "ab\x03ba\x03c\x03"
    assert (corpus.ids == end_id).sum().item() == len(documents)
    assert corpus.vocabulary.decode(corpus.ids).split(END_OF_TEXT)[:-1] == documents
    with_end = CharVocabulary("ab", end_token=True)
    assert with_end.encode("b\x03").tolist() == [2, 0]  # "\x03" sorts first


def test_split_by_position(corpus):
    n = corpus.ids.numel()
    assert torch.equal(torch.cat([corpus.train_ids, corpus.validation_ids]), corpus.ids)
    assert abs(corpus.validation_ids.numel() - 0.1 * n) <= 1
    tail = corpus.text[-corpus.validation_ids.numel() :]
    assert corpus.vocabulary.decode(corpus.validation_ids) == tail
    assert corpus.split("train") is corpus.train_ids
    small = CharCorpus("abcdefghij", validation_fraction=0.3)
    assert small.vocabulary.decode(small.validation_ids) == "hij"


def test_bptt_batches_on_positions():
    # ids = positions, so each value says where it came from.
    n, seq_len, batch_size = 103, 4, 3
    batches = BPTTBatches(torch.arange(n), seq_len, batch_size)
    stream_length = (n - 1) // batch_size  # 34
    collected = list(batches)
    assert len(batches) == len(collected) == 9  # ceil(34 / 4)
    assert [x.shape for x, _ in collected] == [(4, 3)] * 8 + [(2, 3)]  # the last one is shorter
    for inputs, targets in collected:
        assert torch.equal(targets, inputs + 1)  # shifted by one character
    inputs = torch.cat([x for x, _ in collected])  # (L, B)
    for b in range(batch_size):  # stream b is one contiguous stretch of the text
        assert inputs[:, b].tolist() == list(range(b * stream_length, (b + 1) * stream_length))
    for (x0, _), (x1, _) in zip(collected, collected[1:]):
        assert torch.equal(x1[0], x0[-1] + 1)  # the next batch continues every stream
    assert list(batches)[0][0].equal(collected[0][0])  # re-iterable


def test_bptt_batch_first():
    time_major = list(BPTTBatches(torch.arange(50), 5, 4))
    batch_first = list(BPTTBatches(torch.arange(50), 5, 4, batch_first=True))
    for (x, y), (xb, yb) in zip(time_major, batch_first):
        assert xb.shape == (4, x.shape[0]) and torch.equal(xb, x.t()) and torch.equal(yb, y.t())


def test_corpus_batches_target_is_next_character(corpus):
    inputs, targets = next(iter(corpus.batches("validation", seq_len=20, batch_size=8)))
    assert inputs.shape == targets.shape == (20, 8)
    text = corpus.vocabulary.decode(corpus.validation_ids)
    stream_length = (corpus.validation_ids.numel() - 1) // 8
    for b in range(8):
        start = b * stream_length
        assert corpus.vocabulary.decode(inputs[:, b]) == text[start : start + 20]
        assert corpus.vocabulary.decode(targets[:, b]) == text[start + 1 : start + 21]


def test_random_batch(corpus):
    inputs, targets = corpus.random_batch("train", 30, 16, torch.Generator().manual_seed(1))
    assert inputs.shape == targets.shape == (30, 16) and inputs.dtype == torch.int64
    text = corpus.vocabulary.decode(corpus.train_ids)
    for b in range(16):
        window = corpus.vocabulary.decode(inputs[:, b])
        start = text.find(window)
        assert start >= 0  # a real window of the training text (its first occurrence is enough)
        assert corpus.vocabulary.decode(targets[:-1, b]) == window[1:]
    again, _ = corpus.random_batch("train", 30, 16, generator=torch.Generator().manual_seed(1))
    other, _ = corpus.random_batch("train", 30, 16, generator=torch.Generator().manual_seed(2))
    assert torch.equal(inputs, again) and not torch.equal(inputs, other)
    generator = torch.Generator().manual_seed(1)
    first, _ = corpus.random_batch("train", 30, 16, generator, batch_first=True)
    assert torch.equal(first, inputs.t())


def test_bad_input(corpus):
    vocabulary = CharVocabulary("abc")
    with pytest.raises(ValueError, match=r"text: character 'z' at position 2"):
        vocabulary.encode("abz")
    with pytest.raises(TypeError, match="text"):
        vocabulary.encode(["a"])
    with pytest.raises(ValueError, match=r"ids: expected ids in \[0, 2\], got 3"):
        vocabulary.decode([0, 3])
    with pytest.raises(ValueError, match="ids"):
        vocabulary.decode([[0]])
    with pytest.raises(TypeError, match="ids"):
        vocabulary.decode([0.5])
    with pytest.raises(ValueError, match="seq_len"):
        BPTTBatches(torch.arange(10), 0, 2)
    with pytest.raises(ValueError, match="batch_size"):
        BPTTBatches(torch.arange(10), 3, 0)
    with pytest.raises(ValueError, match="ids: expected at least batch_size"):
        BPTTBatches(torch.arange(10), 3, 10)
    with pytest.raises(ValueError, match="split"):
        corpus.batches("test", 10, 2)
    with pytest.raises(ValueError, match="seq_len"):
        CharCorpus("abcdef", validation_fraction=0.5).random_batch("validation", 3, 2)
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="validation_fraction"):
            CharCorpus("abc", validation_fraction=bad)
    with pytest.raises(ValueError, match="documents"):
        CharCorpus(["a\x03b"], end_token=True)
    with pytest.raises(TypeError, match="documents"):
        CharCorpus([])
