"""The Generate page's KV cache section: the page's generation replayed through minigpt.kv_cache step by step
(cached K and V growing by one row, the one new query row and its attention), the work per new token with and
without the cache, and the memory the cache takes. Numbers from minigpt.kv_cache, figures from views.kvcache."""
from __future__ import annotations

import streamlit as st

from minigpt import kv_cache
from minigpt.text import t
from minigpt.views import kvcache
from minigpt.views.chips import generated_texts
from minigpt.views.export import plotly_config
from minigpt.views.labels import id_labels

from . import controls


@st.cache_resource(max_entries=32, show_spinner=False)
def _walk(model_key: str, prompt_rows: tuple, new_rows: tuple, _model) -> kv_cache.CacheWalk:
    return kv_cache.walk(_model, prompt_rows, new_rows)


def section(ws, result, lang: str) -> None:
    """result: the page's sampling.Generation (made with the sidebar's model ws.model)."""
    vocab, config = ws.vocab, ws.config
    st.header(t("kv.title", lang))
    st.write(t("kv.intro", lang))
    walk = _walk(ws.model_key, tuple(vocab.rows(result.prompt_ids)), tuple(vocab.rows(result.new_ids)), ws.model)
    labels = id_labels(vocab.token_ids(walk.rows), vocab.mode, lang)
    predicted = generated_texts(result.prompt_ids, result.steps, vocab.mode, lang)
    ctx = config.context_length

    cols = st.columns(3)
    step = 0
    if walk.steps > 1:
        step = cols[0].slider(t("kv.step", lang), 1, walk.steps, 1, key="kv_step") - 1
    else:
        st.info(t("kv.prompt_fills", lang, ctx=ctx), icon="ℹ️")
    block = controls.index_picker("kvblock", config.num_blocks, t("ui.block", lang), container=cols[1])
    head = controls.index_picker("kvhead", config.num_heads, t("ui.head", lang), container=cols[2])

    n = walk.cache_length(step)
    if step == 0:
        st.markdown(t("kv.prefill", lang, n=n, token=f"`{labels[n - 1]}`", next=f"`{predicted[0]}`"))
    else:
        st.markdown(t("kv.one_row", lang, s=step + 1, token=f"`{labels[n - 1]}`", pos=n - 1, n=n,
                      next=f"`{predicted[step]}`"))
    left, right = st.columns(2)
    for col, which in ((left, "keys"), (right, "values")):
        col.plotly_chart(kvcache.cache_heatmap(walk, which, step, block=block, head=head, labels=labels, lang=lang),
                         key=f"kv_{which}", config=plotly_config(f"minigpt-kv-{which}"))
    st.caption(t("kv.later_rows", lang))
    st.plotly_chart(kvcache.query_attention(walk, step, block=block, head=head, labels=labels, lang=lang),
                    key="kv_query", config=plotly_config("minigpt-kv-query"))

    points = kv_cache.work_series(config, vocab.size, len(result.prompt_ids), len(result.steps))
    here = points[step]
    m = st.columns(3)
    m[0].metric(t("kv.flops_with", lang), f"{here.cached:,} FLOPs")
    m[1].metric(t("kv.flops_without", lang), f"{here.uncached:,} FLOPs")
    numbers = kv_cache.cache_numbers(config, n)
    m[2].metric(t("kv.memory", lang), t("kv.memory_value", lang, numbers=numbers,
                                         kb=kv_cache.cache_bytes(config, n) / 1024))
    if here.cached < here.uncached:
        st.caption(t("kv.saving", lang, x=here.uncached / here.cached))
    st.plotly_chart(kvcache.work_figure(points, step=step, lang=lang), key="kv_work",
                    config=plotly_config("minigpt-kv-work"))
    st.caption(t("kv.formula", lang, blocks=config.num_blocks, d=config.d_model, f=config.d_ffn, V=vocab.size))
    st.caption(t("kv.memory_note", lang, blocks=config.num_blocks, n=n, d=config.d_model, numbers=numbers, ctx=ctx,
                 full_kb=kv_cache.cache_bytes(config, ctx) / 1024))
    st.caption(t("kv.window", lang, ctx=ctx))
