"""Data sets of the course, all made offline.

- ``course_pkg.data.agreement``       subject-verb agreement across a relative clause (chapter 6)
- ``course_pkg.data.algorithmic``     digit strings to reverse, numbers to sort, the NTM copy
  task (chapters 10, 11 and 13)
- ``course_pkg.data.babi``            stories in the style of bAbI task 1 (chapter 12)
- ``course_pkg.data.babi_splits``     a training and a test split of those stories, as text, as
  tensors and flattened (chapter 12)
- ``course_pkg.data.digit_glyphs``    small noisy digit pictures (chapter 17)
- ``course_pkg.data.entity_tagging``  named-entity sentences with BIO tags (chapter 17)
- ``course_pkg.data.forecasting``     a series split by time and scaled, its windows, for
  forecasting (chapter 9)
- ``course_pkg.data.future_context``  a tagging task that needs the future (chapter 7)
- ``course_pkg.data.length_batches``  minibatch streams whose length changes from batch to
  batch (chapters 10, 11 and 13)
- ``course_pkg.data.moving_shapes``   small videos for next-frame prediction (chapter 14)
- ``course_pkg.data.order_tasks``     small token tasks about order and memory (chapters 1, 2)
- ``course_pkg.data.padding``         ``PAD``, the id every integer vocabulary reserves
- ``course_pkg.data.sentiment_turns`` reviews whose opinion turns at "but" (chapter 6)
- ``course_pkg.data.synthetic``       the adding problem, the copy task and bit recall
  (chapters 5 and 13)
- ``course_pkg.data.text``            a character corpus from Python's own ``pydoc_data.topics``,
  its vocabulary, and batches for truncated BPTT (chapter 8)
- ``course_pkg.data.time_series``     a real series (sunspots), split, scaled, windowed (chapter 9)

The names imported below are the ones the first chapters use; import the others by their path.
Arrays are time-major, ``(T, B, ...)``, unless ``batch_first=True`` is asked for.
"""

from course_pkg.data.order_tasks import (
    ORDER_VOCABULARY,
    PAD,
    decode_tokens,
    delayed_echo,
    recall_first_token,
    which_comes_first,
)
from course_pkg.data.synthetic import adding_problem, bit_recall, copy_task
from course_pkg.data.text import END_OF_TEXT, BPTTBatches, CharCorpus, CharVocabulary, pydoc_topics

__all__ = [
    "BPTTBatches",
    "CharCorpus",
    "CharVocabulary",
    "END_OF_TEXT",
    "ORDER_VOCABULARY",
    "PAD",
    "adding_problem",
    "bit_recall",
    "copy_task",
    "decode_tokens",
    "delayed_echo",
    "pydoc_topics",
    "recall_first_token",
    "which_comes_first",
]
