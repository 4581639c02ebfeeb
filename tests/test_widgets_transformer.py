"""course_pkg.widgets.transformer: the weights shown are the model's own attention maps (rows sum
to one, the decoder's self-attention is causal), one view per attention and head, bad input."""

import numpy as np
import pytest
import torch

from course_pkg.models.transformer import TransformerSeq2Seq
from course_pkg.widgets.transformer import attention_heads_widget, head_weights


def model():
    torch.manual_seed(0)
    return TransformerSeq2Seq(13, 13, d_model=8, num_heads=2, num_layers=2, ff_size=8)


def test_head_weights_shapes_and_rows():
    maps = head_weights(model(), [3, 1, 4])
    assert list(maps) == ["encoder self-attention, layer 1", "encoder self-attention, layer 2",
                          "decoder self-attention, layer 1", "decoder self-attention, layer 2",
                          "decoder cross-attention, layer 1", "decoder cross-attention, layer 2"]
    assert maps["encoder self-attention, layer 1"].shape == (2, 3, 3)
    assert maps["decoder cross-attention, layer 2"].shape == (2, 4, 3)
    for w in maps.values():
        assert np.allclose(w.sum(-1), 1.0, atol=1e-6)
    assert np.all(np.triu(maps["decoder self-attention, layer 1"][0], 1) == 0)


def test_one_view_per_attention_and_head():
    box = attention_heads_widget(model(), digits=(1, 2))
    assert len(box.row_slider.options) == 6 and len(box.column_slider.options) == 2
    assert "head 2" in box.view(5, 1).value


def test_bad_input():
    with pytest.raises(ValueError, match="digits"):
        head_weights(model(), [1, 10])
    with pytest.raises(TypeError, match="model"):
        head_weights(torch.nn.Linear(2, 2), [1])


def test_live_reads_a_typed_string(monkeypatch):
    """Live mode: a string no view was drawn for; the focus line is the argmax of the model's
    own cross-attention maps, computed here from `attention_maps`."""
    import re

    from course_pkg.data.algorithmic import FIRST_DIGIT, START

    monkeypatch.setenv("COURSE_WIDGETS", "live")
    m = model()
    box = attention_heads_widget(m, digits=(1, 2))
    assert box.mode == "live"
    box.set("9 0 8 1", 5, 1)                           # decoder cross-attention, layer 2, head 2
    view = box.view.children[0].value
    src = torch.tensor([9, 0, 8, 1])[:, None] + FIRST_DIGIT
    tgt_in = torch.cat([torch.tensor([START]), src.flip(0)[:, 0]])[:, None]
    m.eval()
    with torch.no_grad():
        weights = m.attention_maps(src, tgt_in)["decoder cross"][1][0, 1].numpy()   # (T, S)
    shown = re.findall(r"(\d+)&rarr;(\d+) \(([0-9.]+)\)", view)
    assert [(int(q), int(k)) for q, k, _ in shown] == \
        [(q, int(k)) for q, k in enumerate(weights.argmax(1))]
    assert [float(w) for _, _, w in shown] == pytest.approx(weights.max(1), abs=6e-3)
    assert "decoder cross-attention, layer 2, head 2" in view
