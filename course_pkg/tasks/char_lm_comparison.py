"""Chapter 15's experiment: Mogrifier LSTM against a plain LSTM *of the same size*.

Melis, Kocisky & Blunsom (2019), *Mogrifier LSTM*, report lower perplexities than an LSTM on
word- and character-level language modelling. A fair small-scale check must give both models the
same number of parameters: the Mogrifier's round matrices Q^i (D, H) and R^i (H, D) are extra
weights, so the plain LSTM gets a wider hidden state instead (`matched_lstm_hidden_size`).

Both models are the character LM of chapter 8 with the recurrent layer swapped
(`~course_pkg.models.recurrent_char_lm.RecurrentCharLM`)::

    e_t = E[x_t]                          (B, E)
    h_t, c_t = core(e_t, (h_{t-1}, c_{t-1}))   core = LSTM or MogrifierLSTM   (B, H)
    p(x_{t+1} | x_<=t) = softmax(W h_t + b)    (B, V)

trained with truncated BPTT and a carried state on the pydoc corpus (`CharCorpus`), measured in
validation bits per character ``bpc = L / ln 2`` every ``eval_every`` steps, for several seeds.
The seed-to-seed spread is the yardstick: a gap between the two mean bpc smaller than the spread
is not evidence of a difference (`gap_exceeds_spread`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from course_pkg.data.text import CharCorpus
from course_pkg.tasks.char_lm import CarriedStateLoss, cross_entropy_nats, nats_to_bits
from course_pkg.models.parameter_count import closest_size, count_parameters
from course_pkg.models.recurrent_char_lm import MODEL_KINDS, RecurrentCharLM
from course_pkg.text_tables import mean_and_spread, seed_cells, text_table
from course_pkg.training import train
from course_pkg.validation import require_positive_int

__all__ = [
    "matched_lstm_hidden_size",
    "ComparisonConfig",
    "ComparisonResult",
    "validation_bits",
    "run_comparison",
    "seed_statistics",
    "gap_exceeds_spread",
    "comparison_table",
    "plot_validation_curves",
]

def matched_lstm_hidden_size(vocab_size: int, embedding_dim: int, mogrifier_hidden: int,
                             rounds: int = 5, rank: int | None = None) -> int:
    """The LSTM hidden size whose whole char LM has the parameter count closest to that of the
    Mogrifier char LM with ``mogrifier_hidden`` units.

    Counts (V vocabulary, E embedding, H hidden): embedding ``VE``, LSTM ``4(HE + H^2 + 2H)``,
    output ``VH + V``; the Mogrifier adds ``ceil(r/2) E H + floor(r/2) H E`` (full rank) or
    ``ceil(r/2)(Ek + kH) + floor(r/2)(Hk + kE)`` (rank k).
    """
    target = count_parameters(RecurrentCharLM("mogrifier", vocab_size, embedding_dim,
                                              mogrifier_hidden, rounds, rank))

    def lstm_count(H: int) -> int:
        return vocab_size * embedding_dim + 4 * (H * embedding_dim + H * H + 2 * H) \
            + vocab_size * H + vocab_size

    return closest_size(lstm_count, target)


@dataclass
class ComparisonConfig:
    """The knobs of `run_comparison`."""

    embedding_dim: int = 16
    mogrifier_hidden: int = 48          # the LSTM's width is matched to this model's count
    rounds: int = 5
    rank: int | None = None
    seq_len: int = 32                   # truncation length of BPTT
    batch_size: int = 16
    learning_rate: float = 3e-3         # Adam
    steps: int = 200
    eval_every: int = 50
    validation_chars: int = 4096        # the first characters of the validation split
    clip_norm: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)


@dataclass
class ComparisonResult:
    """Per model kind: hidden size, parameter count, and per seed the validation bpc curve."""

    config: ComparisonConfig
    hidden_sizes: dict[str, int]
    parameter_counts: dict[str, int]
    eval_steps: list[int]
    curves: dict[str, list[list[float]]] = field(default_factory=dict)   # kind -> seed -> bpc

    def final_bits(self, kind: str) -> list[float]:
        """The last validation bpc of each seed."""
        return [curve[-1] for curve in self.curves[kind]]


def validation_bits(model: RecurrentCharLM, ids: Tensor) -> float:
    """Bits per character of ``model`` on the character ids ``ids`` ``(N,)``, read as 16 streams
    in chunks of 64 with the state carried: the learning-curve measurement, e.g.
    ``evaluate_fn=lambda m: validation_bits(m, validation_ids)`` for `course_pkg.training.train`."""
    return nats_to_bits(cross_entropy_nats(model, ids, seq_len=64, batch_size=16))


def _train_one(kind: str, hidden: int, corpus: CharCorpus, config: ComparisonConfig,
               seed: int) -> list[float]:
    """Train one model for ``config.steps`` steps; validation bpc after every ``eval_every``
    steps and after the last (the evaluation before the first step is left out)."""
    torch.manual_seed(seed)
    model = RecurrentCharLM(kind, len(corpus.vocabulary), config.embedding_dim, hidden,
                            config.rounds, config.rank)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    batches = itertools.cycle(corpus.batches("train", config.seq_len, config.batch_size))
    validation_ids = corpus.validation_ids[:config.validation_chars]
    history = train(model, batches, CarriedStateLoss(), optimizer, config.steps,
                    clip_norm=config.clip_norm, seed=seed, progress=False,
                    eval_every=config.eval_every,
                    evaluate_fn=lambda trained: validation_bits(trained, validation_ids))
    return history.eval_losses[1:]


def run_comparison(corpus: CharCorpus, config: ComparisonConfig | None = None) -> ComparisonResult:
    """Train the Mogrifier and the parameter-matched LSTM for every seed in ``config.seeds``.

    Deterministic: a seed fixes the initial weights; the batches are the consecutive
    truncated-BPTT batches of the training text, the same for both models.
    """
    config = ComparisonConfig() if config is None else config
    if not isinstance(corpus, CharCorpus):
        raise TypeError(f"corpus: expected a CharCorpus, got {type(corpus).__name__}")
    for name in ("embedding_dim", "mogrifier_hidden", "seq_len", "batch_size", "steps",
                 "eval_every", "validation_chars"):
        require_positive_int(f"config.{name}", getattr(config, name))
    if not config.seeds:
        raise ValueError("config.seeds: expected at least one seed, got none")
    vocab_size = len(corpus.vocabulary)
    hidden_sizes = {
        "lstm": matched_lstm_hidden_size(vocab_size, config.embedding_dim,
                                         config.mogrifier_hidden, config.rounds, config.rank),
        "mogrifier": config.mogrifier_hidden,
    }
    counts = {kind: count_parameters(RecurrentCharLM(kind, vocab_size, config.embedding_dim,
                                                     hidden_sizes[kind], config.rounds,
                                                     config.rank))
              for kind in MODEL_KINDS}
    eval_steps = list(range(config.eval_every, config.steps, config.eval_every)) + [config.steps]
    result = ComparisonResult(config, hidden_sizes, counts, eval_steps)
    for kind in MODEL_KINDS:
        result.curves[kind] = [_train_one(kind, hidden_sizes[kind], corpus, config, seed)
                               for seed in config.seeds]
    return result


def seed_statistics(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), min, max and range of ``values``."""
    mean, spread = mean_and_spread(values)
    return {"mean": mean, "std": 0.0 if math.isnan(spread) else spread, "min": min(values),
            "max": max(values), "range": max(values) - min(values)}


