"""An end-to-end memory network (MemN2N) for question answering over a story.

Sukhbaatar, Szlam, Weston & Fergus (2015), *End-to-end memory networks*, section 2 and 4.1. The
sentences ``x_1..x_S`` of a story are written into memory twice, as *input* memories ``m_i``
(matched against the question) and *output* memories ``c_i`` (what is read out)::

    m_i = sum_j l_j * A x_ij + T_A(i)        c_i = sum_j l_j * C x_ij + T_C(i)
    u   = sum_j l_j * B q_j                  the question as a vector

with word embeddings A, B, C (d per word), the position encoding ``l_j`` (`position_encoding`)
and the temporal encoding ``T_A(i), T_C(i)``, a learned vector for "the i-th most recent
sentence". One hop (`memory_hop`) attends with the question and adds what it reads::

    p_i = softmax_i(u . m_i)        o = sum_i p_i c_i        u <- u + o

After K hops the answer is ``softmax(W (u_K + o_K))`` (we return the logits ``W (u + o)``).

Weights are tied in a variant of the paper's "adjacent" scheme: hop k uses ``A^k`` for its input
memories and ``C^k = A^{k+1}`` for its output ones, the question embedding is ``B = A^1``; K hops
therefore need K + 1 embedding matrices (and K + 1 temporal tables). The paper's adjacent scheme
also ties the answer matrix to the last output embedding (``W^T = C^K``); here W is its own
linear layer. The position encoding uses the padded sentence width J (as most implementations
do); padding words embed to zero, so they add nothing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from course_pkg.data.padding import PAD
from course_pkg.nn.attention import attend, masked_softmax
from course_pkg.validation import require_floating, require_ndim, require_positive_int

__all__ = ["position_encoding", "memory_hop", "EndToEndMemoryNetwork"]



def position_encoding(num_words: int, embedding_size: int) -> Tensor:
    """The position-encoding weights ``l_kj = (1 - j/J) - (k/d) (1 - 2j/J)`` (section 4.1).

    ``j = 1..J`` counts words (J = ``num_words``), ``k = 1..d`` embedding dimensions
    (d = ``embedding_size``). A sentence vector is ``sum_j l_j * (A x_j)`` (element-wise), so the
    same words in another order give another vector. Returns (J, d), float32.
    """
    require_positive_int("num_words", num_words)
    require_positive_int("embedding_size", embedding_size)
    j = torch.arange(1, num_words + 1, dtype=torch.float32).unsqueeze(1) / num_words  # (J, 1)
    k = torch.arange(1, embedding_size + 1, dtype=torch.float32).unsqueeze(0) / embedding_size
    return (1 - j) - k * (1 - 2 * j)  # (J, d)


def memory_hop(u: Tensor, memory_in: Tensor, memory_out: Tensor,
               mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One hop: ``p_i = softmax_i(u . m_i)``, ``o = sum_i p_i c_i`` (eq. 1 and 2 of the paper).

    u (B, d) the controller (question) state, memory_in m (B, S, d), memory_out c (B, S, d),
    mask (B, S) bool, True at real memories (None: all). Returns ``(o (B, d), p (B, S))``; p is
    exactly 0 on masked memories. The next state is ``u + o`` (the caller adds it).
    """
    require_ndim("u", u, 2, "(B, d) question / controller state")
    require_floating("u", u)
    require_ndim("memory_in", memory_in, 3, "(B, S, d) input memories")
    require_floating("memory_in", memory_in)
    if tuple(memory_in.shape[::2]) != tuple(u.shape):
        raise ValueError(f"memory_in: expected shape ({u.shape[0]}, S, {u.shape[1]}) (the B and d "
                         f"of u), got {tuple(memory_in.shape)}")
    require_ndim("memory_out", memory_out, 3, "(B, S, d) output memories")
    if tuple(memory_out.shape) != tuple(memory_in.shape):
        raise ValueError(f"memory_out: expected shape {tuple(memory_in.shape)} (that of "
                         f"memory_in), got {tuple(memory_out.shape)}")
    scores = torch.bmm(memory_in, u.unsqueeze(2)).squeeze(2)  # (B, S): u . m_i
    p = masked_softmax(scores, mask)  # (B, S)
    return attend(p, memory_out), p  # (B, d), (B, S)


