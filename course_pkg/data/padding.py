"""The padding id: every integer vocabulary of the course reserves id 0 for padding.

Variable-length sequences are padded to a common length with ``PAD``; models that embed token
ids give it the zero vector or mask it out, and losses skip it. One constant, so the data
generators (`course_pkg.data.order_tasks`, `algorithmic`, `babi`) and the models that read them
(`course_pkg.models.seq2seq`, `transformer`, `memory_network`) cannot drift apart.
"""

__all__ = ["PAD"]

PAD = 0
