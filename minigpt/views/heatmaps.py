"""Heatmaps: any 2-D array, any stage of a trace (its slice, title and shape), every head of a block side by
side, and two matrices compared on one colour scale.

Rows are positions top to bottom, labelled `"3 ␣the"`; signed numbers use a diverging scale centred at 0,
non-negative ones Viridis from 0 (probabilities always 0 to 1); a −∞ cell (masked: the future) is its own labelled grey.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import as_array, top_vocab_rows
from ..text import t
from ..stages import block_of, spec_of
from . import style
from .labels import escape, escape_all, vocab_label


def _masked(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z with −∞/NaN cells as NaN, boolean mask of those cells)."""
    mask = np.isnan(z) | np.isneginf(z)
    if mask.any():
        z = np.where(mask, np.float32(np.nan), z).astype(np.float32)
    return z, mask


def _masked_trace(
    mask: np.ndarray, x: list, y: list, *, lang: str, showlegend: bool, cell_text: bool = True, **where
) -> go.Heatmap:
    """The −∞ cells as their own grey layer, with a legend entry and the −∞ sign in small matrices."""
    cells = np.where(mask, np.float32(1.0), np.float32(np.nan)).astype(np.float32)
    small = cell_text and mask.shape[0] <= 24 and mask.shape[1] <= 24
    return go.Heatmap(_validate=style.VALIDATE,
        z=cells, x=x, y=y,
        colorscale=[[0, style.MASKED_GREY], [1, style.MASKED_GREY]], zmin=0, zmax=1, showscale=False,
        name=escape(t("ui.masked_legend", lang)), showlegend=showlegend, legendgroup="masked",
        text=np.where(mask, "−∞", "") if small else None, texttemplate="%{text}" if small else None,
        textfont=dict(color="white", size=style.FONT_SIZE - 2),
        hovertemplate="%{y}<br>%{x}<br>" + escape(t("ui.masked_hover", lang)) + "<extra></extra>",
        **where,
    )


def _hover(x_title: str, y_title: str) -> str:
    return f"{escape(y_title)}: %{{y}}<br>{escape(x_title)}: %{{x}}<br>%{{z:.7g}}<extra></extra>"


# -- heatmaps ----------------------------------------------------------------------------------
def heatmap(
    values,
    *,
    x_labels: Sequence,
    y_labels: Sequence,
    title: str,
    x_title: str,
    y_title: str,
    signed: bool | None = None,
    height: int | None = None,
    lang: str = "en",
    zmin: float | None = None,
    zmax: float | None = None,
    annotate: bool | None = None,
) -> go.Figure:
    """A 2-D array as a heatmap: rows top to bottom, exact values on hover, −∞ cells grey and labelled.

    signed None decides from the data (any negative value: diverging scale centred at 0).
    annotate writes each value in its cell (None: only for matrices up to 12 × 12, like the notebook's printouts).
    """
    z = as_array(values)
    x_labels, y_labels = list(x_labels), list(y_labels)  # numpy arrays of labels work too
    style.check_2d(z, x_labels, y_labels)
    z, mask = _masked(z)
    x = escape_all(x_labels) if x_labels and isinstance(x_labels[0], str) else list(x_labels)
    y = escape_all(y_labels)
    scale = style.colour_scale(z, signed)
    if zmin is not None:
        scale["zmin"] = zmin
    if zmax is not None:
        scale["zmax"] = zmax
    if annotate is None:
        annotate = z.shape[0] <= 12 and z.shape[1] <= 12
    cell_text = dict(texttemplate="%{z:.2f}", textfont=dict(size=style.FONT_SIZE - 1)) if annotate else {}
    data = [go.Heatmap(_validate=style.VALIDATE, z=z, x=x, y=y, hovertemplate=_hover(x_title, y_title),
                       colorbar=style.COLORBAR, **cell_text, **scale)]
    if mask.any():
        data.append(_masked_trace(mask, x, y, lang=lang, showlegend=True))
    rows, cols = z.shape
    square = rows == cols and rows > 1
    xaxis = style.axis(x_title, x, angle=-60 if isinstance(x[0], str) and cols > 8 else None)
    yaxis = style.axis(y_title, y, reverse=True)
    if square:
        style.make_square(xaxis, yaxis)
    if annotate and not height:
        height = 170 + 48 * rows  # room for "-0.32" in every cell
    layout = style.layout(title, style.figure_height(rows, height, square=square), xaxis=xaxis, yaxis=yaxis)
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


