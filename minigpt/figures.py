"""Pure figure builders: tensors in, plotly figures (or DataFrames, HTML, bytes) out. No Streamlit here.

Conventions every view shares, so a student learns them once:
* signed numbers use a colour-blind-safe diverging scale (blue < 0 < red) centred at 0;
  probabilities and other non-negative numbers use Viridis starting at 0;
* a −∞ cell (masked: the future) is its own grey, never a colour of the scale;
* rows are positions top to bottom, labelled `"3 ␣the"` (position, then the token with its spaces shown);
* fonts are large enough for a projector.

Plotly reads labels as pseudo-HTML (`<b>`, `&nbsp;`), and tokens can look like that, so every text
that reaches a figure goes through `_esc`.
"""
from __future__ import annotations

import html
import io
import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale
import torch

from .explain import t
from .stages import block_of, spec_of

FONT_SIZE = 15
MASKED_GREY = "#8c8c8c"
# Named scales resolved here: plotly.js knows neither "RdBu_r" nor plotly.py's RdBu, and with VALIDATE off
# nothing would resolve them later.
DIVERGING = get_colorscale("RdBu_r")    # blue negative, white 0, red positive (ColorBrewer, colour-blind safe)
SEQUENTIAL = get_colorscale("Viridis")  # perceptually uniform, colour-blind safe, readable in greyscale
MASK_VISIBLE = "#6baed6"      # attn.mask: a cell a token may look at
LABEL_CHARS = 14
# Stages whose values are never negative: shown on a sequential scale from 0.
NON_NEGATIVE_STAGES = {"attn.weights", "probs", "ffn.relu"}
# plotly checks every property of every trace and layout as a figure is built: about two thirds of a page's
# figure time. Our builders pass known values, so the app skips that; tests/conftest.py turns it back on,
# so every figure a test builds is still checked, and tests/test_figures.py compares the JSON both ways.
VALIDATE = False
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", "\u00a0": "⍽"}


# -- labels ------------------------------------------------------------------------------------
def visible_text(text: str) -> str:
    """Token text with spaces, newlines and other control characters made visible."""
    out = []
    for ch in text:
        if ch in _VISIBLE:
            out.append(_VISIBLE[ch])
        elif ord(ch) < 0x20:
            out.append(chr(0x2400 + ord(ch)))  # the Unicode "control pictures" block
        else:
            out.append(ch)
    return "".join(out)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def token_labels(texts: Sequence[str]) -> list[str]:
    """Unique axis labels: `"0 ␣the"` (position, token text with spaces shown), about 14 characters."""
    labels = []
    for i, text in enumerate(texts):
        prefix = f"{i} "
        labels.append(prefix + _shorten(visible_text(text), max(3, LABEL_CHARS - len(prefix))))
    return labels


def vocab_label(vocab, row: int) -> str:
    """`"␣the #279"`: a vocabulary row's token text and its cl100k id (unique per row)."""
    token_id = vocab.token_id(int(row))
    text = _shorten(visible_text(vocab.row_text(int(row))), 10)
    return text if token_id < 0 else f"{text} #{token_id}"


def _esc(text) -> str:
    """Text safe for plotly's pseudo-HTML labels: a token `<b>` or `&nbsp;` is shown as typed."""
    return html.escape(str(text), quote=False)


def _esc_all(labels: Sequence) -> list[str]:
    return [_esc(label) for label in labels]


