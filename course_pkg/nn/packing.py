"""Running a recurrence over a batch of sequences, padded or packed, in one loop.

Both layouts become the same thing: the inputs of the batch as time-major rows, split into one
block per time step, ``x_steps[t]`` (b_t, G), where ``b_t`` is the number of sequences still
running at step ``t``.

- A padded batch (T, B, D) has ``b_t = B`` for every step: ``rows = x.reshape(T * B, D)``.
- A ``torch.nn.utils.rnn.PackedSequence`` already stores its ``data`` this way: sequences
  sorted by length, longest first, so at step ``t`` the running sequences are the first ``b_t``
  rows of the state and ``batch_sizes = [b_0, b_1, ...]`` never grows.

Forwards in time, when ``b_t`` drops below the number of rows of the state, the last rows'
sequences have just ended: their state is final and is put aside. Backwards in time (the second
direction of a bidirectional layer) a sequence starts at its own last step, so when ``b_t`` grows
the new rows join with their initial state. Either way every sequence's final state is the one
after its own last real step, never after padding.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["padded_to_rows", "rows_to_padded", "run_through_time"]

State = tuple[Tensor, ...]          # (h,) for the RNN and GRU, (h, c) for the LSTM


def padded_to_rows(x: Tensor, batch_first: bool) -> tuple[Tensor, list[int]]:
    """A padded batch as time-major rows: (T, B, D) or (B, T, D) -> rows (T*B, D), [B] * T."""
    if batch_first:
        x = x.transpose(0, 1)                                   # (T, B, D), a view
    steps, batch = x.shape[0], x.shape[1]
    return x.reshape(steps * batch, x.shape[2]), [batch] * steps


def rows_to_padded(rows: Tensor, steps: int, batch: int, batch_first: bool) -> Tensor:
    """The inverse of `padded_to_rows`: rows (T*B, F) -> (T, B, F), or (B, T, F)."""
    out = rows.view(steps, batch, rows.shape[1])                # (T, B, F)
    return out.transpose(0, 1) if batch_first else out


def run_through_time(step: Callable[..., State], x_steps: Sequence[Tensor],
                     initial_state: State, reverse: bool = False) -> tuple[list[Tensor], State]:
    """Apply ``state = step(x_steps[t], *state)`` for t = 0..T-1 (or T-1..0 if ``reverse``).

    ``x_steps[t]`` (b_t, G) with b_0 >= b_1 >= ...; ``initial_state`` a tuple of (b_0, H)
    tensors; ``step`` returns the new state tuple, whose first element is the output h.
    Returns ``outputs`` (T tensors (b_t, H), in time order) and the final state, a tuple of
    (b_0, H) tensors holding each sequence's state after its own last step.
    """
    outputs = []
    if not reverse:
        state = initial_state
        ended: list[State] = []              # states of sequences that ended, shortest first
        for x_t in x_steps:
            running = x_t.shape[0]
            if running < state[0].shape[0]:  # rows running.. ended at the previous step
                ended.append(tuple(s[running:] for s in state))
                state = tuple(s[:running] for s in state)
            state = step(x_t, *state)
            outputs.append(state[0])
        if ended:                            # rows back in order: longest sequences first
            state = tuple(torch.cat(parts) for parts in zip(state, *reversed(ended)))
        return outputs, state

    running = x_steps[-1].shape[0]           # sequences as long as the longest one
    state = tuple(s[:running] for s in initial_state)
    for x_t in reversed(x_steps):
        if x_t.shape[0] > running:           # shorter sequences start here, from their end
            state = tuple(torch.cat([s, s0[running:x_t.shape[0]]])
                          for s, s0 in zip(state, initial_state))
            running = x_t.shape[0]
        state = step(x_t, *state)
        outputs.append(state[0])
    outputs.reverse()
    return outputs, state
