"""Overview: what the model is right now, and the road through the chapters."""
import streamlit as st

from pages import common
from minigpt.config import parameter_count
from minigpt.explain import t

ws = common.workspace()
lang = ws.lang
st.title(t("home_title", lang))
st.write(t("home_intro", lang))
common.show_notices(ws)

config = ws.config
left, right = st.columns([3, 2])
with left:
    st.subheader(t("home_model", lang))
    st.markdown(f"**{ws.model_label}** · {ws.corpus.title}")
    cols = st.columns(3)
    cols[0].metric(t("parameters", lang), f"{parameter_count(config, ws.vocab.size):,}")
    cols[1].metric(t("vocab_rows", lang), f"{ws.vocab.size:,}")
    cols[2].metric(t("corpus_tokens", lang), f"{len(ws.corpus_rows):,}")
    st.markdown(f"`d_model {config.d_model}` · `num_heads {config.num_heads}` · `num_blocks {config.num_blocks}`")
    st.caption(t("home_config", lang).format(ctx=config.context_length, norm=config.norm, vocab=config.vocab,
                                            seed=config.seed, dk=config.d_k, ffn=config.d_ffn))
with right:
    st.subheader(t("home_route", lang))
    for path, key in (("pages/tokens.py", "chapter_tokens"), ("pages/embedding.py", "chapter_embedding"),
                      ("pages/attention.py", "chapter_attention"), ("pages/block.py", "chapter_block"),
                      ("pages/output.py", "chapter_output"), ("pages/step.py", "chapter_step"),
                      ("pages/train.py", "chapter_train")):
        st.page_link(path, label=t(key, lang))
st.info(t("home_share", lang), icon="🔗")
