"""A small encoder-decoder Transformer (Vaswani et al. 2017), with the interface of the course's
GRU encoder-decoder (`course_pkg.models.seq2seq.Seq2Seq`), so the attention chapter's training and
evaluation code runs on it unchanged.

Source tokens ``x_1..x_S`` and decoder inputs ``y_0 = <s>, y_1, .., y_{T-1}``::

    e_j = sqrt(d) E_x x_j + PE_j               (S, B, d)  embeddings scaled as in the paper,
    u_t = sqrt(d) E_y y_t + PE_t               (T, B, d)  plus sinusoidal positions
    memory = LN(EncoderLayer^N(e))             padding of the source masked
    out    = LN(DecoderLayer^N(u, memory))     causal self-attention, cross-attention to memory
    logits_t = W_out out_t + b_out             (T, B, V)

with the pre-norm layers of `course_pkg.nn.transformer_layers` and the positional encoding of
`course_pkg.models.self_attention.sinusoidal_positions`. The final LayerNorms ``LN`` are needed
in the pre-norm layout, whose residual stream is never normalised inside a layer.

**Training is parallel over time**: with the causal mask, the logits of all T target positions
come from one pass of the decoder (teacher forcing), where the recurrent decoder of the attention
chapter takes T steps. **Generation is sequential**: `greedy_decode` must know token t before it can
compute token t + 1. It runs the encoder once and then the decoder on the growing prefix, T
times (without a key-value cache, so step t recomputes all t positions).

The encoder and decoder stacks live in ``core`` (`TransformerCore`), whose parameter names are
those of ``torch.nn.Transformer`` (``encoder.layers.{i}...``, ``encoder.norm``,
``decoder.layers.{i}...``, ``decoder.norm``): ``core.state_dict()`` loads into
``torch.nn.Transformer(d, heads, N, N, ff, dropout=0.0, norm_first=True)``, and the tests check
that both compute the same function.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from course_pkg.data.padding import PAD
from course_pkg.models.self_attention import sinusoidal_positions
from course_pkg.nn.multihead_attention import causal_mask, padding_mask
from course_pkg.nn.transformer_layers import TransformerDecoderLayer, TransformerEncoderLayer
from course_pkg.validation import require_int64_tokens, require_positive_int

__all__ = ["TransformerCore", "TransformerSeq2Seq"]



class _Stack(nn.Module):
    """``layers`` then a final LayerNorm ``norm`` (torch's TransformerEncoder/Decoder layout)."""

    def __init__(self, layers: list[nn.Module], d_model: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(d_model)


class TransformerCore(nn.Module):
    """The encoder and decoder stacks on embedded inputs.

    ``forward(src (S, B, d), tgt (T, B, d), src_mask=None, tgt_mask=None)`` -> (T, B, d), with
    ``src_mask`` (B, S) and ``tgt_mask`` (B, T) bool, True at real positions; the decoder's
    self-attention is always causal. `encode` and `decode` are the two halves; both can also
    return the attention weights of every layer.
    """

    def __init__(self, d_model: int = 64, num_heads: int = 4, num_layers: int = 1,
                 ff_size: int = 128) -> None:
        super().__init__()
        require_positive_int("num_layers", num_layers)
        self.d_model = d_model
        self.encoder = _Stack([TransformerEncoderLayer(d_model, num_heads, ff_size)
                               for _ in range(num_layers)], d_model)
        self.decoder = _Stack([TransformerDecoderLayer(d_model, num_heads, ff_size)
                               for _ in range(num_layers)], d_model)

    def encode(self, src: Tensor, src_mask: Tensor | None = None):
        """memory (S, B, d) and the encoder's self-attention weights, one (B, h, S, S) per layer."""
        weights = []
        for layer in self.encoder.layers:
            src, w = layer(src, key_mask=src_mask)
            weights.append(w)
        return self.encoder.norm(src), weights

    def decode(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
               src_mask: Tensor | None = None):
        """out (T, B, d), and per layer the self (B, h, T, T) and cross (B, h, T, S) weights."""
        allowed = causal_mask(tgt.shape[0], tgt.device)  # (T, T)
        self_weights, cross_weights = [], []
        for layer in self.decoder.layers:
            tgt, ws, wc = layer(tgt, memory, allowed, tgt_mask, src_mask)
            self_weights.append(ws)
            cross_weights.append(wc)
        return self.decoder.norm(tgt), self_weights, cross_weights

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None) -> Tensor:
        memory, _ = self.encode(src, src_mask)
        return self.decode(tgt, memory, tgt_mask, src_mask)[0]


class TransformerSeq2Seq(nn.Module):
    """Embeddings + positions + `TransformerCore` + output layer (see the module doc).

    Args:
        src_vocab_size, tgt_vocab_size: number of token ids (0 is padding).
        d_model: width of every layer; num_heads: heads per attention (a divisor of d_model);
        num_layers: encoder layers (and as many decoder layers); ff_size: feed-forward units;
        max_len: the longest source or target (the positional encoding is precomputed).

    Same calls as `Seq2Seq`: ``model(src, tgt_in, src_lengths)`` -> logits (T, B, V) and
    ``greedy_decode(src, start_id, max_length, end_id=None, src_lengths=None)`` -> (T, B).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 48,
                 num_heads: int = 4, num_layers: int = 1, ff_size: int = 128,
                 max_len: int = 128) -> None:
        super().__init__()
        for name, value in (("src_vocab_size", src_vocab_size),
                            ("tgt_vocab_size", tgt_vocab_size), ("max_len", max_len)):
            require_positive_int(name, value)
        self.max_len = max_len
        self.src_embedding = nn.Embedding(src_vocab_size, d_model, padding_idx=PAD)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, d_model, padding_idx=PAD)
        nn.init.normal_(self.src_embedding.weight, std=d_model ** -0.5)  # sqrt(d) E: unit scale
        nn.init.normal_(self.tgt_embedding.weight, std=d_model ** -0.5)
        with torch.no_grad():
            self.src_embedding.weight[PAD].zero_()
            self.tgt_embedding.weight[PAD].zero_()
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model),
                             persistent=False)  # (max_len, d)
        self.core = TransformerCore(d_model, num_heads, num_layers, ff_size)
        self.output = nn.Linear(d_model, tgt_vocab_size)

    def _embed(self, embedding: nn.Embedding, tokens: Tensor) -> Tensor:
        if tokens.shape[0] > self.max_len:
            raise ValueError(f"tokens: expected at most max_len = {self.max_len} steps, got "
                             f"{tokens.shape[0]}")
        scale = math.sqrt(self.core.d_model)
        return scale * embedding(tokens) + self.positions[:tokens.shape[0], None, :]  # (T, B, d)

    def encode(self, src: Tensor, src_lengths: Tensor | None = None):
        """``(memory (S, B, d), src_mask (B, S), encoder weights per layer)``."""
        require_int64_tokens("src", src, "time-major source token ids (S, B)")
        num_steps, batch = src.shape
        if src_lengths is None:
            src_lengths = torch.full((batch,), num_steps, dtype=torch.int64)
        src_mask = padding_mask(src_lengths, num_steps)  # (B, S)
        memory, weights = self.core.encode(self._embed(self.src_embedding, src), src_mask)
        return memory, src_mask, weights

    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None) -> Tensor:
        """Teacher-forced logits (T, B, V) for decoder inputs ``tgt_in`` (T, B): all T positions
        in one pass (causal self-attention)."""
        require_int64_tokens("tgt_in", tgt_in, "time-major decoder input ids (T, B)")
        if tgt_in.shape[1] != src.shape[1]:
            raise ValueError(f"tgt_in: expected shape (T, {src.shape[1]}) (the batch size of "
                             f"src), got {tuple(tgt_in.shape)}")
        memory, src_mask, _ = self.encode(src, src_lengths)
        out, _, _ = self.core.decode(self._embed(self.tgt_embedding, tgt_in), memory,
                                     None, src_mask)
        return self.output(out)  # (T, B, V)

    @torch.no_grad()
    def attention_maps(self, src: Tensor, tgt_in: Tensor,
                       src_lengths: Tensor | None = None) -> dict[str, list[Tensor]]:
        """The weights of every attention: ``{"encoder": [(B, h, S, S)] per layer, "decoder
        self": [(B, h, T, T)], "decoder cross": [(B, h, T, S)]}`` (teacher forcing)."""
        memory, src_mask, encoder_weights = self.encode(src, src_lengths)
        _, self_weights, cross_weights = self.core.decode(
            self._embed(self.tgt_embedding, tgt_in), memory, None, src_mask)
        return {"encoder": encoder_weights, "decoder self": self_weights,
                "decoder cross": cross_weights}

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, start_id: int, max_length: int,
                      end_id: int | None = None, src_lengths: Tensor | None = None) -> Tensor:
        """Feed back the argmax token, one position at a time: tokens (T, B), T <= max_length.

        Stops after ``max_length`` tokens or when every sequence has produced ``end_id``
        (finished sequences are padded with ``end_id``)."""
        require_positive_int("max_length", max_length)
        memory, src_mask, _ = self.encode(src, src_lengths)  # once
        batch = src.shape[1]
        prefix = torch.full((1, batch), start_id, dtype=torch.int64)  # (1, B): <s>
        finished = torch.zeros(batch, dtype=torch.bool)
        for _ in range(max_length):
            out, _, _ = self.core.decode(self._embed(self.tgt_embedding, prefix), memory,
                                         None, src_mask)  # (t, B, d): the whole prefix again
            y = self.output(out[-1]).argmax(dim=1)  # (B,) from the last position
            if end_id is not None:
                y = torch.where(finished, torch.full_like(y, end_id), y)
                finished |= y == end_id
            prefix = torch.cat([prefix, y[None]])
            if bool(finished.all()):
                break
        return prefix[1:]  # (T, B) without <s>
