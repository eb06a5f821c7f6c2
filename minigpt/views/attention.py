"""Attention as lines (bertviz's head view): queries on the left, keys on the right, one line per weight."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import as_array
from ..text import t
from . import style
from .labels import escape, escape_all


def attention_lines(
    weights_2d, labels: Sequence[str], *, title: str = "", lang: str = "en", focus: int | None = None
) -> go.Figure:
    """bertviz's head view: queries on the left, keys on the right, a line per weight ≥ 0.01, opacity = weight.

    focus: draw only the lines of that query position (its label is drawn bold).
    """
    w = as_array(weights_2d)
    style.check_2d(w, labels, labels)
    T = w.shape[0]
    if focus is not None:
        if not 0 <= focus < T:
            raise ValueError(f"Position {focus} does not exist: there are {T} positions.")
        w = np.where(np.arange(T)[:, None] == focus, w, np.float32(0)).astype(np.float32)
    names = escape_all(labels)
    ys = -np.arange(T, dtype=np.float32)
    # Lines are grouped by opacity (steps of 0.05): a handful of traces instead of one per line.
    # NaN separates the segments of one trace (numpy arrays keep plotly's validation cheap).
    query, key = np.nonzero(np.nan_to_num(w, nan=0.0) >= 0.01)  # with the causal mask, never key > query
    kept = w[query, key]
    levels = np.maximum(1, np.rint(kept * 20)).astype(int)
    data = []
    for level in np.unique(levels):
        pick = levels == level
        n = int(pick.sum())
        xs = np.tile(np.array([0.0, 1.0, np.nan], dtype=np.float32), n)
        yv = np.stack([ys[query[pick]], ys[key[pick]], np.full(n, np.nan, dtype=np.float32)], axis=1).ravel()
        data.append(go.Scatter(_validate=style.VALIDATE, x=xs, y=yv, mode="lines", line=dict(color="#1f5fbf", width=3),
                               opacity=min(1.0, level / 20), hoverinfo="skip", showlegend=False))
    text = [f"{names[i]} → {names[j]}: {weight:.4f}" for i, j, weight in zip(query.tolist(), key.tolist(), kept.tolist())]
    data.append(go.Scatter(_validate=style.VALIDATE, x=np.full(len(text), 0.5, dtype=np.float32),
                           y=(ys[query] + ys[key]) / 2, mode="markers", marker=dict(size=8, opacity=0), text=text,
                           hovertemplate="%{text}<extra></extra>", showlegend=False))
    for side, x, pos in ((t("ui.query", lang), 0.0, "middle left"), (t("ui.key", lang), 1.0, "middle right")):
        shown = names if focus is None or x else [f"<b>{n}</b>" if i == focus else n for i, n in enumerate(names)]
        data.append(go.Scatter(_validate=style.VALIDATE, x=[x] * T, y=ys, mode="markers+text", text=shown,
                               textposition=pos, textfont=dict(size=style.FONT_SIZE),
                               marker=dict(size=9, color="#1f5fbf"),
                               hovertemplate="%{text}<extra>" + escape(side) + "</extra>", showlegend=False))
    hidden = dict(visible=False, fixedrange=True)
    layout = style.layout(title, max(320, 110 + 26 * T), xaxis=dict(range=[-0.75, 1.75], **hidden),
                          yaxis=dict(range=[-T + 0.4, 0.9], **hidden), hovermode="closest")
    side_font = dict(size=style.FONT_SIZE + 1)
    layout["annotations"] = [
        dict(x=0, y=0.8, text=escape(t("ui.query", lang)), showarrow=False, xanchor="right", font=side_font),
        dict(x=1, y=0.8, text=escape(t("ui.key", lang)), showarrow=False, xanchor="left", font=side_font),
    ]
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)

