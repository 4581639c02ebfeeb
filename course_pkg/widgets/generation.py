"""Chapter 8 widget: one trained language model, sampled at several temperatures.

For a temperature ``tau`` the sampler draws the next character from ``p_tau = softmax(s / tau)``
(:func:`course_pkg.sampling.sample`). How spread out that distribution is, is measured by its
entropy in bits::

    H(p_tau) = -sum_v p_tau(v) log2 p_tau(v)

``H`` is 0 when one character is certain (``tau -> 0``, greedy) and ``log2 V`` for the uniform
distribution (``tau -> inf``). The widget precomputes, for every temperature, a sample continuing
a seed text (same random generator seed for every temperature), the entropy of the distribution
of the first character after the seed, the mean entropy of the distributions the sample was
drawn from, and a bar chart of the most probable first characters.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

import torch

from course_pkg.data.text import CharVocabulary
from course_pkg.models.char_lm import CharLM
from course_pkg.sampling import generate
from course_pkg.training import evaluating
from course_pkg.validation import require_positive_int
from course_pkg.widgets.live import LiveRange
from course_pkg.widgets.precomputed import figure_to_png, png_data_uri, precomputed_slider

__all__ = ["TemperatureSample", "entropy_bits", "temperature_sample", "temperature_widget"]


def entropy_bits(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Entropy in bits of ``softmax(logits / temperature)`` along the last axis: ``(..., V) -> (...)``."""
    if not temperature > 0:
        raise ValueError(f"temperature: expected a number > 0, got {temperature!r}")
    log_probs = torch.log_softmax(logits.double() / temperature, dim=-1)  # (..., V), natural log
    return -(log_probs.exp() * log_probs).sum(dim=-1) / math.log(2.0)  # (...)


@dataclass
class TemperatureSample:
    """What the widget shows for one temperature."""

    temperature: float
    seed_text: str
    text: str  # the generated continuation (without the seed)
    first_entropy_bits: float  # entropy of p_tau for the first character after the seed
    mean_entropy_bits: float  # mean entropy of the distributions each sampled character came from
    top_characters: list[tuple[str, float]]  # the 10 most probable first characters and p_tau


@torch.no_grad()
def temperature_sample(
    model: CharLM,
    vocabulary: CharVocabulary,
    seed_text: str,
    temperature: float,
    length: int = 160,
    seed: int = 0,
) -> TemperatureSample:
    """Sample ``length`` characters after ``seed_text`` at ``temperature`` and measure entropies.

    The draw uses ``torch.Generator().manual_seed(seed)``, so it is reproducible. Generation stops
    early at the vocabulary's end token, if it has one.
    """
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature: expected a number > 0, got {temperature!r}")
    require_positive_int("length", length)
    if not seed_text:
        raise ValueError("seed_text: expected at least one character, got ''")
    seed_ids = vocabulary.encode(seed_text)  # (S,)
    with evaluating(model):
        new_ids = generate(model.step, seed_ids, length, temperature=temperature,
                           end_id=vocabulary.end_id, generator=torch.Generator().manual_seed(seed))  # (N,)
        # The distributions the N characters were drawn from: after seed[-1], then after each new id.
        logits, _ = model(torch.cat([seed_ids, new_ids[:-1]])[:, None])  # (S + N - 1, 1, V)
    drawn_from = logits[len(seed_ids) - 1:, 0]  # (N, V)
    entropies = entropy_bits(drawn_from, temperature)  # (N,)
    first_probs = torch.softmax(drawn_from[0].double() / temperature, dim=0)  # (V,)
    top = torch.topk(first_probs, min(10, len(vocabulary)))
    return TemperatureSample(
        temperature=float(temperature),
        seed_text=seed_text,
        text=vocabulary.decode(new_ids),
        first_entropy_bits=entropies[0].item(),
        mean_entropy_bits=entropies.mean().item(),
        top_characters=[(vocabulary.chars[i], p) for i, p in zip(top.indices.tolist(), top.values.tolist())],
    )


def _visible(char: str) -> str:
    """A label for a character on the bar chart (space, newline and tab made visible)."""
    return {" ": "␣", "\n": "⏎", "\t": "⇥", "\x03": "END"}.get(char, char)


def _render(sample: TemperatureSample) -> str:
    import matplotlib.pyplot as plt

    chars, probs = zip(*sample.top_characters)
    fig, ax = plt.subplots(figsize=(4.2, 2.2))
    ax.bar(range(len(probs)), probs, color="C0")
    ax.set_xticks(range(len(probs)), [_visible(c) for c in chars])
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title(f"first character after the seed, tau = {sample.temperature:g}", fontsize=9)
    fig.tight_layout()
    image = png_data_uri(figure_to_png(fig))
    shown_text = html.escape(sample.text.replace("\x03", "[END]"))
    return (
        f"<div><b>temperature {sample.temperature:g}</b>: entropy of the first character "
        f"{sample.first_entropy_bits:.3f} bits, mean entropy along the sample "
        f"{sample.mean_entropy_bits:.3f} bits</div>"
        f"<img src='{image}' alt='next-character probabilities at temperature {sample.temperature:g}'/>"
        "<pre style='white-space:pre-wrap;max-width:640px;font-size:85%'>"
        f"<b>{html.escape(sample.seed_text)}</b>{shown_text}</pre>"
    )


def temperature_widget(
    model: CharLM,
    vocabulary: CharVocabulary,
    seed_text: str = "The ",
    temperatures: Sequence[float] = (0.1, 0.3, 0.5, 0.8, 1.0, 1.3, 1.7, 2.5),
    length: int = 160,
    seed: int = 0,
):
    """A slider over temperatures: a sample of ``model`` at each, with its entropies (at most 10).

    Every view is computed when the widget is built (``temperature_sample``), so the slider also
    works in the static book.
    """
    temperatures = [float(t) for t in temperatures]
    if not 1 <= len(temperatures) <= 10:
        raise ValueError(f"temperatures: expected between 1 and 10 values, got {len(temperatures)}")
    return precomputed_slider(
        "temperature",
        temperatures,
        lambda t: _render(temperature_sample(model, vocabulary, seed_text, t, length, seed)),
        labels=[f"{t:g}" for t in temperatures],
        initial=min(range(len(temperatures)), key=lambda i: abs(temperatures[i] - 1.0)),
        caption="<b>Sampling temperature</b>: low is safe and repetitive, high is varied and garbled.",
        live=LiveRange(0.05, 3.0, 0.01),  # in a kernel: any temperature, sampled on demand
    )
