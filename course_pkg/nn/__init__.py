"""PyTorch modules written from tensor operations (the recurrent ones drop-in for ``torch.nn``).

- :mod:`.cells`      one time step: `rnn_step`, `lstm_step`, `gru_step` and the cell modules
- :mod:`.packing`    running a recurrence over a padded or packed batch
- :mod:`.recurrent`  the multi-layer, bidirectional RNN, LSTM and GRU
- :mod:`.fused_lstm` the LSTM's fast path: one layer as one autograd node, backward by hand
- :mod:`.gate_ablation` an LSTM layer with one gate held open at 1 (ablation studies)
- :mod:`.attention`  additive (Bahdanau), dot-product and bilinear (Luong) attention
- :mod:`.multihead_attention` scaled dot-product and multi-head attention, causal/padding masks
- :mod:`.transformer_layers`  pre-norm Transformer encoder and decoder layers
- :mod:`.convlstm`   the convolutional LSTM (Shi et al. 2015)
- :mod:`.mogrifier`  the Mogrifier LSTM (Melis et al. 2019)
- :mod:`.sru`        the simple recurrent unit and SRU++ (Lei et al. 2018, 2021)
"""

from course_pkg.nn.attention import (
    AdditiveAttention,
    BilinearAttention,
    DotProductAttention,
    masked_softmax,
)
from course_pkg.nn.cells import GRUCell, LSTMCell, RNNCell
from course_pkg.nn.convlstm import ConvLSTM, ConvLSTMCell
from course_pkg.nn.mogrifier import MogrifierLSTM, MogrifierLSTMCell
from course_pkg.nn.multihead_attention import MultiHeadAttention, scaled_dot_product_attention
from course_pkg.nn.recurrent import GRU, LSTM, RNN
from course_pkg.nn.sru import SRU, SRUpp
from course_pkg.nn.transformer_layers import TransformerDecoderLayer, TransformerEncoderLayer