# -- arrays ------------------------------------------------------------------------------------
def _array(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu")
        if values.dtype == torch.bool:
            return values.numpy().astype(np.float32)
        return values.float().numpy()
    return np.asarray(values, dtype=np.float32)


def _check_2d(z: np.ndarray, x_labels: Sequence, y_labels: Sequence) -> None:
    if z.ndim != 2:
        raise ValueError(f"A heatmap needs a 2-D array, got shape {tuple(z.shape)}.")
    if len(y_labels) != z.shape[0] or len(x_labels) != z.shape[1]:
        raise ValueError(
            f"{len(y_labels)} row labels and {len(x_labels)} column labels do not fit an array of shape {tuple(z.shape)}."
        )


def _masked(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z with −∞/NaN cells as NaN, boolean mask of those cells)."""
    mask = np.isnan(z) | np.isneginf(z)
    if mask.any():
        z = np.where(mask, np.float32(np.nan), z).astype(np.float32)
    return z, mask


def _scale(z: np.ndarray, signed: bool | None, prefix: str = "z") -> dict:
    """Colour scale settings (trace `z*` or coloraxis `c*`) for data z."""
    finite = z[np.isfinite(z)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if signed is None:
        signed = lo < 0
    if signed:
        bound = max(abs(lo), abs(hi)) or 1.0
        return {"colorscale": DIVERGING, f"{prefix}mid": 0.0, f"{prefix}min": -bound, f"{prefix}max": bound}
    return {"colorscale": SEQUENTIAL, f"{prefix}min": 0.0, f"{prefix}max": hi if hi > 0 else 1.0}


def _height(rows: int, height: int | None, *, square: bool = False) -> int:
    """Tall enough for a readable label per row; a square (T×T) figure stays within a typical page width."""
    if height:
        return int(height)
    return int(min(900 if square else 1300, max(320, 170 + 28 * rows)))


def _make_square(xaxis: dict, yaxis: dict) -> None:
    """Square cells; the shrunk side keeps to the top left, next to its tick labels."""
    xaxis.update(constrain="domain", constraintoward="left")
    yaxis.update(scaleanchor="x", constrain="domain", constraintoward="top")


def _title_html(title: str) -> str:
    """Escaped title; a second line (after "\n", e.g. the shape) in a smaller font, so narrow pages keep it."""
    first, *rest = str(title).split("\n")
    return _esc(first) + "".join(f"<br><span style='font-size:{FONT_SIZE - 1}px'>{_esc(r)}</span>" for r in rest)


def _layout(title: str, height: int, **extra) -> dict:
    lines = str(title).count("\n")
    layout = dict(
        title=dict(text=_title_html(title), font=dict(size=FONT_SIZE + 3), x=0.01, xanchor="left"),
        font=dict(size=FONT_SIZE),
        height=height + 22 * lines,
        margin=dict(l=10, r=10, t=70 + 22 * lines, b=10),
        hoverlabel=dict(font=dict(size=FONT_SIZE)),  # no magic underscores: VALIDATE off keeps keys as written
        # A tiny template instead of plotly's default (~10 KB per figure, copied on every build, and
        # replaced by Streamlit's theme in the app anyway).
        template=LEAN_TEMPLATE,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, font=dict(size=FONT_SIZE)),
    )
    layout.update(extra)
    return layout


def _axis_text(title: str) -> dict:
    """Axis title and tick fonts set on the axis itself: Streamlit's theme sets smaller ones there."""
    return dict(title=dict(text=_esc(title), font=dict(size=FONT_SIZE + 1)), tickfont=dict(size=FONT_SIZE))


COLORBAR = dict(thickness=16, tickfont=dict(size=FONT_SIZE))
CURVE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442")  # Okabe–Ito
LEAN_TEMPLATE = {"layout": {"colorway": list(CURVE_COLOURS)}}


def _axis(title: str, labels: Sequence | None, *, reverse: bool = False, angle: int | None = None) -> dict:
    axis = dict(_axis_text(title), automargin=True, showgrid=False, zeroline=False)
    if labels is not None and labels and isinstance(labels[0], str):
        axis["type"] = "category"
    if reverse:
        axis["autorange"] = "reversed"
    if angle is not None:
        axis["tickangle"] = angle
    return axis


def _masked_trace(
    mask: np.ndarray, x: list, y: list, *, lang: str, showlegend: bool, cell_text: bool = True, **where
) -> go.Heatmap:
    """The −∞ cells as their own grey layer, with a legend entry and the −∞ sign in small matrices."""
    cells = np.where(mask, np.float32(1.0), np.float32(np.nan)).astype(np.float32)
    small = cell_text and mask.shape[0] <= 24 and mask.shape[1] <= 24
    return go.Heatmap(_validate=VALIDATE,
        z=cells, x=x, y=y,
        colorscale=[[0, MASKED_GREY], [1, MASKED_GREY]], zmin=0, zmax=1, showscale=False,
        name=_esc(t("masked_legend", lang)), showlegend=showlegend, legendgroup="masked",
        text=np.where(mask, "−∞", "") if small else None, texttemplate="%{text}" if small else None,
        textfont=dict(color="white", size=FONT_SIZE - 2),
        hovertemplate="%{y}<br>%{x}<br>" + _esc(t("masked_hover", lang)) + "<extra></extra>",
        **where,
    )


def _hover(x_title: str, y_title: str) -> str:
    return f"{_esc(y_title)}: %{{y}}<br>{_esc(x_title)}: %{{x}}<br>%{{z:.7g}}<extra></extra>"


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
    z = _array(values)
    x_labels, y_labels = list(x_labels), list(y_labels)  # numpy arrays of labels work too
    _check_2d(z, x_labels, y_labels)
    z, mask = _masked(z)
    x = _esc_all(x_labels) if x_labels and isinstance(x_labels[0], str) else list(x_labels)
    y = _esc_all(y_labels)
    scale = _scale(z, signed)
    if zmin is not None:
        scale["zmin"] = zmin
    if zmax is not None:
        scale["zmax"] = zmax
    if annotate is None:
        annotate = z.shape[0] <= 12 and z.shape[1] <= 12
    cell_text = dict(texttemplate="%{z:.2f}", textfont=dict(size=FONT_SIZE - 1)) if annotate else {}
    data = [go.Heatmap(_validate=VALIDATE, z=z, x=x, y=y, hovertemplate=_hover(x_title, y_title), colorbar=COLORBAR,
                       **cell_text, **scale)]
    if mask.any():
        data.append(_masked_trace(mask, x, y, lang=lang, showlegend=True))
    rows, cols = z.shape
    square = rows == cols and rows > 1
    xaxis = _axis(x_title, x, angle=-60 if isinstance(x[0], str) and cols > 8 else None)
    yaxis = _axis(y_title, y, reverse=True)
    if square:
        _make_square(xaxis, yaxis)
    if annotate and not height:
        height = 170 + 48 * rows  # room for "-0.32" in every cell
    layout = _layout(title, _height(rows, height, square=square), xaxis=xaxis, yaxis=yaxis)
    return go.Figure(_validate=VALIDATE, data=data, layout=layout)


def _mask_figure(mask, labels: list[str], title: str, lang: str) -> go.Figure:
    """attn.mask: True (the future, −∞ later) and False (may be looked at) as two labelled colours."""
    z = _array(mask)
    _check_2d(z, labels, labels)
    y = x = _esc_all(labels)
    words = np.where(z > 0.5, t("masked_hover", lang), t("visible", lang))
    trace = go.Heatmap(_validate=VALIDATE,
        z=z, x=x, y=y, zmin=0, zmax=1, customdata=words,
        colorscale=[[0, MASK_VISIBLE], [0.5, MASK_VISIBLE], [0.5, MASKED_GREY], [1, MASKED_GREY]],
        colorbar=dict(tickvals=[0.25, 0.75], ticktext=[_esc(t("visible", lang)), _esc(t("masked", lang))],
                      thickness=16, len=0.5, tickfont=dict(size=FONT_SIZE)),
        xgap=1, ygap=1,
        hovertemplate=f"{_esc(t('query', lang))}: %{{y}}<br>{_esc(t('key', lang))}: %{{x}}<br>%{{customdata}}<extra></extra>",
    )
    xaxis, yaxis = _axis(t("key", lang), x, angle=-60), _axis(t("query", lang), y, reverse=True)
    _make_square(xaxis, yaxis)
    layout = _layout(title, _height(len(labels), None, square=True), xaxis=xaxis, yaxis=yaxis)
    return go.Figure(_validate=VALIDATE, data=[trace], layout=layout)


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
    parts = [spec.title_zh if lang == "zh" else spec.title]
    block = block_of(name)
    if block is not None:
        parts.append(f"{t('block', lang)} {block}")
    if head is not None:
        parts.append(f"{t('head', lang)} {head}")
    if batch is not None:
        parts.append(f"{t('batch row', lang)} {batch}")
    return " · ".join(parts) + "\n" + trace.shape_label(name)


def top_vocab_rows(probs_2d, max_columns: int) -> list[int]:
    """Vocabulary rows worth a column: the max_columns most probable at any position, most probable first."""
    best = _array(probs_2d).max(axis=0)
    k = min(int(max_columns), best.size)
    part = np.argpartition(-best, k - 1)[:k] if k < best.size else np.arange(best.size)
    return part[np.argsort(-best[part], kind="stable")].tolist()


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
        return StageSlice(name, _array(tensor), labels, labels, t("key", lang), t("query", lang),
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
    labels = _row_labels(labels, batch, tensor.shape[0])
    y_title = t(axes[-2], lang)
    signed = spec.key not in NON_NEGATIVE_STAGES
    values = _array(tensor)
    if axes[-1] == "vocab":
        if vocab is None:
            raise ValueError(f"The {name} view needs the vocabulary to label its columns (pass vocab=...).")
        total = values.shape[-1]
        rows = top_vocab_rows(trace["probs"][batch], max_columns or total)
        x_title = t("vocab_top", lang).format(n=len(rows), total=total)
        return StageSlice(name, values[:, rows], labels, [vocab_label(vocab, r) for r in rows], x_title, y_title,
                          title, signed)
    if axes[-1] == "key":
        return StageSlice(name, values, labels, labels, t("key", lang), y_title, title, signed)
    return StageSlice(name, values, labels, list(range(values.shape[-1])), t(axes[-1], lang), y_title, title, signed)


def stage_heatmap(
    trace,
    name: str,
    *,
    labels,
    batch: int = 0,
    head: int = 0,
    lang: str = "en",
    max_columns: int = 64,
    vocab=None,
    annotate: bool | None = None,
) -> go.Figure:
    """The 2-D slice of any stage of a trace, titled with its stage, block, head and shape.

    labels: token labels of the batch row shown (or one list per batch row). logits/probs need vocab:
    only the max_columns vocabulary columns most probable at some position are drawn.
    """
    cut = stage_slice(trace, name, labels=labels, batch=batch, head=head, lang=lang, max_columns=max_columns,
                      vocab=vocab)
    if cut.signed is None:
        return _mask_figure(cut.values, cut.row_labels, cut.title, lang)
    return heatmap(cut.values, x_labels=cut.col_labels, y_labels=cut.row_labels, title=cut.title,
                   x_title=cut.x_title, y_title=cut.y_title, signed=cut.signed, lang=lang, annotate=annotate)


def stage_csv(trace, name: str, *, labels, batch: int = 0, head: int = 0, vocab=None,
              max_columns: int | None = None) -> bytes:
    """CSV of the slice a view shows (all vocabulary columns unless max_columns)."""
    cut = stage_slice(trace, name, labels=labels, batch=batch, head=head, vocab=vocab, max_columns=max_columns)
    return to_csv(cut.values, cut.row_labels, cut.col_labels)


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
        x = dict(x_axis, domain=[left, left + width], anchor=f"y{suffix}")
        if k:
            x["matches"] = "x"  # zooming one panel zooms them all
        if k + cols < count:  # a panel below shows the same keys: label only the bottom row
            x.update(showticklabels=False, title=None)
        layout[f"xaxis{suffix}"] = x
        y = dict(y_axis, domain=[top - height, top], anchor=f"x{suffix}")
        if k:
            y["matches"] = "y"
            y.pop("title", None)
        if c:
            y["showticklabels"] = False
        layout[f"yaxis{suffix}"] = y
        refs.append((f"x{suffix}", f"y{suffix}"))
        annotations.append(dict(text=_esc(titles[k]), x=left + width / 2, y=top, xref="paper", yref="paper",
                                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=FONT_SIZE + 1)))
    return layout, annotations, refs


def _panels(
    matrices: Sequence[np.ndarray], titles: Sequence[str], *, x: list, y: list, x_title: str, y_title: str,
    signed: bool | None, cols: int, title: str, lang: str, row_height: int,
) -> go.Figure:
    """Several matrices of one shape on one colour axis, each with its grey −∞ layer."""
    cleaned = [_masked(m) for m in matrices]
    categorical_x = bool(x) and isinstance(x[0], str)
    x_axis = _axis(x_title, x, angle=-90 if categorical_x and len(x) > 4 else None)
    y_axis = _axis(y_title, y, reverse=True)
    axes, annotations, refs = _grid(len(matrices), cols, titles, x_axis=x_axis, y_axis=y_axis)
    hover = _hover(x_title, y_title)
    data, legend_shown = [], False
    for (z, mask), (xref, yref) in zip(cleaned, refs):
        data.append(go.Heatmap(_validate=VALIDATE, z=z, x=x, y=y, xaxis=xref, yaxis=yref, coloraxis="coloraxis",
                               hovertemplate=hover))
        if mask.any():
            data.append(_masked_trace(mask, x, y, lang=lang, showlegend=not legend_shown, cell_text=False,
                                      xaxis=xref, yaxis=yref))
            legend_shown = True
    scale = _scale(np.concatenate([z.ravel() for z, _ in cleaned]), signed, prefix="c")
    rows = math.ceil(len(matrices) / cols)
    layout = _layout(title, min(2400, max(340, 120 + rows * (row_height + 60))), **axes)
    layout["annotations"] = annotations
    layout["coloraxis"] = dict(colorbar=COLORBAR, **scale)
    layout["margin"] = dict(l=10, r=10, t=(100 + 22 * title.count("\n")) if title else 60, b=50 if legend_shown else 10)
    # Subplot titles sit where a top legend would go: the masked legend goes to the bottom left.
    layout["legend"] = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left",
                            font=dict(size=FONT_SIZE))
    return go.Figure(_validate=VALIDATE, data=data, layout=layout)


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
    z_all = _array(full[batch])  # [H, T, T or D]
    heads, T, width = z_all.shape
    labels = _row_labels(labels, batch, T)
    y = _esc_all(labels)
    x = y if spec.axes[-1] == "key" else list(range(width))
    return _panels(
        list(z_all), [f"{t('head', lang)} {h}" for h in range(heads)], x=x, y=y,
        x_title=t(spec.axes[-1], lang), y_title=t(spec.axes[-2], lang),
        signed=spec.key not in NON_NEGATIVE_STAGES, cols=min(heads, 4),
        title=stage_title(trace, name, batch=batch, lang=lang), lang=lang, row_height=max(260, 28 * T),
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
) -> go.Figure:
    """Two matrices side by side on one colour scale, so equal colours mean equal numbers."""
    a, b = _array(a_2d), _array(b_2d)
    labels_x, labels_y = list(labels_x), list(labels_y)
    _check_2d(a, labels_x, labels_y)
    _check_2d(b, labels_x, labels_y)
    x = _esc_all(labels_x) if labels_x and isinstance(labels_x[0], str) else list(labels_x)
    return _panels(
        [a, b], list(titles), x=x, y=_esc_all(labels_y), x_title=x_title, y_title=y_title, signed=signed,
        cols=2, title=title, lang=lang, row_height=max(220, 22 * a.shape[0]),
    )