def _mask_figure(mask, labels: list[str], title: str, lang: str) -> go.Figure:
    """attn.mask: True (the future, −∞ later) and False (may be looked at) as two labelled colours."""
    z = as_array(mask)
    style.check_2d(z, labels, labels)
    y = x = escape_all(labels)
    words = np.where(z > 0.5, t("ui.masked_hover", lang), t("ui.visible", lang))
    trace = go.Heatmap(_validate=style.VALIDATE,
        z=z, x=x, y=y, zmin=0, zmax=1, customdata=words,
        colorscale=[[0, style.MASK_VISIBLE], [0.5, style.MASK_VISIBLE], [0.5, style.MASKED_GREY],
                    [1, style.MASKED_GREY]],
        colorbar=dict(tickvals=[0.25, 0.75], ticktext=[escape(t("ui.visible", lang)), escape(t("ui.masked", lang))],
                      thickness=16, len=0.5, tickfont=dict(size=style.FONT_SIZE)),
        xgap=1, ygap=1,
        hovertemplate=f"{escape(t('ui.query', lang))}: %{{y}}<br>{escape(t('ui.key', lang))}: %{{x}}<br>"
                      "%{customdata}<extra></extra>",
    )
    xaxis, yaxis = style.axis(t("ui.key", lang), x, angle=-60), style.axis(t("ui.query", lang), y, reverse=True)
    style.make_square(xaxis, yaxis)
    layout = style.layout(title, style.figure_height(len(labels), None, square=True), xaxis=xaxis, yaxis=yaxis)
    return go.Figure(_validate=style.VALIDATE, data=[trace], layout=layout)


def _row_labels(labels, batch: int, length: int) -> list[str]:
    """The labels of the batch row shown: labels may be one list, or one list per batch row."""
    if labels and not isinstance(labels[0], str):
        if not 0 <= batch < len(labels):
            raise ValueError(f"No labels for batch row {batch}: {len(labels)} rows of labels were given.")
        labels = labels[batch]
    labels = list(labels)
    if len(labels) != length:
        raise ValueError(f"{len(labels)} token labels do not fit {length} positions.")
    return labels


def stage_title(trace, name: str, *, batch: int | None = None, head: int | None = None, lang: str = "en") -> str:
    """`"Attention weights (softmax) · block 0 · head 1 · batch row 0"`, then the shape on a second line."""
    spec = spec_of(name)
    parts = [spec.title(lang)]
    block = block_of(name)
    if block is not None:
        parts.append(f"{t('ui.block', lang)} {block}")
    if head is not None:
        parts.append(f"{t('ui.head', lang)} {head}")
    if batch is not None:
        parts.append(f"{t('ui.batch row', lang)} {batch}")
    return " · ".join(parts) + "\n" + trace.shape_label(name)



@dataclass(frozen=True)
class StageSlice:
    """The 2-D part of a stage that one view shows, with everything needed to draw or download it."""

    name: str
    values: np.ndarray          # [rows, columns] float32; −∞ kept
    row_labels: list[str]       # token labels of the batch row shown
    col_labels: list            # token labels (keys), vocabulary labels, or feature indices
    x_title: str
    y_title: str
    title: str
    signed: bool | None         # None: the causal mask (two colours, not a scale)
    zrange: tuple[float, float] | None = None  # a fixed colour range (probabilities: 0 to 1); None: from the data


def value_range(name: str) -> tuple[float, float] | None:
    """A stage's fixed colour range: probabilities always span 0 to 1, so a colour means the same number under
    every what-if switch and for every model; None: the range follows the data."""
    return (0.0, 1.0) if spec_of(name).sign == "probability" else None


