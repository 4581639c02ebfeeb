"""An LSTM copier: one LSTM layer and a linear read-out, the baseline of the copy task.

Chapter 13 sets it against the neural Turing machine (`course_pkg.models.ntm`) on the copy task
of Graves, Wayne & Danihelka (2014) (`course_pkg.data.algorithmic.ntm_copy_task`): read ``L``
random bit vectors and a delimiter, then write the ``L`` vectors back. Unlike the NTM, which
writes the sequence into an external memory, this model has to keep the whole sequence in its
state ``(h_t, c_t)``. It has the NTM's interface, ``inputs (T, B, D) -> logits (T, B, O)``, so
the same loss, training loop and bit error serve both.
"""

from __future__ import annotations

from torch import Tensor, nn

from course_pkg.validation import require_positive_int

__all__ = ["CopyLSTM"]


class CopyLSTM(nn.Module):
    """The baseline: ``logits_t = W h_t + b`` on top of one LSTM layer, for every step t.

    For the input vectors ``x_1..x_T`` (D = bits + 1 with the delimiter channel)::

        h_t, c_t = LSTM(x_t, (h_{t-1}, c_{t-1}))     h_0 = c_0 = 0          (B, H)
        logits_t = W h_t + b                         W (O, H), b (O,)       (B, O)

    and a bit is read as 1 where its logit is positive. Parameters: ``4H(D + H) + 8H`` in the
    LSTM layer, ``(H + 1) O`` in the read-out.

    ``forward(inputs (T, B, bits+1)) -> logits (T, B, bits)``, the same interface as the NTM.
    ``lstm`` is ``torch.nn.LSTM`` or its drop-in ``course_pkg.nn.LSTM``.

    Args:
        input_size: D, the channels of an input vector.
        output_size: O, the bits of an output vector.
        hidden_size: H, the LSTM units.
        lstm: the LSTM class, called as ``lstm(input_size, hidden_size)``.
    """

    def __init__(self, input_size: int, output_size: int, hidden_size: int,
                 lstm: type[nn.Module] = nn.LSTM):
        super().__init__()
        require_positive_int("input_size", input_size)
        require_positive_int("output_size", output_size)
        require_positive_int("hidden_size", hidden_size)
        self.input_size = input_size
        self.lstm = lstm(input_size, hidden_size)
        self.output = nn.Linear(hidden_size, output_size)

    def forward(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != 3 or inputs.shape[2] != self.input_size:
            raise ValueError(f"inputs: expected shape (T, B, {self.input_size}) (time-major), "
                             f"got {tuple(inputs.shape)}")
        states, _ = self.lstm(inputs)  # (T, B, H)
        return self.output(states)  # (T, B, O)