def attention_over_training(snapshots: Sequence, labels: Sequence[str], *, block: int = 0, head: int = 0,
                            max_panels: int = 6, lang: str = "en") -> go.Figure:
    """One head's attention weights at several moments of training, side by side on one scale.

    snapshots: objects with .step and .weights [blocks, heads, T, T] (trainer.AttentionSnapshot); the first,
    the last and evenly spaced ones between are shown.
    """
    if not snapshots:
        raise ValueError("No attention snapshots yet: train for a few steps first.")
    blocks, heads = snapshots[0].weights.shape[:2]
    if not 0 <= block < blocks or not 0 <= head < heads:
        raise ValueError(f"Block {block}, head {head} does not exist: the model has {blocks} blocks of {heads} heads.")
    count = min(int(max_panels), len(snapshots))
    picks = sorted({round(i * (len(snapshots) - 1) / max(count - 1, 1)) for i in range(count)})
    chosen = [snapshots[i] for i in picks]
    matrices = [_array(s.weights[block, head]) for s in chosen]
    names = _esc_all(labels)
    _check_2d(matrices[0], names, names)
    title = f"{t('attention_over_training_title', lang)} · {t('block', lang)} {block} · {t('head', lang)} {head}"
    return _panels(
        matrices, [f"{t('training step', lang)} {s.step}" for s in chosen], x=names, y=names,
        x_title=t("key", lang), y_title=t("query", lang), signed=False, cols=min(len(chosen), 3), title=title,
        lang=lang, row_height=max(260, 28 * len(names)),
    )


