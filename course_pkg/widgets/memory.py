"""Widgets and pictures of chapters 12 and 13: where memory models look.

- `story_attention_widget` (chapter 12): a slider over task-1 stories; each view lists the
  sentences with the attention ``p_i`` of every hop of an `EndToEndMemoryNetwork`, the question,
  the right answer and the model's answer. `hop_attention_figure` draws one story's attention as
  a heatmap (sentences x hops).
- `addressing_widget` (chapter 13): a slider over settings of the NTM head parameters
  ``(beta, g, s, gamma)``; each view shows the weighting after every stage of the addressing of
  Graves et al. (2014), figure 2, computed with the package's own functions
  (`content_addressing`, `interpolate`, `circular_shift`, `sharpen`).
- `copy_trace_widget` (chapter 13): a slider over test lengths of the copy task; each view shows
  the input, the target, the outputs of the models and the NTM's write and read weightings over
  time (`copy_trace_figure`), with the number of wrong bits of each model.

In a live kernel (`course_pkg.widgets.live.widget_mode`) each computes what the reader asks for:
the memory network answers any new story (a seed slider, `generate_stories`), the addressing
widget has a continuous slider per head parameter (beta, g, shift, gamma), and the copy widget
runs the models at any length.
"""

from __future__ import annotations

import html
from typing import NamedTuple, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from torch import Tensor, nn

from course_pkg.data.algorithmic import ntm_copy_task
from course_pkg.data.babi import (
    SENTENCE_WIDTH,
    VOCABULARY,
    BabiStory,
    encode_stories,
    generate_stories,
)
from course_pkg.tasks.babi_qa import answers_and_hop_attention
from course_pkg.models.memory_network import EndToEndMemoryNetwork
from course_pkg.models.ntm import (
    NeuralTuringMachine,
    circular_shift,
    content_addressing,
    interpolate,
    sharpen,
)
from course_pkg.training import evaluating
from course_pkg.validation import require_positive_int, require_shape
from course_pkg.widgets.html_table import TABLE_STYLE, Cell, html_table, shaded_cell
from course_pkg.widgets.live import LiveRange, live_controls, widget_mode
from course_pkg.widgets.precomputed import figure_to_png, precomputed_slider

__all__ = [
    "story_attention",
    "hop_attention_figure",
    "story_attention_widget",
    "AddressingSetting",
    "ADDRESSING_SETTINGS",
    "addressing_stages",
    "addressing_widget",
    "shift_weights",
    "copy_trace_figure",
    "copy_trace_widget",
]

MAX_OPTIONS = 10  # the most views a widget precomputes
_BLUE, _GREEN = "31,119,180", "44,160,44"
_TABLE_STYLE = f"{TABLE_STYLE};font-size:85%"
_LEFT = "text-align:left"


def _cell(text: str, shade: float, colour: str, bold: bool = False) -> Cell:
    """A right-aligned table cell with background ``colour`` at opacity ``shade`` in [0, 1]
    (bold by its font weight, so that the cell holds the number alone)."""
    style = "padding:2px 6px;text-align:right" + (";font-weight:bold" if bold else "")
    return shaded_cell(text, shade, colour, style=style)


# ----------------------------------------------------------------------------------------------
# chapter 12: attention of a memory network over the sentences of a story
# ----------------------------------------------------------------------------------------------
def story_attention(model: EndToEndMemoryNetwork, stories: Sequence[BabiStory],
                    sentence_width: int = SENTENCE_WIDTH) -> tuple[Tensor, Tensor]:
    """Answer probabilities (N, V) and hop attentions (N, K, S) of ``model`` on ``stories``
    (`course_pkg.tasks.babi_qa.answers_and_hop_attention`).

    The stories are encoded with S = ``model.max_memories`` sentence slots and their sentences
    padded to ``sentence_width`` words (`encode_stories`' width, the one used in training).
    """
    if not isinstance(model, EndToEndMemoryNetwork):
        raise TypeError(f"model: expected an EndToEndMemoryNetwork, got {type(model).__name__}")
    if len(stories) == 0:
        raise ValueError("stories: expected at least one story, got none")
    batch = encode_stories(stories, model.max_memories, sentence_width)
    return answers_and_hop_attention(model, batch)


