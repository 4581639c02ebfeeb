"""Data sets of the course, all made offline.

- ``course_pkg.data.text``       a character corpus from Python's own ``pydoc_data.topics``,
  its vocabulary, and batches for truncated BPTT (chapter 8);
- ``course_pkg.data.synthetic``  the adding problem, the copy task and bit recall
  (chapters 5 and 13);
- ``course_pkg.data.order_tasks`` small token tasks about order and memory (chapters 1 and 2).

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