# -- positional encoding -----------------------------------------------------------------------
def positional_curves(table, dims: Sequence[int], *, lang: str = "en") -> go.Figure:
    """Chosen dimensions of the sinusoidal table against position: dots are the table's values, the thin line
    the sine or cosine wave they are sampled from (fast waves on the left dimensions, slow ones on the right)."""
    z = _array(table)
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
        colour = CURVE_COLOURS[n % len(CURVE_COLOURS)]
        wave = "sin" if dim % 2 == 0 else "cos"
        name = f"{t('dimension', lang)} {dim} ({wave})"
        # The notebook's formula: angle = position / 10000^(2i / d_model) for the pair i = dim // 2.
        angle = smooth * math.exp(-(dim - dim % 2) * math.log(10000.0) / d_model)
        data.append(go.Scatter(_validate=VALIDATE, x=smooth, y=np.sin(angle) if wave == "sin" else np.cos(angle),
                               mode="lines",
                               line=dict(color=colour, width=1.5), opacity=0.5, legendgroup=name,
                               showlegend=False, hoverinfo="skip"))
        data.append(go.Scatter(_validate=VALIDATE,
            x=positions, y=z[:, dim], mode="markers", marker=dict(color=colour, size=9), name=name,
            legendgroup=name,
            hovertemplate=f"{t('position', lang)} %{{x}}<br>%{{y:.4f}}<extra>{t('dimension', lang)} {dim}</extra>",
        ))
    layout = _layout(
        t("positional_curves_title", lang), 420,
        xaxis=dict(_axis_text(t("position", lang)), zeroline=False),
        yaxis=dict(_axis_text(t("value", lang)), range=[-1.1, 1.1], zeroline=True),
    )
    layout["legend"] = dict(orientation="v", x=1.01, xanchor="left", y=1.0, font=dict(size=FONT_SIZE))
    return go.Figure(_validate=VALIDATE, data=data, layout=layout)


