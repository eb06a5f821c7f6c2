"""Chapter 3, attention: one linked view of the chosen block and head (Q, K, V, scores, mask, softmax, weights @ V,
heads joined, Wo as tabs; all heads; who looks at whom), drawn in the browser (ui/attention_view.py). The pickers,
what-if switches and temperature sit in a fragment with the view: changing one reruns only this part."""
import streamlit as st

from ui import attention_view, controls, model_map, page, stage_view as sv
from minigpt.text import t

ws = page.open_page("attention.title", "chapter.attention")
model_map.chapter_map(ws, "attention")
lang = ws.lang


@st.fragment
def linked_view() -> None:
    cols = st.columns([3, 1, 1, 3])
    row = sv.batch_row(ws, lang, container=cols[0])
    block = sv.block_picker(ws, lang, container=cols[1])
    head = sv.head_picker(ws, lang, container=cols[2])
    switches = sv.what_if(ws, lang)
    trace = ws.trace(switches)
    c = ws.config
    B, T = ws.walk.rows.shape
    full = f"[batch {B}, position {T}, d_model {c.d_model}]"
    with st.expander(t("attn_view.split_title", lang), icon="✂️"):
        st.write(t("attention.split", lang).format(x=full, full=full, q=trace.shape_label(f"blocks.{block}.attn.q"),
                                                   B=B, T=T, H=c.num_heads, D=c.d_k, d=c.d_model))
    if switches.temperature != 1.0:
        st.caption(t("attention.temp_note", lang).format(T=switches.temperature))
    attention_view.show(ws, trace, block=block, row=row, head=head, lang=lang)
    attention_view.downloads(ws, trace, block=block, row=row, head=head, lang=lang)
    controls.sync_url()  # a rerun of this fragment alone does not reach app.py's sync_url


linked_view()
