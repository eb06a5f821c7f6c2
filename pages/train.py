"""Train live: start, pause, resume and stop a background training job and watch it learn.

The job runs in a daemon thread (minigpt.jobs); this page never trains. It reads `job.snapshot()`
inside a fragment that reruns once a second while the job is active. One job per browser session:
its slot is a session-scoped cache_resource whose release (tab closed) stops the job and frees it.

Layout: once a run exists, the live view comes first (progress, the loss curves beside the attention snapshot,
the overfitting notice, the numbers, then more: ui/train_view.py, LIVE_SECTIONS), the settings folded below.

One source of hyperparameters, the sidebar: Start with a preset first copies the preset's architecture into the
sidebar's hyperparameters (the page lists what changed); "custom" trains the sidebar's as they are. Either way
the sidebar shows what was trained, and "Look at it" switches the sidebar's model to it.
"""
import dataclasses
import uuid

import streamlit as st

from ui import controls, train_view, workspace as wsp
from minigpt import checkpoint, devices, jobs, presets
from minigpt.analysis import default_prompt, estimated_seconds
from minigpt.config import ConfigError, TrainConfig, parameter_count
from minigpt.corpus import CorpusError
from minigpt.text import message, t
from minigpt.sampling import InputError
from minigpt.views.labels import duration

CUSTOM = "custom"
KNOBS = ("steps", "learning_rate", "batch_size", "eval_interval", "warmup_steps", "lr_schedule", "device", "dropout")
SAVED = "_train_knobs"   # knob values kept while the page is not shown (widget keys are dropped then)
START = "_trainlive_start"      # Start was clicked: the callback set the sidebar, this run starts the job
CHANGED = "_trainlive_changed"  # (job id or None, [(field, old, new)]): what Start changed in the sidebar
REFRESH_S = 1.0


class SessionSlot:
    """This browser session's id with the job manager; released (job stopped, memory freed) when the session ends."""

    def __init__(self):
        self.id = uuid.uuid4().hex

    def release(self) -> None:
        manager().release(self.id, wait=2.0)


@st.cache_resource(show_spinner=False)
def manager() -> jobs.JobManager:
    return jobs.default_manager()


@st.cache_resource(scope="session", on_release=lambda slot: slot.release(), show_spinner=False)
def session_slot() -> SessionSlot:
    return SessionSlot()


ws = wsp.workspace()
lang = ws.lang
slot = session_slot()
job = manager().get(slot.id)
progress = job.snapshot() if job is not None else None
active = progress is not None and progress.active


# -- settings ---------------------------------------------------------------------------------------
def _base(preset_name: str) -> presets.Preset:
    return presets.get(preset_name if preset_name != CUSTOM else "lecture")


def _knob_defaults(preset_name: str) -> dict:
    p = _base(preset_name)
    return {name: getattr(p.train, name) for name in KNOBS[:-2]} | {"device": "auto", "dropout": p.model.dropout}


def _default_preset() -> str:
    return "offline" if ws.corpus.name == "builtin" else "lecture"  # offline: one that does not overfit the primer


def _apply_preset() -> None:
    st.session_state[SAVED] = _knob_defaults(st.session_state["train_preset"])
    for name, value in st.session_state[SAVED].items():
        st.session_state["train_" + name] = value


def _restore_knobs() -> None:
    st.session_state.setdefault("train_preset", _default_preset())
    saved = st.session_state.setdefault(SAVED, _knob_defaults(st.session_state["train_preset"]))
    saved.setdefault("dropout", _base(st.session_state["train_preset"]).model.dropout)
    if job is not None and active:  # the widgets show what the running job uses
        saved.update({name: getattr(job.train_config, name) for name in KNOBS[:-1]}, dropout=job.model_config.dropout)
    for name, value in saved.items():
        if "train_" + name not in st.session_state or active:
            st.session_state["train_" + name] = value


def settings_ui():
    """Preset and knobs; returns (model_config, train_config, vocab) or raises ConfigError/CorpusError."""
    _restore_knobs()
    names = presets.names() + [CUSTOM]
    st.selectbox(t("train.preset", lang), names, key="train_preset", on_change=_apply_preset, disabled=active,
                 format_func=lambda n: f"{n} — {presets.get(n).description(lang)}" if n != CUSTOM
                 else t("train.preset_custom", lang))
    if st.session_state["train_preset"] == CUSTOM:
        st.caption(t("train.custom_help", lang))
    cols = st.columns(4)
    cols[0].number_input(t("train.steps", lang), 1, manager().max_steps, key="train_steps", disabled=active)
    cols[1].number_input(t("train.learning_rate", lang), 1e-5, 1.0, key="train_learning_rate", step=5e-4,
                         format="%.4f", disabled=active)
    cols[2].number_input(t("train.batch_size", lang), 1, 256, key="train_batch_size", disabled=active)
    cols[3].number_input(t("train.eval_interval", lang), 1, 10_000, key="train_eval_interval", disabled=active)
    cols = st.columns(4)
    cols[0].number_input(t("train.warmup_steps", lang), 0, 10_000, key="train_warmup_steps", disabled=active)
    cols[1].radio(t("train.lr_schedule", lang), ("constant", "cosine"), key="train_lr_schedule", horizontal=True,
                  format_func=lambda s: t("train.schedule_" + s, lang), disabled=active)
    cols[2].selectbox(t("train.device", lang), ["auto"] + devices.available(), key="train_device", disabled=active)
    cols[3].number_input(t("trainlive.dropout", lang), 0.0, 0.9, key="train_dropout", step=0.05, format="%.2f",
                         disabled=active, help=t("trainlive.dropout_help", lang))
    st.session_state[SAVED] = {name: st.session_state["train_" + name] for name in KNOBS}

    name = st.session_state["train_preset"]
    knobs = {k: st.session_state["train_" + k] for k in KNOBS[:-1]}
    knobs["learning_rate"] = float(knobs["learning_rate"])
    train_config = TrainConfig(**(_base(name).train.to_dict() | knobs))
    model_config = dataclasses.replace(_planned_model(name), dropout=float(st.session_state["train_dropout"]))
    text = ws.corpus.text
    vocab = wsp.vocabulary(text, model_config.vocab)
    return model_config, train_config, vocab


