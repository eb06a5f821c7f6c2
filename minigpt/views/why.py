"""Figures of "What it learned": the logit lens grid, head importance, head roles and each head's typical
pattern, gradients of any stage, the gradient per layer, the embedding map, and the Train page's role scores
and gradient norms over training. Pure builders: numbers from minigpt.lens / knockout / roles / gradients /
embedding_map in, plotly figures out; every text from the [why] catalogue.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import as_array
from ..roles import ROLES
from ..stages import spec_of, stage_label
from ..text import t
from . import style
from .heatmaps import _panels, heatmap, stage_slice
from .labels import escape, escape_all, percent, shorten, visible_text

CELL_TEXT_MAX = 32  # positions up to which the lens writes the top token in every cell


def layer_names(stages: Sequence[str], lang: str) -> list[str]:
    """"embedding", "block 0", ...: the layer each lens column or gradient bar reads."""
    return [t("why.layer_embedding", lang) if n == "embed.sum" else f"{t('ui.block', lang)} {n.split('.')[1]}"
            for n in stages]


# -- logit lens ---------------------------------------------------------------------------------------
def lens_grid(view, labels: Sequence[str], vocab, *, lang: str = "en", target: bool = False) -> go.Figure:
    """Position × layer: the top token's probability (target=False; the top token written in the cell), or the
    true next token's probability (target=True; its rank written in the cell). Colours 0 to 1 always."""
    if target and view.target_probs is None:
        raise ValueError("The true next token's rank needs a corpus input (targets).")
    top = view.top_rows.T.numpy()            # [T, layers]
    top_p = view.top_probs.T.numpy()
    cols = layer_names(view.stages, lang)
    T, L = top.shape
    words = [[visible_text(vocab.row_text(int(r))) for r in row] for row in top]
    if target:
        z = as_array(view.target_probs.T)
        ranks = view.target_ranks.T.numpy()
        true = [visible_text(vocab.row_text(int(r))) for r in view.targets.tolist()]
        cell = [[f"#{int(r)}" for r in row] for row in ranks]
        hover_rows = [[f"{escape(t('why.lens_true', lang))}: {escape(true[i])} · {percent(float(z[i, j]))} · "
                       f"{escape(t('why.lens_rank', lang))} {int(ranks[i, j])}<br>"
                       f"{escape(t('why.lens_top', lang))}: {escape(words[i][j])} ({percent(float(top_p[i, j]))})"
                       for j in range(L)] for i in range(T)]
        title = t("why.lens_target_title", lang)
    else:
        z = as_array(view.top_probs.T)
        cell = [[shorten(w, 8) for w in row] for row in words]
        hover_rows = [[f"{escape(t('why.lens_top', lang))}: {escape(words[i][j])} · {percent(float(z[i, j]))}"
                       for j in range(L)] for i in range(T)]
        if view.target_probs is not None:
            for i in range(T):
                for j in range(L):
                    hover_rows[i][j] += f"<br>{escape(t('why.lens_rank', lang))} {int(view.target_ranks[j, i])}"
        title = t("why.lens_title", lang)
    y = escape_all(labels)
    x = escape_all(cols)
    show_text = T <= CELL_TEXT_MAX
    trace = go.Heatmap(_validate=style.VALIDATE, z=z, x=x, y=y, zmin=0.0, zmax=1.0, colorscale=style.SEQUENTIAL,
                       colorbar=dict(style.COLORBAR, title=dict(text=escape(t("ui.probability", lang)))),
                       customdata=np.array(hover_rows, dtype=object),
                       text=np.array([[escape(c) for c in row] for row in cell], dtype=object) if show_text else None,
                       texttemplate="%{text}" if show_text else None,
                       textfont=dict(size=style.FONT_SIZE - 2),
                       hovertemplate="%{y} · %{x}<br>%{customdata}<extra></extra>")
    layout = style.layout(title, style.figure_height(T, None),
                          xaxis=dict(style.axis(t("why.layer", lang), x), side="top"),
                          yaxis=style.axis(t("ui.position", lang), y, reverse=True))
    return go.Figure(_validate=style.VALIDATE, data=[trace], layout=layout)


