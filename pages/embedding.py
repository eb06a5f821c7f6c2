"""Chapter 2, embedding and position: the lookup, the sinusoidal table (heatmap, curves, similarity), their sum."""
import streamlit as st

from pages import common, stage_view as sv
from minigpt import figures
from minigpt.explain import explain, t

TEXT = {
    "title": {"en": "2 · Embedding and position", "zh": "2 · 嵌入与位置"},
    "lookup": {"en": "Token embedding: one row of the table per token", "zh": "词嵌入：每个 token 取表中的一行"},
    "position": {"en": "Sinusoidal positional encoding", "zh": "正弦位置编码"},
    "curves": {"en": "A few dimensions of the table as curves: fast waves on the left dimensions, slow on the right.",
               "zh": "把表中的几个维度画成曲线：左边的维度波动快，右边的维度波动慢。"},
    "similarity": {"en": "How alike are two positions? Cosine similarity of their position vectors: nearby "
                         "positions are similar, far ones less so, which lets attention tell near from far.",
                   "zh": "两个位置有多相似？位置向量的余弦相似度：相邻位置很相似，远的位置不太相似，注意力因此能区分远近。"},
    "sum": {"en": "Their sum: what the first block receives", "zh": "两者之和：第一个块的输入"},
}


def tr(key, lang):
    return (TEXT[key].get(lang) or TEXT[key]["en"]) if key in TEXT else sv.tr(key, lang)


ws = common.workspace()
lang = ws.lang
st.title(tr("title", lang))
st.write(explain("embedding", lang))
common.show_notices(ws)
row = sv.batch_row(ws, lang)
sv.image_format(lang)
trace = ws.trace()

st.header(tr("lookup", lang))
sv.show_stage(ws, trace, "embed.token", row=row, lang=lang)

st.header(tr("position", lang))
sv.show_stage(ws, trace, "embed.position", row=row, lang=lang)
table = trace["embed.position"]
d_model = table.shape[1]
default_dims = sorted({0, 1, min(4, d_model - 1), min(10, d_model - 1), d_model - 2 if d_model > 2 else 0})
dims = st.multiselect(t("dimensions to plot", lang), list(range(d_model)), default=default_dims, key="pos_dims",
                      max_selections=8)
st.caption(tr("curves", lang))
if dims:
    sv.plot(figures.positional_curves(table, sorted(dims), lang=lang), "minigpt_positional_curves", key="fig_curves")
st.caption(tr("similarity", lang))
sv.plot(figures.position_similarity(table, lang=lang), "minigpt_position_similarity", key="fig_similarity")

st.header(tr("sum", lang))
sv.show_stage(ws, trace, "embed.sum", row=row, lang=lang)
