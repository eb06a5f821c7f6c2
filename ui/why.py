"""The "What it learned" numbers a page needs, cached per model and input and shared by every session (read-only
results): head importance, the induction test's trace, role scores, gradients, embedding maps. No math here:
each is one call into minigpt (knockout, roles, gradients, embedding_map, lens)."""
from __future__ import annotations

import threading
from collections import OrderedDict

import torch

from minigpt import embedding_map, gradients, knockout as ko, lens, roles
from minigpt.model import Switches

from .workspace import text_key

_CACHE: OrderedDict[tuple, object] = OrderedDict()
_LOCK = threading.Lock()
_MAX = 256
MAP_POINTS = 300   # the most frequent tokens drawn on the embedding map
MAP_LABELS = 25    # ... of which this many are labelled


def cached(key: tuple, build):
    """A plain LRU dict shared by sessions (the key is strings and numbers: cheap to hash)."""
    if None in key:  # a trace nobody cached (no cache_key): nothing built from it is cached either
        return build()
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = build()
    with _LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _MAX:
            _CACHE.popitem(last=False)
    return value


def _corpus_key(ws) -> str:
    return text_key(ws.corpus.text) + ws.vocab.fingerprint


AUTO_IMPORTANCE_S = 1.0  # head importance is computed without asking when it should take less than this


def importance(ws, mode: str, *, compute: bool = True):
    """The head importance (cached per model, corpus and mode); None if not computed yet and compute is False."""
    key = ("importance", ws.model_key, _corpus_key(ws), mode)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if not compute:
        return None
    return cached(key, lambda: ko.head_importance(ws.model, ws.corpus_rows, mode))


def importance_seconds(ws) -> float:
    return ko.importance_seconds(ws.config, ws.vocab.size)


def used_rows(ws) -> torch.Tensor:
    """The vocabulary rows the corpus uses, most frequent first (the <unk> row left out)."""
    return cached(("used", _corpus_key(ws)), lambda: embedding_map.frequent_rows(
        ws.corpus_rows, ws.vocab.size, ws.vocab.size, exclude=(ws.vocab.unk_row,)))


def role_scores(ws, trace, switches: Switches):
    """(scores [blocks, heads, 4], chance [4]): previous / first / current on the page's input, induction on
    repeated random sequences of tokens the corpus uses."""
    def build():
        return roles.head_roles(ws.model, trace, used_rows(ws), switches)
    return cached(("roles", ws.model_key, _corpus_key(ws), trace.cache_key), build)


def logit_lens(ws, trace, row: int):
    targets = ws.walk.targets[row] if ws.walk.targets is not None else None
    return cached(("lens", trace.cache_key, row), lambda: lens.logit_lens(ws.model, trace, batch=row, targets=targets))


def stage_gradients(ws, row: int, position: int, target: int, switches: Switches):
    """∂loss/∂stage for one row's position. Only that row is run (the others' gradients are 0), unless a head is
    replaced by its mean over the batch: then the whole batch, so the mean is the one the page's trace uses."""
    key = ("grads", ws.model_key, text_key(repr(ws.walk.rows.tolist())), row, position, target, switches)
    whole = switches.knockout and switches.knockout.mode == "mean"
    rows, batch = (ws.walk.rows, row) if whole else (ws.walk.rows[row:row + 1], 0)
    return cached(key, lambda: gradients.stage_gradients(ws.model, rows, batch=batch, position=position,
                                                         target=target, switches=switches))


def token_map(ws, model):
    """PCA of the embedding rows of the corpus's most frequent tokens, for model (the current one or its
    untrained twin)."""
    rows = used_rows(ws)[:MAP_POINTS]
    return embedding_map.project(model.token_embedding.weight, rows)


def aligned_maps(ws):
    """{"untrained": ..., "now": ...} token maps on matching axes (the untrained one's signs turned to the
    current one's); only "now" for fresh weights."""
    def build():
        now = token_map(ws, ws.model)
        maps = {"now": now}
        if ws.model_kind != "fresh":
            maps["untrained"] = embedding_map.align(token_map(ws, ws.untrained()[0]), now)
        return maps
    return cached(("maps", ws.model_key, _corpus_key(ws)), build)


def layer_stages(config) -> list[str]:
    return lens.layer_stages(config)


