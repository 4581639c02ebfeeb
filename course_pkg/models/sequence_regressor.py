"""A recurrent layer read out at its last step: many-to-one regression (chapters 5, 6, 16, 18).

The network reads a whole sequence and predicts one vector from its final hidden state::

    h_1, ..., h_T = Recurrent(x_1, ..., x_T)        # course_pkg.nn.RNN, GRU or LSTM, h_0 = 0
    y_hat = W_out h_T + b_out                       # nn.Linear(H, O)

``cell`` picks the recurrent layer:

- ``"rnn"``:  the Elman RNN, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``;
- ``"gru"``:  the GRU of Cho et al. (2014), PyTorch's form (reset gate on ``W_hn h + b_hn``);
- ``"lstm"``: the LSTM of Hochreiter & Schmidhuber (1997) with a forget gate (Gers et al. 2000);
  only ``h_T`` is read, the cell state ``c_T`` stays inside;
- ``"sru"``:  the Simple Recurrent Unit of Lei et al. (2018), ``course_pkg.nn.SRU``.

The adding problem (``course_pkg.data.synthetic.adding_problem``) is the task the chapters train
it on: input size 2 (value, marker), output size 1 (the sum of the two marked values).
"""

from __future__ import annotations

from torch import Tensor, nn

from course_pkg.nn import GRU, LSTM, RNN, SRU
from course_pkg.validation import (
    require_choice,
    require_floating,
    require_ndim,
    require_positive_int,
)

__all__ = ["SequenceRegressor", "RECURRENT_LAYERS"]

#: The recurrent layer behind each ``cell`` name.
RECURRENT_LAYERS = {"rnn": RNN, "gru": GRU, "lstm": LSTM, "sru": SRU}


class SequenceRegressor(nn.Module):
    """A recurrent stack (``cell`` a key of ``RECURRENT_LAYERS``) and a linear head on its last
    output.

    Parameters, for ``"rnn"``, ``"gru"`` and ``"lstm"``: ``recurrent.weight_ih_l0`` (G*H, D),
    ``recurrent.weight_hh_l0`` (G*H, H), ``recurrent.bias_ih_l0`` and ``recurrent.bias_hh_l0``
    (G*H,) with G = 1, 3 or 4 gate blocks (and ``_l1``, ... for more layers), then
    ``head.weight`` (O, H) and ``head.bias`` (O,). Same names and initialisation as
    ``torch.nn.RNN``/``GRU``/``LSTM`` followed by ``torch.nn.Linear``, so a state dict moves
    between the two unchanged. ``"sru"`` has `course_pkg.nn.SRU`'s parameters. Inputs are
    time-major ``(T, B, D)``.
    """

    def __init__(self, cell: str, input_size: int = 2, hidden_size: int = 32,
                 output_size: int = 1, num_layers: int = 1):
        super().__init__()
        require_choice("cell", cell, tuple(RECURRENT_LAYERS))
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("output_size", output_size), ("num_layers", num_layers)):
            require_positive_int(name, value)
        self.cell = cell
        self.recurrent = RECURRENT_LAYERS[cell](input_size, hidden_size,      # tanh for "rnn"
                                                num_layers=num_layers)
        self.head = nn.Linear(hidden_size, output_size)                   # W_out (O, H), b_out (O,)

    def hidden_states(self, x: Tensor) -> Tensor:
        """All hidden states ``h_1 .. h_T`` of ``x`` (T, B, D), from ``h_0 = 0``: (T, B, H)."""
        require_ndim("x", x, 3, "time-major input (T, B, D)")
        require_floating("x", x)
        D = self.recurrent.input_size
        if x.shape[2] != D:
            raise ValueError(f"x: expected shape (T, B, {D}) (time-major input with D = {D}), "
                             f"got {tuple(x.shape)}")
        states, _ = self.recurrent(x)     # (T, B, H); the LSTM's cell states are not returned
        return states

    def forward(self, x: Tensor) -> Tensor:
        """The prediction from the last hidden state: ``x`` (T, B, D) -> (B, O)."""
        last = self.hidden_states(x)[-1]  # (B, H) = h_T
        return self.head(last)            # (B, O)
