"""The workspace every page reads: corpus, vocabulary, model, input batch and traces for the current controls,
built from caches shared by every session (read-only objects). Pages call `workspace()` and draw; no math here.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

import streamlit as st

from minigpt import bundled, checkpoint, corpus, explain, typed, walkthrough
from minigpt.config import ConfigError
from minigpt.corpus import CorpusError
from minigpt.model import MiniGPT, Switches
from minigpt.sampling import InputError
from minigpt.stages import Trace
from minigpt.text import message, t
from minigpt.tokenizer import Vocabulary
from minigpt.views.labels import id_labels
from minigpt.walkthrough import Controls

from .controls import controls, lang

TRAINED = "trained_checkpoint"   # set by the Train page: a minigpt.checkpoint.Checkpoint (a copy)
LOADED = "loaded_checkpoint"     # set by the sidebar's upload
PASTED = "corpus_pasted_text"
UPLOADED = "corpus_uploaded_text"
MODEL_KINDS = ("bundled", "fresh", "trained", "loaded")
CHECKPOINTS = {"trained": TRAINED, "loaded": LOADED}  # model kind -> the session-state key of its checkpoint


# -- cached building blocks (shared by every session: read-only) --------------------------------
def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@st.cache_resource(max_entries=4, show_spinner="Downloading the sales textbook (first time only)...")
def _sales_corpus():
    return corpus.load("sales")


@st.cache_resource(max_entries=1, show_spinner=False)
def _bundled() -> tuple[checkpoint.Checkpoint | None, checkpoint.CheckpointError | None]:
    """The bundled model, read once per server (read-only, shared by every session), or why it could not be."""
    try:
        return bundled.load(), None
    except checkpoint.CheckpointError as exc:
        return None, exc


def bundled_checkpoint() -> checkpoint.Checkpoint | None:
    return _bundled()[0]


@st.cache_resource(max_entries=32, show_spinner=False)
def _vocabulary(key: str, mode: str, _text: str) -> Vocabulary:
    return Vocabulary.from_text(_text, mode)


@st.cache_resource(max_entries=32, show_spinner=False)
def _corpus_rows(key: str, vocab_key: str, _text: str, _vocab: Vocabulary):
    return corpus.encode_rows(_text, _vocab)


@st.cache_resource(max_entries=16, show_spinner=False)
def _fresh_model(config, vocab_size: int) -> MiniGPT:
    return MiniGPT(config, vocab_size).eval()


@st.cache_resource(max_entries=16, show_spinner=False)
def _typed_model(config, vocab_key: str, _vocab: Vocabulary) -> MiniGPT:
    return typed.with_typed_rows(_fresh_model(config, _vocab.base.size), _vocab)


@st.cache_resource(max_entries=64, show_spinner=False)
def _trace(model_key: str, input_key: str, switches: Switches, _model: MiniGPT, _rows) -> Trace:
    trace = _model.run_with_trace(_rows, switches)
    trace.cache_key = (model_key, input_key, switches)
    return trace


def vocabulary(text: str, mode: str) -> Vocabulary:
    return _vocabulary(text_key(text), mode, text)


def corpus_rows(text: str, vocab: Vocabulary):
    """The corpus as a 1-D LongTensor of the vocabulary's rows (cached per text and vocabulary)."""
    return _corpus_rows(text_key(text), vocab.fingerprint, text, vocab)


def fresh_model(config, vocab: Vocabulary) -> tuple[MiniGPT, str]:
    """Fresh random weights for config (its seed) and the cache key that names them; a vocabulary extended by a
    typed text (minigpt.typed) gets the same weights plus a row for each typed token."""
    model = _typed_model(config, vocab.fingerprint, vocab) if vocab.typed else _fresh_model(config, vocab.size)
    return model, f"fresh:{config}:{vocab.fingerprint}"


def fresh_for_text(config, corpus_text: str, c: Controls) -> tuple[MiniGPT, Vocabulary, str]:
    """A fresh model for the corpus, with a row of its own for every token of the typed text (when the input is
    the text): fresh weights have no reason to read an unseen token through `<unk>`."""
    vocab = vocabulary(corpus_text, config.vocab)
    if c.source == "text":
        vocab = typed.for_text(vocab, c.text[-walkthrough.MAX_TEXT_CHARS:], config.context_length)
    model, key = fresh_model(config, vocab)
    return model, vocab, key


def trace_of(model: MiniGPT, model_key: str, rows, switches: Switches = Switches()) -> Trace:
    return _trace(model_key, text_key(repr(rows.tolist())), switches, model, rows)