def hop_attention_figure(story: BabiStory, attention, title: str | None = None):
    """A heatmap of one story's attention (K, S): sentences down, hops across, numbers printed.

    The supporting fact is marked with an arrow. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    weights = np.asarray(torch.as_tensor(attention).detach().cpu(), dtype=float)  # (K, S)
    if weights.ndim != 2:
        raise ValueError(f"attention: expected shape (K, S) (hops x sentences), got "
                         f"{weights.shape}")
    num_sentences = len(story.sentences)
    if weights.shape[1] < num_sentences:
        raise ValueError(f"attention: expected at least {num_sentences} sentence columns, got "
                         f"shape {weights.shape}")
    weights = weights[:, :num_sentences].T  # (S, K)
    hops = weights.shape[1]
    fig, ax = plt.subplots(figsize=(3.2 + 1.1 * hops, 0.42 * num_sentences + 1.3))
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(num_sentences):
        for k in range(hops):
            ax.text(k, i, f"{weights[i, k]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if weights[i, k] > 0.6 else "black")
    labels = [f"{i}  {s}" + ("  \u25c0" if i == story.supporting_fact else "")
              for i, s in enumerate(story.sentences)]
    ax.set_yticks(range(num_sentences), labels)
    ax.set_xticks(range(hops), [f"hop {k + 1}" for k in range(hops)])
    ax.xaxis.tick_top()
    ax.set_title(title or f"{story.question}  (answer: {story.answer}; \u25c0 supporting fact)",
                 fontsize=9, pad=24)
    fig.tight_layout()
    return fig


def _render_story(story: BabiStory, probabilities: Tensor, attention: Tensor) -> str:
    """HTML view of one story: sentences x hops attention, question, answers."""
    hops = attention.shape[0]
    best = int(probabilities.argmax())
    verdict = "right" if VOCABULARY[best] == story.answer else "wrong"
    header = [Cell("#", style=_LEFT), Cell("sentence", style=_LEFT)]
    header += [f"hop {k + 1}" for k in range(hops)]
    rows = []
    for i, sentence in enumerate(story.sentences):
        marker = " &#9664; supporting fact" if i == story.supporting_fact else ""
        rows.append([i, Cell(f"{html.escape(sentence)}<i>{marker}</i>", style=_LEFT)]
                    + [_cell(f"{attention[k, i]:.3f}", float(attention[k, i]), _BLUE,
                             bold=int(attention[k].argmax()) == i) for k in range(hops)])
    table = html_table(header, rows, "cp-story-attention", style=_TABLE_STYLE, cell_style="")
    summary = (f"<div><b>{html.escape(story.question)}</b> right answer: "
               f"<b>{html.escape(story.answer)}</b>; the network answers "
               f"<b>{html.escape(VOCABULARY[best])}</b> (p = {probabilities[best]:.3f}, {verdict})"
               "</div>")
    return summary + table


def story_attention_widget(model: EndToEndMemoryNetwork, stories: Sequence[BabiStory],
                           sentence_width: int = SENTENCE_WIDTH) -> widgets.VBox:
    """A slider over ``stories`` (1 to 10): each view shows every hop's attention per sentence
    (the largest of each hop in bold), the supporting fact, and the network's answer.

    Live mode: a seed slider (0..9999) draws a new story, ``generate_stories(1, max_sentences=
    min(10, model.max_memories), seed=seed)``, and the network answers it in the kernel."""
    if not 1 <= len(stories) <= MAX_OPTIONS:
        raise ValueError(f"stories: expected between 1 and {MAX_OPTIONS} stories, "
                         f"got {len(stories)}")
    if widget_mode() == "live":
        if not isinstance(model, EndToEndMemoryNetwork):
            raise TypeError(f"model: expected an EndToEndMemoryNetwork, got "
                            f"{type(model).__name__}")

        def render(seed):
            story = generate_stories(1, max_sentences=min(10, model.max_memories), seed=seed)[0]
            probabilities, attention = story_attention(model, [story], sentence_width)
            return (f"<div>a new story, seed {seed}</div>"
                    + _render_story(story, probabilities[0], attention[0]))

        return live_controls(
            [("story seed", LiveRange(0, 9999, 1, integer=True, fmt="d"), 0)], render,
            caption="<b>Where each hop looks</b>, on any new story (pick its seed): the trained "
                    "network reads it in the kernel (darker: more weight; bold: the largest "
                    "weight of the hop).")
    probabilities, attention = story_attention(model, stories, sentence_width)
    return precomputed_slider(
        "story",
        list(range(len(stories))),
        lambda b: _render_story(stories[b], probabilities[b], attention[b]),
        labels=[f"{b + 1}" for b in range(len(stories))],
        caption="<b>Where each hop looks.</b> Attention p_i of every hop over the sentences "
                "(darker: more weight; bold: the largest weight of the hop).",
    )


# ----------------------------------------------------------------------------------------------
# chapter 13: the addressing pipeline of one NTM head
# ----------------------------------------------------------------------------------------------
class AddressingSetting(NamedTuple):
    """Head parameters of one view of `addressing_widget`."""

    label: str
    beta: float  # key strength, >= 0
    g: float  # interpolation gate in [0, 1]
    shift: tuple[float, float, float]  # weights of the offsets -1, 0, +1 (sum 1)
    gamma: float  # sharpening exponent, >= 1


#: A tour of the pipeline: content addressing alone, then keeping the previous focus, moving it
#: by one slot, blurring the move, and sharpening the blur away.
ADDRESSING_SETTINGS = (
    AddressingSetting("content, beta=1", 1.0, 1.0, (0.0, 1.0, 0.0), 1.0),
    AddressingSetting("content, beta=10", 10.0, 1.0, (0.0, 1.0, 0.0), 1.0),
    AddressingSetting("content, beta=50", 50.0, 1.0, (0.0, 1.0, 0.0), 1.0),
    AddressingSetting("mix, g=0.5", 10.0, 0.5, (0.0, 1.0, 0.0), 1.0),
    AddressingSetting("keep previous, g=0", 10.0, 0.0, (0.0, 1.0, 0.0), 1.0),
    AddressingSetting("shift +1", 10.0, 0.0, (0.0, 0.0, 1.0), 1.0),
    AddressingSetting("blurred shift", 10.0, 0.0, (0.1, 0.3, 0.6), 1.0),
    AddressingSetting("blurred, gamma=3", 10.0, 0.0, (0.1, 0.3, 0.6), 3.0),
    AddressingSetting("find, then shift +1", 50.0, 1.0, (0.0, 0.0, 1.0), 1.0),
)


def _example_memory(num_slots: int = 8, width: int = 4, seed: int = 0) -> tuple[Tensor, Tensor,
                                                                                 Tensor]:
    """A small random memory (1, N, M), a key (1, M) close to row 2, w_prev one-hot on slot 5."""
    generator = torch.Generator().manual_seed(seed)
    memory = torch.randn(1, num_slots, width, generator=generator, dtype=torch.float64)
    key = memory[:, 2] + 0.3 * torch.randn(1, width, generator=generator, dtype=torch.float64)
    w_prev = torch.zeros(1, num_slots, dtype=torch.float64)
    w_prev[0, 5] = 1.0
    return memory, key, w_prev


def addressing_stages(memory: Tensor, key: Tensor, w_prev: Tensor,
                      setting: AddressingSetting) -> dict[str, Tensor]:
    """The weighting after each stage for one head: memory (1, N, M), key (1, M), w_prev (1, N).

    Returns ``{"previous": w_prev, "content": w^c, "gated": w^g, "shifted": w~, "sharpened": w}``,
    each (N,), computed with the package's `content_addressing`, `interpolate`,
    `circular_shift` and `sharpen`.
    """
    require_shape("memory", memory, (1, "N", "M"), "one memory (1, N, M)")
    dtype = memory.dtype

    def scalar(value: float) -> Tensor:
        return torch.tensor([[value]], dtype=dtype)  # (1, 1)

    content = content_addressing(memory, key, scalar(setting.beta))  # (1, N)
    gated = interpolate(content, w_prev, scalar(setting.g))  # (1, N)
    shifted = circular_shift(gated, torch.tensor([setting.shift], dtype=dtype))  # (1, N)
    sharpened = sharpen(shifted, scalar(setting.gamma))  # (1, N)
    return {"previous": w_prev[0], "content": content[0], "gated": gated[0],
            "shifted": shifted[0], "sharpened": sharpened[0]}


def shift_weights(shift: float) -> tuple[float, float, float]:
    """A fractional shift s in [-1, 1] as weights of the offsets -1, 0, +1: s = 0.3 gives
    (0, 0.7, 0.3), s = -1 gives (1, 0, 0)."""
    if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not -1 <= shift <= 1:
        raise ValueError(f"shift: expected a number in [-1, 1], got {shift!r}")
    return (max(-shift, 0.0), 1.0 - abs(shift), max(shift, 0.0))


def _render_addressing(stages: dict[str, Tensor], setting: AddressingSetting) -> str:
    """HTML view: one row per stage, one column per memory slot."""
    names = {
        "previous": "previous weighting w_(t-1)",
        "content": f"content w^c, beta = {setting.beta:g}",
        "gated": f"interpolated w^g, g = {setting.g:g}",
        "shifted": "shifted w~, s(-1, 0, +1) = ("
                   + ", ".join(f"{v:g}" for v in setting.shift) + ")",
        "sharpened": f"sharpened w, gamma = {setting.gamma:g}",
    }
    num_slots = len(stages["previous"])
    header = [Cell("stage", style=_LEFT)] + [f"slot {i}" for i in range(num_slots)]
    rows = []
    for stage, weights in stages.items():
        colour = _GREEN if stage == "sharpened" else _BLUE
        rows.append([Cell(html.escape(names[stage]), style=_LEFT, header=True)]
                    + [_cell(f"{float(v):.3f}", float(v), colour) for v in weights])
    return html_table(header, rows, "cp-addressing", style=_TABLE_STYLE, cell_style="")


def addressing_widget(settings: Sequence[AddressingSetting] = ADDRESSING_SETTINGS,
                      memory: Tensor | None = None, key: Tensor | None = None,
                      w_prev: Tensor | None = None) -> widgets.VBox:
    """A slider over head-parameter ``settings`` (1 to 10), showing the weighting at each stage.

    By default the memory has 8 random rows of width 4, the key is a noisy copy of row 2 and the
    previous weighting sits on slot 5 (see the caption); pass ``memory`` (1, N, M), ``key``
    (1, M) and ``w_prev`` (1, N) to use others.
    """
    if not 1 <= len(settings) <= MAX_OPTIONS:
        raise ValueError(f"settings: expected between 1 and {MAX_OPTIONS} settings, "
                         f"got {len(settings)}")
    default_memory, default_key, default_previous = _example_memory()
    memory = default_memory if memory is None else memory
    key = default_key if key is None else key
    w_prev = default_previous if w_prev is None else w_prev
    if widget_mode() == "live":
        def render(beta, g, shift, gamma):
            setting = AddressingSetting("live", beta, g, shift_weights(shift), gamma)
            return _render_addressing(addressing_stages(memory, key, w_prev, setting), setting)

        first = settings[0]
        return live_controls(
            [("key strength beta", LiveRange(0.0, 60.0, 0.5, fmt=".3g"), first.beta),
             ("gate g", LiveRange(0.0, 1.0, 0.01, fmt=".2f"), first.g),
             ("shift s", LiveRange(-1.0, 1.0, 0.05, fmt=".2f"),
              first.shift[2] - first.shift[0]),
             ("sharpening gamma", LiveRange(1.0, 10.0, 0.1, fmt=".3g"), first.gamma)],
            render,
            caption="<b>The addressing of one head, stage by stage</b>, for any head parameters "
                    "(computed in the kernel). The key resembles the row in slot 2; the previous "
                    "weighting sat on slot 5. A shift s between two offsets splits the weight "
                    "between them (s = 0.3: 0.7 on 0, 0.3 on +1).")
    stages = [addressing_stages(memory, key, w_prev, setting) for setting in settings]
    return precomputed_slider(
        "head parameters",
        list(range(len(settings))),
        lambda i: _render_addressing(stages[i], settings[i]),
        labels=[setting.label for setting in settings],
        caption="<b>The addressing of one head, stage by stage.</b> The key resembles the row "
                "in slot 2; the previous weighting sat on slot 5.",
    )


# ----------------------------------------------------------------------------------------------
# chapter 13: the NTM at work on the copy task
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def _run_copy(ntm: NeuralTuringMachine, others: dict[str, nn.Module], inputs: Tensor):
    """NTM logits (T, 1, O) and trace, and the logits of every other model, in eval mode."""
    with evaluating(ntm):
        logits, trace = ntm(inputs, return_trace=True)
    other_logits = {}
    for name, model in others.items():
        with evaluating(model):
            other_logits[name] = model(inputs)
    return logits, trace, other_logits


def copy_trace_figure(ntm: NeuralTuringMachine, inputs: Tensor,
                      others: dict[str, nn.Module] | None = None, title: str = ""):
    """Input, target, outputs and the NTM's write/read weightings over time for ONE sequence.

    Outputs are drawn as probabilities (sigmoid of the logits), on the scored steps only.

    ``inputs`` (2L+1, 1, bits+1) is one copy-task sequence; ``others`` maps names to more models
    with the same interface (e.g. an LSTM) whose outputs are drawn too. Returns the Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if inputs.ndim != 3 or inputs.shape[1] != 1 or inputs.shape[2] != ntm.input_size:
        raise ValueError(f"inputs: expected shape (T, 1, {ntm.input_size}) (one sequence), got "
                         f"{tuple(inputs.shape)}")
    others = others or {}
    length = (inputs.shape[0] - 1) // 2
    bits = ntm.output_size
    target = torch.zeros(inputs.shape[0], bits)
    target[length + 1:] = inputs[:length, 0, :bits]
    logits, trace, other_logits = _run_copy(ntm, others, inputs)
    scored = torch.zeros(inputs.shape[0], 1)
    scored[length + 1:] = 1.0  # (T, 1): outputs before the copy phase are not scored: blank

    def output(out: Tensor) -> Tensor:
        return (torch.sigmoid(out[:, 0]) * scored).T  # (bits, T)

    signals = [("input", inputs[:, 0].T), ("target", target.T), ("NTM output", output(logits))]
    signals += [(f"{name} output", output(out)) for name, out in other_logits.items()]
    weightings = [("write weighting", trace.write_weights[:, 0].T),
                  ("read weighting", trace.read_weights[:, 0, 0].T)]  # (N, T) each
    fig = plt.figure(figsize=(10, 4.2))
    left = fig.add_gridspec(len(signals), 1, left=0.1, right=0.47, hspace=0.35,
                            height_ratios=[p.shape[0] for _, p in signals])
    right = fig.add_gridspec(1, 2, left=0.53, right=0.99, wspace=0.12)
    for row, (name, picture) in enumerate(signals):
        ax = fig.add_subplot(left[row])
        ax.imshow(picture.detach().numpy(), cmap="Greys", vmin=0, vmax=1, aspect="auto",
                  interpolation="nearest")
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axvline(length - 0.5, color="C3", linewidth=0.8)  # input ends, the delimiter comes
        if row < len(signals) - 1:
            ax.set_xticks([])
        else:
            ax.set_xlabel("time step", fontsize=8)
        if row == 0 and title:
            ax.set_title(title, fontsize=9)
    for column, (name, picture) in enumerate(weightings):
        ax = fig.add_subplot(right[column])
        ax.imshow(picture.detach().numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto",
                  interpolation="nearest")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axvline(length - 0.5, color="C3", linewidth=0.8)
        ax.set_title(f"NTM {name}", fontsize=9)
        ax.set_xlabel("time step", fontsize=8)
        if column == 0:
            ax.set_ylabel("memory slot", fontsize=8)
        else:
            ax.set_yticks([])
    return fig


