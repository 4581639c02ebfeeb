"""Widgets of chapters 10 and 11: where the decoder looks, one output step at a time.

- `alignment_widget` (chapter 10): a trained `course_pkg.models.seq2seq.Seq2Seq` decodes one
  digit string greedily; a slider over the decoder steps t shows the attention weights
  ``a_tj`` over the source positions j (Bahdanau et al. 2015, eq. 6), each source digit shaded
  by its weight, next to what the decoder has written so far.
- `pointer_widget` (chapter 11): a trained `course_pkg.models.pointer.PointerNetwork` sorts one
  list greedily; a slider over the decoding steps i shows the output distribution
  ``p(C_i = j)`` over the input positions j (Vinyals et al. 2015, eq. 3), the positions already
  chosen greyed out (the mask gives them probability exactly 0).

Both views are HTML tables. In the static book they are computed once, when the widget is built
(`course_pkg.widgets.precomputed.precomputed_slider`), so they also move without a kernel. In a
live kernel (`course_pkg.widgets.live.widget_mode`) the reader types the input (a digit string, a
list of numbers) into a text box and picks the step; the trained model decodes whatever was
typed (`course_pkg.widgets.live.live_controls`).
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import torch

from course_pkg.data.algorithmic import DIGIT_VOCABULARY, FIRST_DIGIT, START
from course_pkg.models.pointer import PointerNetwork, decoding_with_mask
from course_pkg.models.seq2seq import Seq2Seq
from course_pkg.training import evaluating
from course_pkg.widgets.html_table import Cell, html_table, shaded_cell
from course_pkg.widgets.live import LiveRange, LiveText, live_controls, widget_mode
from course_pkg.widgets.precomputed import precomputed_slider

__all__ = ["decode_with_attention", "alignment_widget", "decode_pointers", "pointer_widget",
           "parse_digits", "parse_numbers"]

MAX_STEPS = 12  # a slider of at most 12 views keeps the widget small
_BLUE, _ORANGE, _GREY = "31,119,180", "255,127,14", "190,190,190"
_TABLE_STYLE = "border-collapse:collapse;font-family:monospace;font-size:90%;text-align:center"
_CELL_STYLE = "padding:3px 7px"
_MASKED = Cell("masked", style="color:#999;background:rgb(235,235,235)")


def _shaded_cell(text: str, shade: float, colour: str, bold: bool = False) -> Cell:
    """A bordered table cell with background ``colour`` at opacity ``shade`` in [0, 1]."""
    return shaded_cell(text, shade, colour, bold, style="border:1px solid #ddd")


def _step_control() -> LiveRange:
    """The step slider of live mode: 1..MAX_STEPS; a step past the input's end shows the last."""
    return LiveRange(1, MAX_STEPS, 1, integer=True, fmt="d")


def _decoder(decode):
    """``decode(key)`` with the results kept, so moving the step slider decodes nothing again."""
    seen = {}

    def cached(key):
        if key not in seen:
            seen[key] = decode(key)
        return seen[key]

    return cached


def _table(rows: dict[str, tuple[str, Sequence]]) -> str:
    """The table of a view: ``rows`` maps a row's class to (its label, its cells)."""
    body = [[Cell(html.escape(label), style="text-align:left;padding-right:8px", header=True),
             *cells] for label, cells in rows.values()]
    return html_table(None, body, style=_TABLE_STYLE, cell_style=_CELL_STYLE,
                      row_classes=list(rows))


# ----------------------------------------------------------------------------------------------
# chapter 10: the attention of a seq2seq decoder
# ----------------------------------------------------------------------------------------------
def _check_digits(digits: Sequence[int]) -> list[int]:
    digits = [int(d) for d in digits]
    if not 1 <= len(digits) <= MAX_STEPS or any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f"digits: expected 1 to {MAX_STEPS} digits 0..9, got {digits}")
    return digits


