"""Chapter 2, embedding and position: the lookup, the sinusoidal table (heatmap, curves, similarity), their sum."""
import streamlit as st

from ui import model_map, page, stage_view as sv
from minigpt.views import embedding
from minigpt.text import t

ws = page.open_page("embedding.title", "chapter.embedding")
model_map.chapter_map(ws, "embedding")
lang = ws.lang
row = sv.batch_row(ws, lang)
sv.image_format(lang)
trace = ws.trace()

# Tabs, not one long column: the browser draws every figure once, but only one section takes the page's height.
lookup_tab, position_tab, sum_tab = st.tabs([t("embedding.lookup", lang), t("embedding.position", lang),
                                             t("embedding.sum", lang)])
with lookup_tab:
    sv.show_stage(ws, trace, "embed.token", row=row, lang=lang)

with position_tab:
    sv.show_stage(ws, trace, "embed.position", row=row, lang=lang)
    table = trace["embed.position"]
    d_model = table.shape[1]
    default_dims = sorted({0, 1, min(4, d_model - 1), min(10, d_model - 1), d_model - 2 if d_model > 2 else 0})
    dims = st.multiselect(t("ui.dimensions to plot", lang), list(range(d_model)), default=default_dims, key="pos_dims",
                          max_selections=8)
    curves, similarity = st.columns(2)  # side by side: half the height
    with curves:
        st.caption(t("embedding.curves", lang))
        if dims:
            sv.plot(embedding.positional_curves(table, sorted(dims), lang=lang), "minigpt_positional_curves",
                    key="fig_curves")
    with similarity:
        st.caption(t("embedding.similarity", lang))
        sv.plot(embedding.position_similarity(table, lang=lang), "minigpt_position_similarity", key="fig_similarity")

with sum_tab:
    sv.show_stage(ws, trace, "embed.sum", row=row, lang=lang)