def position_similarity(table, *, lang: str = "en") -> go.Figure:
    """Cosine similarity of every pair of position vectors: strongest near the diagonal, fading with distance."""
    z = _array(table)
    if z.ndim != 2:
        raise ValueError(f"The positional table must be [position, d_model], got shape {tuple(z.shape)}.")
    unit = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    sim = (unit @ unit.T).astype(np.float32)
    names = [str(i) for i in range(z.shape[0])]
    return heatmap(sim, x_labels=names, y_labels=names, title=t("position_similarity_title", lang),
                   x_title=t("position", lang), y_title=t("position", lang), signed=True, zmin=-1.0, zmax=1.0,
                   lang=lang)


# -- attention as lines ------------------------------------------------------------------------
def attention_lines(
    weights_2d, labels: Sequence[str], *, title: str = "", lang: str = "en", focus: int | None = None
) -> go.Figure:
    """bertviz's head view: queries on the left, keys on the right, a line per weight ≥ 0.01, opacity = weight.

    focus: draw only the lines of that query position (its label is drawn bold).
    """
    w = _array(weights_2d)
    _check_2d(w, labels, labels)
    T = w.shape[0]
    if focus is not None:
        if not 0 <= focus < T:
            raise ValueError(f"Position {focus} does not exist: there are {T} positions.")
        w = np.where(np.arange(T)[:, None] == focus, w, np.float32(0)).astype(np.float32)
    names = _esc_all(labels)
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
        data.append(go.Scatter(_validate=VALIDATE, x=xs, y=yv, mode="lines", line=dict(color="#1f5fbf", width=3),
                               opacity=min(1.0, level / 20), hoverinfo="skip", showlegend=False))
    text = [f"{names[i]} → {names[j]}: {weight:.4f}" for i, j, weight in zip(query.tolist(), key.tolist(), kept.tolist())]
    data.append(go.Scatter(_validate=VALIDATE, x=np.full(len(text), 0.5, dtype=np.float32), y=(ys[query] + ys[key]) / 2,
                           mode="markers", marker=dict(size=8, opacity=0), text=text,
                           hovertemplate="%{text}<extra></extra>", showlegend=False))
    for side, x, pos in ((t("query", lang), 0.0, "middle left"), (t("key", lang), 1.0, "middle right")):
        shown = names if focus is None or x else [f"<b>{n}</b>" if i == focus else n for i, n in enumerate(names)]
        data.append(go.Scatter(_validate=VALIDATE, x=[x] * T, y=ys, mode="markers+text", text=shown, textposition=pos,
                               textfont=dict(size=FONT_SIZE), marker=dict(size=9, color="#1f5fbf"),
                               hovertemplate="%{text}<extra>" + _esc(side) + "</extra>", showlegend=False))
    hidden = dict(visible=False, fixedrange=True)
    layout = _layout(title, max(320, 110 + 26 * T), xaxis=dict(range=[-0.75, 1.75], **hidden),
                     yaxis=dict(range=[-T + 0.4, 0.9], **hidden), hovermode="closest")
    layout["annotations"] = [
        dict(x=0, y=0.8, text=_esc(t("query", lang)), showarrow=False, xanchor="right", font=dict(size=FONT_SIZE + 1)),
        dict(x=1, y=0.8, text=_esc(t("key", lang)), showarrow=False, xanchor="left", font=dict(size=FONT_SIZE + 1)),
    ]
    return go.Figure(_validate=VALIDATE, data=data, layout=layout)


