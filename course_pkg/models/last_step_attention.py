"""A self-attention encoder read out at its last position: many-to-one regression (chapter 18).

The attention counterpart of `course_pkg.models.sequence_regressor.SequenceRegressor`, for the
same tasks (the adding problem: input size 2, output size 1). It runs a
`course_pkg.models.self_attention.SelfAttentionSequenceModel` without a causal mask and keeps
only the output at the last step::

    h_t^(0)   = W_in x_t + b_in + PE_t                        (d,)  for t = 1..T
    h^(l)     = Block_l(h^(l-1))                              pre-norm attention + feed-forward
    y_hat     = W_out LayerNorm(h_T^(L)) + b_out              (O,)

Inside every block each position attends to all T positions (``a_{t,s} = softmax_s(q_t . k_s /
sqrt(d_h))``, no mask), so the last position reaches every input through one softmax: a path of
length one from step s to the output, where a recurrent layer's path has length T - s.
"""

from __future__ import annotations

from torch import Tensor, nn

from course_pkg.models.self_attention import SelfAttentionSequenceModel

__all__ = ["LastStepAttentionRegressor"]


class LastStepAttentionRegressor(nn.Module):
    """`SelfAttentionSequenceModel` (no causal mask) read at its last position.

    Args:
        input_size: D, features per step (2 for the adding problem: value, marker).
        d_model: d, the width of every block.
        num_heads: heads per attention (a divisor of ``d_model``), each of width d / heads.
        num_layers: L, the number of blocks.
        ff_size: hidden units of each block's feed-forward network (default 4 d).
        max_len: the longest sequence accepted (the positional encoding is precomputed to it).
        output_size: O, outputs per sequence.

    ``forward(x)``: x (T, B, D) time-major, T <= ``max_len`` -> y_hat (B, O). The wrapped model
    is ``encoder``; ``encoder.attention_maps(x)`` gives the weights of every block,
    each (B, num_heads, T, T).
    """

    def __init__(self, input_size: int = 2, d_model: int = 16, num_heads: int = 2,
                 num_layers: int = 2, ff_size: int | None = None, max_len: int = 512,
                 output_size: int = 1) -> None:
        super().__init__()
        self.encoder = SelfAttentionSequenceModel(input_size, output_size, d_model=d_model,
                                                  num_heads=num_heads, num_layers=num_layers,
                                                  ff_size=ff_size, max_len=max_len)

    def forward(self, x: Tensor) -> Tensor:
        """The prediction at the last position: x (T, B, D) -> (T, B, O) -> (B, O)."""
        return self.encoder(x)[-1]
