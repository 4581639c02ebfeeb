"""The Elman network: a vanilla recurrent layer plus a linear read-out.

Elman, "Finding structure in time" (1990). With PyTorch's names for the weights::

    h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      f = tanh or relu   (course_pkg.nn.RNN)
    y_t = W_hy h_t + b_y                                 (the output layer, nn.Linear)

Two ways to read it out (chapter 2):

- **many-to-many** (``many_to_one=False``): an output at every step, ``y`` of shape ``(T, B, O)``,
  as for tagging or next-token prediction;
- **many-to-one** (``many_to_one=True``): one output per sequence, read at its last *real* step
  ``h_{L_b - 1}``. For a padded batch the lengths say where that step is; since the network only
  looks backwards in time, the padding after a sequence cannot change the states before it, so
  the result equals running each sequence alone.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from course_pkg.batching import last_step_outputs
from course_pkg.nn import RNN
from course_pkg.validation import require_choice, require_floating, require_ndim, require_positive_int

__all__ = ["ElmanNetwork"]


class ElmanNetwork(nn.Module):
    """A one-layer Elman RNN (`course_pkg.nn.RNN`) with the output layer ``y_t = W_hy h_t + b_y``.

    Parameters: ``rnn.weight_ih_l0`` (H, D), ``rnn.weight_hh_l0`` (H, H), ``rnn.bias_ih_l0`` and
    ``rnn.bias_hh_l0`` (H,), ``output.weight`` = W_hy (O, H), ``output.bias`` = b_y (O,).
    Inputs are time-major ``(T, B, D)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        nonlinearity: str = "tanh",  # or "relu"
        many_to_one: bool = False,  # True: one output per sequence, at its last real step
    ):
        super().__init__()
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        require_positive_int("output_size", output_size)
        require_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        self.rnn = RNN(input_size, hidden_size, nonlinearity=nonlinearity)
        self.output = nn.Linear(hidden_size, output_size)  # W_hy (O, H), b_y (O,)
        self.many_to_one = bool(many_to_one)

    def hidden_states(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """All hidden states ``h_0 .. h_{T-1}`` of ``x`` ``(T, B, D)``: shape ``(T, B, H)``.

        ``h0`` is the initial state ``(1, B, H)`` (zeros if None), as for ``torch.nn.RNN``.
        """
        require_ndim("x", x, 3, "time-major input (T, B, D)")
        require_floating("x", x)
        if x.shape[2] != self.rnn.input_size:
            raise ValueError(f"x: expected shape (T, B, {self.rnn.input_size}) (time-major input "
                             f"with D = {self.rnn.input_size}), got {tuple(x.shape)}")
        states, _ = self.rnn(x, h0)  # (T, B, H)
        return states

    def forward(self, x: torch.Tensor, lengths=None, h0: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs ``y``: ``(T, B, O)`` many-to-many, ``(B, O)`` many-to-one.

        ``lengths`` ``(B,)`` (many-to-one only) gives each sequence's number of real steps in a
        padded batch; without it every sequence is taken to run for all ``T`` steps.
        """
        states = self.hidden_states(x, h0)  # (T, B, H)
        if not self.many_to_one:
            if lengths is not None:
                raise ValueError("lengths: only used with many_to_one=True (mask the per-step "
                                 "outputs instead, e.g. with course_pkg.batching.masked_mean)")
            return self.output(states)  # (T, B, O)
        last = states[-1] if lengths is None else last_step_outputs(states, lengths)  # (B, H)
        return self.output(last)  # (B, O)