# -- next-token views --------------------------------------------------------------------------
def _percent(p: float) -> str:
    """`"42.0%"`, `"0.37%"`: small probabilities keep two significant digits."""
    return f"{p * 100:.1f}%" if p >= 0.01 else f"{p * 100:.2g}%"


def topk_bars(probs_1d, vocab, *, k: int = 10, title: str = "", lang: str = "en") -> go.Figure:
    """The k most likely next tokens as horizontal bars, the most likely on top, with text, id and %."""
    p = probs_1d if isinstance(probs_1d, torch.Tensor) else torch.as_tensor(np.asarray(probs_1d))
    if p.dim() != 1:
        raise ValueError(f"topk_bars needs the probabilities of one position, got shape {tuple(p.shape)}.")
    top = torch.topk(p.float(), min(int(k), p.numel()))
    rows = top.indices.tolist()
    names = _esc_all(vocab_label(vocab, r) for r in rows)
    values = top.values.numpy().astype(np.float32)
    trace = go.Bar(_validate=VALIDATE,
        x=values, y=names, orientation="h", marker=dict(color="#2a788e"),
        text=[_percent(v) for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}<br>%{x:.3%}<extra></extra>",
    )
    top_value = float(values.max()) if values.size else 1.0
    layout = _layout(
        title or t("next token", lang), max(300, 120 + 34 * len(rows)),
        xaxis=dict(_axis_text(t("probability", lang)), tickformat=".3~%", range=[0, top_value * 1.2 or 1]),
        yaxis=dict(type="category", autorange="reversed", automargin=True, tickfont=dict(size=FONT_SIZE)),
    )
    return go.Figure(_validate=VALIDATE, data=[trace], layout=layout)


def topk_table(probs_2d, vocab, labels: Sequence[str], *, k: int = 5, lang: str = "en") -> pd.DataFrame:
    """Per position: the input token, the model's favourite next token and its probability, and the top k."""
    p = probs_2d if isinstance(probs_2d, torch.Tensor) else torch.as_tensor(np.asarray(probs_2d))
    if p.dim() != 2 or p.shape[0] != len(labels):
        raise ValueError(f"topk_table needs [positions, vocab] probabilities for {len(labels)} labels, got {tuple(p.shape)}.")
    top = torch.topk(p.float(), min(int(k), p.shape[1]), dim=1)
    table = {t("input token", lang): list(labels), t("next token", lang): [], t("probability", lang): []}
    ranks = [f"#{r + 1}" for r in range(top.indices.shape[1])]
    for rank in ranks:
        table[rank] = []
    for values, rows in zip(top.values.tolist(), top.indices.tolist()):
        table[t("next token", lang)].append(visible_text(vocab.row_text(rows[0])))
        table[t("probability", lang)].append(values[0])
        for rank, value, row in zip(ranks, values, rows):
            table[rank].append(f"{visible_text(vocab.row_text(row))} ({_percent(value)})")
    return pd.DataFrame(table)


