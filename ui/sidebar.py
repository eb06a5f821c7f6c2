"""The sidebar, the same on every page: language, input, corpus, model and hyperparameters; and the page list."""
from __future__ import annotations

import streamlit as st

from minigpt import corpus, walkthrough
from minigpt.text import LANGUAGES, message, t

from . import bundled_view
from . import controls as ctl
from . import workspace as wsp


def sidebar(lang: str) -> None:
    k = ctl.KEY
    with st.sidebar:
        st.radio(t("sidebar.language", lang), LANGUAGES, key=k + "lang", horizontal=True,
                 format_func=lambda code: t("meta.name", code))
        st.subheader(t("sidebar.input", lang))
        st.radio(t("sidebar.input", lang), walkthrough.SOURCES, key=k + "source", horizontal=True,
                 label_visibility="collapsed", format_func=lambda s: t("sidebar.source_" + s, lang),
                 help=t("fixes.help_source", lang))
        if st.session_state[k + "source"] == "text":
            st.text_area(t("sidebar.your_text", lang), key=k + "text", max_chars=walkthrough.MAX_TEXT_CHARS, height=100)
        else:
            st.slider(t("sidebar.batch_size", lang), 1, walkthrough.MAX_BATCH_ROWS, key=k + "batch_size",
                      help=t("fixes.help_batch_size", lang))
            seed_col, draw_col = st.columns([3, 2], vertical_alignment="bottom")
            seed_col.number_input(t("fixes.batch_seed", lang), 0, 2**31 - 1, key=k + "batch_seed",
                                  help=t("fixes.help_batch_seed", lang))
            draw_col.button(t("fixes.new_batch", lang), key="new_batch", on_click=_next_batch, icon="🎲")
        st.selectbox(t("sidebar.corpus", lang), walkthrough.CORPORA, key=k + "corpus",
                     format_func=lambda s: t("sidebar.corpus_" + s, lang), help=t("fixes.help_corpus", lang))
        _corpus_inputs(lang)
        st.subheader(t("sidebar.model", lang))
        st.radio(t("sidebar.model", lang), walkthrough.MODELS, key=k + "model", label_visibility="collapsed",
                 format_func=lambda s: t("sidebar.model_" + s, lang))
        _model_inputs(lang)


def _next_batch() -> None:
    """The batch-draw button: the next batch seed (the model's weights stay as they are)."""
    st.session_state[ctl.KEY + "batch_seed"] = (int(st.session_state[ctl.KEY + "batch_seed"]) + 1) % 2**31


def _corpus_inputs(lang: str) -> None:
    choice = st.session_state[ctl.KEY + "corpus"]
    if choice == "paste":
        st.text_area(t("sidebar.paste_corpus", lang), key=wsp.PASTED, height=120)
    elif choice == "upload":
        upload = st.file_uploader(t("sidebar.upload_corpus", lang), type=["txt"], key="corpus_upload")
        if upload is not None:
            try:
                st.session_state[wsp.UPLOADED] = corpus.decode_upload(upload.getvalue())
            except corpus.CorpusError as exc:
                st.error(message(exc, lang))


def _model_inputs(lang: str) -> None:
    k = ctl.KEY
    choice = st.session_state[k + "model"]
    if choice == "bundled":  # a fixed, trained architecture: shown read-only, with the way to change it
        bundled_view.sidebar_config(lang)
        return
    if choice == "loaded":
        upload = st.file_uploader(t("sidebar.upload_checkpoint", lang), type=["safetensors", "pt", "pth"],
                                  key="ckpt_upload")
        if upload is not None and st.session_state.get("_ckpt_upload_id") != upload.file_id:
            error = wsp.load_checkpoint_upload(upload.getvalue(), None, st.session_state[k + "context_length"])
            st.session_state["_ckpt_upload_id"] = upload.file_id
            st.session_state["_ckpt_upload_error"] = error
        if st.session_state.get("_ckpt_upload_error"):
            st.error(st.session_state["_ckpt_upload_error"])
        if wsp.LOADED not in st.session_state:
            st.caption(t("sidebar.no_loaded_model", lang))
    if choice == "trained" and wsp.TRAINED not in st.session_state:
        st.caption(t("sidebar.no_trained_model", lang))
    with st.expander(t("sidebar.hyperparameters", lang), expanded=choice == "fresh"):
        if choice != "fresh":
            st.caption(t("sidebar.hyper_from_model", lang))
        for name, step in (("context_length", 1), ("d_model", 2), ("num_heads", 1), ("num_blocks", 1)):
            lo, hi = walkthrough.CONTROL_RANGES[name]
            st.number_input(name, lo, hi, step=step, key=k + name, help=t("sidebar.help_" + name, lang))
        st.radio(t("sidebar.norm", lang), ("post", "pre"), key=k + "norm", horizontal=True,
                 format_func=lambda s: t("sidebar.norm_" + s, lang), help=t("fixes.help_norm", lang))
        st.selectbox(t("sidebar.vocab", lang), ("compact", "full", "char"), key=k + "vocab",
                     format_func=lambda s: t("sidebar.vocab_" + s, lang), help=t("fixes.help_vocab", lang))
        st.number_input(t("sidebar.seed", lang), 0, 2**31 - 1, key=k + "seed", help=t("fixes.help_seed", lang))
    try:
        ctl.controls().model_config()
    except ValueError as exc:
        st.error(message(exc, lang))


def pages(lang: str) -> dict[str, list]:
    """The page list, grouped, with titles in lang (st.navigation's argument)."""
    def page(path: str, name: str, icon: str, **kw):
        return st.Page(path, title=t(f"nav.{name}", lang), icon=icon, **kw)

    return {
        t("nav.walkthrough", lang): [
            page("pages/home.py", "overview", "🏠", default=True),
            page("pages/tokens.py", "1_text_tokens", "🔤", url_path="tokens"),
            page("pages/embedding.py", "2_embedding_position", "📍", url_path="embedding"),
            page("pages/attention.py", "3_attention", "👀", url_path="attention"),
            page("pages/block.py", "4_residual_layernorm_ffn", "🧱", url_path="block"),
            page("pages/output.py", "5_output", "🎯", url_path="output"),
            st.Page("pages/inside.py", title=t("why.nav", lang), icon="🔬", url_path="inside"),
        ],
        t("nav.teach_explore", lang): [
            page("pages/step.py", "step_through_lecture", "▶️", url_path="step"),
            page("pages/compare.py", "compare_two_models", "⚖️", url_path="compare"),
            page("pages/train.py", "train_live", "📉", url_path="train"),
            page("pages/generate.py", "generate", "✍️", url_path="generate"),
        ],
    }
