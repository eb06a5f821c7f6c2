"""The look every figure shares: fonts large enough for a projector, colour-blind-safe colours, the layout,
axes and colour bars, and the switch for plotly's property checks (VALIDATE).

Builders read `style.VALIDATE` when they build (never `from .style import VALIDATE`), so the switch the
tests turn on reaches every figure.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale

from ..text import t
from .labels import escape

FONT_SIZE = 15
# Streamlit's "Source Sans" has monochrome outlines of some emoji (🤖 among them), which Chromium prefers to a colour
# font. "minigpt emoji" is Noto Color Emoji limited to emoji code points (EMOJI_FONT_CSS, injected once by app.py):
# first in the stack it draws the emoji, and every other character (digits too) falls through to the text font.
EMOJI_FAMILY = "minigpt emoji"
EMOJI_FONT_CSS = (
    '@font-face{font-family:"minigpt emoji";src:local("Noto Color Emoji"),local("NotoColorEmoji"),'
    'local("Apple Color Emoji"),local("Segoe UI Emoji");unicode-range:U+00A9,U+00AE,U+203C,U+2049,U+2122,U+2139,'
    "U+2194-2199,U+21A9-21AA,U+231A-23FF,U+24C2,U+25AA-25FE,U+2600-27BF,U+2934-2935,U+2B05-2B55,U+3030,U+303D,"
    "U+3297,U+3299,U+FE0F,U+200D,U+1F000-1FAFF}"
)
FONT_FAMILY = f'"{EMOJI_FAMILY}", "Source Sans", sans-serif'
MASKED_GREY = "#8c8c8c"
# Named scales resolved here: plotly.js knows neither "RdBu_r" nor plotly.py's RdBu, and with VALIDATE off
# nothing would resolve them later.
DIVERGING = get_colorscale("RdBu_r")    # blue negative, white 0, red positive (ColorBrewer, colour-blind safe)
SEQUENTIAL = get_colorscale("Viridis")  # perceptually uniform, colour-blind safe, readable in greyscale
# attn.mask: a cell a token may look at. Light green, not blue: blue means "negative" on the diverging scale,
# and its lightness stays far from the grey of a masked cell (colour-blind and greyscale safe).
MASK_VISIBLE = "#a1d99b"
# plotly checks every property of every trace and layout as a figure is built: about two thirds of a page's
# figure time. Our builders pass known values, so the app skips that; tests/conftest.py turns it back on,
# so every figure a test builds is still checked, and tests/test_views_style.py compares the JSON both ways.
VALIDATE = False
COLORBAR = dict(thickness=16, tickfont=dict(size=FONT_SIZE))
CURVE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442")  # Okabe–Ito
LEAN_TEMPLATE = {"layout": {"colorway": list(CURVE_COLOURS)}}


def check_2d(z: np.ndarray, x_labels: Sequence, y_labels: Sequence) -> None:
    if z.ndim != 2:
        raise ValueError(f"A heatmap needs a 2-D array, got shape {tuple(z.shape)}.")
    if len(y_labels) != z.shape[0] or len(x_labels) != z.shape[1]:
        raise ValueError(
            f"{len(y_labels)} row labels and {len(x_labels)} column labels do not fit an array of shape {tuple(z.shape)}."
        )


def colour_scale(z: np.ndarray, signed: bool | None, prefix: str = "z") -> dict:
    """Colour scale settings (trace `z*` or coloraxis `c*`) for data z: diverging around 0 when signed
    (None: when any value is negative), else sequential from 0."""
    finite = z[np.isfinite(z)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if signed is None:
        signed = lo < 0
    if signed:
        bound = max(abs(lo), abs(hi)) or 1.0
        return {"colorscale": DIVERGING, f"{prefix}mid": 0.0, f"{prefix}min": -bound, f"{prefix}max": bound}
    return {"colorscale": SEQUENTIAL, f"{prefix}min": 0.0, f"{prefix}max": hi if hi > 0 else 1.0}


def figure_height(rows: int, height: int | None, *, square: bool = False) -> int:
    """Tall enough for a readable label per row; a square (T×T) figure stays within a typical page width."""
    if height:
        return int(height)
    return int(min(900 if square else 1300, max(320, 170 + 28 * rows)))


def make_square(xaxis: dict, yaxis: dict) -> None:
    """Square cells; the shrunk side keeps to the top left, next to its tick labels."""
    xaxis.update(constrain="domain", constraintoward="left")
    yaxis.update(scaleanchor="x", constrain="domain", constraintoward="top")


def title_html(title: str) -> str:
    """Escaped title; a second line (after "\n", e.g. the shape) in a smaller font, so narrow pages keep it."""
    first, *rest = str(title).split("\n")
    return escape(first) + "".join(f"<br><span style='font-size:{FONT_SIZE - 1}px'>{escape(r)}</span>" for r in rest)


def layout(title: str, height: int, **extra) -> dict:
    """The layout every figure starts from: title, fonts, height, margins, legend; extra keys override."""
    lines = str(title).count("\n")
    base = dict(
        title=dict(text=title_html(title), font=dict(size=FONT_SIZE + 3), x=0.01, xanchor="left"),
        font=dict(size=FONT_SIZE, family=FONT_FAMILY),
        height=height + 22 * lines,
        margin=dict(l=10, r=10, t=70 + 22 * lines, b=10),
        hoverlabel=dict(font=dict(size=FONT_SIZE)),  # no magic underscores: VALIDATE off keeps keys as written
        # A tiny template instead of plotly's default (~10 KB per figure, copied on every build, and
        # replaced by Streamlit's theme in the app anyway).
        template=LEAN_TEMPLATE,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, font=dict(size=FONT_SIZE)),
    )
    base.update(extra)
    return base


def axis_text(title: str) -> dict:
    """Axis title and tick fonts set on the axis itself: Streamlit's theme sets smaller ones there."""
    return dict(title=dict(text=escape(title), font=dict(size=FONT_SIZE + 1)), tickfont=dict(size=FONT_SIZE))


