"""The Transformer chapter's widget: which head looks where, in every attention of the model.

For one digit string and its reversal, `TransformerSeq2Seq.attention_maps` gives the weights of
the encoder's self-attention (source -> source), the decoder's causal self-attention (target
prefix -> target prefix) and the decoder's cross-attention (target -> source), per layer and
head. One slider picks the attention (kind and layer), the other the head; each view is a
heat map of that head's weights with the tokens on the axes. The views are drawn once when the
widget is built (`course_pkg.widgets.precomputed_grid`), so both sliders work in the static book.
In a live kernel (`course_pkg.widgets.live.widget_mode`) a text box takes any digit string (up
to `MAX_LIVE_DIGITS`), which the model reads there (`head_weights`).
"""

from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
import torch

from course_pkg.data.algorithmic import DIGIT_VOCABULARY, END, FIRST_DIGIT, START
from course_pkg.models.transformer import TransformerSeq2Seq
from course_pkg.training import evaluating
from course_pkg.widgets.live import LiveChoice, LiveText, live_controls, widget_mode
from course_pkg.widgets.precomputed import image_html
from course_pkg.widgets.precomputed_grid import precomputed_grid

__all__ = ["head_weights", "attention_heads_widget", "MAX_LIVE_DIGITS"]

MAX_LIVE_DIGITS = 40  # the longest string live mode reads (the chapter trains up to 40)


def _parse_digits(text: str) -> list[int]:
    kept = text.replace(",", "").replace(" ", "") if isinstance(text, str) else None
    if not kept or not kept.isdigit() or len(kept) > MAX_LIVE_DIGITS:
        raise ValueError(f"digits: expected 1 to {MAX_LIVE_DIGITS} digits 0-9, got {text!r}")
    return [int(c) for c in kept]


def _check_digits(digits: Sequence[int]) -> list[int]:
    digits = list(digits)
    if not digits or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 9
                         for d in digits):
        raise ValueError(f"digits: expected a non-empty sequence of ints 0-9, got {digits!r}")
    return digits


def head_weights(model: TransformerSeq2Seq, digits: Sequence[int]) -> dict[str, np.ndarray]:
    """``{"encoder self-attention, layer 1": (heads, S, S), "decoder self-attention, layer 1":
    (heads, T, T), "decoder cross-attention, layer 1": (heads, T, S), ...}`` for one string,
    teacher-forced on its reversal (T = S + 1 decoder positions: ``<s>`` and the S digits)."""
    if not isinstance(model, TransformerSeq2Seq):
        raise TypeError(f"model: expected a TransformerSeq2Seq, got {type(model).__name__}")
    digits = _check_digits(digits)
    src = torch.tensor([d + FIRST_DIGIT for d in digits])[:, None]  # (S, 1)
    tgt_in = torch.cat([torch.tensor([START]), src.flip(0)[:, 0]])[:, None]  # (S+1, 1)
    with evaluating(model):
        maps = model.attention_maps(src, tgt_in)
    return {f"{kind}, layer {i + 1}": w[0].numpy()
            for kind, per_layer in (("encoder self-attention", maps["encoder"]),
                                    ("decoder self-attention", maps["decoder self"]),
                                    ("decoder cross-attention", maps["decoder cross"]))
            for i, w in enumerate(per_layer)}


def _render(name: str, weights: np.ndarray, head: int, digits: list[int]) -> str:
    import matplotlib.pyplot as plt

    source = [str(d) for d in digits]
    target = [DIGIT_VOCABULARY[START]] + source[::-1]
    rows = source if name.startswith("encoder") else target
    cols = target if name.startswith("decoder self") else source
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.imshow(weights[head], cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_xlabel("attended position (key)")
    ax.set_ylabel("attending position (query)")
    ax.set_title(f"{name}, head {head + 1}", fontsize=9)
    return image_html(fig, f"{name}, head {head + 1}")


def attention_heads_widget(model: TransformerSeq2Seq,
                           digits: Sequence[int] = (4, 1, 7, 0, 9, 2, 6, 3)) -> widgets.VBox:
    """Sliders over the model's attentions (kind and layer) and heads, for one string.

    Live mode: a text box for the string too (any 1 to 40 digits, read by the model when
    typed)."""
    digits = _check_digits(digits)
    maps = head_weights(model, digits)
    heads = next(iter(maps.values())).shape[0]
    if widget_mode() == "live":
        seen = {tuple(digits): maps}

        def render(typed, name, head):
            if tuple(typed) not in seen:
                seen[tuple(typed)] = head_weights(model, typed)
            weights = seen[tuple(typed)][name][head]                       # (queries, keys)
            focus = ", ".join(f"{q}&rarr;{int(k)} ({weights[q, k]:.2f})"
                              for q, k in enumerate(weights.argmax(axis=1)))
            return (_render(name, seen[tuple(typed)][name], head, typed)
                    + f"<div class='cp-head-focus'>largest weight of each query position "
                      f"(query&rarr;key): {focus}</div>")

        return live_controls(
            [("digits", LiveText(_parse_digits, sample="9081726354", placeholder="e.g. 4170"),
              "".join(map(str, digits))),
             ("attention", LiveChoice(tuple(maps)), 0),
             ("head", LiveChoice(tuple(range(heads)), tuple(str(h + 1) for h in range(heads))),
              0)],
            render,
            caption="Weights while reading the typed digits and writing their reversal "
                    f"(teacher forcing), computed in the kernel; the end token "
                    f"{DIGIT_VOCABULARY[END]} is not shown.")
    return precomputed_grid(
        "attention", list(maps), "head", list(range(heads)),
        lambda name, head: _render(name, maps[name], head, digits),
        column_labels=[str(h + 1) for h in range(heads)],
        caption=f"Weights while reading {''.join(map(str, digits))} and writing its reversal "
                f"(teacher forcing); the end token {DIGIT_VOCABULARY[END]} is not shown.")