def stage_slice(
    trace,
    name: str,
    *,
    labels,
    batch: int = 0,
    head: int = 0,
    lang: str = "en",
    max_columns: int | None = 64,
    vocab=None,
) -> StageSlice:
    """Cut the [rows, columns] matrix a view shows out of any stage: batch row and head chosen, and for
    logits/probs only the max_columns vocabulary columns most probable at some position (None: all)."""
    spec = spec_of(name)
    tensor = trace[name]
    axes = spec.axes
    if spec.key == "attn.mask":
        labels = _row_labels(labels, batch, tensor.shape[0])
        return StageSlice(name, as_array(tensor), labels, labels, t("ui.key", lang), t("ui.query", lang),
                          stage_title(trace, name, lang=lang), None)
    if axes[0] == "batch":
        if not 0 <= batch < tensor.shape[0]:
            raise ValueError(f"Batch row {batch} does not exist: the batch has {tensor.shape[0]} rows.")
        tensor = tensor[batch]
    shown_head = None
    if len(axes) > 1 and axes[1] == "head":
        if not 0 <= head < tensor.shape[0]:
            raise ValueError(f"Head {head} does not exist: this model has {tensor.shape[0]} heads.")
        tensor, shown_head = tensor[head], head
    shown_batch = batch if axes[0] == "batch" else None
    title = stage_title(trace, name, batch=shown_batch, head=shown_head, lang=lang)
    if axes[0] == "position":  # embed.position: the table depends on the position alone, never on the token
        labels = [str(i) for i in range(tensor.shape[0])]
    else:
        labels = _row_labels(labels, batch, tensor.shape[0])
    y_title = t(f"ui.{axes[-2]}", lang)
    signed = spec.sign == "signed"
    values = as_array(tensor)
    if axes[-1] == "vocab":
        if vocab is None:
            raise ValueError(f"The {name} view needs the vocabulary to label its columns (pass vocab=...).")
        total = values.shape[-1]
        rows = top_vocab_rows(trace["probs"][batch], max_columns or total)
        x_title = t("ui.vocab_top", lang).format(n=len(rows), total=total)
        return StageSlice(name, values[:, rows], labels, [vocab_label(vocab, r) for r in rows], x_title, y_title,
                          title, signed, value_range(name))
    if axes[-1] == "key":
        return StageSlice(name, values, labels, labels, t("ui.key", lang), y_title, title, signed, value_range(name))
    return StageSlice(name, values, labels, list(range(values.shape[-1])), t(f"ui.{axes[-1]}", lang), y_title, title,
                      signed, value_range(name))


def stage_heatmap(trace, name: str, *, labels, batch: int = 0, head: int = 0, lang: str = "en", max_columns: int = 64,
                  vocab=None, annotate: bool | None = None) -> go.Figure:
    """The 2-D slice of any stage of a trace, titled with its stage, block, head and shape.

    labels: token labels of the batch row shown (or one list per batch row). logits/probs need vocab:
    only the max_columns vocabulary columns most probable at some position are drawn.
    """
    cut = stage_slice(trace, name, labels=labels, batch=batch, head=head, lang=lang, max_columns=max_columns,
                      vocab=vocab)
    if cut.signed is None:
        return _mask_figure(cut.values, cut.row_labels, cut.title, lang)
    zmin, zmax = cut.zrange or (None, None)
    return heatmap(cut.values, x_labels=cut.col_labels, y_labels=cut.row_labels, title=cut.title,
                   x_title=cut.x_title, y_title=cut.y_title, signed=cut.signed, lang=lang, annotate=annotate,
                   zmin=zmin, zmax=zmax)


def _grid(count: int, cols: int, titles: Sequence[str], *, x_axis: dict, y_axis: dict, gap_x: float = 0.02,
          gap_y: float = 0.06) -> tuple[dict, list[dict], list[tuple[str, str]]]:
    """Axes for count panels, cols to a row, sharing y per row (make_subplots is ~100 ms; this is ~0)."""
    rows = math.ceil(count / cols)
    width = (1 - (cols - 1) * gap_x) / cols
    height = (1 - (rows - 1) * gap_y) / rows
    layout, annotations, refs = {}, [], []
    for k in range(count):
        r, c = divmod(k, cols)
        suffix = "" if k == 0 else str(k + 1)
        left, top = c * (width + gap_x), 1 - r * (height + gap_y)
        x = dict(x_axis, domain=[max(0.0, left), min(1.0, left + width)], anchor=f"y{suffix}")
        if k:
            x["matches"] = "x"  # zooming one panel zooms them all
        if k + cols < count:  # a panel below shows the same keys: label only the bottom row
            x.update(showticklabels=False, title=None)
        layout[f"xaxis{suffix}"] = x
        y = dict(y_axis, domain=[max(0.0, top - height), min(1.0, top)], anchor=f"x{suffix}")  # no -5e-17
        if k:
            y["matches"] = "y"
            y.pop("title", None)
        if c:
            y["showticklabels"] = False
        layout[f"yaxis{suffix}"] = y
        refs.append((f"x{suffix}", f"y{suffix}"))
        annotations.append(dict(text=escape(titles[k]), x=left + width / 2, y=top, xref="paper", yref="paper",
                                xanchor="center", yanchor="bottom", showarrow=False,
                                font=dict(size=style.FONT_SIZE + 1)))
    return layout, annotations, refs


