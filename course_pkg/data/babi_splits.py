"""A training and a test split of bAbI-style task-1 stories, in every form chapter 12 reads.

`make_babi_data` generates the two splits from independent seeds (`course_pkg.data.babi`) and
keeps each in three forms, so the models of the chapter can share one data set::

    train_stories, test_stories      list[BabiStory]   the text, to print and to check answers by
    train, test                      BabiBatch         stories (N, S, W), questions (N, Wq),
                                                       answers, supporting, lengths (N,): for the
                                                       memory network, one memory per sentence
    train_tokens, test_tokens        (T, N) int64      story words then question words, 0-padded:
    train_token_lengths, ...         (N,) int64        for a recurrent reader (`flatten_stories`)

All stories of a split are padded to ``max_sentences`` sentences, so both splits have the same
``S`` (and, as every batch of `course_pkg.data.babi`, the same sentence width ``W``).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from course_pkg.data.babi import (
    BabiBatch,
    BabiStory,
    encode_stories,
    flatten_stories,
    generate_stories,
)
from course_pkg.validation import require_positive_int

__all__ = ["BabiData", "make_babi_data"]


@dataclass
class BabiData:
    """A training and a test set of task-1 stories: as text, as tensors, and flattened."""

    train_stories: list[BabiStory]
    test_stories: list[BabiStory]
    train: BabiBatch  # stories (N, S, W), questions (N, Wq), answers, supporting, lengths
    test: BabiBatch
    train_tokens: Tensor  # (T, N) int64: story words then question words, 0-padded
    train_token_lengths: Tensor  # (N,) int64
    test_tokens: Tensor
    test_token_lengths: Tensor


def make_babi_data(
    num_train: int = 1000,
    num_test: int = 1000,
    max_sentences: int = 10,  # stories have 2..max_sentences sentences
    seed: int = 0,
) -> BabiData:
    """Training stories from ``seed``, test stories from ``seed + 1`` (independent draws)."""
    require_positive_int("num_train", num_train)
    require_positive_int("num_test", num_test)
    require_positive_int("max_sentences", max_sentences)
    if max_sentences < 2:
        raise ValueError(f"max_sentences: expected at least 2, got {max_sentences}")
    train_stories = generate_stories(num_train, max_sentences=max_sentences, seed=seed)
    test_stories = generate_stories(num_test, max_sentences=max_sentences, seed=seed + 1)
    train_batch = encode_stories(train_stories, max_sentences)
    test_batch = encode_stories(test_stories, max_sentences)
    train_tokens, train_token_lengths = flatten_stories(train_batch)
    test_tokens, test_token_lengths = flatten_stories(test_batch)
    return BabiData(train_stories, test_stories, train_batch, test_batch,
                    train_tokens, train_token_lengths, test_tokens, test_token_lengths)
