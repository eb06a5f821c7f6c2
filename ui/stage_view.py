"""One stage on screen, the same way on every page: figure, shape, code, explanation, downloads.

Also the small selectors the walkthrough pages share (batch row, block, head, what-if switches), each
keyed and, where it names a view, kept in the URL through `ui.controls.page_param`.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import streamlit as st

from minigpt import explain
from minigpt.model import Switches
from minigpt.stages import spec_of
from minigpt.text import t
from minigpt.views import export, heatmaps

from . import controls
from .workspace import text_key


def file_stem(name: str, *parts) -> str:
    return "_".join(["minigpt", name.replace(".", "-"), *[str(p) for p in parts]])


def image_format(lang: str) -> str:
    """The plotly camera button's format for this page (SVG stays sharp on slides)."""
    return st.radio(t("stage_view.image format", lang), ("png", "svg"), key="img_format", horizontal=True)


def plot(fig, name: str, *, key: str | None = None) -> None:
    fmt = st.session_state.get("img_format", "png")
    st.plotly_chart(fig, config=export.plotly_config(name, image_format=fmt), key=key)


# -- selectors ------------------------------------------------------------------------------------------
def batch_row(ws, lang: str, *, container=st) -> int:
    """The batch row shown (only a choice when the input is a corpus batch with several rows)."""
    return controls.index_picker("row", ws.walk.batch_size, t("stage_view.row shown", lang), container=container,
                                 format_func=lambda r: f"{r}: " + "".join(ws.texts(r))[:60].replace("\n", " ") + "…")


def block_picker(ws, lang: str, *, container=st) -> int:
    return controls.index_picker("block", ws.config.num_blocks, t("ui.block", lang), container=container)


def head_picker(ws, lang: str, *, container=st) -> int:
    return controls.index_picker("head", ws.config.num_heads, t("ui.head", lang), container=container)


SWITCH_KEYS = ("causal_mask", "scale", "position", "residual", "layer_norm")
SWITCH_URL = {"causal_mask": "mask", "scale": "scale", "position": "pe", "residual": "resid", "layer_norm": "ln"}
_ON_OFF = {"1": True, "on": True, "true": True, "0": False, "off": False, "false": False}


