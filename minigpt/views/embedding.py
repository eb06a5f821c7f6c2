"""The positional encoding: chosen dimensions of the sinusoidal table against position, and how alike the
position vectors are (cosine similarity)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import as_array
from ..text import t
from . import style
from .heatmaps import heatmap


def positional_curves(table, dims: Sequence[int], *, lang: str = "en") -> go.Figure:
    """Chosen dimensions of the sinusoidal table against position: dots are the table's values, the thin line
    the sine or cosine wave they are sampled from (fast waves on the left dimensions, slow ones on the right)."""
    z = as_array(table)
    if z.ndim != 2:
        raise ValueError(f"The positional table must be [position, d_model], got shape {tuple(z.shape)}.")
    bad = [d for d in dims if not 0 <= int(d) < z.shape[1]]
    if bad:
        raise ValueError(f"Dimensions {bad} do not exist: d_model is {z.shape[1]} (0 … {z.shape[1] - 1}).")
    T, d_model = z.shape
    positions = np.arange(T)
    smooth = np.linspace(0, max(T - 1, 1), 400, dtype=np.float32)
    data = []
    for n, dim in enumerate(int(d) for d in dims):
        colour = style.CURVE_COLOURS[n % len(style.CURVE_COLOURS)]
        wave = "sin" if dim % 2 == 0 else "cos"
        name = f"{t('ui.dimension', lang)} {dim} ({wave})"
        # The notebook's formula: angle = position / 10000^(2i / d_model) for the pair i = dim // 2.
        angle = smooth * math.exp(-(dim - dim % 2) * math.log(10000.0) / d_model)
        data.append(go.Scatter(_validate=style.VALIDATE, x=smooth, y=np.sin(angle) if wave == "sin" else np.cos(angle),
                               mode="lines",
                               line=dict(color=colour, width=1.5), opacity=0.5, legendgroup=name,
                               showlegend=False, hoverinfo="skip"))
        data.append(go.Scatter(_validate=style.VALIDATE,
            x=positions, y=z[:, dim], mode="markers", marker=dict(color=colour, size=9), name=name,
            legendgroup=name,
            hovertemplate=f"{t('ui.position', lang)} %{{x}}<br>%{{y:.4f}}<extra>{t('ui.dimension', lang)} {dim}</extra>",
        ))
    layout = style.layout(
        t("ui.positional_curves_title", lang), 420,
        xaxis=dict(style.axis_text(t("ui.position", lang)), zeroline=False),
        yaxis=dict(style.axis_text(t("ui.value", lang)), range=[-1.1, 1.1], zeroline=True),
    )
    layout["legend"] = dict(orientation="v", x=1.01, xanchor="left", y=1.0, font=dict(size=style.FONT_SIZE))
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


def position_similarity(table, *, lang: str = "en") -> go.Figure:
    """Cosine similarity of every pair of position vectors: strongest near the diagonal, fading with distance."""
    z = as_array(table)
    if z.ndim != 2:
        raise ValueError(f"The positional table must be [position, d_model], got shape {tuple(z.shape)}.")
    unit = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    sim = (unit @ unit.T).astype(np.float32)
    names = [str(i) for i in range(z.shape[0])]
    return heatmap(sim, x_labels=names, y_labels=names, title=t("ui.position_similarity_title", lang),
                   x_title=t("ui.position", lang), y_title=t("ui.position", lang), signed=True, zmin=-1.0, zmax=1.0,
                   lang=lang)