class EndToEndMemoryNetwork(nn.Module):
    """MemN2N with K hops, adjacent-style weight tying (W untied), position and temporal encoding.

    Args:
        vocab_size: V word ids (0 is padding).
        embedding_size: d.
        max_memories: the most sentences a story may have (size of the temporal tables).
        hops: K.
        answer_size: number of answer classes (default V: the answer is a word).
        position_encoding: weight the words of a sentence by `position_encoding` (else a
            plain bag of words).
        temporal_encoding: add the learned vector ``T(i)`` of the sentence's age i (0 = the
            latest sentence), needed to tell the latest move from an older one.

    ``forward(stories (B, S, W), questions (B, Wq))`` -> logits (B, answer_size); with
    ``return_attention=True`` also the hop attentions ``(B, K, S)``.
    """

    def __init__(self, vocab_size: int, embedding_size: int, max_memories: int, hops: int = 3,
                 answer_size: int | None = None, position_encoding: bool = True,
                 temporal_encoding: bool = True):
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("embedding_size", embedding_size)
        require_positive_int("max_memories", max_memories)
        require_positive_int("hops", hops)
        answer_size = vocab_size if answer_size is None else answer_size
        require_positive_int("answer_size", answer_size)
        self.vocab_size, self.embedding_size = vocab_size, embedding_size
        self.max_memories, self.hops = max_memories, hops
        self.use_position_encoding = bool(position_encoding)
        self.use_temporal_encoding = bool(temporal_encoding)
        # embeddings[k] is A^{k+1} = C^k (k >= 1); embeddings[0] is A^1 = B
        self.embeddings = nn.ModuleList(
            nn.Embedding(vocab_size, embedding_size, padding_idx=PAD) for _ in range(hops + 1)
        )
        self.temporal = nn.ModuleList(
            nn.Embedding(max_memories, embedding_size) for _ in range(hops + 1)
        )
        for table in [*self.embeddings, *self.temporal]:  # the paper's N(0, 0.1^2) initialisation
            nn.init.normal_(table.weight, std=0.1)
            if table.padding_idx is not None:
                with torch.no_grad():
                    table.weight[table.padding_idx].zero_()
        self.answer = nn.Linear(embedding_size, answer_size, bias=False)  # W

    def _encode(self, words: Tensor, table: int) -> Tensor:
        """Sentence vectors ``sum_j l_j * E x_j`` of words (..., W) with embedding ``table``."""
        embedded = self.embeddings[table](words)  # (..., W, d)
        if self.use_position_encoding:
            weights = position_encoding(words.shape[-1], self.embedding_size)
            embedded = embedded * weights.to(embedded.dtype)  # (..., W, d)
        return embedded.sum(dim=-2)  # (..., d)

    def forward(self, stories: Tensor, questions: Tensor, return_attention: bool = False):
        """Answer logits for ``stories`` (B, S, W) and ``questions`` (B, Wq), int64 word ids.

        A sentence that is all padding is an empty memory slot (masked); each story needs at
        least one real sentence.
        """
        require_ndim("stories", stories, 3, "(B, S, W) word ids: S sentences of W words")
        require_ndim("questions", questions, 2, "(B, Wq) word ids")
        for name, ids in (("stories", stories), ("questions", questions)):
            if ids.dtype != torch.int64:
                raise TypeError(f"{name}: expected int64 word ids, got {ids.dtype}")
        batch_size, num_slots, _ = stories.shape
        if questions.shape[0] != batch_size:
            raise ValueError(f"questions: expected shape ({batch_size}, Wq) (the batch size of "
                             f"stories), got {tuple(questions.shape)}")
        if num_slots > self.max_memories:
            raise ValueError(f"stories: expected at most max_memories = {self.max_memories} "
                             f"sentences, got shape {tuple(stories.shape)}")
        real = (stories != PAD).any(dim=2)  # (B, S) memory mask
        # age of each sentence: 0 for the latest real one (sentences are oldest first)
        lengths = real.sum(dim=1, keepdim=True)  # (B, 1)
        age = (lengths - 1 - torch.arange(num_slots)).clamp_min(0)  # (B, S)

        memories = []  # memories[k] = sum_j l_j * E^k x_ij + T^k(i), for E^0..E^K
        for k in range(self.hops + 1):
            memory = self._encode(stories, k)  # (B, S, d)
            if self.use_temporal_encoding:
                memory = memory + self.temporal[k](age)
            memories.append(memory)

        u = self._encode(questions, 0)  # (B, d), B = A^1
        attention = []
        for k in range(self.hops):
            o, p = memory_hop(u, memories[k], memories[k + 1], real)  # A^k in, C^k = A^{k+1} out
            u = u + o  # (B, d)
            attention.append(p)
        logits = self.answer(u)  # (B, answer_size): W (u_K + o_K)
        if return_attention:
            return logits, torch.stack(attention, dim=1)  # (B, K, S)
        return logits
