"""Character-level text for language models (chapter 8).

The corpus is real prose and code that ships with every CPython: the help topics of
``pydoc_data.topics`` (the pages ``help("assert")`` shows), joined in sorted key order,
about 465,000 characters on Python 3.11.

- :class:`CharVocabulary` maps characters to ids and back (``encode`` / ``decode``), optionally
  with an end-of-text token ``END_OF_TEXT = "\\x03"`` (ASCII ETX) that a model can learn to emit.
- :class:`CharCorpus` holds the encoded text and its split by position: the first 90% for
  training, the last 10% for validation (no shuffling, so no validation text leaks into training).
- :class:`BPTTBatches` cuts a split into batches for truncated backpropagation through time:
  the ids are laid out as B contiguous streams side by side, and consecutive batches continue
  each stream, so a model may carry its hidden state from one batch to the next. Targets are
  the inputs shifted by one character: ``targets[t, b] = ids[next position after inputs[t, b]]``.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import torch

from course_pkg.validation import (
    require_choice,
    require_in_range,
    require_ndim,
    require_positive_int,
)

END_OF_TEXT = "\x03"  # ASCII "end of text"; absent from the pydoc topics


def pydoc_topics() -> list[str]:
    """The texts of ``pydoc_data.topics``, one per topic, in sorted key order."""
    from pydoc_data.topics import topics

    return [topics[key] for key in sorted(topics)]


class CharVocabulary:
    """The sorted set of characters of a text; id ``i`` is the character ``chars[i]``.

    Args:
        text: every character that must be encodable.
        end_token: also include ``END_OF_TEXT``; its id is ``end_id`` (``None`` without it).
    """

    def __init__(self, text: str, end_token: bool = False) -> None:
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        characters = set(text) | ({END_OF_TEXT} if end_token else set())
        self.chars: list[str] = sorted(characters)
        self._ids = {char: i for i, char in enumerate(self.chars)}
        self.end_id: int | None = self._ids.get(END_OF_TEXT)

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self)} characters, end_id={self.end_id})"

    def encode(self, text: str) -> torch.Tensor:
        """A string -> LongTensor (N,) of ids."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        try:
            return torch.tensor([self._ids[char] for char in text], dtype=torch.int64)  # (N,)
        except KeyError as error:
            position = next(i for i, char in enumerate(text) if char not in self._ids)
            raise ValueError(
                f"text: character {error.args[0]!r} at position {position} is not in the vocabulary"
            ) from None

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids (N,) (tensor, array or list) -> the string they encode."""
        ids = torch.as_tensor(ids)
        require_ndim("ids", ids, 1, "(N,) character ids")
        if ids.numel() == 0:
            return ""
        if ids.dtype.is_floating_point or ids.dtype == torch.bool or ids.dtype.is_complex:
            raise TypeError(f"ids: expected integer ids, got {ids.dtype}")
        if ids.min() < 0 or ids.max() >= len(self):
            bad = ids[(ids < 0) | (ids >= len(self))][0].item()
            raise ValueError(f"ids: expected ids in [0, {len(self) - 1}], got {bad}")
        return "".join(self.chars[i] for i in ids.tolist())


class BPTTBatches:
    """Batches of (inputs, targets) for truncated BPTT over one long id sequence; re-iterable.

    With N ids and batch size B, stream b is ``ids[b*L : (b+1)*L]`` with ``L = (N - 1) // B``
    (the leftover tail is dropped), and its targets are the same slice shifted by one. Batch k
    holds time steps ``k*T .. k*T + T - 1`` of every stream (the last batch may be shorter), so
    row ``t`` of batch ``k + 1`` continues row ``t`` of batch ``k`` in the text.

    Args:
        ids: LongTensor (N,).
        seq_len: T, the steps per batch (the truncation length of BPTT).
        batch_size: B, the number of parallel streams.
        batch_first: yield (B, T) instead of the time-major (T, B).
    """

    def __init__(self, ids: torch.Tensor, seq_len: int, batch_size: int, batch_first: bool = False):
        require_ndim("ids", ids, 1, "(N,) token ids")
        require_positive_int("seq_len", seq_len)
        require_positive_int("batch_size", batch_size)
        stream_length = (ids.numel() - 1) // batch_size  # L
        if stream_length < 1:
            raise ValueError(
                f"ids: expected at least batch_size + 1 = {batch_size + 1} ids, got {ids.numel()}"
            )
        used = batch_size * stream_length
        self.inputs = ids[:used].view(batch_size, stream_length).t()  # (L, B)
        self.targets = ids[1 : used + 1].view(batch_size, stream_length).t()  # (L, B)
        self.seq_len = seq_len
        self.batch_first = batch_first

    def __len__(self) -> int:
        return math.ceil(self.inputs.shape[0] / self.seq_len)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, self.inputs.shape[0], self.seq_len):
            inputs = self.inputs[start : start + self.seq_len]  # (T, B)
            targets = self.targets[start : start + self.seq_len]  # (T, B)
            if self.batch_first:
                inputs, targets = inputs.t(), targets.t()  # (B, T)
            yield inputs.contiguous(), targets.contiguous()


class CharCorpus:
    """A character corpus, its vocabulary and its train/validation split by position.

    Args:
        documents: the texts; ``None`` (default) uses :func:`pydoc_topics`; a single ``str`` is
            one document.
        validation_fraction: the share of the ids, taken from the end, held out for validation.
        end_token: put ``END_OF_TEXT`` after every document; otherwise the documents are joined
            with ``"\\n"``.

    Attributes:
        text (str), vocabulary (:class:`CharVocabulary`, built from the whole text so that the
        validation split is encodable), ids (N,), train_ids, validation_ids.
    """

    def __init__(
        self,
        documents: Sequence[str] | str | None = None,
        validation_fraction: float = 0.1,
        end_token: bool = False,
    ) -> None:
        documents = pydoc_topics() if documents is None else documents
        documents = [documents] if isinstance(documents, str) else list(documents)
        if not documents or not all(isinstance(doc, str) for doc in documents):
            raise TypeError("documents: expected a str or a non-empty sequence of str")
        require_in_range("validation_fraction", validation_fraction, 0.0, 1.0)
        if validation_fraction == 1.0:
            raise ValueError("validation_fraction: expected a number in [0, 1), got 1.0")
        if end_token:
            if any(END_OF_TEXT in doc for doc in documents):
                raise ValueError("documents: the end-of-text character '\\x03' already occurs")
            self.text = "".join(doc + END_OF_TEXT for doc in documents)
        else:
            self.text = "\n".join(documents)
        self.vocabulary = CharVocabulary(self.text, end_token=end_token)
        self.ids = self.vocabulary.encode(self.text)  # (N,)
        n_validation = round(self.ids.numel() * validation_fraction)
        n_train = self.ids.numel() - n_validation
        self.train_ids = self.ids[:n_train]  # (N_train,)
        self.validation_ids = self.ids[n_train:]  # (N_validation,)

    def __repr__(self) -> str:
        return (
            f"CharCorpus({self.ids.numel()} characters, vocabulary {len(self.vocabulary)}, "
            f"train {self.train_ids.numel()}, validation {self.validation_ids.numel()})"
        )

    def split(self, name: str) -> torch.Tensor:
        """The ids of ``"train"`` or ``"validation"``."""
        require_choice("split", name, ("train", "validation"))
        return self.train_ids if name == "train" else self.validation_ids

    def batches(
        self, split: str, seq_len: int, batch_size: int, batch_first: bool = False
    ) -> BPTTBatches:
        """Consecutive truncated-BPTT batches of a split, see :class:`BPTTBatches`."""
        return BPTTBatches(self.split(split), seq_len, batch_size, batch_first)

    def random_batch(
        self,
        split: str,
        seq_len: int,
        batch_size: int,
        generator: torch.Generator | None = None,
        batch_first: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """B windows of T characters at random positions: (inputs, targets), each (T, B).

        Each window starts anywhere in the split (uniformly); targets are shifted by one.
        """
        ids = self.split(split)
        require_positive_int("seq_len", seq_len)
        require_positive_int("batch_size", batch_size)
        if ids.numel() < seq_len + 1:
            raise ValueError(
                f"seq_len: expected at most {ids.numel() - 1} for the {split} split, got {seq_len}"
            )
        starts = torch.randint(0, ids.numel() - seq_len, (batch_size,), generator=generator)  # (B,)
        positions = starts[None, :] + torch.arange(seq_len)[:, None]  # (T, B)
        inputs, targets = ids[positions], ids[positions + 1]  # (T, B) each
        if batch_first:
            inputs, targets = inputs.t().contiguous(), targets.t().contiguous()  # (B, T)
        return inputs, targets
