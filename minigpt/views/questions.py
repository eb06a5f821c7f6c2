"""Figures for predict-then-reveal questions (minigpt/questions.py): the class's answers as a histogram, the
model's own numbers behind each choice with its answer marked, and the room's join link as a QR code (SVG,
made offline by segno)."""
from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go

from ..text import t
from . import style
from .labels import escape, escape_all, percent

ANSWER = "#009e73"   # Okabe–Ito green: the model's answer
OTHER = "#9aa5b1"    # every other choice
CLASS = "#0072b2"    # the class's answers before the reveal


def _names(question, lang: str) -> list[str]:
    # A letter keeps two choices with the same text apart on the category axis.
    return escape_all(f"{chr(65 + i)} · {label}" for i, label in enumerate(question.labels(lang)))


def _bars(question, values, text, lang: str, title: str, x_title: str, colours, x_range, **x_extra) -> go.Figure:
    names = _names(question, lang)
    bar = go.Bar(_validate=style.VALIDATE, x=np.asarray(values, dtype=np.float32), y=names, orientation="h",
                 marker=dict(color=colours), text=text, textposition="outside", cliponaxis=False,
                 hovertemplate="%{y}<br>%{text}<extra></extra>")
    layout = style.layout(title, max(220, 90 + 34 * len(names)),
                          xaxis=dict(style.axis_text(x_title), range=x_range, fixedrange=True, **x_extra),
                          yaxis=dict(type="category", autorange="reversed", automargin=True, fixedrange=True,
                                     tickfont=dict(size=style.FONT_SIZE)),
                          showlegend=False)
    return go.Figure(_validate=style.VALIDATE, data=[bar], layout=layout)


def tally_bars(question, counts, lang: str = "en", *, revealed: bool = False) -> go.Figure:
    """How many students picked each choice; after the reveal the model's answer is green."""
    counts = [int(c) for c in counts] + [0] * (len(question.choices) - len(counts))
    total = sum(counts)
    colours = [ANSWER if revealed and i == question.answer else (OTHER if revealed else CLASS)
               for i in range(len(counts))]
    text = [f"{c} ({c / total:.0%})" if total else "0" for c in counts]
    return _bars(question, counts, text, lang, t("poll.tally_title", lang, n=total), t("poll.tally_axis", lang),
                 colours, [0, max(1, max(counts)) * 1.25], tickformat="d", dtick=max(1, max(counts) // 5))


def model_bars(question, lang: str = "en") -> go.Figure:
    """The model's number behind each choice (attention weight, probability, mean weight on the previous
    token), its answer green; the axis keeps 0 to 1 so a weight of 0.3 looks like 0.3 on every question."""
    colours = [ANSWER if i == question.answer else OTHER for i in range(len(question.choices))]
    text = [percent(v) for v in question.values]
    return _bars(question, question.values, text, lang, t(f"poll.model_title_{question.kind}", lang, block=question.block,
                 head=question.head, token=question.token), t(f"poll.model_axis_{question.kind}", lang), colours, [0, 1.15])


def qr_svg(link: str, *, scale: int = 4) -> str:
    """The link as a QR code: an inline <svg> (no network, no image file), with the link under it for a screen
    reader (title)."""
    import segno

    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True,
                                     title=escape(link), dark="#000000", light="#ffffff")
    return out.getvalue().decode("utf-8")