def current_corpus(c: Controls) -> tuple[corpus.Corpus, str | None]:
    """The corpus the controls name, with a notice (in the chosen language) when it fell back to the built-in one."""
    if c.corpus == "sales":
        found, why = _sales_corpus()
        return found, (message(why, c.lang) if why else None)
    if c.corpus in ("paste", "upload"):
        text = st.session_state.get(PASTED if c.corpus == "paste" else UPLOADED) or ""
        if text.strip():
            return corpus.Corpus("user", "Your text", text), None
        return corpus.builtin(), t(f"sidebar.notice_{c.corpus}_corpus", c.lang)
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
    model_kind: str              # one of MODEL_KINDS: what the model on screen is
    model_step: int | None       # training steps behind a trained or loaded model
    walk: walkthrough.WalkInput
    notices: list[str]
    train_state: dict = field(default_factory=dict)  # the checkpoint's train state (steps, evals...); {} if fresh

    @property
    def config(self):
        return self.model.config

    @property
    def model_label(self) -> str:
        known = self.model_kind == "fresh" or self.model_step is not None  # a tutorial .pt says nothing of its steps
        key = f"sidebar.label_{self.model_kind}" + ("" if known else "_no_steps")
        return t(key, self.lang, seed=self.config.seed, step=self.model_step)

    @property
    def model_val_loss(self) -> float | None:
        """The last validation loss the model's train state records (no recomputation), or None."""
        return explain.val_loss_of(self.train_state)

    @property
    def model_banner(self) -> str:
        """"This page shows ...": which model is on screen, in the page's language."""
        return explain.banner(self.model_kind, self.lang, seed=self.config.seed, step=self.model_step,
                              val_loss=self.model_val_loss)

    @property
    def corpus_title(self) -> str:
        return t(f"sidebar.corpus_title_{self.corpus.name}", self.lang)

    def trace(self, switches: Switches = Switches()) -> Trace:
        return trace_of(self.model, self.model_key, self.walk.rows, switches)

    def untrained(self) -> tuple[MiniGPT, str]:
        """The current model's untrained twin: its architecture and seed at step 0 (for a trained model, exactly
        the weights training started from: the Trainer builds its model the same way)."""
        if self.model_kind == "fresh":
            return self.model, self.model_key
        return fresh_model(self.config, self.vocab)

    def untrained_trace(self, switches: Switches = Switches()) -> Trace:
        return trace_of(*self.untrained(), self.walk.rows, switches)

    def texts(self, row: int = 0) -> list[str]:
        return [self.vocab.text(i) for i in self.walk.token_ids[row]]

    def labels(self, row: int = 0) -> list[str]:
        """Axis labels: "3 ␣the", and "10 🤖 byte 3/4" for a piece of a character split across tokens."""
        return id_labels(self.walk.token_ids[row], self.vocab.mode, self.lang)


def model_choice(c: Controls, corpus_text: str) -> tuple[MiniGPT, Vocabulary, str, str, int | None]:
    """(model, vocabulary, cache key, kind, steps) for the model the sidebar selects."""
    if c.model == "bundled":
        ckpt = bundled_checkpoint()
        if ckpt is not None:
            return ckpt.model, ckpt.vocab, "bundled", "bundled", ckpt.steps
        # A missing file (a broken install): fresh weights; the sidebar says why.
    if c.model in ("trained", "loaded"):
        ckpt = st.session_state.get(TRAINED if c.model == "trained" else LOADED)
        if ckpt is not None:
            tag = st.session_state.setdefault(f"_{c.model}_tag", uuid.uuid4().hex)
            return ckpt.model, ckpt.vocab, f"{c.model}:{tag}:{id(ckpt)}", c.model, ckpt.steps
        # No checkpoint yet: show the fresh model (the sidebar says why). The radio's key cannot be written
        # here: the widget already exists in this run (StreamlitWidgetAlreadyInstantiatedError).
    model, vocab, key = fresh_for_text(c.model_config(), corpus_text, c)
    return model, vocab, key, "fresh", None


def workspace() -> Workspace:
    """Everything a page needs for the current controls. On bad input: a clear message, then st.stop()."""
    c = controls()
    notices: list[str] = []
    try:
        corp, notice = current_corpus(c)
        if notice:
            notices.append(notice)
        model, vocab, model_key, kind, steps = model_choice(c, corp.text)
        rows = corpus_rows(corp.text, vocab.base)  # typed rows sit after the corpus's: the same numbers
        walk = walkthrough.make_input(c, vocab, rows, model.config.context_length,
                                      unknown_key="bundled.unknown" if kind == "bundled" else "input.unknown")
    except (ConfigError, InputError, CorpusError, ValueError) as exc:
        st.error(message(exc, lang()), icon="⚠️")
        st.caption(t("sidebar.fix_in_sidebar", lang()))
        st.stop()
    ckpt = st.session_state.get(CHECKPOINTS[kind]) if kind in CHECKPOINTS else None
    if kind == "bundled":
        ckpt = bundled_checkpoint()
    return Workspace(c, lang(), corp, vocab, rows, model, model_key, kind, steps, walk, notices + list(walk.notices),
                     train_state=ckpt.train_state if ckpt is not None and isinstance(ckpt.train_state, dict) else {})


def show_notices(ws: Workspace) -> None:
    for notice in ws.notices:
        st.info(notice, icon="ℹ️")


def load_checkpoint_upload(data: bytes, num_heads: int | None, context_length: int) -> str | None:
    """Load an uploaded checkpoint into this session; returns an error message (user's language) or None."""
    try:
        st.session_state[LOADED] = checkpoint.load_any(data, num_heads=num_heads, context_length=context_length)
    except checkpoint.CheckpointError as exc:
        return message(exc, lang())
    st.session_state.pop("_loaded_tag", None)
    return None