class _Temperatures:
    """The slider's values, 0.1 to 5.0 (a float range for `in`)."""

    def __contains__(self, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.1 <= value <= 5.0


def _temperature(raw):
    try:
        return round(float(str(raw).strip()), 1)
    except ValueError:
        return None


def what_if(ws, lang: str, *, temperature: bool = True) -> Switches:
    """The what-if switches (all on = the real model) and the attention temperature slider. Each lives in the URL
    when it is not the real model's (`mask=0`, `temp=2.0`) and stays set on the next chapter."""
    with st.expander(t("stage_view.what-if title", lang), expanded=False):
        cols = st.columns(len(SWITCH_KEYS))
        values = {}
        for col, name in zip(cols, SWITCH_KEYS):
            label = t("ui." + ("position_switch" if name == "position" else name), lang)
            controls.page_param(SWITCH_URL[name], f"wi_{name}", (True, False), True,
                                parse=lambda raw: _ON_OFF.get(str(raw).strip().lower()), fmt=lambda v: "1" if v else "0")
            values[name] = col.toggle(label, key=f"wi_{name}", on_change=controls.keep, args=(SWITCH_URL[name], f"wi_{name}"))
        temp = 1.0
        if temperature:
            controls.page_param("temp", "wi_temperature", _Temperatures(), 1.0, parse=_temperature, fmt=str)
            temp = st.slider(t("ui.attention temperature", lang) + " (softmax(scores / T))", 0.1, 5.0, step=0.1,
                             key="wi_temperature", on_change=controls.keep, args=("temp", "wi_temperature"))
    switches = Switches(temperature=float(temp), **values)
    if switches != Switches():
        st.warning(t("stage_view.what-if on", lang), icon="🧪")
        loss_comparison(ws, switches, lang)
    return switches


@st.cache_data(max_entries=64, show_spinner=False)
def _val_loss(model_key: str, corpus_key: str, switches: Switches, _model, _rows) -> float | None:
    from minigpt.analysis import validation_loss

    return validation_loss(_model, _rows, switches)


def loss_comparison(ws, switches: Switches, lang: str) -> None:
    """Loss with and without the switches: validation batches for a trained/loaded model, else this batch."""
    from minigpt.analysis import batch_loss
    import math

    cols = st.columns(3)
    if ws.model_kind != "fresh":
        corpus_key = text_key(ws.corpus.text) + ws.vocab.fingerprint
        real = _val_loss(ws.model_key, corpus_key, Switches(), ws.model, ws.corpus_rows)
        switched = _val_loss(ws.model_key, corpus_key, switches, ws.model, ws.corpus_rows)
        note = t("stage_view.val loss note", lang).format(n=4)
    elif ws.walk.targets is not None:
        real = batch_loss(ws.trace(Switches()), ws.walk.targets)
        switched = batch_loss(ws.trace(switches), ws.walk.targets)
        note = t("stage_view.batch loss note", lang).format(u=math.log(ws.vocab.size))
    else:
        st.caption(t("stage_view.no loss", lang))
        return
    if real is None or switched is None:
        st.caption(t("stage_view.no loss", lang))
        return
    cols[0].metric(t("stage_view.loss real", lang), f"{real:.4f}")
    cols[1].metric(t("stage_view.loss switched", lang), f"{switched:.4f}", delta=f"{switched - real:+.4f}", delta_color="inverse")
    cols[2].caption(note)


# -- one stage --------------------------------------------------------------------------------------
_FIGURES: OrderedDict[tuple, object] = OrderedDict()  # (trace key, stage, row, head, lang, annotate) -> figure
_FIGURES_LOCK = threading.Lock()
_FIGURES_MAX = 512


def stage_figure(ws, trace, name: str, *, row: int, head: int = 0, lang: str, annotate: bool | None = None):
    """The stage's heatmap. Built once per (trace, stage, row, head, language) and shared by every session:
    a rerun that changes something else, or a class on the same link, reuses it (st.plotly_chart copies
    the figure before it serialises it, so sharing is safe). A plain LRU dict, not st.cache_resource: hashing
    the key's dataclasses cost ~1 ms a lookup there, 10 ms on the Attention page."""
    def build():
        return heatmaps.stage_heatmap(trace, name, labels=ws.labels(row), batch=row, head=head, lang=lang,
                                      vocab=ws.vocab, annotate=annotate)

    if trace.cache_key is None:
        return build()
    key = (trace.cache_key, name, row, head, lang, annotate)
    with _FIGURES_LOCK:
        fig = _FIGURES.get(key)
        if fig is not None:
            _FIGURES.move_to_end(key)
            return fig
    fig = build()
    with _FIGURES_LOCK:
        _FIGURES[key] = fig
        while len(_FIGURES) > _FIGURES_MAX:
            _FIGURES.popitem(last=False)
    return fig


def downloads(ws, trace, name: str, *, row: int, head: int, lang: str, key: str) -> None:
    """CSV of the slice shown and .npy of the full tensor, in a popover; the files are generated only when clicked."""
    # Lazy: the buttons are built only while the popover is open (20 buttons cost ~10 ms on every Attention rerun).
    box = st.popover(t("stage_view.downloads", lang), icon="⬇️", key=f"dl_{key}", on_change="rerun")
    if not box.open:
        return
    labels = ws.labels(row)
    stem = file_stem(name, f"row{row}", f"head{head}") if spec_of(name).axes[1:2] == ("head",) else \
        file_stem(name, f"row{row}")
    box.download_button(t("ui.download CSV", lang), key=f"csv_{key}", file_name=stem + ".csv", mime="text/csv",
                        data=lambda: export.stage_csv(trace, name, labels=labels, batch=row, head=head, vocab=ws.vocab),
                        on_click="ignore", help=t("stage_view.csv help", lang), icon="📄")
    box.download_button(t("ui.download NPY", lang), key=f"npy_{key}", file_name=file_stem(name) + ".npy",
                        mime="application/octet-stream", data=lambda: export.to_npy(trace[name]),
                        on_click="ignore", help=t("stage_view.npy help", lang), icon="🧮")


def stage_info(trace, name: str, lang: str, model_kind: str | None = None) -> None:
    """Shape with axis names, the code that produced it, and the explanation: the one that is true for this
    trace's what-if switches and, for random weights (model_kind), one that describes rather than interprets."""
    st.markdown(f"**{t('ui.shape', lang)}** `{trace.shape_label(name)}`")
    st.code(trace.code(name), language="python", wrap_lines=True)
    st.write(explain.explanation(name, lang, trace.switches, model_kind))


def show_stage(ws, trace, name: str, *, row: int, head: int = 0, lang: str, key: str | None = None,
               side: bool = False, annotate: bool | None = None, extra=None) -> None:
    """Figure + shape + code + explanation + downloads for one stage. side: text in a column beside it.
    extra: a callable drawing more (before/after views, tables) under the stage, full width."""
    key = key or name
    fig = stage_figure(ws, trace, name, row=row, head=head, lang=lang, annotate=annotate)
    if side:
        left, right = st.columns([3, 2], gap="medium")
    else:
        left = right = st.container()
    with left:
        plot(fig, file_stem(name, f"row{row}"), key=f"fig_{key}")
    with right:
        stage_info(trace, name, lang, ws.model_kind)
        downloads(ws, trace, name, row=row, head=head, lang=lang, key=key)
    if extra is not None:  # full width: side-by-side panels need the room
        extra()