def _planned_model(name: str):
    """The architecture Start trains: the preset's (copied into the sidebar on Start), or the sidebar's (custom)."""
    return ws.controls.model_config() if name == CUSTOM else presets.get(name).model


def _request_start() -> None:
    """Start's callback, before this run draws the sidebar: a preset's architecture goes into the sidebar's
    hyperparameters (so the sidebar shows what is trained); the page body then starts the job."""
    name = st.session_state.get("train_preset", CUSTOM)
    changed = _sidebar_changes(controls.controls(), None if name == CUSTOM else presets.get(name).model)
    for field, _, new in changed:
        st.session_state[controls.KEY + field] = new
    st.session_state[CHANGED] = (None, changed)
    st.session_state[START] = True


def _sidebar_changes(shown, config) -> list:
    """What Start changes in the sidebar: a preset's architecture (config None: the sidebar's own, custom), and
    the model choice, to fresh weights: the hyperparameters are on screen only then (the bundled and a loaded
    model show their own; a trained one is replaced when this run ends), and those weights are where it starts."""
    fields = presets.sidebar_changes(shown, config) if config is not None else []
    return fields + ([("model", shown.model, "fresh")] if shown.model != "fresh" else [])


def summary_ui(model_config, train_config, vocab) -> None:
    cols = st.columns(4)
    cols[0].metric(t("train.parameters", lang), f"{parameter_count(model_config, vocab.size):,}")
    cols[1].metric(t("train.tokens_per_step", lang), f"{train_config.batch_size * model_config.context_length:,}")
    cols[2].metric(t("train.expected_time", lang), "≈ " + duration(estimated_seconds(model_config, train_config,
                                                                                     vocab.size)),
                   help=t("train.expected_help", lang))
    cols[3].metric("d_model × heads × blocks",
                   f"{model_config.d_model} × {model_config.num_heads} × {model_config.num_blocks}")
    rows = wsp.corpus_rows(ws.corpus.text, vocab)
    st.caption(t("train.corpus_line", lang).format(title=ws.corpus_title, tokens=len(rows), rows=vocab.size,
                                                 vocab=model_config.vocab))
    changed = _sidebar_changes(ws.controls, model_config)
    note = (t("trainlive.copies_sidebar", lang, changes=train_view.changes_text(changed, lang)) if changed
            else t("trainlive.sidebar_matches", lang))
    st.caption(train_view.model_line(model_config, lang) + " — " + note)