def axis(title: str, labels: Sequence | None, *, reverse: bool = False, angle: int | None = None) -> dict:
    """A heatmap or bar axis: categorical for text labels, no grid, optionally reversed (rows top to bottom)."""
    settings = dict(axis_text(title), automargin=True, showgrid=False, zeroline=False)
    if labels is not None and labels and isinstance(labels[0], str):
        settings["type"] = "category"
    if reverse:
        settings["autorange"] = "reversed"
    if angle is not None:
        settings["tickangle"] = angle
    return settings


def add_uniform_line(fig: go.Figure, uniform_loss: float, *, dash: str, lang: str) -> None:
    """A horizontal line at ln(V), the loss of a uniform guess, labelled."""
    fig.add_hline(y=float(uniform_loss), line=dict(color="#444", dash=dash, width=2),
                  annotation_text=escape(t("ui.uniform_guess", lang).format(loss=float(uniform_loss))),
                  annotation_position="top right", annotation_font_size=FONT_SIZE - 1,
                  annotation_bgcolor="rgba(255,255,255,0.85)")


PROJECTOR_FONT = 20  # px: every tick, axis title, legend and colour-bar label on a lecture-hall screen


def for_projector(fig: go.Figure, *, height: int, font: int = PROJECTOR_FONT) -> go.Figure:
    """A copy of fig for a projector: every font at least `font` px, the given height, no title (the page heads the
    figure with it), slim margins, cells free to be wider than tall so the plot fills the screen. The original
    (shared by every session's cache) is left as it was."""
    spec = fig.to_dict()
    lay = spec.setdefault("layout", {})
    lay.pop("title", None)
    lay.update(height=int(height), margin=dict(l=10, r=10, t=16, b=10), font=dict(size=font),
               hoverlabel=dict(font=dict(size=font)))
    if "legend" in lay:
        lay["legend"]["font"] = dict(size=font)
    for name, value in lay.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(value, dict):
            for square in ("scaleanchor", "constrain", "constraintoward"):  # fill the screen: cells need not be square
                value.pop(square, None)
            value["tickfont"] = dict(value.get("tickfont", {}), size=font)
            if name.startswith("xaxis") and value.get("type") == "category":
                value["tickangle"] = -45  # token labels: 18 % less height than at -60°, for the plot
            if isinstance(value.get("title"), dict):
                value["title"]["font"] = dict(value["title"].get("font", {}), size=font + 2)
    for note in lay.get("annotations", []):
        note["font"] = dict(note.get("font", {}), size=max(font - 2, note.get("font", {}).get("size", 0)))
    for trace in spec.get("data", []):
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"].update(tickfont=dict(size=font), thickness=26)
            if isinstance(trace["colorbar"].get("title"), dict):
                trace["colorbar"]["title"]["font"] = dict(size=font)
        if isinstance(trace.get("textfont"), dict):
            trace["textfont"]["size"] = max(font - 4, trace["textfont"].get("size", 0))
    return go.Figure(spec, _validate=VALIDATE)
