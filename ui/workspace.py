"""What every page shares: the sidebar controls, their URL form, and a cached workspace (corpus,
vocabulary, model, input batch, traces). Pages call `workspace()` and draw; no math happens here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass

import streamlit as st

from minigpt import checkpoint, corpus, figures, jobs, walkthrough
from minigpt.config import ConfigError
from minigpt.corpus import CorpusError
from minigpt.explain import t
from minigpt.model import MiniGPT, Switches
from minigpt.sampling import InputError
from minigpt.stages import Trace
from minigpt.tokenizer import Vocabulary
from minigpt.walkthrough import Controls

try:  # Streamlit internals (pinned 1.67)
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # pragma: no cover
    PagesManager = None


def _leave_legacy_pages_mode() -> None:
    """The first run after `streamlit run` goes through Streamlit's legacy pages/-folder mode (this repo has a
    pages/ folder). There a shared link such as /attention?ctx=32 runs pages/attention.py alone — no sidebar,
    no URL controls — and widgets get other ids than in every later run, so a first change would be lost.
    Switch the mode off (st.navigation does the same, one run too late) and start the run again through app.py,
    before any widget. Every page imports this module first, so whichever page a visitor opens first, it happens.
    """
    if PagesManager is not None and PagesManager.uses_pages_directory and not st.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_pages_mode()
# Bound torch's threads for the whole server from the first page on, not only once someone trains: sessions run
# side by side, and a page's ops are too small to gain from a second thread (the thread hand-off costs more).
jobs.bound_threads()

KEY = "c_"                 # session-state prefix of the sidebar widgets
TRAINED = "trained_checkpoint"   # set by the Train page: a minigpt.checkpoint.Checkpoint (a copy)
LOADED = "loaded_checkpoint"     # set by the sidebar's upload
PASTED = "corpus_pasted_text"
UPLOADED = "corpus_uploaded_text"
PAGE_PARAMS = "_page_params"     # page-level URL parameters registered during this run


# -- controls and the URL ----------------------------------------------------------------------
def init_controls() -> None:
    """Once per browser session: seed every control from the URL (invalid values -> defaults + notice)."""
    if "_controls_ready" in st.session_state:
        # Re-assign each control so its value survives a change of widget id. The first run after the server
        # starts goes through Streamlit's legacy pages/-folder runner, which hashes widget ids differently;
        # without this, the first change a student makes resets every number to its minimum.
        for f in dataclasses.fields(Controls):
            if KEY + f.name in st.session_state:
                st.session_state[KEY + f.name] = st.session_state[KEY + f.name]
        return
    controls, notices = walkthrough.from_query(st.query_params.to_dict())
    for f in dataclasses.fields(Controls):
        st.session_state[KEY + f.name] = getattr(controls, f.name)
    st.session_state["_url_notices"] = notices
    st.session_state["_initial_query"] = st.query_params.to_dict()
    st.session_state["_controls_ready"] = True


def controls() -> Controls:
    values = {f.name: st.session_state.get(KEY + f.name, f.default) for f in dataclasses.fields(Controls)}
    return Controls(**values)


def lang() -> str:
    return st.session_state.get(KEY + "lang", "en")


def page_param(name: str, key: str, allowed, default):
    """A page-level control that lives in the URL too (stage, block, head...). Returns its value.

    The first time a page runs in a session, a valid URL value wins; invalid ones fall back silently
    to the default (the page shows the default, which is what the notice on the sidebar explains).
    """
    if key not in st.session_state or st.session_state[key] not in allowed:
        initial = st.session_state.get("_initial_query", {}).pop(name, None)
        parsed = walkthrough.parse_page_param(initial, allowed)
        st.session_state[key] = parsed if parsed is not None else default
    st.session_state.setdefault(PAGE_PARAMS, {})[name] = key
    return st.session_state[key]


def sync_url() -> None:
    """Write the current controls (and this page's parameters) to the URL, so the link reproduces the view."""
    query = walkthrough.to_query(controls())
    for name, key in st.session_state.pop(PAGE_PARAMS, {}).items():
        if key in st.session_state:
            query[name] = str(st.session_state[key])
    if st.session_state.get("_projector"):
        query["view"] = "projector"
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


# -- cached building blocks (shared by every session: read-only) --------------------------------
def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@st.cache_resource(max_entries=4, show_spinner="Downloading the sales textbook (first time only)...")
def _sales_corpus():
    return corpus.load("sales")


@st.cache_resource(max_entries=32, show_spinner=False)
def _vocabulary(text_key: str, mode: str, _text: str) -> Vocabulary:
    return Vocabulary.from_text(_text, mode)


@st.cache_resource(max_entries=32, show_spinner=False)
def _corpus_rows(text_key: str, vocab_key: str, _text: str, _vocab: Vocabulary):
    import torch

    return torch.tensor(_vocab.rows(_vocab.encode(_text)), dtype=torch.long)


@st.cache_resource(max_entries=16, show_spinner=False)
def _fresh_model(config, vocab_size: int) -> MiniGPT:
    return MiniGPT(config, vocab_size).eval()


@st.cache_resource(max_entries=64, show_spinner=False)
def _trace(model_key: str, input_key: str, switches: Switches, _model: MiniGPT, _rows) -> Trace:
    trace = _model.run_with_trace(_rows, switches)
    trace.cache_key = (model_key, input_key, switches)
    return trace


def current_corpus(c: Controls) -> tuple[corpus.Corpus, str | None]:
    """The corpus the controls name, with a notice (in the chosen language) when it fell back to the built-in one."""
    if c.corpus == "sales":
        found, why = _sales_corpus()
        return found, (t("notice_no_sales", c.lang).format(why=why) if why else None)
    if c.corpus in ("paste", "upload"):
        text = st.session_state.get(PASTED if c.corpus == "paste" else UPLOADED) or ""
        if text.strip():
            return corpus.Corpus("user", "Your text", text), None
        return corpus.builtin(), t("notice_paste_corpus" if c.corpus == "paste" else "notice_upload_corpus", c.lang)
    return corpus.builtin(), None


# -- the workspace every page reads -------------------------------------------------------------
@dataclass
class Workspace:
    controls: Controls
    lang: str
    corpus: corpus.Corpus
    vocab: Vocabulary
    corpus_rows: object          # 1-D LongTensor of the corpus's rows
    model: MiniGPT
    model_key: str
    model_label: str
    walk: walkthrough.WalkInput
    notices: list[str]

    @property
    def config(self):
        return self.model.config

    def trace(self, switches: Switches = Switches()) -> Trace:
        input_key = _text_key(repr(self.walk.rows.tolist()))
        return _trace(self.model_key, input_key, switches, self.model, self.walk.rows)

    def texts(self, row: int = 0) -> list[str]:
        return [self.vocab.text(i) for i in self.walk.token_ids[row]]

    def labels(self, row: int = 0) -> list[str]:
        return figures.token_labels(self.texts(row))


def model_choice(c: Controls, corpus_text: str) -> tuple[MiniGPT, Vocabulary, str, str]:
    """(model, vocabulary, cache key, label) for the model the sidebar selects."""
    if c.model in ("trained", "loaded"):
        ckpt = st.session_state.get(TRAINED if c.model == "trained" else LOADED)
        if ckpt is not None:
            tag = st.session_state.setdefault(f"_{c.model}_tag", uuid.uuid4().hex)
            state = ckpt.train_state if isinstance(ckpt.train_state, dict) else {}
            step = state.get("step", state.get("steps", "?"))  # the Trainer writes "steps"; uploads may say "step"
            label = "trained in this session" if c.model == "trained" else "loaded checkpoint"
            return ckpt.model, ckpt.vocab, f"{c.model}:{tag}:{id(ckpt)}", f"{label} (step {step})"
        # No checkpoint yet: show the fresh model (the sidebar says why). The radio's key cannot be written
        # here: the widget already exists in this run (StreamlitWidgetAlreadyInstantiatedError).
    config = c.model_config()
    vocab = _vocabulary(_text_key(corpus_text), config.vocab, corpus_text)
    model = _fresh_model(config, vocab.size)
    return model, vocab, f"fresh:{config}:{vocab.fingerprint}", f"fresh random weights (seed {config.seed})"


def workspace() -> Workspace:
    """Everything a page needs for the current controls. On bad input: a clear message, then st.stop()."""
    c = controls()
    notices: list[str] = []
    try:
        corp, notice = current_corpus(c)
        if notice:
            notices.append(notice)
        model, vocab, model_key, label = model_choice(c, corp.text)
        rows = _corpus_rows(_text_key(corp.text), vocab.fingerprint, corp.text, vocab)
        walk = walkthrough.make_input(c, vocab, rows, model.config.context_length)
    except (ConfigError, InputError, CorpusError, ValueError) as exc:
        st.error(str(exc), icon="⚠️")
        st.caption(t("fix_in_sidebar", lang()))
        st.stop()
    return Workspace(c, lang(), corp, vocab, rows, model, model_key, label, walk, notices + list(walk.notices))


def show_notices(ws: Workspace) -> None:
    for notice in ws.notices:
        st.info(notice, icon="ℹ️")


def load_checkpoint_upload(data: bytes, num_heads: int, context_length: int) -> str | None:
    """Load an uploaded checkpoint into this session; returns an error message or None."""
    try:
        st.session_state[LOADED] = checkpoint.load_any(data, num_heads=num_heads, context_length=context_length)
    except checkpoint.CheckpointError as exc:
        return str(exc)
    st.session_state.pop("_loaded_tag", None)
    return None
