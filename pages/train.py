"""Train live: start, pause, resume and stop a background training job and watch it learn.

The job runs in a daemon thread (minigpt.jobs); this page never trains. It reads `job.snapshot()`
inside a fragment that reruns once a second while the job is active. One job per browser session:
its slot is a session-scoped cache_resource whose release (tab closed) stops the job and frees it.
"""
import math
import uuid

import streamlit as st

from ui import controls, workspace as wsp
from minigpt import checkpoint, devices, jobs, presets
from minigpt.analysis import default_prompt, estimated_seconds
from minigpt.config import ConfigError, TrainConfig, parameter_count
from minigpt.corpus import CorpusError
from minigpt.text import message, t
from minigpt.sampling import InputError
from minigpt.views import export, training
from minigpt.views.labels import duration

CUSTOM = "custom"
KNOBS = ("steps", "learning_rate", "batch_size", "eval_interval", "warmup_steps", "lr_schedule", "device")
SAVED = "_train_knobs"   # knob values kept while the page is not shown (widget keys are dropped then)
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
def _knob_defaults(preset_name: str) -> dict:
    config = presets.get(preset_name).train if preset_name != CUSTOM else presets.get("lecture").train
    return {name: getattr(config, name) for name in KNOBS[:-1]} | {"device": "auto"}


def _apply_preset() -> None:
    st.session_state[SAVED] = _knob_defaults(st.session_state["train_preset"])
    for name, value in st.session_state[SAVED].items():
        st.session_state["train_" + name] = value


def _restore_knobs() -> None:
    st.session_state.setdefault("train_preset", "lecture")
    saved = st.session_state.setdefault(SAVED, _knob_defaults(st.session_state["train_preset"]))
    if job is not None and active:  # the widgets show what the running job uses
        saved.update({name: getattr(job.train_config, name) for name in KNOBS})
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
    cols = st.columns(3)
    cols[0].number_input(t("train.warmup_steps", lang), 0, 10_000, key="train_warmup_steps", disabled=active)
    cols[1].radio(t("train.lr_schedule", lang), ("constant", "cosine"), key="train_lr_schedule", horizontal=True,
                  format_func=lambda s: t("train.schedule_" + s, lang), disabled=active)
    cols[2].selectbox(t("train.device", lang), ["auto"] + devices.available(), key="train_device", disabled=active)
    st.session_state[SAVED] = {name: st.session_state["train_" + name] for name in KNOBS}

    name = st.session_state["train_preset"]
    base = presets.get(name if name != CUSTOM else "lecture").train
    model_config = ws.controls.model_config() if name == CUSTOM else presets.get(name).model
    knobs = {k: st.session_state["train_" + k] for k in KNOBS}
    knobs["learning_rate"] = float(knobs["learning_rate"])
    train_config = TrainConfig(**(base.to_dict() | knobs))
    text = ws.corpus.text
    vocab = wsp.vocabulary(text, model_config.vocab)
    return model_config, train_config, vocab


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


def controls_ui(p) -> None:
    cols = st.columns([1, 1, 1, 4])
    if p.status == jobs.PAUSED:
        cols[0].button(t("train.resume", lang), key="train_resume", on_click=_resume, type="primary", icon="▶️")
    else:
        cols[0].button(t("train.pause", lang), key="train_pause", on_click=_pause, disabled=not p.active, icon="⏸️")
    cols[1].button(t("train.stop", lang), key="train_stop", on_click=_stop, disabled=not p.active, icon="⏹️")
    if p.active:
        cols[3].caption(t("train.other_pages", lang))


def progress_ui(j, p) -> None:
    status = t("train.status_" + p.status, lang)
    st.progress(min(1.0, p.fraction), text=t("train.progress_line", lang).format(step=p.step, total=p.total,
                                                                               status=status))
    latest = p.latest_eval
    cols = st.columns(5)
    cols[0].metric(t("train.tokens_per_s", lang), f"{p.tokens_per_s:,.0f}")
    cols[1].metric(t("train.elapsed", lang), duration(p.elapsed_s))
    cols[2].metric(t("train.time_left", lang), duration(p.eta_s) if p.active else "–")
    cols[3].metric(t("ui.train loss", lang), f"{latest.train_loss:.3f}" if latest else "–")
    cols[4].metric(t("train.val_loss", lang), f"{latest.val_loss:.3f}" if latest else "–",
                   delta=f"{latest.val_loss - p.evals[0].val_loss:+.3f}" if latest and len(p.evals) > 1 else None,
                   delta_color="inverse")
    if p.failure:
        st.error(message(p.failure, lang) + " " + t("train.diverged_tip", lang))