def start(model_config, train_config, vocab) -> None:
    text = ws.corpus.text
    rows = wsp.corpus_rows(text, vocab)
    attention_text = ws.controls.text if ws.controls.source == "text" and ws.controls.text.strip() else None
    options = dict(sample_every=max(10, train_config.steps // 10), sample_prompt=default_prompt(text),
                   attention_every=max(1, train_config.steps // 40))
    try:
        try:
            manager().start(slot.id, model_config, train_config, rows, vocab, attention_text=attention_text, **options)
        except ConfigError:
            if attention_text is None:
                raise
            manager().start(slot.id, model_config, train_config, rows, vocab, **options)  # sidebar text unusable
    except (jobs.JobRefused, ConfigError, CorpusError, InputError, ValueError) as exc:
        st.session_state["_train_error"] = message(exc, lang)
        return
    st.session_state.pop("_train_error", None)
    changed = st.session_state.get(CHANGED, (None, []))[1]
    st.session_state[CHANGED] = (manager().get(slot.id).id, changed)
    st.rerun()


# -- live view --------------------------------------------------------------------------------------
def _pause():
    if (j := manager().get(slot.id)) is not None:
        j.pause()


def _resume():
    if (j := manager().get(slot.id)) is not None:
        j.resume()


def _stop():
    if (j := manager().get(slot.id)) is not None:
        j.stop(wait=5.0)


def live(job_id: int, was_active: bool) -> None:
    j = manager().get(slot.id)
    if j is None or j.id != job_id:
        st.rerun()
    p = j.snapshot()
    train_view.live_view(j, p, ws, on_pause=_pause, on_resume=_resume, on_stop=_stop,
                         changed=st.session_state.get(CHANGED, (None, [])))
    if was_active and not p.active:
        st.rerun()  # the whole page: hand the model over and stop the timer


# -- the trained model ------------------------------------------------------------------------------
def _open_walkthrough() -> None:
    """The sidebar's model becomes the trained one, its hyperparameters that model's (a callback: before the
    sidebar's widgets exist in the next run), and the Attention chapter opens."""
    controls.set_model("trained")
    ckpt = st.session_state.get(wsp.TRAINED)
    if ckpt is not None:
        for field in presets.SIDEBAR_FIELDS:
            st.session_state[controls.KEY + field] = getattr(ckpt.config, field)
    st.session_state["_goto_attention"] = True


def _use_loaded() -> None:
    controls.set_model("loaded")


def hand_over(j, p) -> None:
    """Once per finished/stopped job: its weights become the session's trained model."""
    if st.session_state.get("_trained_job") != j.id and p.step > 0:
        ckpt = j.result()
        st.session_state[wsp.TRAINED] = ckpt
        st.session_state["_trained_job"] = j.id
        st.session_state.pop("_trained_bytes", None)
        st.session_state.pop("_trained_tag", None)


def trained_ui() -> None:
    ckpt = st.session_state.get(wsp.TRAINED)
    if ckpt is None or st.session_state.get("_trained_job") is None:
        return
    step = ckpt.steps or 0
    if ws.controls.model == "trained":
        st.success(t("trainlive.trained_ready_shown", lang, step=step), icon="✅")
    else:
        st.success(t("trainlive.trained_ready_fresh", lang, step=step, label=ws.model_label), icon="✅")
    cols = st.columns(2)
    cols[0].button(t("train.open_walkthrough", lang), key="train_open_walkthrough", on_click=_open_walkthrough,
                   type="primary", icon="👀")
    cached = st.session_state.get("_trained_bytes")
    if cached is None or cached[0] != id(ckpt):
        cached = (id(ckpt), checkpoint.to_bytes(ckpt.model, ckpt.vocab, ckpt.train_state))
        st.session_state["_trained_bytes"] = cached
    cols[1].download_button(t("train.download", lang), cached[1], file_name=f"minigpt-step{step}.safetensors",
                            mime="application/octet-stream", key="train_download", icon="💾")


def upload_ui() -> None:
    with st.expander(t("train.upload_title", lang)):
        upload = st.file_uploader(t("train.upload_label", lang), type=["safetensors", "pt", "pth"], key="train_upload")
        if upload is not None and st.session_state.get("_train_upload_id") != upload.file_id:
            st.session_state["_train_upload_id"] = upload.file_id
            st.session_state["_train_upload_error"] = wsp.load_checkpoint_upload(
                upload.getvalue(), None, ws.controls.context_length)
        if upload is None:
            return
        if st.session_state.get("_train_upload_error"):
            st.error(st.session_state["_train_upload_error"])
        elif wsp.LOADED in st.session_state:
            c = st.session_state[wsp.LOADED].config
            desc = f"{c.num_blocks} × {c.d_model} d_model, {c.num_heads} heads, {c.vocab} vocabulary"
            st.success(t("train.upload_ok", lang).format(desc=desc))
            st.button(t("train.use_loaded", lang), key="train_use_loaded", on_click=_use_loaded)


# -- the page ---------------------------------------------------------------------------------------
if st.session_state.pop("_goto_attention", False):
    st.switch_page("pages/attention.py")

st.title(t("train.train_title", lang))
if job is None:
    st.write(t("chapter.train", lang))
wsp.show_notices(ws)


def settings_section() -> None:
    if active:
        st.caption(t("train.busy_settings", lang))
    try:
        model_config, train_config, vocab = settings_ui()
        summary_ui(model_config, train_config, vocab)
        ready = True
    except (ConfigError, CorpusError, ValueError) as exc:
        st.error(message(exc, lang), icon="⚠️")
        ready = False
    label = t("train.start" if job is None else "train.restart", lang)
    st.button(label, key="train_start", type="primary", disabled=active or not ready, icon="🚀", on_click=_request_start)
    if st.session_state.pop(START, False) and ready and not active:
        start(model_config, train_config, vocab)
    if st.session_state.get("_train_error"):
        st.error(st.session_state["_train_error"], icon="⛔")


if job is None:  # nothing to watch yet: the settings first
    with st.container(border=True):
        st.subheader(t("train.settings", lang))
        settings_section()
else:  # a run to watch: its figures at the top, the settings folded under them
    if not active:
        hand_over(job, progress)
        trained_ui()  # above the figures: in view the moment training stops
    st.fragment(live, run_every=REFRESH_S if active else None)(job.id, active)
    with st.expander(t("trainlive.settings_folded", lang), expanded=bool(st.session_state.get("_train_error"))):
        settings_section()
upload_ui()
