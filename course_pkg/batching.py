"""Batching sequences of different lengths: padding, masks and packing.

A recurrent network processes a batch one time step at a time, so every sequence in the batch
needs a value at every step. Three tools make that possible (chapter 1 of the book):

- **padding** (`pad_sequences`): copy the sequences into one ``(T, B, ...)`` array, ``T`` the
  longest length, and fill the gap after each shorter sequence with ``padding_value``;
- **masks** (`lengths_to_mask`): ``mask[t, b]`` is True where step ``t`` of sequence ``b`` is a
  real token (``t < lengths[b]``) and False on padding, so losses and averages can skip padding
  (`masked_mean`, `masked_cross_entropy`, `last_step_outputs`);
- **packing** (`pack`, `unpack`): drop the padding altogether. Sort the sequences by length,
  longest first; then at step ``t`` the ``batch_sizes[t]`` sequences still running are the first
  ones, and their inputs are stored one after the other. The packed ``data`` is therefore the
  padded batch read time step by time step, skipping padding:

  ``data = [x[0, s_0], x[0, s_1], ..., x[1, s_0], ...]`` with ``s`` the sorted order, and
  ``batch_sizes[t] = #{b : lengths[b] > t}``.

  This is the layout of PyTorch's ``torch.nn.utils.rnn.PackedSequence``; `pack` builds one by
  hand so the layout is visible, and the tests compare it with ``pack_padded_sequence``.

Layout convention: time-major ``(T, B, ...)`` by default, batch-major ``(B, T, ...)`` with
``batch_first=True``, as in ``torch.nn.RNN``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence

from course_pkg.validation import require_array, require_floating, require_ndim

__all__ = [
    "pad_sequences",
    "lengths_to_mask",
    "sort_by_length",
    "pack",
    "unpack",
    "masked_mean",
    "masked_cross_entropy",
    "last_step_outputs",
]


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _as_lengths(name: str, lengths: Any) -> torch.Tensor:
    """Turn ``lengths`` (list, numpy array or tensor) into a 1-D int64 CPU tensor, checked >= 1."""
    if isinstance(lengths, torch.Tensor):
        values = lengths.detach().cpu()
    elif isinstance(lengths, np.ndarray):
        values = torch.from_numpy(np.asarray(lengths))
    elif isinstance(lengths, (list, tuple)):
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in lengths):
            raise TypeError(f"{name}: expected a list of ints, got {list(lengths)!r}")
        values = torch.tensor(list(lengths), dtype=torch.int64)
    else:
        raise TypeError(
            f"{name}: expected a list, numpy array or tensor of ints, got {type(lengths).__name__}"
        )
    if values.dtype.is_floating_point or values.dtype == torch.bool or values.is_complex():
        raise TypeError(f"{name}: expected an integer dtype, got {values.dtype}")
    require_ndim(name, values, 1, "one length per sequence")
    if values.numel() == 0:
        raise ValueError(f"{name}: expected at least one length, got an empty {name}")
    values = values.to(torch.int64)
    if (values < 1).any():
        raise ValueError(
            f"{name}: expected every length >= 1, got {values.tolist()} "
            f"(a sequence needs at least one step)"
        )
    return values


def _check_lengths_fit(name: str, lengths: torch.Tensor, batch_size: int, max_len: int) -> None:
    if lengths.numel() != batch_size:
        raise ValueError(
            f"{name}: expected {batch_size} lengths (one per sequence in the batch), "
            f"got {lengths.numel()}"
        )
    if int(lengths.max()) > max_len:
        raise ValueError(
            f"{name}: expected every length <= T = {max_len} (the padded number of steps), "
            f"got max length {int(lengths.max())}"
        )


def _require_bool_mask(name: str, mask: Any) -> None:
    require_array(name, mask)
    if mask.dtype not in (torch.bool, np.bool_):
        raise TypeError(f"{name}: expected a bool mask (True = real token), got dtype {mask.dtype}")


# ----------------------------------------------------------------------------------------------
# padding and masks
# ----------------------------------------------------------------------------------------------
def pad_sequences(
    sequences: Sequence[Any],
    padding_value: float = 0,
    batch_first: bool = False,
) -> tuple[Any, Any]:
    """Stack sequences of lengths ``L_i`` into one padded array.

    ``sequences`` is a non-empty list of arrays of shape ``(L_i, *F)`` (same trailing shape
    ``F``, same kind: all numpy arrays or all torch tensors). Returns ``(padded, lengths)``:

    - ``padded[t, i] = sequences[i][t]`` for ``t < L_i`` and ``padding_value`` after, of shape
      ``(T, B, *F)`` with ``T = max_i L_i`` (``(B, T, *F)`` if ``batch_first``);
    - ``lengths`` the ``L_i`` (int64), a tensor for tensor input, a numpy array for numpy input.

    Same result as ``torch.nn.utils.rnn.pad_sequence`` plus the lengths it throws away.
    """
    if not isinstance(sequences, (list, tuple)):
        raise TypeError(
            f"sequences: expected a list of arrays of shape (L_i, ...), got {type(sequences).__name__}"
        )
    if len(sequences) == 0:
        raise ValueError("sequences: expected a non-empty list of arrays, got an empty list")
    for i, seq in enumerate(sequences):
        require_array(f"sequences[{i}]", seq)
    is_torch = isinstance(sequences[0], torch.Tensor)
    for i, seq in enumerate(sequences):
        if isinstance(seq, torch.Tensor) != is_torch:
            raise TypeError(
                f"sequences[{i}]: expected a {'torch tensor' if is_torch else 'numpy array'} "
                f"like sequences[0], got {type(seq).__name__}"
            )
        if seq.ndim < 1 or seq.shape[0] < 1:
            raise ValueError(
                f"sequences[{i}]: expected shape (L, ...) with L >= 1 steps, got {tuple(seq.shape)}"
            )
        if tuple(seq.shape[1:]) != tuple(sequences[0].shape[1:]):
            raise ValueError(
                f"sequences[{i}]: expected trailing shape {tuple(sequences[0].shape[1:])} "
                f"like sequences[0], got {tuple(seq.shape[1:])}"
            )

    lengths = [int(seq.shape[0]) for seq in sequences]
    num_steps, batch_size = max(lengths), len(sequences)
    feature_shape = tuple(sequences[0].shape[1:])
    if is_torch:
        dtype = sequences[0].dtype
        padded = torch.full((num_steps, batch_size, *feature_shape), padding_value,
                            dtype=dtype, device=sequences[0].device)  # (T, B, *F)
        for i, seq in enumerate(sequences):
            padded[: lengths[i], i] = seq.to(dtype)
        lengths_out: Any = torch.tensor(lengths, dtype=torch.int64)
    else:
        dtype = np.result_type(*[seq.dtype for seq in sequences])
        padded = np.full((num_steps, batch_size, *feature_shape), padding_value, dtype=dtype)
        for i, seq in enumerate(sequences):
            padded[: lengths[i], i] = seq
        lengths_out = np.array(lengths, dtype=np.int64)
    if batch_first:
        padded = padded.transpose(0, 1) if is_torch else padded.swapaxes(0, 1)  # (B, T, *F)
    return padded, lengths_out


def lengths_to_mask(lengths: Any, max_len: int | None = None, batch_first: bool = False) -> Any:
    """Boolean mask of real tokens: ``mask[t, b] = t < lengths[b]``.

    Shape ``(T, B)`` (``(B, T)`` if ``batch_first``), ``T = max_len`` or ``max(lengths)``.
    Returns a numpy array for numpy ``lengths``, a tensor otherwise (lists give tensors).
    """
    as_numpy = isinstance(lengths, np.ndarray)
    lengths_t = _as_lengths("lengths", lengths)
    longest = int(lengths_t.max())
    if max_len is None:
        max_len = longest
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)):
        raise TypeError(f"max_len: expected an int or None, got {type(max_len).__name__}")
    if max_len < longest:
        raise ValueError(
            f"max_len: expected >= the longest length {longest} (lengths = {lengths_t.tolist()}), "
            f"got {max_len}"
        )
    steps = torch.arange(int(max_len)).unsqueeze(1)  # (T, 1)
    mask = steps < lengths_t.unsqueeze(0)  # (T, B)
    if batch_first:
        mask = mask.T  # (B, T)
    return mask.numpy() if as_numpy else mask


# ----------------------------------------------------------------------------------------------
# packing
# ----------------------------------------------------------------------------------------------
def sort_by_length(lengths: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Order a batch longest first, as packing needs.

    Returns ``(sorted_lengths, sorted_indices, unsorted_indices)`` (int64 tensors) with
    ``sorted_lengths = lengths[sorted_indices]`` non-increasing and
    ``sorted_indices[unsorted_indices] = arange(B)`` (the inverse permutation). Ties keep their
    original order (a stable sort).
    """
    lengths_t = _as_lengths("lengths", lengths)
    sorted_lengths, sorted_indices = torch.sort(lengths_t, descending=True, stable=True)
    unsorted_indices = torch.empty_like(sorted_indices)
    unsorted_indices[sorted_indices] = torch.arange(sorted_indices.numel())  # invert
    return sorted_lengths, sorted_indices, unsorted_indices


