"""Downloads (minigpt.views.export): the camera button's config, CSV and .npy of what a view shows."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from minigpt.views.labels import token_labels
from minigpt.views import export, heatmaps
from tests.views_support import labels_per_row


def test_plotly_config_downloads_a_png_with_a_safe_name():
    config = export.plotly_config("blocks.0/attn weights: 注意力?")
    assert config["displaylogo"] is False
    options = config["toImageButtonOptions"]
    assert options["format"] == "png" and options["scale"] == 2
    assert options["filename"] == "blocks.0_attn_weights"
    assert export.plotly_config("///")["toImageButtonOptions"]["filename"] == "minigpt"
    assert export.plotly_config("x", image_format="svg")["toImageButtonOptions"]["format"] == "svg"
    with pytest.raises(ValueError, match="svg"):
        export.plotly_config("x", image_format="pdf")


def test_csv_and_npy_round_trip(traced):
    masked = traced["blocks.0.attn.masked"][0, 0]
    names = token_labels(["a", " b", "量", "\n"] * 4)
    data = export.to_csv(masked, names, names)
    frame = pd.read_csv(io.BytesIO(data), index_col=0, encoding="utf-8-sig")
    assert list(frame.index) == names and list(frame.columns) == names
    np.testing.assert_array_equal(frame.to_numpy(dtype=np.float32), masked.numpy())
    assert np.isneginf(frame.to_numpy()).sum() == 16 * 15 // 2
    loaded = np.load(io.BytesIO(export.to_npy(traced["blocks.0.attn.masked"])))
    np.testing.assert_array_equal(loaded, traced["blocks.0.attn.masked"].numpy())
    assert loaded.dtype == np.float32
    mask = np.load(io.BytesIO(export.to_npy(traced["blocks.0.attn.mask"])))
    assert mask.dtype == np.bool_


def test_stage_csv_is_the_slice_shown(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    data = export.stage_csv(traced, "blocks.1.attn.weights", labels=labels, batch=1, head=3)
    frame = pd.read_csv(io.BytesIO(data), index_col=0, encoding="utf-8-sig")
    assert list(frame.index) == labels[1] and list(frame.columns) == labels[1]
    np.testing.assert_array_equal(frame.to_numpy(dtype=np.float32), traced["blocks.1.attn.weights"][1, 3].numpy())
    probs = pd.read_csv(io.BytesIO(export.stage_csv(traced, "probs", labels=labels, vocab=compact_vocab)),
                        index_col=0, encoding="utf-8-sig")
    assert probs.shape == (16, compact_vocab.size)  # a download has every column
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    cut = heatmaps.stage_slice(traced, "blocks.0.attn.q", labels=labels, head=1)
    assert cut.values.shape == (16, traced.config.d_k) and cut.col_labels == list(range(traced.config.d_k))
