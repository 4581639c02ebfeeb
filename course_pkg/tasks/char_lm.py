"""Chapter 8's experiment: a character language model on Python's own help texts.

A `course_pkg.models.char_lm.CharLM` is trained with teacher forcing and truncated BPTT on the
training split of :class:`~course_pkg.data.text.CharCorpus` (``pydoc_data.topics``) and measured on
the validation split. The measures, for a text ``x_1..x_N`` and a model ``p``::

    cross-entropy   L    = -(1/N) sum_t ln p(x_t | x_<t)      nats per character
    bits per char   bpc  = L / ln 2
    perplexity      PPL  = exp(L) = 2 ** bpc

The baseline is the unigram model, which predicts every character from its frequency in the
training text and ignores the context; its cross-entropy on the training text is the entropy
``H = -sum_v f_v log2 f_v`` of the character frequencies (`unigram_entropy_bits`).

Truncated BPTT (chapter 3): the training text is cut into ``B`` contiguous streams
(:class:`~course_pkg.data.text.BPTTBatches`), each batch continues the previous one, and the LSTM
state is carried over from batch to batch but *detached*, so gradients flow back at most
``seq_len`` steps (`CarriedStateLoss`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from course_pkg.data.text import BPTTBatches, CharCorpus
from course_pkg.models.char_lm import CharLM, LSTMState
from course_pkg.training import History, evaluating, train
from course_pkg.validation import require_ndim, require_positive_int

__all__ = [
    "CharLMConfig",
    "CharLMResult",
    "CarriedStateLoss",
    "unigram_entropy_bits",
    "cross_entropy_nats",
    "nats_to_bits",
    "sequence_log_prob",
    "train_char_lm",
]

LN2 = math.log(2.0)


def nats_to_bits(nats: float) -> float:
    """Cross-entropy in nats per character -> bits per character: ``bpc = L / ln 2``."""
    return nats / LN2


def unigram_entropy_bits(ids: torch.Tensor, vocab_size: int) -> float:
    """Entropy ``-sum_v f_v log2 f_v`` of the character frequencies ``f`` of ``ids`` ``(N,)``.

    This is the bits per character of the best context-free model of that text.
    """
    require_ndim("ids", ids, 1, "(N,) character ids")
    require_positive_int("vocab_size", vocab_size)
    counts = torch.bincount(ids, minlength=vocab_size).double()  # (V,)
    frequencies = counts[counts > 0] / counts.sum()
    return float(-(frequencies * torch.log2(frequencies)).sum())


def _detached(state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(s.detach() for s in state)  # type: ignore[return-value]


class CarriedStateLoss:
    """``loss_fn`` for :func:`course_pkg.training.train` that carries the LSTM state across batches.

    Each call continues from the (detached) final state of the previous call, so consecutive
    batches of :class:`~course_pkg.data.text.BPTTBatches` read each stream without a restart.
    """

    def __init__(self) -> None:
        self.state: LSTMState = None

    def __call__(self, model: CharLM, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        inputs, targets = batch  # (T, B) each
        if self.state is not None and self.state[0].shape[1] != inputs.shape[1]:
            self.state = None  # a batch of another width: start afresh
        loss, state = model.loss(inputs, targets, self.state)
        self.state = _detached(state)
        return loss


@torch.no_grad()
def cross_entropy_nats(model: CharLM, ids: torch.Tensor, seq_len: int = 200, batch_size: int = 32) -> float:
    """Mean ``-ln p(x_t | x_<t)`` over ``ids`` ``(N,)``, reading it as ``batch_size`` streams.

    The state is carried through each stream, so every character but the first of a stream is
    predicted from all the characters before it in that stream.
    """
    require_ndim("ids", ids, 1, "(N,) character ids")
    with evaluating(model):
        total, count, state = 0.0, 0, None
        for inputs, targets in BPTTBatches(ids, seq_len, batch_size):  # (T, B) each
            loss, state = model.loss(inputs, targets, state)
            total += loss.item() * targets.numel()
            count += targets.numel()
    return total / count


@torch.no_grad()
def sequence_log_prob(model: CharLM, seed_ids: torch.Tensor, new_ids: torch.Tensor) -> float:
    """``log p(y_1..y_N | seed) = sum_t ln p(y_t | seed, y_<t)`` (nats) of a continuation.

    Args:
        seed_ids: (S,) ids the model reads first (S >= 1); new_ids: (N,) the continuation.
    """
    require_ndim("seed_ids", seed_ids, 1, "(S,) character ids")
    require_ndim("new_ids", new_ids, 1, "(N,) character ids")
    if seed_ids.numel() == 0:
        raise ValueError("seed_ids: expected at least one character, got 0")
    with evaluating(model):
        ids = torch.cat([seed_ids, new_ids])  # (S + N,)
        logits, _ = model(ids[:-1, None])  # (S + N - 1, 1, V)
    log_probs = torch.log_softmax(logits[seed_ids.numel() - 1:, 0].double(), dim=1)  # (N, V)
    return log_probs.gather(1, new_ids[:, None]).sum().item()


@dataclass
class CharLMConfig:
    """The knobs of `train_char_lm`."""

    embedding_dim: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    seq_len: int = 64  # truncation length of BPTT
    batch_size: int = 32  # parallel streams
    learning_rate: float = 3e-3  # Adam
    steps: int = 300
    clip_norm: float = 1.0  # global gradient norm (chapter 4)
    seed: int = 0


@dataclass
class CharLMResult:
    """A trained character LM and its measurements."""

    model: CharLM
    config: CharLMConfig
    history: History  # training losses in nats per character, one per step
    validation_nats: float
    unigram_bits: float  # entropy of the training text's character frequencies

    @property
    def validation_bits(self) -> float:
        return nats_to_bits(self.validation_nats)

    @property
    def validation_perplexity(self) -> float:
        return math.exp(self.validation_nats)


def train_char_lm(corpus: CharCorpus, config: CharLMConfig | None = None, progress: bool = False) -> CharLMResult:
    """Train a `CharLM` on ``corpus``'s training split for ``config.steps`` steps and measure it.

    Deterministic for a given config: the seed fixes the initial weights, and the batches are the
    consecutive truncated-BPTT batches of the training text (no random draws). Chapter 8 writes
    the same steps out on the page, so that a reader can change them.
    """
    config = CharLMConfig() if config is None else config
    torch.manual_seed(config.seed)
    vocab_size = len(corpus.vocabulary)
    model = CharLM(vocab_size, config.embedding_dim, config.hidden_size, config.num_layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    batches = corpus.batches("train", config.seq_len, config.batch_size)
    history = train(model, batches, CarriedStateLoss(), optimizer, config.steps,
                    clip_norm=config.clip_norm, seed=config.seed, progress=progress)
    return CharLMResult(
        model=model,
        config=config,
        history=history,
        validation_nats=cross_entropy_nats(model, corpus.validation_ids),
        unigram_bits=unigram_entropy_bits(corpus.train_ids, vocab_size),
    )
