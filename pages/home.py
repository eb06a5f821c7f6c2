"""Overview: the map of the model as the way in (a click opens that stage), what the model is right now, and the
road through the chapters."""
import streamlit as st

from ui import model_map, page, projector
from minigpt.config import parameter_count
from minigpt.stages import CHAPTERS
from minigpt.text import t

ws = page.open_page("home.home_title", "home.home_intro", banner=False)
lang = ws.lang

config = ws.config
head, button = st.columns([5, 1], vertical_alignment="bottom")
head.subheader(t("map.title", lang))
projector.switch_button(lang, container=button, key="projector_switch_home")
st.caption(t("map.intro", lang))
model_map.model_map(ws, key="home_map")

left, right = st.columns([3, 2])
with left:
    st.subheader(t("home.home_model", lang))
    st.markdown(f"**{ws.model_label}** · {ws.corpus_title}")
    cols = st.columns(3)
    cols[0].metric(t("home.parameters", lang), f"{parameter_count(config, ws.vocab.size):,}")
    cols[1].metric(t("home.vocab_rows", lang), f"{ws.vocab.size:,}")
    cols[2].metric(t("home.corpus_tokens", lang), f"{len(ws.corpus_rows):,}")
    st.markdown(f"`d_model {config.d_model}` · `num_heads {config.num_heads}` · `num_blocks {config.num_blocks}`")
    st.caption(t("home.home_config", lang).format(ctx=config.context_length, norm=config.norm, vocab=config.vocab,
                                            seed=config.seed, dk=config.d_k, ffn=config.d_ffn))
with right:
    st.subheader(t("home.home_route", lang))
    for name in CHAPTERS:
        st.page_link(f"pages/{name}.py", label=t(f"home.chapter_{name}", lang))
    st.page_link("pages/inside.py", label=t("why.home_link", lang))
    for name in ("step", "train"):
        st.page_link(f"pages/{name}.py", label=t(f"home.chapter_{name}", lang))
st.info(t("home.home_share", lang), icon="🔗")
