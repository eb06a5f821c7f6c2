"""minigpt: see every number a small GPT computes. Run with `streamlit run app.py`.

The entry point draws the shared sidebar (the same on every page), then runs the chosen page.
"""
import streamlit as st

from pages import common
from minigpt import corpus, walkthrough
from minigpt.explain import t

projector = st.query_params.get("view") == "projector"  # a clean view for a lecture-hall screen
st.set_page_config(page_title="minigpt", page_icon="🔎", layout="wide",
                   initial_sidebar_state="collapsed" if projector else "auto")
common.init_controls()
st.session_state["_projector"] = projector
lang = common.lang()


def sidebar() -> None:
    k = common.KEY
    with st.sidebar:
        st.radio(t("language", lang), walkthrough.LANGUAGES, key=k + "lang", horizontal=True,
                 format_func={"en": "English", "zh": "中文"}.get)
        st.subheader(t("input", lang))
        st.radio(t("input", lang), walkthrough.SOURCES, key=k + "source", horizontal=True, label_visibility="collapsed",
                 format_func=lambda s: t("source_" + s, lang))
        if st.session_state[k + "source"] == "text":
            st.text_area(t("your_text", lang), key=k + "text", max_chars=walkthrough.MAX_TEXT_CHARS, height=100)
        else:
            st.slider(t("batch_size", lang), 1, walkthrough.MAX_BATCH_ROWS, key=k + "batch_size")
        st.selectbox(t("corpus", lang), walkthrough.CORPORA, key=k + "corpus", format_func=lambda s: t("corpus_" + s, lang))
        corpus_inputs()
        st.subheader(t("model", lang))
        st.radio(t("model", lang), walkthrough.MODELS, key=k + "model", label_visibility="collapsed",
                 format_func=lambda s: t("model_" + s, lang))
        model_inputs()


def corpus_inputs() -> None:
    choice = st.session_state[common.KEY + "corpus"]
    if choice == "paste":
        st.text_area(t("paste_corpus", lang), key=common.PASTED, height=120)
    elif choice == "upload":
        upload = st.file_uploader(t("upload_corpus", lang), type=["txt"], key="corpus_upload")
        if upload is not None:
            try:
                st.session_state[common.UPLOADED] = corpus.decode_upload(upload.getvalue())
            except corpus.CorpusError as exc:
                st.error(str(exc))


def model_inputs() -> None:
    k = common.KEY
    choice = st.session_state[k + "model"]
    if choice == "loaded":
        upload = st.file_uploader(t("upload_checkpoint", lang), type=["safetensors", "pt", "pth"], key="ckpt_upload")
        if upload is not None and st.session_state.get("_ckpt_upload_id") != upload.file_id:
            error = common.load_checkpoint_upload(upload.getvalue(), None, st.session_state[k + "context_length"])
            st.session_state["_ckpt_upload_id"] = upload.file_id
            st.session_state["_ckpt_upload_error"] = error
        if st.session_state.get("_ckpt_upload_error"):
            st.error(st.session_state["_ckpt_upload_error"])
        if common.LOADED not in st.session_state:
            st.caption(t("no_loaded_model", lang))
    if choice == "trained" and common.TRAINED not in st.session_state:
        st.caption(t("no_trained_model", lang))
    with st.expander(t("hyperparameters", lang), expanded=choice == "fresh"):
        if choice != "fresh":
            st.caption(t("hyper_from_model", lang))
        lo, hi = walkthrough.CONTROL_RANGES["context_length"]
        st.number_input("context_length", lo, hi, key=k + "context_length")
        lo, hi = walkthrough.CONTROL_RANGES["d_model"]
        st.number_input("d_model", lo, hi, step=2, key=k + "d_model")
        lo, hi = walkthrough.CONTROL_RANGES["num_heads"]
        st.number_input("num_heads", lo, hi, key=k + "num_heads")
        lo, hi = walkthrough.CONTROL_RANGES["num_blocks"]
        st.number_input("num_blocks", lo, hi, key=k + "num_blocks")
        st.radio(t("norm", lang), ("post", "pre"), key=k + "norm", horizontal=True,
                 format_func=lambda s: t("norm_" + s, lang))
        st.selectbox(t("vocab", lang), ("compact", "full", "char"), key=k + "vocab",
                     format_func=lambda s: t("vocab_" + s, lang))
        st.number_input(t("seed", lang), 0, 2**31 - 1, key=k + "seed")
    try:
        common.controls().model_config()
    except ValueError as exc:
        st.error(str(exc))


def title(en: str, zh: str) -> str:
    return zh if lang == "zh" else en


PAGES = {
    title("walkthrough", "逐步讲解"): [
        st.Page("pages/home.py", title=title("Overview", "概览"), icon="🏠", default=True),
        st.Page("pages/tokens.py", title=title("1 Text → tokens", "1 文本 → token"), icon="🔤", url_path="tokens"),
        st.Page("pages/embedding.py", title=title("2 Embedding & position", "2 嵌入与位置"), icon="📍",
                url_path="embedding"),
        st.Page("pages/attention.py", title=title("3 Attention", "3 注意力"), icon="👀", url_path="attention"),
        st.Page("pages/block.py", title=title("4 Residual, LayerNorm, FFN", "4 残差、层归一化、前馈网络"), icon="🧱",
                url_path="block"),
        st.Page("pages/output.py", title=title("5 Output", "5 输出"), icon="🎯", url_path="output"),
    ],
    title("teach & explore", "教学与探索"): [
        st.Page("pages/step.py", title=title("Step through (lecture)", "逐步讲解（授课）"), icon="▶️", url_path="step"),
        st.Page("pages/compare.py", title=title("Compare two models", "比较两个模型"), icon="⚖️", url_path="compare"),
        st.Page("pages/train.py", title=title("Train live", "实时训练"), icon="📉", url_path="train"),
        st.Page("pages/generate.py", title=title("Generate", "生成文本"), icon="✍️", url_path="generate"),
    ],
}

if not projector:
    sidebar()
for notice in st.session_state.pop("_url_notices", []):
    st.warning(notice, icon="🔗")
page = st.navigation(PAGES, position="top" if projector else "sidebar")
page.run()
common.sync_url()