def gap_exceeds_spread(result: ComparisonResult) -> tuple[float, float, bool]:
    """``(gap, spread, exceeds)``: gap = mean LSTM bpc - mean Mogrifier bpc (positive: the
    Mogrifier is better); spread = the larger of the two seed ranges (max - min); ``exceeds``
    is ``abs(gap) > spread``, a crude but honest test at three seeds."""
    lstm = seed_statistics(result.final_bits("lstm"))
    mogrifier = seed_statistics(result.final_bits("mogrifier"))
    gap = lstm["mean"] - mogrifier["mean"]
    spread = max(lstm["range"], mogrifier["range"])
    return gap, spread, abs(gap) > spread


def comparison_table(result: ComparisonResult) -> str:
    """An aligned text table: per model its hidden size, parameters, per-seed final bpc, mean,
    standard deviation and range; then the relative difference of the parameter counts, the gap
    and whether it exceeds the spread."""
    seeds = result.config.seeds
    header = ["model", "H", "params", *(f"seed {s}" for s in seeds), "mean", "std", "range"]
    rows = []
    for kind in MODEL_KINDS:
        bits = result.final_bits(kind)
        stats = seed_statistics(bits)
        rows.append([kind, str(result.hidden_sizes[kind]), str(result.parameter_counts[kind]),
                     *seed_cells(dict(zip(seeds, bits)), seeds, digits=4),
                     *(f"{stats[key]:.4f}" for key in ("mean", "std", "range"))])
    lines = [text_table(header, rows)]
    counts = result.parameter_counts
    relative = abs(counts["lstm"] - counts["mogrifier"]) / counts["mogrifier"]
    lines.append(f"parameter counts differ by {100 * relative:.2f}%")
    gap, spread, exceeds = gap_exceeds_spread(result)
    lines.append(f"gap (LSTM mean - Mogrifier mean) = {gap:+.4f} bpc; "
                 f"spread (largest seed range) = {spread:.4f} bpc")
    lines.append("the gap exceeds the spread" if exceeds else
                 "the gap is within the seed-to-seed spread")
    return "\n".join(lines)


def plot_validation_curves(result: ComparisonResult, ax=None):
    """Validation bpc against training step, one thin line per seed, one colour per model."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    colours = {"lstm": "tab:blue", "mogrifier": "tab:orange"}
    for kind in MODEL_KINDS:
        for index, (seed, curve) in enumerate(zip(result.config.seeds, result.curves[kind])):
            label = f"{kind} (H={result.hidden_sizes[kind]})" if index == 0 else None
            ax.plot(result.eval_steps, curve, color=colours[kind], lw=1, marker="o", ms=3,
                    alpha=0.8, label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation bits per character")
    ax.legend(fontsize=8)
    return ax


if __name__ == "__main__":  # pragma: no cover
    import time
    start = time.process_time()
    outcome = run_comparison(CharCorpus())
    print(comparison_table(outcome))
    print(f"CPU seconds: {time.process_time() - start:.1f}")
