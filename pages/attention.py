"""Chapter 3, attention: Q, K, V of one head, scores, mask, softmax, weights @ V, heads joined, Wo;
all heads at once and a lines view. What-if switches and the softmax temperature change every stage."""
import streamlit as st

from pages import common, stage_view as sv
from minigpt import figures
from minigpt.explain import explain, t
from minigpt.stages import CATALOGUE

TEXT = {
    "title": {"en": "3 · Attention", "zh": "3 · 注意力"},
    "qkv": {"en": "Q, K and V of one head", "zh": "一个头的 Q、K、V"},
    "split": {"en": "The head split, by shapes: x {x} → Wq → {full} → view → [batch {B}, position {T}, head {H}, d_k {D}] "
                    "→ transpose(1, 2) → {q}. d_k = d_model / num_heads = {d} / {H} = {D}.",
              "zh": "按形状看拆分成多个头：x {x} → Wq → {full} → view → [batch {B}, position {T}, head {H}, d_k {D}] "
                    "→ transpose(1, 2) → {q}。d_k = d_model / num_heads = {d} / {H} = {D}。"},
    "scores": {"en": "Scores, mask, softmax", "zh": "分数、掩码、softmax"},
    "temp_note": {"en": "Attention temperature {T}: the weights are softmax(scores / {T}).",
                  "zh": "注意力温度 {T}：权重为 softmax(scores / {T})。"},
    "mix": {"en": "Mixing the values, joining the heads, projecting", "zh": "混合 V、拼接各头、输出投影"},
    "grid": {"en": "All heads of block {b}", "zh": "第 {b} 块的所有注意力头"},
    "grid stage": {"en": "show", "zh": "显示"},
    "lines": {"en": "Who looks at whom (head {h})", "zh": "谁在看谁（第 {h} 个头）"},
    "lines note": {"en": "Each query on the left draws a line to every key it attends to; the darker the line, the "
                         "larger the weight (weights below 0.01 are not drawn). Hover a line's middle for its exact weight.",
                   "zh": "左边的每个查询向它关注的每个键画一条线；线越深，权重越大（小于 0.01 的不画）。把鼠标移到线的中间可看到精确权重。"},
    "all queries": {"en": "all queries", "zh": "所有查询"},
}


def tr(key, lang):
    return (TEXT[key].get(lang) or TEXT[key]["en"]) if key in TEXT else sv.tr(key, lang)


ws = common.workspace()
lang = ws.lang
st.title(tr("title", lang))
st.write(explain("attention", lang))
common.show_notices(ws)
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

st.header(tr("qkv", lang))
B, T = ws.walk.rows.shape
st.info(tr("split", lang).format(x=f"[batch {B}, position {T}, d_model {c.d_model}]",
                                 full=f"[batch {B}, position {T}, d_model {c.d_model}]",
                                 q=trace.shape_label(p + "attn.q"), B=B, T=T, H=c.num_heads, D=c.d_k, d=c.d_model),
        icon="✂️")
for stage in ("attn.q", "attn.k", "attn.v"):
    sv.show_stage(ws, trace, p + stage, row=row, head=head, lang=lang, side=True)

st.header(tr("scores", lang))
for stage in ("attn.scores", "attn.mask", "attn.masked", "attn.weights"):
    if stage == "attn.weights" and switches.temperature != 1.0:
        st.caption(tr("temp_note", lang).format(T=switches.temperature))
    sv.show_stage(ws, trace, p + stage, row=row, head=head, lang=lang, side=True)

st.header(tr("mix", lang))
for stage in ("attn.mixed", "attn.concat", "attn.out"):
    sv.show_stage(ws, trace, p + stage, row=row, head=head, lang=lang, side=True)

st.header(tr("grid", lang).format(b=block))
grid_stage = st.radio(tr("grid stage", lang), ("attn.weights", "attn.masked", "attn.scores"), key="grid_stage",
                      horizontal=True, format_func=lambda s: CATALOGUE[s].title_zh if lang == "zh"
                      else CATALOGUE[s].title)
sv.plot(figures.head_grid(trace, block, labels=ws.labels(row), batch=row, stage=grid_stage, lang=lang),
        sv.file_stem(p + grid_stage, "all-heads", f"row{row}"), key="fig_grid")

st.header(tr("lines", lang).format(h=head))
labels = ws.labels(row)
focus = st.selectbox(t("focus query", lang), [None] + list(range(len(labels))), key="lines_focus",
                     format_func=lambda i: tr("all queries", lang) if i is None else labels[i])
st.caption(tr("lines note", lang))
weights = trace[p + "attn.weights"][row, head]
sv.plot(figures.attention_lines(weights, labels, lang=lang, focus=focus,
                                title=f"{t('attention_lines_title', lang)} · {t('block', lang)} {block} · "
                                      f"{t('head', lang)} {head}"),
        sv.file_stem(p + "attn.lines", f"head{head}", f"row{row}"), key="fig_lines")