# -- knockouts ----------------------------------------------------------------------------------------
def head_names(blocks: int, heads: int, lang: str) -> list[str]:
    return [f"{t('ui.block', lang)} {b} · {t('ui.head', lang)} {h}" for b in range(blocks) for h in range(heads)]


def _grid_heatmap(z: np.ndarray, x: list[str], y: list[str], *, title: str, x_title: str, y_title: str,
                  scale: dict, cell: str, height: int, lang: str) -> go.Figure:
    """A small labelled grid (not square) with each value written in its cell; NaN cells left blank."""
    trace = go.Heatmap(_validate=style.VALIDATE, z=z, x=escape_all(x), y=escape_all(y), colorbar=style.COLORBAR,
                       texttemplate=cell, textfont=dict(size=style.FONT_SIZE - 1), xgap=2, ygap=2,
                       hovertemplate="%{y}<br>%{x}<br>%{z:.4f}<extra></extra>", **scale)
    layout = style.layout(title, height, xaxis=dict(style.axis(x_title, x), side="bottom"),
                          yaxis=style.axis(y_title, y, reverse=True))
    return go.Figure(_validate=style.VALIDATE, data=[trace], layout=layout)


def importance_heatmap(importance, *, lang: str = "en") -> go.Figure:
    """Blocks × heads: how much the validation loss rises when that head alone is knocked out (0 in white)."""
    z = as_array(importance.increase)
    B, H = z.shape
    title = t("why.importance_title", lang, mode=t(f"why.mode_{importance.mode}", lang), base=importance.base_loss)
    return _grid_heatmap(z, [f"{t('ui.head', lang)} {h}" for h in range(H)],
                         [f"{t('ui.block', lang)} {b}" for b in range(B)], title=title, x_title=t("ui.head", lang),
                         y_title=t("ui.block", lang), scale=style.colour_scale(z, True),
                         cell="%{z:+.4f}" if B * H <= 64 else "", height=190 + 56 * B, lang=lang)


def stage_changes(before, after, names: Sequence[str], *, lang: str = "en") -> go.Figure:
    """How much each stage changed under a knockout: the largest |after - before| relative to the stage's own
    largest |before|, one bar per stage in computation order."""
    values = []
    for name in names:
        a, b = as_array(before[name]), as_array(after[name])
        finite = np.isfinite(a) & np.isfinite(b)
        scale = float(np.abs(a[finite]).max()) if finite.any() else 0.0
        values.append(float(np.abs(b[finite] - a[finite]).max()) / scale if scale > 0 else 0.0)
    y = escape_all(stage_label(n, lang) for n in names)
    bar = go.Bar(_validate=style.VALIDATE, x=np.array(values, dtype=np.float32), y=y, orientation="h",
                 marker=dict(color="#d55e00"), hovertemplate="%{y}<br>%{x:.3g}<extra></extra>")
    layout = style.layout(t("why.changes_title", lang), max(300, 100 + 24 * len(names)),
                          xaxis=dict(style.axis_text(t("why.changes_axis", lang)), rangemode="tozero"),
                          yaxis=dict(type="category", autorange="reversed", automargin=True,
                                     tickfont=dict(size=style.FONT_SIZE - 1)))
    return go.Figure(_validate=style.VALIDATE, data=[bar], layout=layout)