@torch.no_grad()
def decode_with_attention(model: Seq2Seq, digits: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """Greedy decoding of one digit string, ``L`` steps: ``(weights (L, L), written tokens)``.

    ``weights[t, j]`` is the weight decoder step t gives source position j; ``written[t]`` the
    token it writes ("0".."9", or "</s>" etc. for a non-digit).
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model: expected a Seq2Seq, got {type(model).__name__}")
    if model.attention is None:
        raise ValueError("model: expected a Seq2Seq with attention, got attention=None")
    digits = _check_digits(digits)
    src = torch.tensor(digits, dtype=torch.int64).add(FIRST_DIGIT).unsqueeze(1)  # (L, 1) ids
    with evaluating(model):
        tokens, weights = model.greedy_decode(src, START, len(digits), return_attention=True)
    written = [DIGIT_VOCABULARY[token] for token in tokens[:, 0].tolist()]
    return weights[:, 0].double().numpy(), written  # (L, L) rows sum to 1


def _render_alignment(step: int, digits: list[int], weights: np.ndarray, written: list[str]) -> str:
    length = len(digits)
    row = weights[step]  # (L,) weights over the source positions
    focus = int(row.argmax())
    source = [_shaded_cell(str(d), row[j], _BLUE, bold=j == focus) for j, d in enumerate(digits)]
    numbers = [f"{w:.3f}" for w in row]
    output = [_shaded_cell(written[t] if t <= step else "", 0.35 if t == step else 0.0, _ORANGE,
                           bold=t == step) for t in range(length)]
    expected = digits[::-1][step]
    verdict = "right" if written[step] == str(expected) else f"wrong, the reverse has {expected}"
    header = (f"<div>decoder step {step + 1} of {length} writes <b>{html.escape(written[step])}"
              f"</b> ({verdict}); its largest weight, {row[focus]:.3f}, is on source position "
              f"{focus + 1} (digit {digits[focus]}).</div>")
    return header + _table({"source": ("source x_j", source),
                            "weights": ("weight a_tj", numbers),
                            "written": ("written so far", output)})


def parse_digits(text: str) -> list[int]:
    """A digit string as a reader types it ("31415", "3 1 4 1 5" or "3,1,4") -> [3, 1, 4, ...]."""
    if not isinstance(text, str):
        raise ValueError(f"digits: expected a str of 1 to {MAX_STEPS} digits 0-9, got {text!r}")
    kept = text.replace(",", "").replace(" ", "")
    if not kept.isdigit() or not 1 <= len(kept) <= MAX_STEPS:
        raise ValueError(f"digits: expected 1 to {MAX_STEPS} digits 0-9, got {text!r}")
    return [int(c) for c in kept]


def alignment_widget(model: Seq2Seq, digits: Sequence[int] = (3, 1, 4, 1, 5, 9, 2, 6)):
    """A slider over the decoder steps of reversing ``digits`` (1 to 12 digits 0..9).

    Each view shades every source digit by the attention weight the chosen step gives it and
    prints the weights; the digit with the largest weight is in bold.

    Live mode: a text box for the digits (any 1 to 12, decoded by ``model`` when typed) and a
    step slider 1..12 (a step past the last shows the last).
    """
    digits = _check_digits(digits)
    if widget_mode() == "live":
        if not isinstance(model, Seq2Seq):
            raise TypeError(f"model: expected a Seq2Seq, got {type(model).__name__}")
        decoded = _decoder(lambda key: decode_with_attention(model, key))

        def render(typed, step):
            weights, written = decoded(tuple(typed))
            return _render_alignment(min(step, len(typed)) - 1, typed, weights, written)

        return live_controls(
            [("digits", LiveText(parse_digits, sample="90210", placeholder="e.g. 31415"),
              "".join(map(str, digits))),
             ("decoder step t", _step_control(), 1)],
            render,
            caption="<b>Where the decoder looks.</b> Type any digits (1 to 12): the trained "
                    "model reverses them in the kernel. Blue: the attention weight of each "
                    "source digit at the chosen decoder step.")
    weights, written = decode_with_attention(model, digits)
    return precomputed_slider(
        "decoder step t",
        list(range(len(digits))),
        lambda step: _render_alignment(step, digits, weights, written),
        labels=[str(t + 1) for t in range(len(digits))],
        caption="<b>Where the decoder looks.</b> Blue: the attention weight of each source "
                "digit at the chosen decoder step (darker = more weight).",
    )


# ----------------------------------------------------------------------------------------------
# chapter 11: the output distribution of a pointer network
# ----------------------------------------------------------------------------------------------
def _check_numbers(numbers: Sequence[float]) -> list[float]:
    numbers = [float(x) for x in numbers]
    if not 1 <= len(numbers) <= MAX_STEPS:
        raise ValueError(f"numbers: expected 1 to {MAX_STEPS} numbers, got {len(numbers)}")
    return numbers


@torch.no_grad()
def decode_pointers(model: PointerNetwork, numbers: Sequence[float],
                    mask_chosen: bool | None = None) -> tuple[np.ndarray, list[int]]:
    """Greedy pointer decoding of one list: ``(probabilities (N, N), pointers (N,))``.

    ``probabilities[i, j] = p(C_i = j)``; ``mask_chosen`` overrides the model's setting for this
    decoding (None: keep it).
    """
    if not isinstance(model, PointerNetwork):
        raise TypeError(f"model: expected a PointerNetwork, got {type(model).__name__}")
    numbers = _check_numbers(numbers)
    inputs = torch.tensor(numbers, dtype=torch.float32).view(-1, 1, 1)  # (N, 1, 1)
    with evaluating(model), decoding_with_mask(model, mask_chosen):
        log_probs, pointers = model(inputs)  # (N, 1, N), (N, 1)
    return log_probs[:, 0].exp().double().numpy(), pointers[:, 0].tolist()


def _render_pointer(step: int, numbers: list[float], probabilities: np.ndarray,
                    pointers: list[int], masked: bool) -> str:
    length = len(numbers)
    row = probabilities[step]  # (N,) p(C_i = j)
    chosen_before = set(pointers[:step])
    pick = pointers[step]
    inputs, probs = [], []
    for j, x in enumerate(numbers):
        if masked and j in chosen_before:  # the mask: probability exactly 0, greyed out
            inputs.append(_shaded_cell(f"{x:.2f}", 1.0, _GREY))
            probs.append(_MASKED)
        else:
            inputs.append(_shaded_cell(f"{x:.2f}", row[j], _BLUE, bold=j == pick))
            probs.append(f"{row[j]:.3f}")
    output = [_shaded_cell(f"{numbers[pointers[i]]:.2f}" if i <= step else "",
                           0.35 if i == step else 0.0, _ORANGE, bold=i == step)
              for i in range(length)]
    smallest_left = sorted(numbers)[step]
    repeat = " (a position chosen before!)" if pick in chosen_before else ""
    header = (f"<div>step {step + 1} of {length} points at input position {pick + 1}, the number "
              f"<b>{numbers[pick]:.2f}</b>{repeat}, with p = {row[pick]:.3f}; the right answer "
              f"is {smallest_left:.2f}.</div>")
    return header + _table({"inputs": ("input x_j", inputs), "probs": ("p(C_i = j)", probs),
                            "output": ("output so far", output)})


def parse_numbers(text: str) -> list[float]:
    """Numbers as a reader types them ("0.5 0.1 0.9" or "0.5, 0.1, 0.9") -> [0.5, 0.1, 0.9]."""
    if not isinstance(text, str):
        raise ValueError(f"numbers: expected a str of 1 to {MAX_STEPS} numbers, got {text!r}")
    parts = text.replace(",", " ").split()
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"numbers: expected 1 to {MAX_STEPS} numbers separated by spaces or "
                         f"commas, got {text!r}") from None
    if not 1 <= len(numbers) <= MAX_STEPS or not all(np.isfinite(numbers)):
        raise ValueError(f"numbers: expected 1 to {MAX_STEPS} finite numbers, got {text!r}")
    return numbers


def pointer_widget(model: PointerNetwork, numbers: Sequence[float] = (0.62, 0.07, 0.91, 0.35,
                                                                     0.48, 0.19),
                   mask_chosen: bool | None = None):
    """A slider over the decoding steps of sorting ``numbers`` (1 to 12 of them).

    Each view shades every input by its probability of being pointed at, prints the
    probabilities, and greys out the positions the mask has removed.

    Live mode: a text box for the numbers (any 1 to 12, sorted by ``model`` when typed) and a
    step slider 1..12 (a step past the last shows the last).
    """
    numbers = _check_numbers(numbers)
    if widget_mode() == "live":
        if not isinstance(model, PointerNetwork):
            raise TypeError(f"model: expected a PointerNetwork, got {type(model).__name__}")
        if mask_chosen is not None and not isinstance(mask_chosen, bool):
            raise TypeError(f"mask_chosen: expected True, False or None, got {mask_chosen!r}")
        masked = model.mask_chosen if mask_chosen is None else mask_chosen
        decoded = _decoder(lambda key: decode_pointers(model, key, mask_chosen))

        def render(typed, step):
            probabilities, pointers = decoded(tuple(typed))
            return _render_pointer(min(step, len(typed)) - 1, typed, probabilities, pointers,
                                   masked)

        return live_controls(
            [("numbers", LiveText(parse_numbers, sample="0.9 0.15 0.4 0.72 0.05",
                                  placeholder="e.g. 0.6 0.1 0.9"),
              " ".join(f"{x:g}" for x in numbers)),
             ("decoding step i", _step_control(), 1)],
            render,
            caption="<b>The pointer's output distribution.</b> Type any numbers (1 to 12): the "
                    "trained network sorts them in the kernel. Blue: probability of pointing at "
                    "each input at the chosen step; grey: positions already chosen, masked out.")
    probabilities, pointers = decode_pointers(model, numbers, mask_chosen)
    masked = model.mask_chosen if mask_chosen is None else mask_chosen
    return precomputed_slider(
        "decoding step i",
        list(range(len(numbers))),
        lambda step: _render_pointer(step, numbers, probabilities, pointers, masked),
        labels=[str(i + 1) for i in range(len(numbers))],
        caption="<b>The pointer's output distribution.</b> Blue: probability of pointing at each "
                "input at the chosen step; grey: positions already chosen, masked out.",
    )
