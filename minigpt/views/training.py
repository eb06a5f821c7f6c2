"""The Train page's figures: the loss curves (batch loss, its moving average, evaluated train and validation
losses, the best validation loss marked) and one head's attention snapshot on a fixed scale.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import ema
from ..text import t
from . import style
from .heatmaps import heatmap
from .labels import escape, token_labels

# -- loss curves --------------------------------------------------------------------------------
MAX_CURVE_POINTS = 4000  # more points than pixels only slow the browser down


def loss_curves(loss_steps: Sequence[int], losses: Sequence[float], evals: Sequence = (), *,
                tokens_per_step: int | None = None, uniform_loss: float | None = None, smoothing: float = 0.9,
                best=None, rising: bool = False, height: int = 460, lang: str = "en") -> go.Figure:
    """Batch loss per step (faint), its moving average and the evaluated train / validation losses, against step
    or (tokens_per_step given) against tokens seen. evals: objects with .step, .train_loss, .val_loss
    (trainer.EvalReport). A reference line marks ln(V), the loss of a uniform guess. best: the evaluation with
    the lowest validation loss (minigpt.overfitting.best_eval), marked with a star and a dotted line; rising:
    shade from it to the last evaluation (validation loss rising: minigpt.overfitting.verdict)."""
    if len(loss_steps) != len(losses):
        raise ValueError(f"{len(loss_steps)} steps but {len(losses)} losses.")
    scale = tokens_per_step or 1
    steps = np.array([step * scale for step in loss_steps], dtype=np.float32)
    losses = np.array(losses, dtype=np.float32)
    smoothed = ema(losses, smoothing)
    every = max(1, math.ceil(steps.size / MAX_CURVE_POINTS))  # the last step is always drawn
    keep = np.unique(np.append(np.arange(0, steps.size, every), steps.size - 1)) if steps.size else []
    data = []
    if steps.size:
        data.append(go.Scatter(_validate=style.VALIDATE, x=steps[keep], y=losses[keep], mode="lines",
                               line=dict(color="#9ecae1", width=1),
                               name=escape(t("ui.batch loss", lang)),
                               hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
        data.append(go.Scatter(_validate=style.VALIDATE, x=steps[keep], y=smoothed[keep], mode="lines",
                               line=dict(color="#0072b2", width=3),
                               name=escape(t("ui.smoothed", lang)), hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    if evals:
        e_steps = np.array([e.step * scale for e in evals], dtype=np.float32)
        for field, key, colour, dash in (("train_loss", "ui.train loss", "#009e73", "solid"),
                                         ("val_loss", "ui.validation loss", "#d55e00", "dash")):
            data.append(go.Scatter(_validate=style.VALIDATE,
                x=e_steps, y=np.array([getattr(e, field) for e in evals], dtype=np.float32),
                mode="lines+markers", line=dict(color=colour, width=3, dash=dash), marker=dict(size=8),
                name=escape(t(key, lang)), hovertemplate="%{x}: %{y:.4f}<extra>" + escape(t(key, lang)) + "</extra>",
            ))
    x_title = t("train.tokens_seen", lang) if tokens_per_step else t("ui.training step", lang)
    # The legend under the plot (above, it covers the title in a half-width column); the y axis fits the
    # curves rather than starting at 0, so a fall from 7.2 to 5 fills the height on a projector.
    layout = style.layout(
        t("ui.loss_curves_title", lang), height,
        xaxis=dict(style.axis_text(x_title), rangemode="tozero"),
        yaxis=dict(style.axis_text(t("ui.loss", lang)), rangemode="normal"),
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0, font=dict(size=style.FONT_SIZE)),
        uirevision="loss",
    )
    if best is not None:
        name = t("trainlive.best_marker", lang, loss=best.val_loss, step=best.step)
        data.append(go.Scatter(_validate=style.VALIDATE, x=[best.step * scale], y=[best.val_loss], mode="markers",
                               marker=dict(symbol="star", size=20, color="#d55e00", line=dict(color="#000", width=1)),
                               name=escape(name), hovertemplate=escape(name) + "<extra></extra>"))
    fig = go.Figure(_validate=style.VALIDATE, data=data, layout=layout)
    if best is not None:
        fig.add_vline(x=best.step * scale, line=dict(color="#d55e00", dash="dot", width=2))
        if rising and evals and evals[-1].step > best.step:
            fig.add_vrect(x0=best.step * scale, x1=evals[-1].step * scale, fillcolor="#d55e00", opacity=0.10,
                          line_width=0, annotation_text=escape(t("trainlive.rising_band", lang)),
                          annotation_position="top left", annotation_font_size=style.FONT_SIZE - 1)
    if uniform_loss is not None:
        style.add_uniform_line(fig, uniform_loss, dash="dot", lang=lang)
    return fig


# -- attention snapshots -------------------------------------------------------------------------
def attention_snapshot(snapshot, labels: Sequence[str], *, block: int = 0, head: int = 0, height: int | None = None,
                       lang: str = "en") -> go.Figure:
    """One snapshot's attention weights (block, head) on a fixed 0–1 scale, so scrubbing compares like with like.
    snapshot: .step and .weights [blocks, heads, T, T] (trainer.AttentionSnapshot). The title's second line names
    the block, head and step (a narrow column keeps it); height: the figure's, or one that fits the rows."""
    weights = snapshot.weights
    blocks, heads = weights.shape[:2]
    if not 0 <= block < blocks or not 0 <= head < heads:
        raise ValueError(f"Block {block}, head {head} does not exist: the model has {blocks} blocks of {heads} heads.")
    z = np.asarray(weights[block, head], dtype=np.float32)  # the future's weights are exactly 0 (causal mask)
    names = token_labels(labels)
    title = (f"{t('ui.attention_over_training_title', lang)}\n{t('train.block', lang)} {block} · {t('train.head', lang)} {head}"
             f" · {t('ui.training step', lang)} {snapshot.step}")
    fig = heatmap(z, x_labels=names, y_labels=names, title=title, x_title=t("ui.key", lang),
                  y_title=t("ui.query", lang), signed=False, zmin=0.0, zmax=1.0, height=height, lang=lang)
    if height is not None:  # a given height: the cells fill the width, the colour bar stays beside them
        fig.update_yaxes(scaleanchor=False)
    fig.update_layout(uirevision="attention")
    return fig
