"""Chapter 4, residual, LayerNorm, FFN: the rest of a block, stage by stage, with before/after views, the
per-position mean and std that LayerNorm fixes, and how much of the FFN's hidden layer ReLU switches off."""
import streamlit as st

from pages import common, stage_view as sv
from minigpt import figures
from minigpt.explain import explain, t
from minigpt.stages import stage_names

TEXT = {
    "title": {"en": "4 · Residual, LayerNorm, FFN", "zh": "4 · 残差、层归一化、前馈网络"},
    "layout": {"en": "This model is {norm}-LN. The order inside block {b}: {order}.",
               "zh": "这个模型是 {norm}-LN。第 {b} 块内部的顺序：{order}。"},
    "block input": {"en": "block input", "zh": "块的输入"},
    "resid before": {"en": "Before and after, on one colour scale: the residual adds a correction to {src}.",
                     "zh": "前后对比（同一颜色刻度）：残差连接在 {src} 上加了一个修正。"},
    "ln before": {"en": "LayerNorm per position: mean and standard deviation of each row before and after "
                        "(after ≈ 0 and ≈ 1, up to the learned scale and shift).",
                  "zh": "逐位置的层归一化：每一行在之前和之后的均值与标准差（之后约为 0 和 1，另有可学习的缩放和偏移）。"},
    "ln off": {"en": "LayerNorm is switched off (what-if): before and after are the same.",
               "zh": "层归一化已关闭（“如果”开关）：前后完全相同。"},
    "zeros": {"en": "{pct:.1%} of the hidden layer's numbers are exactly 0 after ReLU (before ReLU: {before:.1%}).",
              "zh": "ReLU 之后，隐藏层中 {pct:.1%} 的数值正好为 0（ReLU 之前：{before:.1%}）。"},
    "before": {"en": "before: {name}", "zh": "之前：{name}"},
    "after": {"en": "after: {name}", "zh": "之后：{name}"},
}


def tr(key, lang):
    return (TEXT[key].get(lang) or TEXT[key]["en"]) if key in TEXT else sv.tr(key, lang)


ws = common.workspace()
lang = ws.lang
st.title(tr("title", lang))
st.write(explain("block", lang))
common.show_notices(ws)
cols = st.columns(3)
row = sv.batch_row(ws, lang, container=cols[0])
block = sv.block_picker(ws, lang, container=cols[1])
with cols[2]:
    sv.image_format(lang)
switches = sv.what_if(ws, lang, temperature=False)
trace = ws.trace(switches)
norm = ws.config.norm
p = f"blocks.{block}."
order = [n[len(p):] for n in stage_names(ws.config.num_blocks, norm) if n.startswith(p)]
st.caption(tr("layout", lang).format(norm=norm, b=block, order=" → ".join(order)))
labels = ws.labels(row)

# What went into each residual and LayerNorm (the block's input is the previous block's output).
names = stage_names(ws.config.num_blocks, norm)
block_input = names[names.index(p + order[0]) - 1]
source = {
    "post": {"resid1": block_input, "norm1": p + "resid1", "resid2": p + "norm1", "norm2": p + "resid2"},
    "pre": {"norm1": block_input, "resid1": block_input, "norm2": p + "resid1", "resid2": p + "resid1"},
}[norm]


def title_of(name):
    spec = figures.spec_of(name)
    return spec.title_zh if lang == "zh" else spec.title


def show_residual(stage):
    before, after = source[stage], p + stage
    st.caption(tr("resid before", lang).format(src=title_of(before)))
    fig = figures.compare_heatmaps(
        trace[before][row], trace[after][row], labels_x=list(range(ws.config.d_model)), labels_y=labels,
        titles=(tr("before", lang).format(name=title_of(before)), tr("after", lang).format(name=title_of(after))),
        signed=True, lang=lang, x_title=t("d_model", lang), y_title=t("position", lang),
        title=f"{title_of(before)} → {title_of(after)} · {t('batch row', lang)} {row}")
    sv.plot(fig, sv.file_stem(after, "before-after", f"row{row}"), key=f"fig_ba_{stage}")


def show_norm(stage):
    before, after = source[stage], p + stage
    if not switches.layer_norm:
        st.caption(tr("ln off", lang))
    st.caption(tr("ln before", lang))
    table = figures.layernorm_stats(trace[before][row], trace[after][row], labels, lang=lang)
    # column_config, not a pandas Styler: the same display without the Styler's slow round trip.
    st.dataframe(table, hide_index=True, key=f"ln_{stage}", height=min(38 + 35 * len(table), 420),
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})


def show_relu():
    hidden = trace[p + "ffn.hidden"][row]
    relu = trace[p + "ffn.relu"][row]
    st.metric(t("zero fraction", lang), f"{figures.zero_fraction(relu):.1%}")
    st.caption(tr("zeros", lang).format(pct=figures.zero_fraction(relu), before=figures.zero_fraction(hidden)))


for stage in order:
    if stage.startswith("attn."):
        continue  # the Attention chapter; here attention is one step, shown by its output
    name = p + stage
    st.header(title_of(name))
    extra = None
    if stage.startswith("resid"):
        extra = lambda s=stage: show_residual(s)
    elif stage.startswith("norm"):
        extra = lambda s=stage: show_norm(s)
    elif stage == "ffn.relu":
        extra = show_relu
    sv.show_stage(ws, trace, name, row=row, lang=lang, side=True, extra=extra)
if norm == "pre" and block == ws.config.num_blocks - 1:
    st.header(title_of("final.norm"))
    sv.show_stage(ws, trace, "final.norm", row=row, lang=lang, side=True)