# -- head roles ---------------------------------------------------------------------------------------
def roles_heatmap(scores, chance, *, lang: str = "en") -> go.Figure:
    """(block, head) × role scores on a fixed 0 to 1 scale; a cell is blank where a role was not measured."""
    s = as_array(scores)
    B, H, R = s.shape
    cols = [f"{t(f'why.role_{r}', lang)} ({t('why.chance', lang)} {float(c):.2f})" for r, c in zip(ROLES, chance)]
    fig = _grid_heatmap(s.reshape(B * H, R), cols, head_names(B, H, lang), title=t("why.roles_title", lang),
                        x_title=t("why.role", lang), y_title=t("ui.head", lang),
                        scale=dict(colorscale=style.SEQUENTIAL, zmin=0.0, zmax=1.0),
                        cell="%{z:.2f}" if B * H <= 48 else "", height=min(1300, 260 + 34 * B * H), lang=lang)
    fig.layout.xaxis.tickangle = -30
    return fig


def typical_patterns(weights, labels: Sequence[str], *, lang: str = "en") -> go.Figure:
    """Each head's attention averaged over the batch rows: [blocks, heads, T, T], small panels on one 0–1 scale."""
    w = as_array(weights)
    B, H, T, _ = w.shape
    y = escape_all(labels)
    return _panels([w[b, h] for b in range(B) for h in range(H)], head_names(B, H, lang), x=y, y=y,
                   x_title=t("ui.key", lang), y_title=t("ui.query", lang), signed=False, cols=min(H, 4),
                   title=t("why.patterns_title", lang), lang=lang, row_height=max(200, min(18 * T, 420)),
                   zrange=(0.0, 1.0))


def roles_over_training(steps: Sequence[int], scores, role: str, *, lang: str = "en") -> go.Figure:
    """One role's score for every head across training snapshots ([snapshots, blocks, heads, 4] scores)."""
    s = as_array(scores)
    r = ROLES.index(role)
    _, B, H, _ = s.shape
    x = np.asarray(steps, dtype=np.float32)
    data = [go.Scatter(_validate=style.VALIDATE, x=x, y=s[:, b, h, r], mode="lines+markers", name=escape(name),
                       hovertemplate="%{x}: %{y:.3f}<extra>" + escape(name) + "</extra>")
            for (b, h), name in zip(((b, h) for b in range(B) for h in range(H)), head_names(B, H, lang))]
    layout = style.layout(t("why.roles_training_title", lang, role=t(f"why.role_{role}", lang)), 420,
                          xaxis=dict(style.axis_text(t("ui.training step", lang)), rangemode="tozero"),
                          yaxis=dict(style.axis_text(t("why.score", lang)), range=[0, 1.02]),
                          legend=dict(orientation="h", yanchor="top", y=-0.2, x=0, font=dict(size=style.FONT_SIZE - 2)),
                          uirevision="roles")
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


# -- gradients ----------------------------------------------------------------------------------------
def gradient_stages(names: Sequence[str]) -> list[str]:
    """The stages a gradient view offers: every differentiable stage but the vocabulary-wide logits/probs."""
    return [n for n in names if spec_of(n).key not in ("embed.position", "attn.mask", "logits", "probs")]


def gradient_heatmap(grads, name: str, labels: Sequence[str], *, head: int = 0, lang: str = "en") -> go.Figure:
    """∂loss/∂stage for the batch row differentiated, with the forward view's labels, on a scale centred at 0."""
    cut = stage_slice(grads, name, labels=labels, batch=grads.batch, head=head, lang=lang, max_columns=None)
    title = f"∂loss/∂ · {cut.title}"
    return heatmap(cut.values, x_labels=cut.col_labels, y_labels=cut.row_labels, title=title, x_title=cut.x_title,
                   y_title=cut.y_title, signed=True, lang=lang, annotate=False)


