"""Small models the chapters train: baselines and networks built from the package's layers.

- :mod:`.autoregressive`     the linear AR(p) forecaster fitted by least squares (chapter 9)
- :mod:`.bag_of_words`       an order-blind baseline (token counts -> perceptron), chapter 1
- :mod:`.char_cnn_tagger`    a character-CNN + BiLSTM tagger (Ma & Hovy 2016), chapter 17
- :mod:`.char_lm`            embedding, LSTM, softmax over the next character (chapter 8)
- :mod:`.copy_lstm`          one LSTM layer and a linear read-out, the copy task's baseline
  against the NTM (chapter 13)
- :mod:`.elman`              the Elman network: `course_pkg.nn.RNN` plus ``y_t = W_hy h_t + b_y``,
  many-to-many or many-to-one, chapter 2
- :mod:`.hand_set_gru`       GRUs with hand-set weights, to watch the gates (chapter 6)
- :mod:`.image_sequence`     CNN features into an LSTM, and next-frame ConvLSTM models
- :mod:`.last_step_attention` a self-attention encoder read out at its last position: the
  attention counterpart of the adding problem's model (chapter 18)
- :mod:`.memory_network`     the end-to-end memory network (MemN2N), chapter 12
- :mod:`.ntm`                the neural Turing machine and its addressing steps, chapter 13
- :mod:`.parameter_count`    ``count_parameters``, the size the chapters compare budgets by
- :mod:`.per_frame_classifier` a CNN that labels each frame alone, the baseline of chapter 17
- :mod:`.pointer`            the pointer network and its masked pointer step, chapter 11
- :mod:`.recurrent_char_lm`  a character LM whose one recurrent layer is an LSTM or a Mogrifier
  LSTM (chapter 15)
- :mod:`.self_attention`     a self-attention block and a small sequence model on it
- :mod:`.seq2seq`            a GRU encoder-decoder, with or without attention, chapter 10
- :mod:`.sequence_regressor` a recurrent stack (RNN, GRU, LSTM or SRU) read out at its last
  step: the adding problem's model (chapters 5, 6, 16, 18)
- :mod:`.story_reader`       an LSTM that reads a story and its question word by word and
  answers from its last state, the memory network's baseline (chapter 12)
- :mod:`.tagger`             a one- or two-directional, one- or many-layer tagger (chapter 7)
- :mod:`.transformer`        a small encoder-decoder Transformer (chapter 19)

Only the first two are imported here; import the others by their path.
"""

from course_pkg.models.bag_of_words import BagOfWords, token_counts
from course_pkg.models.elman import ElmanNetwork

__all__ = ["BagOfWords", "token_counts", "ElmanNetwork"]