def token_loss_bar(
    losses_1d,
    labels: Sequence[str],
    target_texts: Sequence[str],
    uniform_loss: float | None = None,
    *,
    title: str = "",
    lang: str = "en",
) -> go.Figure:
    """Cross-entropy at each position against the true next token, with ln(V), the loss of a uniform guess."""
    losses = _array(losses_1d).reshape(-1)
    if not len(losses) == len(labels) == len(target_texts):
        raise ValueError(f"{len(losses)} losses, {len(labels)} labels and {len(target_texts)} targets must match.")
    targets = [visible_text(s) for s in target_texts]
    trace = go.Bar(_validate=VALIDATE,
        x=_esc_all(labels), y=losses, customdata=_esc_all(targets), marker=dict(color="#d95f02"),
        hovertemplate="%{x} → %{customdata}<br>" + _esc(t("loss", lang)) + " %{y:.4f}<extra></extra>",
    )
    layout = _layout(
        title or t("token_loss_title", lang), 420,
        xaxis=_axis(t("position", lang), labels, angle=-60 if len(labels) > 8 else None),
        yaxis=dict(_axis_text(t("loss", lang)), rangemode="tozero"),
    )
    fig = go.Figure(_validate=VALIDATE, data=[trace], layout=layout)
    if uniform_loss is not None:
        fig.add_hline(y=float(uniform_loss), line=dict(color="#444", dash="dash", width=2),
                      annotation_text=_esc(t("uniform_guess", lang).format(loss=float(uniform_loss))),
                      annotation_position="top right", annotation_font_size=FONT_SIZE - 1,
                      annotation_bgcolor="rgba(255,255,255,0.85)")
    return fig


def candidate_bars(candidates: Sequence, *, chosen_id: int | None = None, title: str = "",
                   lang: str = "en") -> go.Figure:
    """One generation step: each candidate's probability from the model and the probability it was sampled
    with (after temperature, top-k, top-p), the chosen token marked. candidates: sampling.Candidate."""
    names = _esc_all(
        f"{_shorten(visible_text(c.text), 12)} #{c.token_id}" + (" ✔" if c.token_id == chosen_id else "")
        for c in candidates
    )
    model_p = np.array([c.prob for c in candidates], dtype=np.float32)
    sample_p = np.array([c.sample_prob for c in candidates], dtype=np.float32)
    data = [
        go.Bar(_validate=VALIDATE, x=model_p, y=names, orientation="h", name=_esc(t("model probability", lang)),
               marker=dict(color="#9ecae1"), text=[_percent(v) for v in model_p], textposition="outside",
               cliponaxis=False, hovertemplate="%{y}<br>%{x:.3%}<extra>" + _esc(t("model probability", lang)) + "</extra>"),
        go.Bar(_validate=VALIDATE, x=sample_p, y=names, orientation="h", name=_esc(t("sampling probability", lang)),
               marker=dict(color="#2a788e"), text=[_percent(v) for v in sample_p], textposition="outside",
               cliponaxis=False,
               hovertemplate="%{y}<br>%{x:.3%}<extra>" + _esc(t("sampling probability", lang)) + "</extra>"),
    ]
    top = float(max(model_p.max(initial=0), sample_p.max(initial=0))) or 1.0
    layout = _layout(
        title or t("next token", lang), max(300, 140 + 52 * len(names)), barmode="group",
        xaxis=dict(_axis_text(t("probability", lang)), tickformat=".3~%", range=[0, top * 1.25]),
        yaxis=dict(type="category", autorange="reversed", automargin=True, tickfont=dict(size=FONT_SIZE)),
    )
    return go.Figure(_validate=VALIDATE, data=data, layout=layout)


