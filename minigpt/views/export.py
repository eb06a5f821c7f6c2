"""Downloads: the plotly chart config whose camera button saves the figure, and the numbers behind a view as
CSV or .npy."""
from __future__ import annotations

import io
import re
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..analysis import as_array
from . import style
from .heatmaps import stage_slice

IMAGE_FORMATS = ("png", "svg", "jpeg", "webp")


def plotly_config(filename: str, *, image_format: str = "png") -> dict:
    """`config` for st.plotly_chart: the camera button downloads the figure (PNG at twice the size by
    default) under a safe file name.

    plotly.js's modebar has one image button whose format is fixed by toImageButtonOptions, and custom
    buttons need JavaScript callbacks, which a JSON config cannot carry: a page that wants SVG (sharp on
    slides) offers a choice and passes image_format="svg".
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {', '.join(IMAGE_FORMATS)}, got {image_format!r}.")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(filename)).strip("._-")[:80] or "minigpt"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": image_format, "filename": safe, "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }


def to_csv(values_2d, row_labels: Sequence, col_labels: Sequence) -> bytes:
    """A 2-D array as CSV (UTF-8 with BOM, so spreadsheet programs read 中文 labels); −∞ is written -inf."""
    z = as_array(values_2d)
    style.check_2d(z, col_labels, row_labels)
    frame = pd.DataFrame(z, index=[str(r) for r in row_labels], columns=[str(c) for c in col_labels])
    return frame.to_csv(float_format="%.9g").encode("utf-8-sig")


def to_npy(tensor) -> bytes:
    """The tensor as a .npy file (dtype and −∞ kept)."""
    if isinstance(tensor, torch.Tensor):
        array = tensor.detach().to("cpu").numpy()
    else:
        array = np.asarray(tensor)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def stage_csv(trace, name: str, *, labels, batch: int = 0, head: int = 0, vocab=None,
              max_columns: int | None = None) -> bytes:
    """CSV of the slice a view shows (all vocabulary columns unless max_columns)."""
    cut = stage_slice(trace, name, labels=labels, batch=batch, head=head, vocab=vocab, max_columns=max_columns)
    return to_csv(cut.values, cut.row_labels, cut.col_labels)