def gradient_norm_bars(stages: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
                       lang: str = "en") -> go.Figure:
    """‖∂loss/∂residual stream‖ after each layer, one group of bars per layer, one colour per model variant."""
    x = escape_all(layer_names(stages, lang))
    data = [go.Bar(_validate=style.VALIDATE, x=x, y=np.asarray(values, dtype=np.float32), name=escape(name),
                   marker=dict(color=style.CURVE_COLOURS[i % len(style.CURVE_COLOURS)]),
                   texttemplate="%{y:.3g}", textposition="outside", cliponaxis=False,
                   hovertemplate="%{x}<br>%{y:.4g}<extra>" + escape(name) + "</extra>")
            for i, (name, values) in enumerate(series)]
    layout = style.layout(t("why.grad_norms_title", lang), 400, barmode="group",
                          xaxis=style.axis(t("why.layer", lang), x),
                          yaxis=dict(style.axis_text(t("why.grad_norm", lang)), rangemode="tozero"))
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


def grad_norms_over_training(steps: Sequence[int], norms, *, lang: str = "en") -> go.Figure:
    """The gradient norm per layer across training snapshots ([snapshots, layers], embedding first)."""
    z = as_array(norms)
    names = [t("why.layer_embedding", lang)] + [f"{t('ui.block', lang)} {b}" for b in range(z.shape[1] - 1)]
    x = np.asarray(steps, dtype=np.float32)
    data = [go.Scatter(_validate=style.VALIDATE, x=x, y=z[:, i], mode="lines+markers", name=escape(name),
                       hovertemplate="%{x}: %{y:.4g}<extra>" + escape(name) + "</extra>")
            for i, name in enumerate(names)]
    layout = style.layout(t("why.grad_training_title", lang), 400,
                          xaxis=dict(style.axis_text(t("ui.training step", lang)), rangemode="tozero"),
                          yaxis=dict(style.axis_text(t("why.grad_norm_log", lang)), type="log"),
                          legend=dict(orientation="h", yanchor="top", y=-0.2, x=0), uirevision="grads")
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


# -- embedding map ------------------------------------------------------------------------------------
def embedding_map(projection, names: Sequence[str], *, labelled: int = 40, title: str = "", lang: str = "en",
                  axis_range: tuple[float, float] | None = None, colour_by_order: bool = False) -> go.Figure:
    """Rows of a table on their two main directions; the first `labelled` names written beside their points
    (names come in the order of projection.rows: most frequent first). colour_by_order: points coloured by
    their index (positions 0 … T-1), with a colour bar."""
    p = as_array(projection.points)
    n = p.shape[0]
    names = [visible_text(str(s)) for s in names]
    if len(names) != n:
        raise ValueError(f"{len(names)} names do not fit {n} points.")
    text = [escape(shorten(s, 10)) if i < labelled else "" for i, s in enumerate(names)]
    marker = dict(size=9, color=np.where(np.arange(n) < labelled, "#d55e00", "#9ecae1"), opacity=0.85)
    if colour_by_order:
        marker.update(color=np.arange(n, dtype=np.float32), colorscale=style.SEQUENTIAL, showscale=True,
                      colorbar=dict(style.COLORBAR, title=dict(text=escape(t("ui.position", lang)))))
    point = go.Scatter(_validate=style.VALIDATE, x=p[:, 0], y=p[:, 1], mode="markers+text", text=text,
                       textposition="top center", textfont=dict(size=style.FONT_SIZE - 1, color="#222"), marker=marker,
                       customdata=np.array(escape_all(names), dtype=object),
                       hovertemplate="%{customdata}<br>(%{x:.3f}, %{y:.3f})<extra></extra>")
    e = projection.explained
    xaxis = dict(style.axis_text(t("why.pc", lang, n=1, share=e[0] * 100)), zeroline=True)
    yaxis = dict(style.axis_text(t("why.pc", lang, n=2, share=e[1] * 100)), zeroline=True)
    if axis_range is not None:
        xaxis["range"] = yaxis["range"] = list(axis_range)
    return go.Figure(_validate=style.VALIDATE, data=[point],
                     layout=style.layout(title or t("why.map_title", lang), 520, xaxis=xaxis, yaxis=yaxis,
                                         showlegend=False))
