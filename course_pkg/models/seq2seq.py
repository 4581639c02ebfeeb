"""An encoder-decoder (seq2seq) network of GRUs, with or without attention.

The encoder (Cho et al. 2014; Sutskever, Vinyals & Le 2014) reads the source ``x_1..x_S`` into
states ``h_1..h_S``; the decoder then writes the target one token at a time. At decoder step t,
with ``s_{t-1}`` its previous state and ``y_{t-1}`` the previous target token::

    c_t, a_t = attention(query = s_{t-1}, keys = values = h_1..h_S)     with attention
    c_t      = h_S                                                      without (the bottleneck)
    s_t      = GRUCell([E y_{t-1}, c_t], s_{t-1})
    logits_t = W_out [s_t, c_t] + b_out

This is the decoder of Bahdanau, Cho & Bengio (2015), with a single-direction encoder. Without
attention the context is the encoder's last state at every step (Cho et al. 2014): everything the
decoder learns about the source must squeeze through that one vector of size H. Both variants
start the decoder at ``s_0 = h_S`` and differ only in ``c_t``, so a comparison isolates attention.

``attention`` is one of ``"additive"`` (`~course_pkg.nn.attention.AdditiveAttention`),
``"dot"`` (scaled `~course_pkg.nn.attention.DotProductAttention`), ``"general"``
(`~course_pkg.nn.attention.BilinearAttention`) or ``None``.

Token tensors are time-major, ``src (S, B)``, ``tgt_in (T, B)``, with 0 as padding (the layout of
`course_pkg.data.algorithmic.digit_strings`). Training uses teacher forcing: the decoder reads
the true ``y_{t-1}`` (`forward`); `greedy_decode` feeds back its own argmax, `beam_decode` keeps
the ``beam_width`` most probable prefixes (`course_pkg.sampling.beam_search`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from course_pkg.batching import last_step_outputs
from course_pkg.data.padding import PAD
from course_pkg.nn.attention import AdditiveAttention, BilinearAttention, DotProductAttention
from course_pkg.nn.cells import GRUCell
from course_pkg.nn.recurrent import GRU
from course_pkg.sampling import beam_search
from course_pkg.validation import (
    require_choice,
    require_int64_tokens,
    require_ndim,
    require_positive_int,
)

__all__ = ["EncodedSource", "Seq2Seq"]

ATTENTION_KINDS = ("additive", "dot", "general", None)


class EncodedSource(NamedTuple):
    """What the decoder needs from the encoder."""

    states: Tensor  # (B, S, H) encoder states h_1..h_S, batch-first for attention
    final: Tensor  # (B, H) h at each source's last real step
    mask: Tensor  # (B, S) bool, True at real source tokens
    projected_keys: Tensor | None  # (B, S, H) W_k h_j of additive attention, computed once


class Seq2Seq(nn.Module):
    """GRU encoder-decoder; see the module doc for the equations.

    Args:
        src_vocab_size, tgt_vocab_size: number of token ids (0 is padding).
        embedding_size: E, size of the token embeddings.
        hidden_size: H, of the encoder and decoder GRUs (and the additive attention).
        attention: "additive", "dot", "general" or None (no attention).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embedding_size: int = 32,
                 hidden_size: int = 64, attention: str | None = "additive"):
        super().__init__()
        require_positive_int("src_vocab_size", src_vocab_size)
        require_positive_int("tgt_vocab_size", tgt_vocab_size)
        require_positive_int("embedding_size", embedding_size)
        require_positive_int("hidden_size", hidden_size)
        require_choice("attention", attention, ATTENTION_KINDS)
        self.hidden_size, self.attention_kind = hidden_size, attention
        self.src_embedding = nn.Embedding(src_vocab_size, embedding_size, padding_idx=PAD)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, embedding_size, padding_idx=PAD)
        self.encoder = GRU(embedding_size, hidden_size)
        if attention == "additive":
            self.attention = AdditiveAttention(hidden_size, hidden_size, hidden_size)
        elif attention == "dot":
            self.attention = DotProductAttention(scaled=True)
        elif attention == "general":
            self.attention = BilinearAttention(hidden_size, hidden_size)
        else:
            self.attention = None
        self.decoder = GRUCell(embedding_size + hidden_size, hidden_size)
        self.output = nn.Linear(2 * hidden_size, tgt_vocab_size)  # W_out [s_t, c_t] + b_out

    # -- the two halves ----------------------------------------------------------------------------
    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> EncodedSource:
        """Run the encoder over ``src`` (S, B); ``src_lengths`` (B,) (default: all S)."""
        require_int64_tokens("src", src, "time-major source token ids (S, B)")
        num_steps, batch_size = src.shape
        if src_lengths is None:
            src_lengths = torch.full((batch_size,), num_steps, dtype=torch.int64)
        states, _ = self.encoder(self.src_embedding(src))  # (S, B, H)
        final = last_step_outputs(states, src_lengths)  # (B, H), checks src_lengths
        mask = torch.arange(num_steps).unsqueeze(0) < src_lengths.unsqueeze(1)  # (B, S)
        states = states.transpose(0, 1)  # (B, S, H)
        projected_keys = None
        if isinstance(self.attention, AdditiveAttention):  # W_k h_j is the same at every step
            projected_keys = self.attention.project_keys(states)  # (B, S, H)
        return EncodedSource(states, final, mask, projected_keys)

    def decode_step(self, y_prev: Tensor, s_prev: Tensor,
                    source: EncodedSource) -> tuple[Tensor, Tensor, Tensor | None]:
        """One decoder step: y_prev (B,) ids, s_prev (B, H) -> (logits (B, V), s (B, H),
        attention weights (B, S) or None)."""
        keys = values = source.states  # (B, S, H)
        if self.attention is None:
            context, weights = source.final, None  # (B, H): the same vector at every step
        elif source.projected_keys is not None:  # additive: W_k h_j was computed in encode
            context, weights = self.attention(s_prev, keys, values, source.mask,
                                              projected_keys=source.projected_keys)
        else:
            context, weights = self.attention(s_prev, keys, values, source.mask)  # (B, H), (B, S)
        decoder_input = torch.cat([self.tgt_embedding(y_prev), context], dim=1)  # (B, E + H)
        s = self.decoder(decoder_input, s_prev)  # (B, H)
        logits = self.output(torch.cat([s, context], dim=1))  # (B, V)
        return logits, s, weights

    # -- training: teacher forcing ---------------------------------------------------------------
    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None,
                return_attention: bool = False):
        """Teacher-forced logits (T, B, V) for decoder inputs ``tgt_in`` (T, B).

        With ``return_attention`` also the weights (T, B, S) (zeros without attention).
        """
        require_int64_tokens("tgt_in", tgt_in, "time-major decoder input ids (T, B)")
        source = self.encode(src, src_lengths)
        if tgt_in.shape[1] != src.shape[1]:
            raise ValueError(f"tgt_in: expected shape (T, {src.shape[1]}) (the batch size of "
                             f"src), got {tuple(tgt_in.shape)}")
        s = source.final  # (B, H) s_0 = h_S
        all_logits, all_weights = [], []
        for y_prev in tgt_in:  # (B,) per step
            logits, s, weights = self.decode_step(y_prev, s, source)
            all_logits.append(logits)
            all_weights.append(weights)
        logits = torch.stack(all_logits)  # (T, B, V)
        if return_attention:
            return logits, self._stack_weights(all_weights, source)
        return logits

    @staticmethod
    def _stack_weights(weights: list, source: EncodedSource) -> Tensor:
        if weights[0] is None:  # no attention: report zeros of the right shape
            return source.final.new_zeros(len(weights), *source.mask.shape)  # (T, B, S)
        return torch.stack(weights)  # (T, B, S)

    # -- inference -------------------------------------------------------------------------------
    @torch.no_grad()
    def greedy_decode(self, src: Tensor, start_id: int, max_length: int,
                      end_id: int | None = None, src_lengths: Tensor | None = None,
                      return_attention: bool = False):
        """Decode ``src`` (S, B) by feeding back the argmax token, starting from ``start_id``.

        Stops after ``max_length`` tokens or when every sequence has produced ``end_id``
        (finished sequences are padded with ``end_id``). Returns the tokens (T, B), T <=
        ``max_length`` (and the attention weights (T, B, S) with ``return_attention``).
        """
        require_positive_int("max_length", max_length)
        source = self.encode(src, src_lengths)
        batch_size = src.shape[1]
        y = torch.full((batch_size,), start_id, dtype=torch.int64)  # (B,)
        s = source.final
        finished = torch.zeros(batch_size, dtype=torch.bool)
        tokens, all_weights = [], []
        for _ in range(max_length):
            logits, s, weights = self.decode_step(y, s, source)
            y = logits.argmax(dim=1)  # (B,)
            if end_id is not None:
                y = torch.where(finished, torch.full_like(y, end_id), y)
                finished |= y == end_id
            tokens.append(y)
            all_weights.append(weights)
            if bool(finished.all()):
                break
        tokens = torch.stack(tokens)  # (T, B)
        if return_attention:
            return tokens, self._stack_weights(all_weights, source)
        return tokens

    @torch.no_grad()
    def beam_decode(self, src: Tensor, start_id: int, beam_width: int, max_length: int,
                    end_id: int | None = None) -> list[tuple[list[int], float]]:
        """Beam search for one source sequence ``src`` (S,) (see `course_pkg.sampling.beam_search`).

        Returns up to ``beam_width`` pairs ``(token ids, log-probability)``, best first.
        """
        require_ndim("src", src, 1, "one source sequence (S,): beam search decodes one at a time")
        source = self.encode(src.unsqueeze(1))  # B = 1

        def model_step(y_prev: Tensor, s_prev: Tensor | None):
            if s_prev is None:  # the first step starts from s_0 = h_S
                s_prev = source.final
            logits, s, _ = self.decode_step(y_prev, s_prev, source)
            return logits, s

        return beam_search(model_step, [start_id], beam_width, max_length, end_id=end_id)
