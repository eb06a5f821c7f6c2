"""The data of the linked attention view (the browser component in ui/attention_view.py): one block's stages for one
batch row, as the trace holds them, plus the words the view shows. Pure: no Streamlit, no drawing.

Every stage's numbers travel as base64 of the trace's own float32 bytes (exact: a test decodes them and compares
them with the trace's slice; −∞ stays −∞), in C order [heads, rows, columns]. Strings are plain text: the
component writes them with textContent, never as HTML, so a typed `<script>` is shown, not run.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Sequence

import numpy as np

from .. import explain
from ..analysis import as_array
from ..stages import spec_of
from ..text import t
from .heatmaps import stage_title

# The strip of stages, in the order the computation runs (the notebook's order); groups start a new section.
STAGES = ("attn.q", "attn.k", "attn.v", "attn.scores", "attn.mask", "attn.masked", "attn.weights",
          "attn.mixed", "attn.concat", "attn.out")
GROUPS = {"attn.q": "qkv", "attn.k": "qkv", "attn.v": "qkv", "attn.scores": "scores", "attn.mask": "scores",
          "attn.masked": "scores", "attn.weights": "scores", "attn.mixed": "mix", "attn.concat": "mix",
          "attn.out": "mix"}
GRID_STAGES = ("attn.weights", "attn.masked", "attn.scores")  # what the all-heads panels can show
VALUES_MAX = 32            # "show values" prints numbers in the cells up to this many rows and columns
ALL_HEADS_MAX = 1 << 17    # heads × rows × columns per stage above which only the chosen head travels
UI_KEYS = ("show_values", "values_off", "per_row", "per_row_note", "lines", "lines_note", "hover_hint",
           "masked_cell", "visible_cell", "hidden_cell", "head_click", "too_big", "row_max", "fixed_range", "shape",
           "qkv", "scores", "mix", "grid_show")


def encode(values: np.ndarray) -> str:
    """float32, C order, base64: the bytes the trace holds."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.float32).tobytes()).decode("ascii")


def decode(text: str, shape: Sequence[int]) -> np.ndarray:
    """The inverse of encode (what the component's JS does with Float32Array)."""
    return np.frombuffer(base64.b64decode(text), dtype=np.float32).reshape(tuple(shape))


def _bound(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0


def stage_data(trace, name: str, *, row: int, head: int, labels: Sequence[str], lang: str, model_kind: str | None,
               all_heads: bool) -> dict:
    """One stage of the strip: its slice for batch row `row` (every head, or only `head`), colour range, words."""
    spec = spec_of(name)
    tensor = trace[name]
    per_head = len(spec.axes) > 1 and spec.axes[1] == "head"
    if spec.key == "attn.mask":
        values = as_array(tensor)[None]
    else:
        values = as_array(tensor[row])
        values = (values if all_heads else values[head:head + 1]) if per_head else values[None]
    rows, cols = values.shape[-2:]
    kind = spec.sign
    if kind == "probability":
        lo, hi = 0.0, 1.0                      # fixed: a colour is the same probability under every switch
    elif kind == "boolean":
        lo, hi = 0.0, 1.0
    else:
        hi = _bound(values)                    # one range for every head of this row: switching heads keeps it
        lo = -hi
    x_axis = spec.axes[-1]
    return {
        "key": spec.key, "name": name, "group": GROUPS[spec.key], "kind": kind, "perHead": per_head,
        "heads": int(values.shape[0]), "rows": int(rows), "cols": int(cols), "lo": lo, "hi": hi,
        "square": x_axis == "key", "title": spec.title(lang),
        "figTitle": stage_title(trace, name, batch=row if spec.key != "attn.mask" else None,
                                head=head if per_head else None, lang=lang).split("\n")[0],
        "shape": trace.shape_label(name), "code": trace.code(name),
        "text": explain.explanation(name, lang, trace.switches, model_kind),
        "yTitle": t("ui.query" if x_axis == "key" else f"ui.{spec.axes[-2]}", lang),
        "xTitle": t(f"ui.{x_axis}", lang), "values": encode(values),
    }


def view_data(trace, *, block: int, row: int, head: int, labels: Sequence[str], lang: str,
              model_kind: str | None = None, model_label: str = "") -> dict:
    """Everything the linked view draws for one block and batch row. `head` is the head shown first (the view
    switches heads itself when every head travels); `stamp` names the content, so a test or the bench can tell
    that new numbers arrived."""
    prefix = f"blocks.{block}."
    T = int(trace[prefix + "attn.weights"].shape[-1])
    H = int(trace[prefix + "attn.weights"].shape[1])
    width = max(T, int(trace[prefix + "attn.q"].shape[-1]))
    all_heads = H * T * width <= ALL_HEADS_MAX
    stages = [stage_data(trace, prefix + key, row=row, head=head, labels=labels, lang=lang, model_kind=model_kind,
                         all_heads=all_heads) for key in STAGES]
    ui = {key: t(f"attn_view.{key}", lang) for key in UI_KEYS}
    ui["grid_title"] = t("attn_view.grid_title", lang, b=block)
    ui["head_word"], ui["block_word"] = t("ui.head", lang), t("ui.block", lang)
    ui["query"], ui["key"] = t("ui.query", lang), t("ui.key", lang)
    return {
        "v": 1, "lang": lang, "labels": [str(x) for x in labels], "T": T, "H": H, "head": int(head),
        "block": int(block), "row": int(row), "allHeads": all_heads, "valuesMax": VALUES_MAX,
        "gridStages": list(GRID_STAGES), "model": model_label, "stages": stages, "ui": ui,
        "stamp": hashlib.sha256(f"{trace.cache_key!r}|{id(trace) if trace.cache_key is None else ''}|{block}|{row}|"
                                f"{head}|{lang}".encode()).hexdigest()[:12],
    }
