"""The next token: the most likely candidates as bars, the loss at each position, one generation step's
candidates, and the trained model's probability for the true next token beside the untrained one's."""
from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from ..analysis import as_array
from ..text import t
from . import style
from ..tokenizer import token_pieces
from .labels import escape, escape_all, percent, piece_text, shorten, token_labels, visible_text, vocab_label


def topk_bars(probs_1d, vocab, *, k: int = 10, title: str = "", lang: str = "en",
              context_ids: Sequence[int] | None = None) -> go.Figure:
    """The k most likely next tokens as horizontal bars, the most likely on top, with text, id and %.
    context_ids: the tokens up to this position, so that a byte piece reads `"🤖 byte 4/4 #244"`, not hex."""
    p = probs_1d if isinstance(probs_1d, torch.Tensor) else torch.as_tensor(np.asarray(probs_1d))
    if p.dim() != 1:
        raise ValueError(f"topk_bars needs the probabilities of one position, got shape {tuple(p.shape)}.")
    top = torch.topk(p.float(), min(int(k), p.numel()))
    rows = top.indices.tolist()
    if context_ids is None:
        names = escape_all(vocab_label(vocab, r) for r in rows)
    else:
        ids = vocab.token_ids(rows)
        texts = next_token_texts(context_ids, [i for i in ids if i >= 0], vocab.mode, lang)
        it = iter(texts)
        names = escape_all(vocab_label(vocab, r) if i < 0 else f"{shorten(next(it), 16)} #{i}"
                           for r, i in zip(rows, ids))
    values = top.values.numpy().astype(np.float32)
    trace = go.Bar(_validate=style.VALIDATE,
        x=values, y=names, orientation="h", marker=dict(color="#2a788e"),
        text=[percent(v) for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}<br>%{x:.3%}<extra></extra>",
    )
    top_value = float(values.max()) if values.size else 1.0
    layout = style.layout(
        title or t("ui.next token", lang), max(300, 120 + 34 * len(rows)),
        xaxis=dict(style.axis_text(t("ui.probability", lang)), tickformat=".3~%", range=[0, top_value * 1.2 or 1]),
        yaxis=dict(type="category", autorange="reversed", automargin=True, tickfont=dict(size=style.FONT_SIZE)),
    )
    return go.Figure(_validate=style.VALIDATE, data=[trace], layout=layout)


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
    losses = as_array(losses_1d).reshape(-1)
    if not len(losses) == len(labels) == len(target_texts):
        raise ValueError(f"{len(losses)} losses, {len(labels)} labels and {len(target_texts)} targets must match.")
    targets = [visible_text(s) for s in target_texts]
    trace = go.Bar(_validate=style.VALIDATE,
        x=escape_all(labels), y=losses, customdata=escape_all(targets), marker=dict(color="#d95f02"),
        hovertemplate="%{x} → %{customdata}<br>" + escape(t("ui.loss", lang)) + " %{y:.4f}<extra></extra>",
    )
    layout = style.layout(
        title or t("ui.token_loss_title", lang), 420,
        xaxis=style.axis(t("ui.position", lang), labels, angle=-60 if len(labels) > 8 else None),
        yaxis=dict(style.axis_text(t("ui.loss", lang)), rangemode="tozero"),
    )
    fig = go.Figure(_validate=style.VALIDATE, data=[trace], layout=layout)
    if uniform_loss is not None:
        style.add_uniform_line(fig, uniform_loss, dash="dash", lang=lang)
    return fig


def next_token_texts(context_ids: Sequence[int], token_ids: Sequence[int], mode: str, lang: str = "en") -> list[str]:
    """What each candidate next token reads as after context_ids: a piece of a character split across tokens is
    named by its character when the context holds the character's first bytes (`"🤖 byte 4/4"`), else as
    bytes (`"byte f0 9f"`), never as `\\xf0\\x9f`."""
    context = list(context_ids)[-4:]  # a UTF-8 character has at most 4 bytes: its other pieces are this close
    return [piece_text(token_pieces(context + [int(i)], mode)[-1], lang) for i in token_ids]


