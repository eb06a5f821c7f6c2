"""Helpers the tests of minigpt.views share (the fixtures `batch_rows`, `traced` and `generation` are in conftest.py)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from minigpt import Vocabulary
from minigpt.views import labels

# Tokens that look like HTML, quotes and repeated words: labels must stay unique and escaped.
TEXT = "The customer trusts the seller, and the seller trusts the customer. <b>Deals</b> & \"quotes\""


def heatmaps_in(fig: go.Figure) -> list:
    return [trace for trace in fig.data if trace.type == "heatmap"]


def labels_per_row(vocab: Vocabulary, rows: torch.Tensor) -> list[list[str]]:
    return [labels.token_labels([vocab.row_text(r) for r in row]) for row in rows.tolist()]


def floats(value):
    """plotly 7 keeps numpy arrays as arrays in the figure; lists stay lists."""
    return np.asarray(value, dtype=np.float64)
