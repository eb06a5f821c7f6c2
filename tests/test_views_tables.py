"""Tables (minigpt.views.tables): top-k per position, LayerNorm statistics, trained vs untrained predictions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from minigpt import analysis, MiniGPT, ModelConfig
from minigpt.views.labels import visible_text
from minigpt.views import tables
from tests.views_support import labels_per_row


def test_topk_table_lists_the_argmax(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)[0]
    probs = traced["probs"][0]
    table = tables.topk_table(probs, compact_vocab, labels, k=3)
    assert isinstance(table, pd.DataFrame) and len(table) == 16
    assert list(table.columns) == ["input token", "next token", "probability", "#1", "#2", "#3"]
    best = probs.argmax(dim=1).tolist()
    assert list(table["next token"]) == [visible_text(compact_vocab.row_text(r)) for r in best]
    np.testing.assert_allclose(table["probability"], probs.max(dim=1).values.numpy(), rtol=1e-6)
    assert table["#1"][0].startswith(table["next token"][0] + " (")
    assert "下一个词" in tables.topk_table(probs, compact_vocab, labels, lang="zh").columns


def test_layernorm_stats_and_zero_fraction(compact_vocab, batch_rows):
    model = MiniGPT(ModelConfig(num_blocks=1), compact_vocab.size).eval()
    trace = model.run_with_trace(batch_rows)
    before, after = trace["blocks.0.resid1"][0], trace["blocks.0.norm1"][0]
    labels = labels_per_row(compact_vocab, batch_rows)[0]
    stats = tables.layernorm_table(before, after, labels)
    np.testing.assert_allclose(stats["std before"], before.std(dim=1, unbiased=False).numpy(), rtol=1e-5)
    np.testing.assert_allclose(stats["mean before"], before.mean(dim=1).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stats["mean after"], 0, atol=1e-5)
    np.testing.assert_allclose(stats["std after"], 1, atol=1e-3)  # an untrained LayerNorm: scale 1, shift 0
    relu = trace["blocks.0.ffn.relu"]
    assert analysis.zero_fraction(relu) == pytest.approx((relu == 0).float().mean().item())
    assert 0.2 < analysis.zero_fraction(relu) < 0.8
    assert analysis.zero_fraction(torch.tensor([0.0, 1.0, 0.0, 2.0])) == 0.5


def test_prediction_diff_compares_by_text_across_vocabularies(compact_vocab, char_vocab):
    a = torch.zeros(3, compact_vocab.size)
    a[:, 5] = 1.0
    b = torch.zeros(3, char_vocab.size)
    b[0, char_vocab.rows([ord("x")])[0]] = 0.9
    b[1:, 7] = 0.6
    frame = tables.prediction_diff(a, b, compact_vocab, char_vocab, ["0 a", "1 b", "2 c"])
    assert list(frame.columns)[0] == "position" and len(frame) == 3
    assert frame.iloc[0, 2].startswith("x (90.0%") and frame.iloc[0, 3]
    same = tables.prediction_diff(a, a, compact_vocab, compact_vocab, ["0", "1", "2"])
    assert not same.iloc[:, 3].any()
    with pytest.raises(ValueError):
        tables.prediction_diff(a, b[:2], compact_vocab, char_vocab, ["0", "1", "2"])
