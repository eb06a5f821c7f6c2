"""The linked attention view on the page: a browser component (Streamlit's st.components.v2) that draws one block's
stages, all heads and the lines view from the trace's own numbers (minigpt/views/linked.py), and answers a hover
in the browser. Its JS and CSS ship inside the package (minigpt/views/assets/): no CDN, works offline.

Picking a head in the view is reported back (one rerun) so the page's head picker and the link follow it; a stage
tab, "show values", the per-row scale and the hovered token stay in the browser."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from minigpt.stages import spec_of
from minigpt.text import t
from minigpt.views import export, linked

from . import controls
from .stage_view import file_stem

ASSETS = Path(linked.__file__).resolve().parent / "assets"
KEY = "attn_view"
# The view's data per (trace, block, row, head, language, model), shared by every session like the stage figures
# (ui/stage_view.py): a rerun, or a class on one link, encodes the numbers once. Read-only once built.
_DATA: OrderedDict[tuple, dict] = OrderedDict()
_LOCK = threading.Lock()

_component = st.components.v2.component(
    "minigpt_attention_view",
    html='<div class="mg-av"></div>',
    css=(ASSETS / "attention_view.css").read_text(encoding="utf-8"),
    js="\n".join((ASSETS / f).read_text(encoding="utf-8") for f in ("attention_view_draw.js", "attention_view.js")),
)


def _head_clicked() -> None:
    """A head chosen in the view: the page's head picker (and so the URL) takes it before the rerun draws."""
    state = st.session_state.get(KEY) or {}
    head = state.get("head") if hasattr(state, "get") else getattr(state, "head", None)
    if isinstance(head, int):
        controls.remember("head", head)


def show(ws, trace, *, block: int, row: int, head: int, lang: str) -> dict:
    """Mount the view for the workspace's trace; returns the data it was given (tests compare it with the trace)."""
    key = (trace.cache_key, block, row, head, lang, ws.model_kind, ws.model_label)
    data = _DATA.get(key) if trace.cache_key is not None else None
    if data is None:
        data = linked.view_data(trace, block=block, row=row, head=head, labels=ws.labels(row), lang=lang,
                                model_kind=ws.model_kind, model_label=ws.model_label)
        if trace.cache_key is not None:
            with _LOCK:
                _DATA[key] = data
                while len(_DATA) > 128:
                    _DATA.popitem(last=False)
    _component(key=KEY, data=data, default={"head": head}, on_head_change=_head_clicked)
    return data


def downloads(ws, trace, *, block: int, row: int, head: int, lang: str) -> None:
    """The numbers behind the view: CSV of one stage's slice, .npy of its whole tensor. Built only when opened."""
    box = st.popover(t("stage_view.downloads", lang), icon="⬇️", key="dl_attn_view", on_change="rerun")
    if not box.open:
        return
    names = [f"blocks.{block}.{key}" for key in linked.STAGES]
    name = box.selectbox(t("attn_view.download_stage", lang), names, key="dl_attn_stage",
                         format_func=lambda n: spec_of(n).title(lang))
    labels = ws.labels(row)
    per_head = spec_of(name).axes[1:2] == ("head",)
    stem = file_stem(name, f"row{row}", f"head{head}") if per_head else file_stem(name, f"row{row}")
    box.download_button(t("ui.download CSV", lang), key="csv_attn_view", file_name=stem + ".csv", mime="text/csv",
                        data=lambda: export.stage_csv(trace, name, labels=labels, batch=row, head=head, vocab=ws.vocab),
                        on_click="ignore", help=t("stage_view.csv help", lang), icon="📄")
    box.download_button(t("ui.download NPY", lang), key="npy_attn_view", file_name=file_stem(name) + ".npy",
                        mime="application/octet-stream", data=lambda: export.to_npy(trace[name]),
                        on_click="ignore", help=t("stage_view.npy help", lang), icon="🧮")