def _panels(
    matrices: Sequence[np.ndarray], titles: Sequence[str], *, x: list, y: list, x_title: str, y_title: str,
    signed: bool | None, cols: int, title: str, lang: str, row_height: int,
    zrange: tuple[float, float] | None = None,
) -> go.Figure:
    """Several matrices of one shape on one colour axis, each with its grey −∞ layer (zrange: fixed cmin, cmax)."""
    cleaned = [_masked(m) for m in matrices]
    categorical_x = bool(x) and isinstance(x[0], str)
    x_axis = style.axis(x_title, x, angle=-90 if categorical_x and len(x) > 4 else None)
    y_axis = style.axis(y_title, y, reverse=True)
    axes, annotations, refs = _grid(len(matrices), cols, titles, x_axis=x_axis, y_axis=y_axis)
    hover = _hover(x_title, y_title)
    data, legend_shown = [], False
    for (z, mask), (xref, yref) in zip(cleaned, refs):
        data.append(go.Heatmap(_validate=style.VALIDATE, z=z, x=x, y=y, xaxis=xref, yaxis=yref, coloraxis="coloraxis",
                               hovertemplate=hover))
        if mask.any():
            data.append(_masked_trace(mask, x, y, lang=lang, showlegend=not legend_shown, cell_text=False,
                                      xaxis=xref, yaxis=yref))
            legend_shown = True
    scale = style.colour_scale(np.concatenate([z.ravel() for z, _ in cleaned]), signed, prefix="c")
    if zrange is not None:
        scale["cmin"], scale["cmax"] = zrange
    rows = math.ceil(len(matrices) / cols)
    layout = style.layout(title, min(2400, max(340, 120 + rows * (row_height + 60))), **axes)
    layout["annotations"] = annotations
    layout["coloraxis"] = dict(colorbar=style.COLORBAR, **scale)
    layout["margin"] = dict(l=10, r=10, t=(100 + 22 * title.count("\n")) if title else 60, b=50 if legend_shown else 10)
    # Subplot titles sit where a top legend would go: the masked legend goes to the bottom left.
    layout["legend"] = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left",
                            font=dict(size=style.FONT_SIZE))
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)


def head_grid(
    trace,
    block: int,
    *,
    labels,
    batch: int = 0,
    stage: str = "attn.weights",
    lang: str = "en",
) -> go.Figure:
    """Every head of one block side by side (4 to a row) on one shared colour scale."""
    name = f"blocks.{block}.{stage}"
    spec = spec_of(name)
    if spec.axes[:2] != ("batch", "head"):
        raise ValueError(f"{stage} has no heads to put side by side.")
    if name not in trace:
        raise ValueError(f"Block {block} does not exist: this model has {trace.config.num_blocks} blocks.")
    full = trace[name]
    if not 0 <= batch < full.shape[0]:
        raise ValueError(f"Batch row {batch} does not exist: the batch has {full.shape[0]} rows.")
    z_all = as_array(full[batch])  # [H, T, T or D]
    heads, T, width = z_all.shape
    labels = _row_labels(labels, batch, T)
    y = escape_all(labels)
    x = y if spec.axes[-1] == "key" else list(range(width))
    return _panels(
        list(z_all), [f"{t('ui.head', lang)} {h}" for h in range(heads)], x=x, y=y,
        x_title=t(f"ui.{spec.axes[-1]}", lang), y_title=t(f"ui.{spec.axes[-2]}", lang),
        signed=spec.sign == "signed", cols=min(heads, 4),
        title=stage_title(trace, name, batch=batch, lang=lang), lang=lang, row_height=max(260, 28 * T),
        zrange=value_range(name),
    )


def compare_heatmaps(
    a_2d,
    b_2d,
    *,
    labels_x: Sequence,
    labels_y: Sequence,
    titles: tuple[str, str],
    signed: bool | None = None,
    lang: str = "en",
    x_title: str = "",
    y_title: str = "",
    title: str = "",
    zrange: tuple[float, float] | None = None,
) -> go.Figure:
    """Two matrices side by side on one colour scale, so equal colours mean equal numbers (zrange: fixed)."""
    a, b = as_array(a_2d), as_array(b_2d)
    labels_x, labels_y = list(labels_x), list(labels_y)
    style.check_2d(a, labels_x, labels_y)
    style.check_2d(b, labels_x, labels_y)
    x = escape_all(labels_x) if labels_x and isinstance(labels_x[0], str) else list(labels_x)
    return _panels(
        [a, b], list(titles), x=x, y=escape_all(labels_y), x_title=x_title, y_title=y_title, signed=signed,
        cols=2, title=title, lang=lang, row_height=max(220, 22 * a.shape[0]), zrange=zrange,
    )

