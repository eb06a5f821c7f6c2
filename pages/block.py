"""Chapter 4, residual, LayerNorm, FFN: the rest of a block, stage by stage, with before/after views, the
per-position mean and std that LayerNorm fixes, and how much of the FFN's hidden layer ReLU switches off."""
import streamlit as st

from ui import model_map, page, stage_view as sv
from minigpt.analysis import zero_fraction
from minigpt.views import heatmaps, tables
from minigpt.text import t
from minigpt.stages import inputs_of, spec_of, stage_names

ws = page.open_page("block.title", "chapter.block")
lang = ws.lang
cols = st.columns(3)
row = sv.batch_row(ws, lang, container=cols[0])
block = sv.block_picker(ws, lang, container=cols[1])
model_map.chapter_map(ws, "block", block=block)
with cols[2]:
    sv.image_format(lang)
switches = sv.what_if(ws, lang, temperature=False)
trace = ws.trace(switches)
norm = ws.config.norm
p = f"blocks.{block}."
order = [n[len(p):] for n in stage_names(ws.config.num_blocks, norm) if n.startswith(p)]
st.caption(t("block.layout", lang).format(norm=norm, b=block, order=" → ".join(order)))
labels = ws.labels(row)

names = stage_names(ws.config.num_blocks, norm)


def title_of(name):
    return spec_of(name).title(lang)


def source(stage: str) -> str:
    """The stream a residual add or LayerNorm starts from (for a residual, the side the sublayer is added to)."""
    return inputs_of(p + stage, names, norm)[0]


def show_residual(stage):
    before, after = source(stage), p + stage
    st.caption(t("block.resid before", lang).format(src=title_of(before)))
    fig = heatmaps.compare_heatmaps(
        trace[before][row], trace[after][row], labels_x=list(range(ws.config.d_model)), labels_y=labels,
        titles=(t("block.before", lang).format(name=title_of(before)), t("block.after", lang).format(name=title_of(after))),
        signed=True, lang=lang, x_title=t("ui.d_model", lang), y_title=t("ui.position", lang),
        title=f"{title_of(before)} → {title_of(after)} · {t('ui.batch row', lang)} {row}")
    sv.plot(fig, sv.file_stem(after, "before-after", f"row{row}"), key=f"fig_ba_{stage}")


def show_norm(stage):
    before, after = source(stage), p + stage
    if not switches.layer_norm:
        st.caption(t("block.ln off", lang))
    st.caption(t("block.ln before", lang))
    table = tables.layernorm_table(trace[before][row], trace[after][row], labels, lang=lang)
    # column_config, not a pandas Styler: the same display without the Styler's slow round trip.
    st.dataframe(table, hide_index=True, key=f"ln_{stage}", height=min(38 + 35 * len(table), 420),
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})


def show_relu():
    hidden = trace[p + "ffn.hidden"][row]
    relu = trace[p + "ffn.relu"][row]
    st.metric(t("ui.zero fraction", lang), f"{zero_fraction(relu):.1%}")
    st.caption(t("block.zeros", lang).format(pct=zero_fraction(relu), before=zero_fraction(hidden)))


shown = [stage for stage in order if not stage.startswith("attn.")]  # attention: its own chapter; here, its output
final = norm == "pre" and block == ws.config.num_blocks - 1
# One tab per stage, in the block's order: the browser draws them all once, only one takes the page's height.
tabs = st.tabs([title_of(p + stage) for stage in shown] + ([title_of("final.norm")] if final else []))
for tab, stage in zip(tabs, shown):
    name = p + stage
    extra = None
    if stage.startswith("resid"):
        extra = lambda s=stage: show_residual(s)
    elif stage.startswith("norm"):
        extra = lambda s=stage: show_norm(s)
    elif stage == "ffn.relu":
        extra = show_relu
    with tab:
        sv.show_stage(ws, trace, name, row=row, lang=lang, side=True, extra=extra)
if final:
    with tabs[-1]:
        sv.show_stage(ws, trace, "final.norm", row=row, lang=lang, side=True)
