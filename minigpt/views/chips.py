"""Tokens as coloured chips (HTML for st.html / st.markdown): the Tokens and Step pages' text with cl100k ids,
and the Generate page's tokens coloured by the probability they were sampled with. One chip builder serves both.
"""
from __future__ import annotations

import html
from typing import Sequence

from ..text import t
from . import style
from ..tokenizer import token_pieces
from .labels import percent, piece_text, visible_text

CHIP_COLOURS = ("#ffe0b2", "#c8e6c9", "#bbdefb", "#f8bbd0", "#fff59d", "#d1c4e9", "#b2ebf2", "#dcedc8")
PROB_STOPS = ((0.0, "#fde0dd"), (0.1, "#fcc5c0"), (0.25, "#fee391"), (0.5, "#c7e9c0"), (0.75, "#74c476"),
              (1.0, "#31a354"))  # unlikely (pink) to certain (green); dark text stays readable on all
PLAIN_BORDER = "1px solid rgba(0,0,0,0.15)"
UNKNOWN_BORDER = "2px dashed #d62728"
SELECTED_BORDER = "2px solid #111"
# The Tokens page's id line and spacing; the Generate page's chips sit a little closer, their numbers darker.
TOKEN_SPACING, TOKEN_SUB_CSS = "2px 3px", "font-size:0.72em;color:#444"
GENERATED_SPACING, GENERATED_SUB_CSS = "2px 2px", "font-size:0.7em;color:#333"


def chip(text: str, *, colour: str, tip: str, sub: str | None = None, border: str = PLAIN_BORDER,
         bold: bool = False, spacing: str = TOKEN_SPACING, sub_css: str = TOKEN_SUB_CSS, labelled: bool = False) -> str:
    """One token as a chip: its text with spaces shown, a hover tip, and an optional line underneath.
    labelled: text is already a label (`piece_texts`: spaces shown, "🤖 byte 3/4"), shown as it is."""
    weight = "font-weight:700;" if bold else ""
    shown = text if labelled else visible_text(text)
    under = (f'<span style="display:block;{sub_css};line-height:1.1">{html.escape(sub)}</span>'
             if sub is not None else "")
    return (f'<span title="{html.escape(tip, quote=True)}" style="display:inline-block;background:{colour};'
            f"color:#111;border:{border};border-radius:6px;padding:2px 6px;margin:{spacing};text-align:center;"
            f"font-family:'{style.EMOJI_FAMILY}',ui-monospace,Menlo,Consolas,'Noto Sans Mono CJK SC',monospace;"
            f"white-space:pre;{weight}"
            f'font-size:1.05em;line-height:1.35;vertical-align:top">{html.escape(shown)}{under}</span>')


def token_chips_html(
    texts: Sequence[str], ids: Sequence[int], known: Sequence[bool], *, show_ids: bool = True, labelled: bool = False
) -> str:
    """The text as coloured token chips with their cl100k ids; unknown tokens get a red dashed border.
    labelled: texts are labels already (`piece_texts`), so byte pieces read "🤖 byte 3/4", not hex."""
    if not len(texts) == len(ids) == len(known):
        raise ValueError(f"{len(texts)} texts, {len(ids)} ids and {len(known)} known flags must match.")
    chips = []
    for i, (text, token_id, is_known) in enumerate(zip(texts, ids, known)):
        tip = f"id {token_id}" if is_known else f"id {token_id}: <unk>"
        sub = (str(token_id) if is_known else "<unk>") if show_ids or not is_known else None
        chips.append(chip(text, colour=CHIP_COLOURS[i % len(CHIP_COLOURS)], tip=tip, sub=sub,
                          border=PLAIN_BORDER if is_known else UNKNOWN_BORDER, labelled=labelled))
        if "\n" in text or (labelled and "↵" in text):
            chips.append('<span style="flex-basis:100%;height:0"></span>')  # the newline starts a new line
    return '<div style="display:flex;flex-wrap:wrap;align-items:flex-start">' + "".join(chips) + "</div>"


def prob_colour(p: float) -> str:
    """Background colour of a token chosen with probability p (the stop at or below p)."""
    colour = PROB_STOPS[0][1]
    for stop, c in PROB_STOPS:
        if p >= stop:
            colour = c
    return colour


def piece_texts(ids: Sequence[int], mode: str, lang: str = "en") -> list[str]:
    """Each token's text as read in its neighbours' company: a piece of a character split across tokens is
    named by its character (`"🤖 byte 3/4"`, tokenizer.token_pieces), not shown as hex bytes."""
    return [piece_text(p, lang) for p in token_pieces(ids, mode)]


def generated_texts(prompt_ids: Sequence[int], steps: Sequence, mode: str, lang: str = "en") -> list[str]:
    """The generated tokens' texts, byte pieces named by their character (the prompt is their first neighbour)."""
    ids = list(prompt_ids) + [s.token_id for s in steps]
    return piece_texts(ids, mode, lang)[len(prompt_ids):]


def generation_html(prompt: str, steps: Sequence, *, selected: int | None = None, lang: str = "en",
                    texts: Sequence[str] | None = None) -> str:
    """The prompt (plain) followed by each generated token as a chip coloured by the probability it was
    sampled with (number 1, 2, ... and the % underneath); `selected` (0-based) gets a dark outline.
    steps: sampling.GenerationStep; texts: what each chip shows (`generated_texts`; default the tokens' texts)."""
    parts = [f'<span style="white-space:pre-wrap;color:#555;font-size:1.05em;padding:2px 4px">'
             f'{html.escape(prompt)}</span>']
    labelled = texts is not None
    texts = list(texts) if labelled else [s.text for s in steps]
    if len(texts) != len(steps):
        raise ValueError(f"{len(texts)} texts for {len(steps)} generated tokens.")
    for i, (s, text) in enumerate(zip(steps, texts)):
        pct = percent(s.prob)
        parts.append(chip(text, colour=prob_colour(s.prob), tip=f"{i + 1}: {text!r} p={pct}",
                          sub=f"{i + 1} · {pct}", border=SELECTED_BORDER if i == selected else PLAIN_BORDER,
                          bold=i == selected, spacing=GENERATED_SPACING, sub_css=GENERATED_SUB_CSS,
                          labelled=labelled))
    return '<div style="line-height:2.2">' + "".join(parts) + "</div>"


def probability_legend_html(lang: str = "en") -> str:
    stops = list(PROB_STOPS)
    cells = "".join(
        f'<span style="display:inline-block;background:{c};color:#111;padding:1px 8px;margin:0 2px;'
        f'border-radius:4px;border:1px solid rgba(0,0,0,0.15)">≥ {int(p * 100)}%</span>' for p, c in stops
    )
    return f'<div style="font-size:0.9em;margin:4px 0 8px 0">{html.escape(t("train.legend", lang))} {cells}</div>'
