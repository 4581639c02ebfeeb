"""Chapter 1 widget: one batch of sentences padded, masked and packed.

A slider walks through a few batches of short sentences of different lengths. For each batch the
view shows, computed with `course_pkg.batching`:

1. the padded batch (one row per sentence, one column per time step, padding greyed out);
2. its mask (1 = real token, 0 = padding);
3. the packed layout: sentences sorted longest first, then for every time step ``t`` the
   ``batch_sizes[t]`` tokens that ``PackedSequence.data`` stores, in order.

In a live kernel (`course_pkg.widgets.live.widget_mode`) the reader types the batch (sentences
separated by ``|``) and the three tables are computed for it there.
"""

from __future__ import annotations

import html
from typing import Sequence

import torch

from course_pkg.batching import lengths_to_mask, pack, pad_sequences
from course_pkg.widgets.html_table import Cell, html_table
from course_pkg.widgets.live import LiveText, live_controls, widget_mode
from course_pkg.widgets.precomputed import precomputed_slider

__all__ = ["DEFAULT_BATCHES", "padding_and_packing_widget", "batch_tables_html", "parse_batch"]

MAX_SENTENCES = 10  # the most sentences a typed batch may have

PAD_WORD = "·"

#: Batches of sentences the widget walks through (words are the tokens).
DEFAULT_BATCHES: tuple[tuple[str, ...], ...] = (
    ("mom is cooking", "mom is in the kitchen cooking chicken", "chicken is in the kitchen"),
    ("bonjour", "I grew up in France", "so I speak French", "I speak fluent French"),
    ("the movie was terrible", "but the ending was amazing", "great", "not great at all"),
    ("A C G T T A", "G G C", "T A C G A T C G", "C", "A A T"),
    ("open app", "open app search buy", "search", "open app search search buy logout"),
)

# One small style sheet per view; cells only carry a class name.
_STYLE = (
    "<style>"
    ".cp-batch table{border-collapse:collapse;margin:4px 0 10px 0}"
    ".cp-batch td,.cp-batch th{padding:2px 6px;border:1px solid #ccc;text-align:center;"
    "font-family:monospace}"
    ".cp-batch td.pad{color:#aaa;background:#f3f3f3}"
    "</style>"
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], pad_mask=None, css_class="") -> str:
    """A table of plain text (escaped here), styled by `_STYLE`; ``pad_mask[i][j]`` True greys
    out cell (i, j)."""
    body = [[Cell(html.escape(str(value)),
                  css_class="pad" if pad_mask is not None and pad_mask[i][j] else "")
             for j, value in enumerate(row)] for i, row in enumerate(rows)]
    return html_table([html.escape(h) for h in header], body, css_class, style="",
                      cell_style="")


def batch_tables_html(sentences: Sequence[str]) -> str:
    """The three tables (padded batch, mask, packed layout) for one batch of sentences, as HTML."""
    words = [sentence.split() for sentence in sentences]
    vocabulary = [PAD_WORD] + sorted({w for sentence in words for w in sentence})
    index = {w: i for i, w in enumerate(vocabulary)}
    sequences = [torch.tensor([index[w] for w in sentence]) for sentence in words]

    padded, lengths = pad_sequences(sequences, padding_value=0)  # (T, B) token ids
    mask = lengths_to_mask(lengths)  # (T, B) bool
    packed = pack(padded, lengths)
    num_steps = padded.shape[0]
    steps = [f"t={t}" for t in range(num_steps)]

    rows = [[f"seq {b} (L={int(lengths[b])})"] + [vocabulary[int(padded[t, b])] for t in range(num_steps)]
            for b in range(len(sentences))]
    is_pad = [[False] + [not bool(mask[t, b]) for t in range(num_steps)] for b in range(len(sentences))]
    padded_table = _table(["sequence"] + steps, rows, is_pad, "padded")

    mask_rows = [[f"seq {b}"] + [str(int(mask[t, b])) for t in range(num_steps)]
                 for b in range(len(sentences))]
    mask_table = _table(["sequence"] + steps, mask_rows, is_pad, "mask")

    order = packed.sorted_indices.tolist()
    packed_rows, offset = [], 0
    for t, running in enumerate(packed.batch_sizes.tolist()):
        tokens = [vocabulary[int(v)] for v in packed.data[offset: offset + running]]
        packed_rows.append([f"t={t}", str(running), " ".join(tokens)])
        offset += running
    packed_table = _table(["step", "batch_sizes[t]", "tokens stored in data"], packed_rows,
                          css_class="packed")

    sizes = ", ".join(str(s) for s in packed.batch_sizes.tolist())
    return (
        _STYLE + "<div class='cp-batch' style='font-size:90%'>"
        f"<b>1. Padded batch</b> (T = {num_steps} steps; grey = padding)" + padded_table
        + "<b>2. Mask</b> (1 = real token, 0 = padding)" + mask_table
        + f"<b>3. Packed</b>: sorted order {order} (longest first); "
        f"batch_sizes = [{sizes}]; {int(lengths.sum())} stored tokens instead of "
        f"{padded.numel()} padded cells" + packed_table
        + "</div>"
    )


def parse_batch(text: str) -> list[str]:
    """A batch as a reader types it, sentences separated by ``|``: ``"a b | c"`` -> ``["a b", "c"]``."""
    if not isinstance(text, str):
        raise ValueError(f"batch: expected a str of sentences separated by '|', got {text!r}")
    sentences = [" ".join(part.split()) for part in text.split("|")]
    if not 1 <= len(sentences) <= MAX_SENTENCES or not all(sentences):
        raise ValueError(f"batch: expected 1 to {MAX_SENTENCES} non-empty sentences separated "
                         f"by '|', got {text!r}")
    return sentences


def padding_and_packing_widget(batches: Sequence[Sequence[str]] = DEFAULT_BATCHES):
    """A slider over batches of sentences showing each one padded, masked and packed.

    ``batches`` is a list of batches, each a list of sentences (words split on spaces); at most
    10 batches. Returns the `precomputed_slider` VBox (``.slider``, ``.stack``).

    Live mode: a text box for the batch (sentences separated by ``|``, the first batch to start
    with), padded, masked and packed in the kernel.
    """
    batches = [list(batch) for batch in batches]
    if not 1 <= len(batches) <= 10:
        raise ValueError(f"batches: expected between 1 and 10 batches, got {len(batches)}")
    for i, batch in enumerate(batches):
        if not batch or not all(isinstance(s, str) and s.split() for s in batch):
            raise ValueError(f"batches[{i}]: expected a non-empty list of non-empty sentences, got {batch!r}")
    if widget_mode() == "live":
        return live_controls(
            [("sentences", LiveText(parse_batch, sample="the cat sat | on the mat | a cat",
                                    placeholder="sentences separated by |"),
              " | ".join(" ".join(s.split()) for s in batches[0]))],
            batch_tables_html,
            caption="<b>Padding, mask and packing</b> of any batch you type (sentences "
                    "separated by |, words by spaces), computed in the kernel.")
    return precomputed_slider(
        "batch",
        list(range(len(batches))),
        lambda k: batch_tables_html(batches[k]),
        labels=[f"{k + 1}" for k in range(len(batches))],
        caption="<b>Padding, mask and packing</b> of a batch of sentences (tokens are words).",
    )
