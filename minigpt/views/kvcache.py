"""The KV cache step by step (minigpt.kv_cache.CacheWalk): the cached keys and values growing by one row, the
one new query row, its attention over the cache, and the work per new token with and without the cache."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import as_array
from ..text import t
from . import style
from .labels import escape, escape_all

NEW_ROW = "#d55e00"       # the row this step computed (Okabe–Ito vermillion)
NOT_YET = "#f2f2f2"       # cache rows of later tokens: not computed yet


def _check(walk, step: int, block: int, head: int) -> int:
    if not 0 <= step < walk.steps:
        raise ValueError(f"Step {step} does not exist: this walk has {walk.steps} steps.")
    if not 0 <= block < len(walk.keys):
        raise ValueError(f"Block {block} does not exist: this model has {len(walk.keys)} blocks.")
    if not 0 <= head < walk.keys[0].shape[0]:
        raise ValueError(f"Head {head} does not exist: this model has {walk.keys[0].shape[0]} heads.")
    return walk.cache_length(step)


def cache_heatmap(walk, which: str, step: int, *, block: int, head: int, labels: Sequence[str],
                  lang: str = "en") -> go.Figure:
    """The cached keys (which="keys") or values of one head after `step`: one row per cached token, the rows
    this step added outlined, later rows empty (not computed yet). The colour range is the whole window's, so a
    row keeps its colour from step to step."""
    n = _check(walk, step, block, head)
    full = as_array((walk.keys if which == "keys" else walk.values)[block][head])  # [T, D]
    T, D = full.shape
    if len(labels) != T:
        raise ValueError(f"{len(labels)} labels for {T} cached positions.")
    z = full.copy()
    z[n:] = np.nan
    bound = float(np.abs(full).max()) or 1.0
    y = escape_all(labels)
    name = t(f"kv.{which}", lang)
    data = [go.Heatmap(_validate=style.VALIDATE, z=z, x=list(range(D)), y=y, colorscale=style.DIVERGING, zmid=0.0,
                       zmin=-bound, zmax=bound, colorbar=style.COLORBAR, hoverongaps=False,
                       hovertemplate=escape(t("ui.position", lang)) + ": %{y}<br>d_k: %{x}<br>%{z:.4f}<extra></extra>")]
    if n < T:
        later = np.where(np.arange(T)[:, None] >= n, np.float32(1.0), np.float32(np.nan)) * np.ones((1, D), np.float32)
        data.append(go.Heatmap(_validate=style.VALIDATE, z=later, x=list(range(D)), y=y, showscale=False,
                               colorscale=[[0, NOT_YET], [1, NOT_YET]], zmin=0, zmax=1, hoverinfo="skip"))
    first_new = 0 if step == 0 else n - 1
    shapes = [dict(type="rect", xref="x", yref="y", x0=-0.5, x1=D - 0.5, y0=first_new - 0.5, y1=n - 0.5,
                   line=dict(color=NEW_ROW, width=3))]
    title = t("kv.cache_title", lang, name=name, n=n, head=head, block=block) + f"\n[{n}, d_k {D}]"
    layout = style.layout(title, style.figure_height(T, None), shapes=shapes,
                          xaxis=style.axis("d_k", None), yaxis=dict(style.axis(t("ui.position", lang), y, reverse=True)))
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


def query_attention(walk, step: int, *, block: int, head: int, labels: Sequence[str], lang: str = "en") -> go.Figure:
    """The one query row this step computed (top, [1, d_k]) and its attention weights over every cached key
    (bottom, 0 to 1: the same scale at every step)."""
    n = _check(walk, step, block, head)
    q = as_array(walk.queries[block][step, head]).reshape(1, -1)
    w = as_array(walk.weights[block][step, head])[:n]
    D = q.shape[1]
    bound = float(np.abs(q).max()) or 1.0
    keys = escape_all(labels[:n])
    row = escape(labels[n - 1])
    data = [
        go.Heatmap(_validate=style.VALIDATE, z=q, x=list(range(D)), y=[row], xaxis="x", yaxis="y",
                   colorscale=style.DIVERGING, zmid=0.0, zmin=-bound, zmax=bound, showscale=False,
                   hovertemplate="q · d_k %{x}<br>%{z:.4f}<extra></extra>"),
        go.Bar(_validate=style.VALIDATE, x=keys, y=w, xaxis="x2", yaxis="y2", marker=dict(color=NEW_ROW),
               text=[f"{v:.2f}" for v in w], textposition="outside", cliponaxis=False,
               hovertemplate="%{x}<br>%{y:.4f}<extra></extra>", showlegend=False),
    ]
    layout = style.layout(
        t("kv.query_title", lang, token=labels[n - 1], head=head, block=block), 520,
        xaxis=dict(style.axis("d_k", None), domain=[0, 1], anchor="y"),
        yaxis=dict(style.axis(t("kv.query_row", lang), [row]), domain=[0.78, 1.0], anchor="x"),
        xaxis2=dict(style.axis(t("ui.key", lang), keys, angle=-60 if n > 8 else None), domain=[0, 1], anchor="y2"),
        yaxis2=dict(style.axis_text(t("kv.weight", lang)), domain=[0, 0.55], range=[0, 1.15], anchor="x2"),
    )
    layout["margin"] = dict(l=10, r=10, t=70, b=10)
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


def work_figure(points: Sequence, *, step: int | None = None, lang: str = "en") -> go.Figure:
    """FLOPs to predict each generated token with and without the cache (minigpt.kv_cache.work_series); the first
    token and every token after the window slid are marked: there the cache is filled from the whole window."""
    x = np.arange(1, len(points) + 1)
    uncached = np.array([p.uncached for p in points], dtype=np.float64)
    cached = np.array([p.cached for p in points], dtype=np.float64)
    rebuilt = [i for i, p in enumerate(points) if p.rebuilt]
    colours = style.CURVE_COLOURS
    data = [
        go.Scatter(_validate=style.VALIDATE, x=x, y=uncached, mode="lines+markers", name=escape(t("kv.without", lang)),
                   line=dict(color=colours[1], width=3), hovertemplate="%{x}: %{y:,.0f} FLOPs<extra></extra>"),
        go.Scatter(_validate=style.VALIDATE, x=x, y=cached, mode="lines+markers", name=escape(t("kv.with", lang)),
                   line=dict(color=colours[0], width=3), hovertemplate="%{x}: %{y:,.0f} FLOPs<extra></extra>"),
        go.Scatter(_validate=style.VALIDATE, x=x[rebuilt], y=cached[rebuilt], mode="markers",
                   name=escape(t("kv.rebuilt", lang)), marker=dict(symbol="diamond-open", size=13, color=colours[0],
                                                                  line=dict(width=2)), hoverinfo="skip"),
    ]
    shapes = []
    if step is not None and 0 <= step < len(points):
        shapes.append(dict(type="line", xref="x", yref="paper", x0=step + 1, x1=step + 1, y0=0, y1=1,
                           line=dict(color="#777", dash="dot", width=2)))
    layout = style.layout(t("kv.work_title", lang), 420, shapes=shapes,
                          xaxis=dict(style.axis_text(t("kv.generated_token", lang)), dtick=max(1, len(points) // 10)),
                          yaxis=dict(style.axis_text("FLOPs"), rangemode="tozero", tickformat=".2s"))
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)