def layer_norms(grads) -> list[tuple[str, float]]:
    return gradients.layer_norms(grads)


def typical_weights(trace) -> torch.Tensor:
    """Each head's attention weights averaged over the batch rows: [blocks, heads, T, T]."""
    return torch.stack([trace[f"blocks.{b}.attn.weights"].mean(dim=0) for b in range(trace.config.num_blocks)])


def map_range(maps) -> tuple[float, float]:
    """One axis range for every map of a slider, so a point that moves is seen to move."""
    bound = max(float(m.points.abs().max()) for m in maps.values()) * 1.12 or 1.0
    return (-bound, bound)


def position_map(ws):
    return cached(("posmap", ws.config.context_length, ws.config.d_model),
                  lambda: embedding_map.project(ws.model.position))


# -- downloads ----------------------------------------------------------------------------------------------
def downloads(stem: str, lang: str, *, csv=None, npy=None, key: str) -> None:
    """The numbers behind a view, as every stage offers them (ui/stage_view.downloads): CSV of what is drawn,
    .npy of the full array; in a lazy popover, the files built only when it is open. csv/npy: () -> bytes."""
    import streamlit as st

    from minigpt.text import t

    box = st.popover(t("stage_view.downloads", lang), icon="⬇️", key=f"dl_{key}", on_change="rerun")
    if not box.open:
        return
    if csv is not None:
        box.download_button(t("ui.download CSV", lang), key=f"csv_{key}", file_name=stem + ".csv", mime="text/csv",
                            data=csv, on_click="ignore", icon="📄")
    if npy is not None:
        box.download_button(t("ui.download NPY", lang), key=f"npy_{key}", file_name=stem + ".npy",
                            mime="application/octet-stream", data=npy, on_click="ignore", icon="🧮")


def table_csv(values, row_labels, col_labels) -> bytes:
    from minigpt.views import export

    return export.to_csv(values, [str(r) for r in row_labels], [str(c) for c in col_labels])


def npy(values) -> bytes:
    from minigpt.views import export

    return export.to_npy(values)


def figure_csv(fig) -> bytes:
    """The numbers a figure draws, as CSV: a heatmap's cells (rows × columns, with their labels), a scatter's points
    (label, x, y), or bars (one row per series)."""
    import html

    import numpy as np
    import pandas as pd

    def values(v):
        return np.asarray(v if v is not None else [], dtype=object)

    first = fig.data[0]
    if first.type == "heatmap":
        z = np.asarray(first.z, dtype=np.float32)
        return table_csv(z, [html.unescape(str(y)) for y in first.y], [html.unescape(str(x)) for x in first.x])
    if first.type == "scatter" and first.customdata is not None:
        frame = pd.DataFrame({"label": [html.unescape(str(s)) for s in values(first.customdata)],
                              "x": np.asarray(first.x, dtype=np.float64), "y": np.asarray(first.y, dtype=np.float64)})
        return frame.to_csv(index=False, float_format="%.9g").encode("utf-8-sig")
    frame = pd.DataFrame({html.unescape(str(d.name or d.type)): np.asarray(d.y if d.type != "bar" or d.orientation != "h"
                                                                             else d.x, dtype=np.float64) for d in fig.data})
    labels = first.x if getattr(first, "orientation", None) != "h" else first.y
    frame.index = [html.unescape(str(x)) for x in labels]
    return frame.T.to_csv(float_format="%.9g").encode("utf-8-sig") if first.type == "bar" else \
        frame.to_csv(float_format="%.9g").encode("utf-8-sig")


def show(fig, stem: str, lang: str, *, key: str, full=None) -> None:
    """A figure with the camera button (PNG/SVG) and its downloads: CSV of what is drawn, .npy of `full` (the whole
    array behind it, e.g. every vocabulary column; default: the drawn numbers)."""
    import numpy as np

    from . import stage_view as sv

    sv.plot(fig, stem, key=f"fig_{key}")

    def full_npy():
        if full is not None:
            return npy(full() if callable(full) else full)
        first = fig.data[0]
        return npy(np.asarray(first.z if first.type == "heatmap" else np.stack([first.x, first.y], -1), dtype=np.float32))
    downloads(stem, lang, csv=lambda: figure_csv(fig), npy=full_npy, key=key)