def ema(values, weight: float = 0.9, *, block: int = 128) -> np.ndarray:
    """Exponential moving average y[i] = weight·y[i-1] + (1-weight)·x[i], starting at x[0].

    Computed block by block with a small matrix of powers, so a million steps take milliseconds.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.empty_like(x)
    if not x.size:
        return out.astype(np.float32)
    idx = np.arange(block)
    lag = idx[:, None] - idx[None, :]
    step = np.where(lag >= 0, weight ** np.clip(lag, 0, None), 0.0) * (1 - weight)
    carry = weight ** (idx + 1)
    previous = x[0]
    for start in range(0, x.size, block):
        chunk = x[start:start + block]
        m = chunk.size
        out[start:start + m] = step[:m, :m] @ chunk + carry[:m] * previous
        previous = out[start + m - 1]
    return out.astype(np.float32)


MAX_CURVE_POINTS = 4000  # more points than pixels only slow the browser down


def loss_curves(step_reports: Sequence, eval_reports: Sequence = (), *, uniform_loss: float | None = None,
                smoothing: float = 0.9, title: str = "", lang: str = "en") -> go.Figure:
    """Training loss per step (faint), its moving average, and the evaluated train / validation losses.

    step_reports: objects with .step and .loss (trainer.StepReport); eval_reports: .step, .train_loss,
    .val_loss (trainer.EvalReport). A reference line marks ln(V), the loss of a uniform guess.
    """
    steps = np.array([r.step for r in step_reports], dtype=np.float32)
    losses = np.array([r.loss for r in step_reports], dtype=np.float32)
    smoothed = ema(losses, smoothing)
    every = max(1, math.ceil(steps.size / MAX_CURVE_POINTS))  # the last step is always drawn
    keep = np.unique(np.append(np.arange(0, steps.size, every), steps.size - 1)) if steps.size else []
    data = []
    if steps.size:
        data.append(go.Scatter(_validate=VALIDATE, x=steps[keep], y=losses[keep], mode="lines",
                               line=dict(color="#9ecae1", width=1),
                               name=_esc(t("batch loss", lang)),
                               hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
        data.append(go.Scatter(_validate=VALIDATE, x=steps[keep], y=smoothed[keep], mode="lines",
                               line=dict(color="#0072b2", width=3),
                               name=_esc(t("smoothed", lang)), hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    if eval_reports:
        e_steps = np.array([r.step for r in eval_reports], dtype=np.float32)
        for field, key, colour, dash in (("train_loss", "train loss", "#009e73", "solid"),
                                         ("val_loss", "validation loss", "#d55e00", "dash")):
            data.append(go.Scatter(_validate=VALIDATE,
                x=e_steps, y=np.array([getattr(r, field) for r in eval_reports], dtype=np.float32),
                mode="lines+markers", line=dict(color=colour, width=3, dash=dash), marker=dict(size=8),
                name=_esc(t(key, lang)), hovertemplate="%{x}: %{y:.4f}<extra>" + _esc(t(key, lang)) + "</extra>",
            ))
    layout = _layout(
        title or t("loss_curves_title", lang), 420,
        xaxis=dict(_axis_text(t("training step", lang)), rangemode="tozero"),
        yaxis=dict(_axis_text(t("loss", lang)), rangemode="tozero"),
    )
    fig = go.Figure(_validate=VALIDATE, data=data, layout=layout)
    if uniform_loss is not None:
        fig.add_hline(y=float(uniform_loss), line=dict(color="#444", dash="dot", width=2),
                      annotation_text=_esc(t("uniform_guess", lang).format(loss=float(uniform_loss))),
                      annotation_position="top right", annotation_font_size=FONT_SIZE - 1,
                      annotation_bgcolor="rgba(255,255,255,0.85)")
    return fig


# -- small numeric summaries -------------------------------------------------------------------
def layernorm_stats(before_2d, after_2d, labels: Sequence[str], *, lang: str = "en") -> pd.DataFrame:
    """Per position mean and (population) std of a vector before and after LayerNorm: after ≈ 0 and ≈ 1."""
    before, after = _array(before_2d), _array(after_2d)
    if before.shape != after.shape or before.ndim != 2 or before.shape[0] != len(labels):
        raise ValueError(f"layernorm_stats needs two [positions, d_model] arrays for {len(labels)} labels.")
    return pd.DataFrame({
        t("token", lang): list(labels),
        t("mean before", lang): before.mean(axis=1).astype(np.float64),
        t("std before", lang): before.std(axis=1).astype(np.float64),
        t("mean after", lang): after.mean(axis=1).astype(np.float64),
        t("std after", lang): after.std(axis=1).astype(np.float64),
    })


def zero_fraction(values) -> float:
    """Fraction of entries that are exactly 0 (ReLU switched them off)."""
    z = _array(values)
    return float((z == 0).mean()) if z.size else 0.0


# -- token chips -------------------------------------------------------------------------------
CHIP_COLOURS = ("#ffe0b2", "#c8e6c9", "#bbdefb", "#f8bbd0", "#fff59d", "#d1c4e9", "#b2ebf2", "#dcedc8")


def token_chips_html(
    texts: Sequence[str], ids: Sequence[int], known: Sequence[bool], *, show_ids: bool = True
) -> str:
    """The text as coloured token chips with their cl100k ids; unknown tokens get a red dashed border."""
    if not len(texts) == len(ids) == len(known):
        raise ValueError(f"{len(texts)} texts, {len(ids)} ids and {len(known)} known flags must match.")
    chips = []
    for i, (text, token_id, is_known) in enumerate(zip(texts, ids, known)):
        colour = CHIP_COLOURS[i % len(CHIP_COLOURS)]
        border = "1px solid rgba(0,0,0,0.15)" if is_known else "2px dashed #d62728"
        shown = html.escape(visible_text(text), quote=True)
        tip = f"id {token_id}" if is_known else f"id {token_id}: <unk>"
        under = html.escape(str(token_id)) if is_known else "&lt;unk&gt;"
        sub = (f'<span style="display:block;font-size:0.72em;color:#444;line-height:1.1">{under}</span>'
               if show_ids or not is_known else "")
        chips.append(
            f'<span title="{html.escape(tip, quote=True)}" style="display:inline-block;background:{colour};'
            f"color:#111;border:{border};border-radius:6px;padding:2px 6px;margin:2px 3px;text-align:center;"
            f'font-family:ui-monospace,Menlo,Consolas,\'Noto Sans Mono CJK SC\',monospace;white-space:pre;'
            f'font-size:1.05em;line-height:1.35;vertical-align:top">{shown}{sub}</span>'
        )
        if "\n" in text:
            chips.append('<span style="flex-basis:100%;height:0"></span>')  # the newline starts a new line
    return '<div style="display:flex;flex-wrap:wrap;align-items:flex-start">' + "".join(chips) + "</div>"


# -- downloads ---------------------------------------------------------------------------------
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
    z = _array(values_2d)
    _check_2d(z, col_labels, row_labels)
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
