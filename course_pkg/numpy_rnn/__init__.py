"""Numpy reference implementations of the RNN, LSTM and GRU with hand-written backward passes.

One layer, one direction, time-major x (T, B, D), PyTorch's weight layout and gate order
(weight_ih (G*H, D), weight_hh (G*H, H), bias_ih and bias_hh (G*H,); LSTM i, f, g, o;
GRU r, z, n), so weights loaded from ``torch.nn.RNN``/``LSTM``/``GRU`` give the same numbers.
Arrays keep their floating dtype (float32 in, float32 out).

- :mod:`.rnn`        Elman RNN (tanh or relu) and the pieces the cells share
- :mod:`.lstm`       LSTM
- :mod:`.gru`        GRU
- :mod:`.gradcheck`  centred finite differences and the relative error
"""

from course_pkg.numpy_rnn.gradcheck import check_gradients, numerical_gradient, relative_error
from course_pkg.numpy_rnn.gru import (
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
)
from course_pkg.numpy_rnn.lstm import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
)
from course_pkg.numpy_rnn.rnn import (
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

__all__ = [
    "rnn_forward", "rnn_backward", "rnn_step_forward", "rnn_step_backward",
    "lstm_forward", "lstm_backward", "lstm_step_forward", "lstm_step_backward",
    "gru_forward", "gru_backward", "gru_step_forward", "gru_step_backward",
    "sigmoid",
    "numerical_gradient", "relative_error", "check_gradients",
]
