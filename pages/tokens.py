"""Chapter 1, text → tokens: the corpus, the token chips with their ids, the split, and x / y shifted by one."""
import streamlit as st

from ui import page, stage_view as sv
from minigpt.views import chips
from minigpt.text import t
from minigpt.analysis import corpus_stats
from minigpt.views.tables import shift_table

ws = page.open_page("tokens.title", "chapter.tokens", banner=False)  # the tokenizer: no weights
lang = ws.lang

st.subheader(t("tokens.corpus", lang))
st.caption(f"{ws.corpus_title} · {ws.model_label}")
stats = corpus_stats(ws.corpus.text, ws.corpus_rows, ws.vocab.size)
for col, (name, value) in zip(st.columns(len(stats)), stats.items()):
    col.metric(t(f"tokens.{name}", lang), f"{value:,}")
st.progress(0.9, text=t("tokens.split", lang))

row = sv.batch_row(ws, lang)
st.subheader(t("tokens.chips", lang))
st.html(chips.token_chips_html(ws.texts(row), ws.walk.token_ids[row], ws.walk.known[row]))
if ws.vocab.mode == "char":
    st.caption(t("tokens.chips_char", lang))
if not all(ws.walk.known[row]):
    st.caption("🟥 " + t("ui.unknown token", lang))

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