def _wrong_bits(logits: Tensor, targets: Tensor, mask: Tensor) -> int:
    return int(((logits[mask] > 0).to(targets.dtype) != targets[mask]).sum())


def copy_trace_widget(ntm: NeuralTuringMachine, others: dict[str, nn.Module] | None = None,
                      lengths: Sequence[int] = (5, 10, 15, 20), seed: int = 20_000) -> widgets.VBox:
    """A slider over test ``lengths`` (1 to 10 of them): one sequence of each length (from
    ``ntm_copy_task(1, L, bits, seed=seed + L)``), drawn by `copy_trace_figure`, with the number
    of wrong output bits of the NTM and of every model in ``others``."""
    if not 1 <= len(lengths) <= MAX_OPTIONS:
        raise ValueError(f"lengths: expected between 1 and {MAX_OPTIONS} lengths, "
                         f"got {len(lengths)}")
    for length in lengths:
        require_positive_int("lengths", length)
    others = others or {}
    bits = ntm.output_size

    def render(length: int) -> widgets.VBox:
        inputs, targets, mask = ntm_copy_task(1, length, bits=bits, seed=seed + length)
        logits, _, other_logits = _run_copy(ntm, others, inputs)
        counts = {"NTM": _wrong_bits(logits, targets, mask)}
        counts.update({name: _wrong_bits(out, targets, mask) for name, out in other_logits.items()})
        total = int(mask.sum()) * bits
        summary = ", ".join(f"{html.escape(name)} <b>{wrong}</b>" for name, wrong in counts.items())
        figure = copy_trace_figure(ntm, inputs, others)
        return widgets.VBox([
            widgets.HTML(value=f"<div>length {length}: wrong bits out of {total}: {summary}</div>"),
            widgets.Image(value=figure_to_png(figure), format="png"),
        ])

    return precomputed_slider(
        "sequence length",
        list(lengths),
        render,
        caption="<b>The copy task at several lengths.</b> Dark = 1 for bits; for weightings, "
                "dark = weight near 1 on that memory slot.",
        # in a kernel: every length from 1 to twice the longest shown, run on demand
        live=LiveRange(1, 2 * max(lengths), 1, integer=True, fmt="d"),
    )
