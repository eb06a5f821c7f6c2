"""Chapter 3, attention: Q, K, V of one head, scores, mask, softmax, weights @ V, heads joined, Wo;
all heads at once and a lines view. What-if switches and the softmax temperature change every stage."""
import streamlit as st

from ui import page, stage_view as sv
from minigpt.views import attention, heatmaps
from minigpt.text import t
from minigpt.stages import CATALOGUE

ws = page.open_page("attention.title", "chapter.attention")
lang = ws.lang
cols = st.columns(4)
row = sv.batch_row(ws, lang, container=cols[0])
block = sv.block_picker(ws, lang, container=cols[1])
head = sv.head_picker(ws, lang, container=cols[2])
with cols[3]:
    sv.image_format(lang)
switches = sv.what_if(ws, lang)
trace = ws.trace(switches)
p = f"blocks.{block}."
c = ws.config

st.header(t("attention.qkv", lang))
B, T = ws.walk.rows.shape
st.info(t("attention.split", lang).format(x=f"[batch {B}, position {T}, d_model {c.d_model}]",
                                 full=f"[batch {B}, position {T}, d_model {c.d_model}]",
                                 q=trace.shape_label(p + "attn.q"), B=B, T=T, H=c.num_heads, D=c.d_k, d=c.d_model),
        icon="✂️")
for stage in ("attn.q", "attn.k", "attn.v"):
    sv.show_stage(ws, trace, p + stage, row=row, head=head, lang=lang, side=True)

st.header(t("attention.scores", lang))
for stage in ("attn.scores", "attn.mask", "attn.masked", "attn.weights"):
    if stage == "attn.weights" and switches.temperature != 1.0:
        st.caption(t("attention.temp_note", lang).format(T=switches.temperature))
    sv.show_stage(ws, trace, p + stage, row=row, head=head, lang=lang, side=True)

st.header(t("attention.mix", lang))
for stage in ("attn.mixed", "attn.concat", "attn.out"):
    sv.show_stage(ws, trace, p + stage, row=row, head=head, lang=lang, side=True)

st.header(t("attention.grid", lang).format(b=block))
grid_stage = st.radio(t("attention.grid stage", lang), ("attn.weights", "attn.masked", "attn.scores"), key="grid_stage",
                      horizontal=True, format_func=lambda s: CATALOGUE[s].title(lang))
sv.plot(heatmaps.head_grid(trace, block, labels=ws.labels(row), batch=row, stage=grid_stage, lang=lang),
        sv.file_stem(p + grid_stage, "all-heads", f"row{row}"), key="fig_grid")

st.header(t("attention.lines", lang).format(h=head))
labels = ws.labels(row)
focus = st.selectbox(t("ui.focus query", lang), [None] + list(range(len(labels))), key="lines_focus",
                     format_func=lambda i: t("attention.all queries", lang) if i is None else labels[i])
st.caption(t("attention.lines note", lang))
weights = trace[p + "attn.weights"][row, head]
sv.plot(attention.attention_lines(weights, labels, lang=lang, focus=focus,
                                  title=f"{t('ui.attention_lines_title', lang)} · {t('ui.block', lang)} {block} · "
                                        f"{t('ui.head', lang)} {head}"),
        sv.file_stem(p + "attn.lines", f"head{head}", f"row{row}"), key="fig_lines")
