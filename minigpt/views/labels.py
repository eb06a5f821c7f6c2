"""How tokens and numbers are written wherever a student reads them: axis labels, hover texts, table cells.

Plotly reads labels as pseudo-HTML (`<b>`, `&nbsp;`), and tokens can look like that, so every text that
reaches a figure goes through `escape`.
"""
from __future__ import annotations

import html
from typing import Sequence

import numpy as np

from ..text import t
from ..tokenizer import BytePart, token_pieces

LABEL_CHARS = 14
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", "\u00a0": "⍽"}


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


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def token_labels(texts: Sequence[str]) -> list[str]:
    """Unique axis labels: `"0 ␣the"` (position, token text with spaces shown), about 14 characters."""
    labels = []
    for i, text in enumerate(texts):
        prefix = f"{i} "
        labels.append(prefix + shorten(visible_text(text), max(3, LABEL_CHARS - len(prefix))))
    return labels


def piece_text(pieces: Sequence, lang: str = "en", limit: int | None = None) -> str:
    """One token as read (`tokenizer.token_pieces`): its text with spaces shown, and for bytes of a character
    split across tokens which bytes of which character they are: `"🤖 byte 3/4"`, `"␣+🤖 bytes 1–2/4"`.
    Text is shortened to `limit` characters; the byte numbers never are (they are the point)."""
    out = []
    for piece in pieces:
        if not isinstance(piece, BytePart):
            out.append(visible_text(piece))
        elif not piece.char:  # its character's other bytes are outside the tokens given
            out.append(t("ui.byte_stray", lang, hex=" ".join(f"{b:02x}" for b in piece.raw)))
        else:
            key = "ui.byte_piece" if piece.first == piece.last else "ui.byte_pieces"
            out.append(t(key, lang, char=visible_text(piece.char), first=piece.first, last=piece.last,
                         total=piece.total))
    if len(out) == 1 and not isinstance(pieces[0], BytePart):
        return shorten(out[0], limit) if limit else out[0]
    if limit:  # shorten the text around the byte pieces, not the pieces
        out = [shorten(text, max(2, limit // 3)) if not isinstance(piece, BytePart) else text
               for text, piece in zip(out, pieces)]
    return "+".join(out)


def id_labels(ids: Sequence[int], mode: str, lang: str = "en") -> list[str]:
    """Unique axis labels for a row of token ids: `"0 ␣the"` as `token_labels` writes them, and pieces of a
    UTF-8 character split across tokens named by their character: `"10 🤖 byte 3/4"` (`"10 🤖 第 3/4 字节"`)."""
    labels = []
    for i, pieces in enumerate(token_pieces(ids, mode)):
        prefix = f"{i} "
        labels.append(prefix + piece_text(pieces, lang, max(3, LABEL_CHARS - len(prefix))))
    return labels


def vocab_label(vocab, row: int) -> str:
    """`"␣the #279"`: a vocabulary row's token text and its cl100k id (unique per row)."""
    token_id = vocab.token_id(int(row))
    text = shorten(visible_text(vocab.row_text(int(row))), 10)
    return text if token_id < 0 else f"{text} #{token_id}"


def escape(text) -> str:
    """Text safe for plotly's pseudo-HTML labels: a token `<b>` or `&nbsp;` is shown as typed."""
    return html.escape(str(text), quote=False)


def escape_all(labels: Sequence) -> list[str]:
    return [escape(label) for label in labels]


def percent(p: float) -> str:
    """`"42.0%"`, `"0.37%"`: small probabilities keep two significant digits."""
    return f"{p * 100:.1f}%" if p >= 0.01 else f"{p * 100:.2g}%"


def position_label(step, position: int) -> str:
    """`"3 · ␣the (42.0%)"`: a generated position, its token and the probability it was sampled with."""
    return f"{position + 1} · {visible_text(step.text)} ({percent(step.prob)})"


def duration(seconds: float | None) -> str:
    """`"45 s"`, `"3 min 05 s"`, `"1 h 02 min"`; `"–"` when unknown."""
    if seconds is None or not np.isfinite(seconds):
        return "–"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
