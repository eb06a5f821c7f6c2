"""Attention as lines (minigpt.views.attention), with and without the causal mask."""
from __future__ import annotations

import numpy as np
import pytest

from minigpt import MiniGPT, ModelConfig, Switches
from minigpt.views.labels import escape_all
from minigpt.views import attention, heatmaps
from tests.views_support import heatmaps_in, labels_per_row


def test_attention_lines_draw_each_weight_once(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)[0]
    weights = traced["blocks.0.attn.weights"][0, 3]
    fig = attention.attention_lines(weights, labels, title="head 3")
    lines = [s for s in fig.data if s.mode == "lines"]
    hover = [s for s in fig.data if s.mode == "markers"][0]
    kept = [(i, j) for i in range(16) for j in range(16) if weights[i, j] >= 0.01]
    assert all(j <= i for i, j in kept)
    assert len(hover.text) == len(kept)
    assert sum(len(s.x) // 3 for s in lines) == len(kept)
    assert all(0 < s.opacity <= 1 for s in lines)
    i, j = kept[-1]
    assert hover.text[-1].endswith(f"{weights[i, j].item():.4f}")
    columns = [s for s in fig.data if s.mode == "markers+text"]
    assert [list(c.text) for c in columns] == [escape_all(labels)] * 2
    focused = attention.attention_lines(weights, labels, focus=5)
    hover = [s for s in focused.data if s.mode == "markers"][0]
    assert len(hover.text) == int((weights[5] >= 0.01).sum()) and all(x.startswith(escape_all(labels)[5]) for x in hover.text)
    with pytest.raises(ValueError, match="Position 16"):
        attention.attention_lines(weights, labels, focus=16)


def test_without_the_causal_mask_nothing_is_grey_and_lines_reach_the_future(compact_vocab, batch_rows):
    model = MiniGPT(ModelConfig(), compact_vocab.size).eval()
    trace = model.run_with_trace(batch_rows, Switches(causal_mask=False))
    labels = labels_per_row(compact_vocab, batch_rows)
    fig = heatmaps.stage_heatmap(trace, "blocks.0.attn.masked", labels=labels)
    assert len(heatmaps_in(fig)) == 1 and np.isfinite(np.asarray(fig.data[0].z)).all()
    mask = heatmaps.stage_heatmap(trace, "blocks.0.attn.mask", labels=labels)
    assert (np.asarray(mask.data[0].z) == 0).all()
    lines = attention.attention_lines(trace["blocks.0.attn.weights"][0, 0], labels[0])
    hover = [s for s in lines.data if s.mode == "markers"][0]
    first = escape_all(labels[0])[0]
    from_first = [text for text in hover.text if text.startswith(first + " → ")]
    assert len(from_first) > 1  # the first token now looks at later tokens too
