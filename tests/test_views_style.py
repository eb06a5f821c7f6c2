"""What every figure shares (minigpt.views.style): projector-sized fonts, and the same JSON with plotly's
property checks on (tests) and off (the app)."""
from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from minigpt import sinusoidal_table
from minigpt.views import attention, embedding, heatmaps, output, style, training
from tests.views_support import labels_per_row


def test_fonts_are_projector_sized_even_under_a_theme(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    table = sinusoidal_table(16, 64)
    built = [
        heatmaps.stage_heatmap(traced, "blocks.0.attn.masked", labels=labels),
        heatmaps.stage_heatmap(traced, "blocks.0.attn.mask", labels=labels),
        heatmaps.head_grid(traced, 0, labels=labels),
        embedding.positional_curves(table, [0, 1]),
        embedding.position_similarity(table),
        output.topk_bars(traced["probs"][0, -1], compact_vocab),
        output.token_loss_bar(torch.ones(16), labels[0], labels[0]),
    ]
    for fig in built:
        layout = fig.to_plotly_json()["layout"]
        axes = [key for key in layout if key.startswith(("xaxis", "yaxis"))]
        assert axes
        for key in axes:
            if layout[key].get("showticklabels", True) and layout[key].get("visible", True):
                assert layout[key]["tickfont"]["size"] >= 14, key
        assert layout["font"]["size"] >= 14


def _every_builder(trace, vocab, labels):
    from minigpt import sinusoidal_table
    from minigpt.trainer import EvalReport

    weights = trace["blocks.0.attn.weights"]
    yield heatmaps.stage_heatmap(trace, "blocks.0.attn.masked", labels=labels)
    yield heatmaps.stage_heatmap(trace, "blocks.0.attn.mask", labels=labels)
    yield heatmaps.stage_heatmap(trace, "probs", labels=labels, vocab=vocab)
    yield heatmaps.head_grid(trace, 0, labels=labels)
    yield attention.attention_lines(weights[0, 0], labels[0])
    yield output.topk_bars(trace["probs"][0, -1], vocab)
    yield embedding.positional_curves(sinusoidal_table(16, 64), [0, 1, 6])
    yield embedding.position_similarity(sinusoidal_table(16, 64))
    yield output.token_loss_bar(np.linspace(1, 9, 16), labels[0], labels[1], uniform_loss=math.log(vocab.size))
    yield training.loss_curves([], [], [EvalReport(step=0, train_loss=7.0, val_loss=7.1, elapsed=0.0)])
    yield training.loss_curves([1, 2, 3], [7.0, 6.5, 6.4], tokens_per_step=64)
    yield output.true_token_probs(np.full(16, 0.1), np.full(16, 0.3), labels[0])


def test_figures_built_without_plotly_checks_send_the_same_json(traced, compact_vocab, batch_rows, monkeypatch):
    """The app skips plotly's per-property validation for speed: the browser must get the same figure."""
    import plotly.io as pio

    labels = labels_per_row(compact_vocab, batch_rows)
    monkeypatch.setattr(style, "VALIDATE", True)
    checked = [json.loads(pio.to_json(fig, validate=False)) for fig in _every_builder(traced, compact_vocab, labels)]
    monkeypatch.setattr(style, "VALIDATE", False)
    fast = [json.loads(pio.to_json(fig, validate=False)) for fig in _every_builder(traced, compact_vocab, labels)]
    assert len(checked) == 12
    for a, b in zip(checked, fast):
        assert a == b


def test_the_test_suite_builds_figures_with_plotly_checks_on():
    with pytest.raises(ValueError):  # what an invalid property does with checks on (tests/conftest.py)
        go.Heatmap(_validate=style.VALIDATE, colorscale="not-a-scale")