def pack(
    padded: torch.Tensor,
    lengths: Any,
    batch_first: bool = False,
    enforce_sorted: bool = False,
) -> PackedSequence:
    """Pack a padded batch: keep the real steps only, stored time step by time step.

    ``padded`` has shape ``(T, B, *F)`` (``(B, T, *F)`` if ``batch_first``); ``lengths`` the
    ``B`` lengths, each in ``[1, T]``. With ``s`` the batch sorted longest first,

    ``batch_sizes[t] = #{b : lengths[b] > t}``  and
    ``data = concat_t padded[t, s[:batch_sizes[t]]]``  of shape ``(sum(lengths), *F)``.

    With ``enforce_sorted=True`` the lengths must already be non-increasing and no permutation is
    stored (``sorted_indices = None``), as in ``torch.nn.utils.rnn.pack_padded_sequence``.
    Gradients flow from ``data`` back to ``padded``.
    """
    if not isinstance(padded, torch.Tensor):
        raise TypeError(f"padded: expected a torch tensor, got {type(padded).__name__}")
    require_ndim("padded", padded, (2, 3, 4, 5), "padded batch (T, B, ...)" if not batch_first
                 else "padded batch (B, T, ...)")
    if batch_first:
        padded = padded.transpose(0, 1)  # (T, B, *F)
    num_steps, batch_size = padded.shape[0], padded.shape[1]
    lengths_t = _as_lengths("lengths", lengths)
    _check_lengths_fit("lengths", lengths_t, batch_size, num_steps)

    if enforce_sorted:
        if (lengths_t[1:] > lengths_t[:-1]).any():
            raise ValueError(
                f"lengths: expected non-increasing lengths with enforce_sorted=True, "
                f"got {lengths_t.tolist()}"
            )
        sorted_lengths = lengths_t
        sorted_indices = unsorted_indices = None
        batch_in_order = padded
    else:
        sorted_lengths, sorted_indices, unsorted_indices = sort_by_length(lengths_t)
        batch_in_order = padded.index_select(1, sorted_indices.to(padded.device))  # (T, B, *F)

    longest = int(sorted_lengths[0])
    steps = torch.arange(longest).unsqueeze(1)  # (T', 1)
    batch_sizes = (sorted_lengths.unsqueeze(0) > steps).sum(dim=1)  # (T',) sequences still running
    # Step t contributes its first batch_sizes[t] (still running) sequences, one step after another.
    data = torch.cat([batch_in_order[t, : int(batch_sizes[t])] for t in range(longest)])
    return PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)