def loss_ui(j, p) -> None:
    by_tokens = st.radio(t("train.loss_axis", lang), ("step", "tokens"), key="train_x_axis", horizontal=True,
                         format_func=lambda s: t("train.x_" + s, lang)) == "tokens"
    per_step = j.train_config.batch_size * j.model_config.context_length
    fig = training.loss_curves(p.loss_steps, p.losses, p.evals, tokens_per_step=per_step if by_tokens else None,
                               uniform_loss=math.log(j.vocab.size), lang=lang)
    st.plotly_chart(fig, key="train_loss_chart", config=export.plotly_config("minigpt-loss"))


def sample_ui(j, p) -> None:
    st.subheader(t("train.sample_title", lang))
    if p.sample is None:
        st.caption(t("train.no_sample", lang).format(every=max(10, j.train_config.steps // 10)))
        return
    st.caption(t("train.sample_caption", lang).format(step=p.sample.step, prompt=p.sample.prompt))
    st.code(p.sample.prompt + p.sample.text, language=None, wrap_lines=True)


def attention_ui(j, p) -> None:
    st.subheader(t("train.watch_attention", lang))
    st.caption(t("train.watch_caption", lang))
    if not p.attention:
        return
    for key, count in (("train_att_block", j.model_config.num_blocks), ("train_att_head", j.model_config.num_heads)):
        if st.session_state.get(key, 0) >= count:
            st.session_state[key] = 0  # a new run with fewer blocks or heads
    cols = st.columns([1, 1, 4])
    block = cols[0].selectbox(t("train.block", lang), range(j.model_config.num_blocks), key="train_att_block")
    head = cols[1].selectbox(t("train.head", lang), range(j.model_config.num_heads), key="train_att_head")
    steps = [s.step for s in p.attention]
    # Follow the newest snapshot while training, or scrub: a slider whose options grow every second would
    # fight the person dragging it, so it appears only when following is switched off.
    follow = cols[2].toggle(t("train.follow_newest", lang), value=True, key="train_att_follow")
    chosen = p.attention[-1]
    if not follow and len(steps) > 1:
        if st.session_state.get("train_att_step") not in steps:
            st.session_state["train_att_step"] = steps[-1]
        with cols[2]:
            picked = st.select_slider(t("train.snapshot", lang), steps, key="train_att_step")
        chosen = p.attention[steps.index(picked)]
    fig = training.attention_snapshot(chosen, p.attention_tokens, block=block, head=head, lang=lang)
    left, _ = st.columns([3, 2]) if len(p.attention_tokens) <= 24 else (st.container(), None)  # colour bar nearby
    left.plotly_chart(fig, key="train_att_chart", config=export.plotly_config("minigpt-attention"))


def live(job_id: int, was_active: bool) -> None:
    j = manager().get(slot.id)
    if j is None or j.id != job_id:
        st.rerun()
    p = j.snapshot()
    controls_ui(p)
    progress_ui(j, p)
    left, right = st.columns([3, 2])
    with left:
        loss_ui(j, p)
    with right:
        sample_ui(j, p)
    attention_ui(j, p)
    if was_active and not p.active:
        st.rerun()  # the whole page: hand the model over and stop the timer


# -- the trained model ------------------------------------------------------------------------------
def _open_walkthrough() -> None:
    controls.set_model("trained")  # before the sidebar's radio exists in the next run
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
    st.success(t("train.trained_ready", lang).format(step=step), icon="✅")
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
st.write(t("chapter.train", lang))
wsp.show_notices(ws)

with st.container(border=True):
    st.subheader(t("train.settings", lang))
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
    if st.button(label, key="train_start", type="primary", disabled=active or not ready, icon="🚀"):
        start(model_config, train_config, vocab)
    if st.session_state.get("_train_error"):
        st.error(st.session_state["_train_error"], icon="⛔")

if job is not None:
    if not active:
        hand_over(job, progress)
    trained_ui()  # above the figures: in view the moment training stops
    st.fragment(live, run_every=REFRESH_S if active else None)(job.id, active)
upload_ui()
