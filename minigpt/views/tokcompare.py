"""Tokenizers side by side (minigpt.tokcompare): each vocabulary's tokens as chips, a table of counts, unknown
tokens and parameter cost, the bytes of the characters cl100k splits, and the English / 中文 sentence pairs."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..text import t
from . import style
from .chips import piece_texts, token_chips_html
from .labels import escape, percent


def chips_html(tok, lang: str = "en") -> str:
    """One vocabulary's tokens of the text (tokcompare.Tokenized) as chips: ids underneath, <unk> dashed red,
    byte pieces named by their character (`"🤖 byte 3/4"`)."""
    return token_chips_html(piece_texts(tok.ids, tok.mode, lang), tok.ids, tok.known, labelled=True)


def mode_name(mode: str, lang: str) -> str:
    return t(f"tokcmp.mode_{mode}", lang)


def summary_table(rows: Sequence, lang: str = "en") -> pd.DataFrame:
    """Per vocabulary: tokens of the text, how many read <unk>, its rows, and its parameters (embedding and
    output layer) with their share of the model."""
    return pd.DataFrame({
        t("tokcmp.col_vocab", lang): [mode_name(r.mode, lang) for r in rows],
        t("tokcmp.col_tokens", lang): [r.count for r in rows],
        t("tokcmp.col_unknown", lang): [r.unknown for r in rows],
        t("tokcmp.col_rows", lang): [f"{r.rows:,}" for r in rows],
        t("tokcmp.col_embedding", lang): [f"{r.embedding:,}" for r in rows],
        t("tokcmp.col_output", lang): [f"{r.output:,}" for r in rows],
        t("tokcmp.col_share", lang): [percent(r.share) for r in rows],
    })


def split_table(splits: Sequence, lang: str = "en") -> pd.DataFrame:
    """Each character cl100k splits: its code point, its UTF-8 bytes, and which token holds which bytes."""
    def holders(split) -> str:
        parts = []
        for token_id, first, last in split.tokens:
            key = "tokcmp.holds_one" if first == last else "tokcmp.holds_many"
            parts.append(t(key, lang, id=token_id, first=first, last=last, total=len(split.raw)))
        return " · ".join(parts)

    return pd.DataFrame({
        t("tokcmp.col_char", lang): [s.char for s in splits],
        t("tokcmp.col_code_point", lang): [s.code_point for s in splits],
        t("tokcmp.col_bytes", lang): [" ".join(f"{b:02x}" for b in s.raw) for s in splits],
        t("tokcmp.col_cl100k", lang): [holders(s) for s in splits],
        t("tokcmp.col_char_vocab", lang): [t("tokcmp.one_char_token", lang, cp=s.code_point) for s in splits],
    })


def pairs_table(counts: Sequence, lang: str = "en") -> pd.DataFrame:
    """The sentence pairs with their token counts: cl100k (the same ids in full and compact) and characters."""
    def cell(c, mode: str, side: int) -> str:
        n, unk = c.counts[mode][side], c.unknown.get("compact", (0, 0))[side] if mode == "compact" else 0
        return f"{n}" + (t("tokcmp.unk_suffix", lang, n=unk) if unk else "")

    return pd.DataFrame({
        t("tokcmp.col_en", lang): [c.english for c in counts],
        t("tokcmp.col_zh", lang): [c.chinese for c in counts],
        t("tokcmp.col_cl100k_en", lang): [cell(c, "compact", 0) for c in counts],
        t("tokcmp.col_cl100k_zh", lang): [cell(c, "compact", 1) for c in counts],
        t("tokcmp.col_chars_en", lang): [c.counts["char"][0] for c in counts],
        t("tokcmp.col_chars_zh", lang): [c.counts["char"][1] for c in counts],
    })


def pairs_figure(counts: Sequence, lang: str = "en") -> go.Figure:
    """Tokens per sentence pair: cl100k English / 中文 and characters English / 中文, side by side."""
    x = [str(i + 1) for i in range(len(counts))]
    colours = style.CURVE_COLOURS
    series = (("compact", 0, "tokcmp.bar_cl100k_en", colours[0], ""), ("compact", 1, "tokcmp.bar_cl100k_zh", colours[1], ""),
              ("char", 0, "tokcmp.bar_chars_en", colours[0], "/"), ("char", 1, "tokcmp.bar_chars_zh", colours[1], "/"))
    data = []
    for mode, side, key, colour, pattern in series:
        y = np.array([c.counts[mode][side] for c in counts], dtype=np.float32)
        data.append(go.Bar(_validate=style.VALIDATE, x=x, y=y, name=escape(t(key, lang)),
                           marker=dict(color=colour, pattern=dict(shape=pattern), opacity=1.0 if not pattern else 0.55),
                           text=[str(int(v)) for v in y], textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y}<extra>" + escape(t(key, lang)) + "</extra>"))
    layout = style.layout(t("tokcmp.pairs_title", lang), 440, barmode="group",
                          xaxis=dict(style.axis_text(t("tokcmp.pair", lang)), type="category"),
                          yaxis=dict(style.axis_text(t("tokcmp.col_tokens", lang)), rangemode="tozero"))
    return go.Figure(_validate=style.VALIDATE, data=data, layout=layout)