def unpack(
    packed: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Undo `pack`: back to ``(padded, lengths)`` in the original batch order.

    ``padded`` has ``T = total_length`` steps (default: the longest length); the lengths are
    read off ``batch_sizes``: sequence ``j`` of the sorted batch runs while ``batch_sizes[t] > j``.
    Same result as ``torch.nn.utils.rnn.pad_packed_sequence``.
    """
    if not isinstance(packed, PackedSequence):
        raise TypeError(f"packed: expected a PackedSequence, got {type(packed).__name__}")
    data, batch_sizes = packed.data, packed.batch_sizes.cpu()
    longest, batch_size = batch_sizes.numel(), int(batch_sizes[0])
    if total_length is None:
        total_length = longest
    if isinstance(total_length, bool) or not isinstance(total_length, (int, np.integer)):
        raise TypeError(f"total_length: expected an int or None, got {type(total_length).__name__}")
    if total_length < longest:
        raise ValueError(
            f"total_length: expected >= the longest length {longest} of the packed batch, "
            f"got {total_length}"
        )

    rows = []  # one (B, *F) block per time step
    offset = 0
    for t in range(longest):
        running = int(batch_sizes[t])
        step = data[offset: offset + running]  # (running, *F)
        gap = data.new_full((batch_size - running, *data.shape[1:]), padding_value)
        rows.append(torch.cat([step, gap]))
        offset += running
    for _ in range(total_length - longest):
        rows.append(data.new_full((batch_size, *data.shape[1:]), padding_value))
    padded = torch.stack(rows)  # (T, B, *F), sorted batch order

    positions = torch.arange(batch_size).unsqueeze(0)  # (1, B)
    sorted_lengths = (batch_sizes.unsqueeze(1) > positions).sum(dim=0)  # (B,)
    if packed.unsorted_indices is not None:
        order = packed.unsorted_indices.cpu()
        padded = padded.index_select(1, order.to(padded.device))
        lengths = sorted_lengths[order]
    else:
        lengths = sorted_lengths
    if batch_first:
        padded = padded.transpose(0, 1)  # (B, T, *F)
    return padded, lengths


# ----------------------------------------------------------------------------------------------
# using a mask: averages, losses and the last real output
# ----------------------------------------------------------------------------------------------
def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the real positions: ``sum(values * mask) / sum(mask)``.

    ``values`` has shape ``(T, B, ...)`` (or any shape starting with ``mask.shape``); ``mask``
    is the bool ``(T, B)`` mask of `lengths_to_mask`. Padding positions are ignored even when they
    hold NaN or inf. Trailing dimensions are averaged too.
    """
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"values: expected a torch tensor, got {type(values).__name__}")
    require_floating("values", values)
    _require_bool_mask("mask", mask)
    mask = torch.as_tensor(mask, device=values.device)
    if tuple(values.shape[: mask.ndim]) != tuple(mask.shape):
        raise ValueError(
            f"mask: expected shape {tuple(values.shape[: mask.ndim])} (the leading dimensions "
            f"of values {tuple(values.shape)}), got {tuple(mask.shape)}"
        )
    if not mask.any():
        raise ValueError("mask: expected at least one True (real) position, got none")
    expanded = mask.reshape(*mask.shape, *([1] * (values.ndim - mask.ndim))).expand_as(values)
    kept = torch.where(expanded, values, torch.zeros((), dtype=values.dtype, device=values.device))
    return kept.sum() / expanded.sum()


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy averaged over real tokens only.

    ``logits`` ``(T, B, C)``, ``targets`` ``(T, B)`` class indices (anything on padding),
    ``mask`` ``(T, B)`` bool. Returns ``mean_{t,b: mask} -log softmax(logits[t, b])[targets[t, b]]``.
    """
    require_ndim("logits", logits, 3, "(T, B, C) scores")
    require_floating("logits", logits)
    num_steps, batch_size, _ = logits.shape
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.int64:
        raise TypeError(
            f"targets: expected an int64 tensor of class indices, got "
            f"{getattr(targets, 'dtype', type(targets).__name__)}"
        )
    if tuple(targets.shape) != (num_steps, batch_size):
        raise ValueError(
            f"targets: expected shape ({num_steps}, {batch_size}) like logits' (T, B), "
            f"got {tuple(targets.shape)}"
        )
    _require_bool_mask("mask", mask)
    safe_targets = torch.where(mask, targets, torch.zeros_like(targets))  # padding -> class 0
    per_token = F.cross_entropy(logits.flatten(0, 1), safe_targets.flatten(), reduction="none")
    return masked_mean(per_token.view(num_steps, batch_size), mask)


def last_step_outputs(outputs: torch.Tensor, lengths: Any, batch_first: bool = False) -> torch.Tensor:
    """The output at each sequence's last real step: ``outputs[lengths[b] - 1, b]``.

    ``outputs`` ``(T, B, *F)`` (``(B, T, *F)`` if ``batch_first``) -> ``(B, *F)``. This is what a
    many-to-one model reads from a padded batch (``outputs[-1]`` would be a padding step for the
    shorter sequences).
    """
    if not isinstance(outputs, torch.Tensor):
        raise TypeError(f"outputs: expected a torch tensor, got {type(outputs).__name__}")
    require_ndim("outputs", outputs, (2, 3, 4), "(T, B, ...) outputs")
    if batch_first:
        outputs = outputs.transpose(0, 1)  # (T, B, *F)
    lengths_t = _as_lengths("lengths", lengths)
    _check_lengths_fit("lengths", lengths_t, outputs.shape[1], outputs.shape[0])
    batch_index = torch.arange(outputs.shape[1], device=outputs.device)
    return outputs[lengths_t.to(outputs.device) - 1, batch_index]  # (B, *F)