def candidate_bars(candidates: Sequence, *, chosen_id: int | None = None, title: str = "",
                   lang: str = "en", texts: Sequence[str] | None = None) -> go.Figure:
    """One generation step: each candidate's probability from the model and the probability it was sampled
    with (after temperature, top-k, top-p), the chosen token marked. candidates: sampling.Candidate;
    texts: each candidate's label (`next_token_texts`; default its token text)."""
    texts = list(texts) if texts is not None else [visible_text(c.text) for c in candidates]
    names = escape_all(
        f"{shorten(text, 14)} #{c.token_id}" + (" ✔" if c.token_id == chosen_id else "")
        for c, text in zip(candidates, texts)
    )
    model_p = np.array([c.prob for c in candidates], dtype=np.float32)
    sample_p = np.array([c.sample_prob for c in candidates], dtype=np.float32)
    data = [
        go.Bar(_validate=style.VALIDATE, x=model_p, y=names, orientation="h",
               name=escape(t("ui.model probability", lang)),
               marker=dict(color="#9ecae1"), text=[percent(v) for v in model_p], textposition="outside",
               cliponaxis=False,
               hovertemplate="%{y}<br>%{x:.3%}<extra>" + escape(t("ui.model probability", lang)) + "</extra>"),
        go.Bar(_validate=style.VALIDATE, x=sample_p, y=names, orientation="h",
               name=escape(t("ui.sampling probability", lang)),
               marker=dict(color="#2a788e"), text=[percent(v) for v in sample_p], textposition="outside",
               cliponaxis=False,
               hovertemplate="%{y}<br>%{x:.3%}<extra>" + escape(t("ui.sampling probability", lang)) + "</extra>"),
    ]
    top = float(max(model_p.max(initial=0), sample_p.max(initial=0))) or 1.0
    layout = style.layout(
        title or t("ui.next token", lang), max(300, 140 + 52 * len(names)), barmode="group",
        xaxis=dict(style.axis_text(t("ui.probability", lang)), tickformat=".3~%", range=[0, top * 1.25]),
        yaxis=dict(type="category", autorange="reversed", automargin=True, tickfont=dict(size=style.FONT_SIZE)),
    )
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)




def candidates_figure(step, position: int, *, lang: str = "en", context_ids: Sequence[int] | None = None,
                      mode: str = "compact") -> go.Figure:
    """The candidates of one generation step (model vs sampling probability), the chosen one ticked.
    context_ids: the tokens before this step, so that byte pieces are named by their character."""
    texts = None
    chosen = visible_text(step.text)
    if context_ids is not None:
        ids = [c.token_id for c in step.candidates]
        texts = next_token_texts(context_ids, ids + [step.token_id], mode, lang)
        chosen, texts = texts[-1], texts[:-1]
    title = t("train.candidates_title", lang).format(pos=position + 1, token=chosen)
    return candidate_bars(step.candidates, chosen_id=step.token_id, title=title, lang=lang, texts=texts)


def true_token_probs(untrained_p_true: Sequence[float], trained_p_true: Sequence[float], labels: Sequence[str], *,
                     lang: str = "en") -> go.Figure:
    """Grouped bars: each model's probability for the token that really comes next, position by position."""
    a = np.asarray(untrained_p_true, dtype=np.float32).reshape(-1)
    b = np.asarray(trained_p_true, dtype=np.float32).reshape(-1)
    if not a.size == b.size == len(labels):
        raise ValueError(f"{a.size} and {b.size} probabilities for {len(labels)} labels.")
    # html.escape with its default quote=True, as this figure always did (labels.escape leaves quotes as typed).
    names = [html.escape(x) for x in token_labels(labels)]
    data = [go.Bar(_validate=style.VALIDATE, x=names, y=a, name=html.escape(t("train.untrained", lang)),
                   marker=dict(color="#9ecae1"),
                   hovertemplate="%{x}<br>%{y:.2%}<extra></extra>"),
            go.Bar(_validate=style.VALIDATE, x=names, y=b, name=html.escape(t("train.trained", lang)),
                   marker=dict(color="#d55e00"),
                   hovertemplate="%{x}<br>%{y:.2%}<extra></extra>")]
    layout = style.layout(t("train.p_true_title", lang), 420, barmode="group",
                          xaxis=style.axis(t("train.position", lang), names, angle=-60 if len(names) > 8 else None),
                          yaxis=dict(style.axis_text(t("train.probability", lang)), tickformat=".0%", range=[0, 1]))
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)
