"""Chapter 1, text → tokens: the corpus, the token chips with their ids, the split, and x / y shifted by one."""
import streamlit as st

from ui import model_map, page, stage_view as sv, workspace as wsp
from minigpt import tokcompare
from minigpt.views import tokcompare as tokviews
from minigpt.views import chips
from minigpt.text import t
from minigpt.analysis import corpus_stats
from minigpt.views.tables import shift_table

ws = page.open_page("tokens.title", "chapter.tokens", banner=False)  # the tokenizer: no weights
model_map.chapter_map(ws, "tokens")
lang = ws.lang

st.subheader(t("tokens.corpus", lang))
st.caption(f"{ws.corpus_title} · {ws.model_label}")
stats = corpus_stats(ws.corpus.text, ws.corpus_rows, ws.vocab.size)
for col, (name, value) in zip(st.columns(len(stats)), stats.items()):
    col.metric(t(f"tokens.{name}", lang), f"{value:,}")
st.progress(0.9, text=t("tokens.split", lang))

row = sv.batch_row(ws, lang)
# Tabs, not one long column (issue 13: a page fits in 2,500 px): only the open section takes the page's height.
tab_chips, tab_shift, tab_compare = st.tabs([t("fixes.tab_tokens", lang), t("fixes.tab_shift", lang),
                                             t("tokcmp.title", lang)])
with tab_chips:
    st.subheader(t("tokens.chips", lang))
    st.html(chips.token_chips_html(chips.piece_texts(ws.walk.token_ids[row], ws.vocab.mode, lang),
                                   ws.walk.token_ids[row], ws.walk.known[row], labelled=True))
    if ws.vocab.mode == "char":
        st.caption(t("tokens.chips_char", lang))
    if not all(ws.walk.known[row]):
        st.caption("🟥 " + t("ui.unknown token", lang))

with tab_shift:
    st.subheader(t("tokens.shift", lang))
    target_ids = ws.walk.target_ids[row] if ws.walk.target_ids is not None else None
    table = shift_table(ws.walk.token_ids[row], target_ids, ws.vocab.text, lang=lang)
    st.dataframe(table, hide_index=True, key="shift_table", height=min(38 + 35 * len(table), 600))
    if target_ids is not None:
        st.caption(t("tokens.shift_note_batch", lang).format(row=row, start=ws.walk.starts[row] if ws.walk.starts else 0))
    else:
        st.caption(t("tokens.shift_note_text", lang))

    if ws.walk.targets is not None and ws.walk.batch_size > 1:
        st.subheader(t("tokens.batch", lang))
        import pandas as pd

        from minigpt.views.labels import visible_text

        def decoded(ids):
            return "".join(visible_text(ws.vocab.text(i)) for i in ids)

        st.dataframe(pd.DataFrame({
            t("ui.batch row", lang): range(ws.walk.batch_size),
            "x": [decoded(r) for r in ws.walk.token_ids],
            "y": [decoded(r) for r in ws.walk.target_ids],
        }), hide_index=True, key="batch_text")
        left, right = st.columns(2)
        left.markdown("**x** (ids)")
        left.dataframe(pd.DataFrame(ws.walk.token_ids), key="batch_x")
        right.markdown("**y** (ids)")
        right.dataframe(pd.DataFrame(ws.walk.target_ids), key="batch_y")


# -- Tokenizers side by side (issue 15): one text through every vocabulary --------------------------------------
with tab_compare:
    st.write(t("tokcmp.intro", lang))
    if "tokcmp_text" not in st.session_state:
        st.session_state["tokcmp_text"] = tokcompare.SAMPLE
    text = st.text_area(t("tokcmp.text", lang), key="tokcmp_text", height=68, max_chars=500)
    vocabs = {mode: wsp.vocabulary(ws.corpus.text, mode) for mode in tokcompare.ORDER}
    st.caption(t("tokcmp.corpus_note", lang, corpus=ws.corpus_title))
    compared = tokcompare.compare(text, vocabs, ws.config) if text.strip() else []
    for tok in compared:
        st.markdown(f"**{tokviews.mode_name(tok.mode, lang)}** · {t('tokcmp.count', lang, n=tok.count)}"
                    + (f" · {t('tokcmp.count_unk', lang, n=tok.unknown)}" if tok.unknown else ""))
        st.html(tokviews.chips_html(tok, lang))
    if compared:
        st.dataframe(tokviews.summary_table(compared, lang), hide_index=True, key="tokcmp_summary")
        full = tokcompare.full_cl100k_rows()
        st.caption(t("tokcmp.cost_note", lang, d=ws.config.d_model, full=full,
                     params=sum(tokcompare.vocab_parameters(full, ws.config.d_model))))
        st.subheader(t("tokcmp.split_title", lang))
        st.write(t("tokcmp.split_intro", lang))
        splits = tokcompare.split_characters(text)
        if splits:
            st.dataframe(tokviews.split_table(splits, lang), hide_index=True, key="tokcmp_splits")
        else:
            st.caption(t("tokcmp.no_split", lang))

    st.subheader(t("tokcmp.pairs_heading", lang))
    st.write(t("tokcmp.pairs_intro", lang))
    counts = tokcompare.pair_counts(vocabs)
    st.plotly_chart(tokviews.pairs_figure(counts, lang), key="tokcmp_pairs")
    st.dataframe(tokviews.pairs_table(counts, lang), hide_index=True, key="tokcmp_pairs_table")
    st.caption(t("tokcmp.pairs_total", lang, en=sum(c.counts["compact"][0] for c in counts),
                 zh=sum(c.counts["compact"][1] for c in counts), cen=sum(c.counts["char"][0] for c in counts),
                 czh=sum(c.counts["char"][1] for c in counts)))
