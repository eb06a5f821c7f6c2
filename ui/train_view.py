"""The Train page's live view, drawn inside its fragment from one `job.snapshot()`: Pause / Stop beside the
progress bar, which model trains, the overfitting notice (minigpt.overfitting), the loss curves beside the
attention snapshot (both at the top: visible without scrolling while a run goes on), the numbers (deltas against
the best evaluation), then LIVE_SECTIONS. No training and no math here: the job and minigpt compute."""
from __future__ import annotations

import math

import streamlit as st

from minigpt import jobs, overfitting, presets
from minigpt.config import parameter_count
from minigpt.text import message, t
from minigpt.views import export, training
from minigpt.views.labels import duration

from . import projector, why_train, workspace as wsp

FIGURE_HEIGHT = 420  # both figures side by side, under the progress bar, fit a 1000 px tall laptop screen
PROJECTOR_HEIGHT, PROJECTOR_FONT = 500, 20  # and a 1080 px tall projector, with every figure font >= 18 px


def _height() -> int:
    return PROJECTOR_HEIGHT if projector.is_on() else FIGURE_HEIGHT


def _plot(fig, key: str, stem: str) -> None:
    """Fonts a lecture hall can read in projector mode (the figure itself is shared: only this copy changes)."""
    if projector.is_on():
        fig.update_layout(font_size=PROJECTOR_FONT, legend_font_size=PROJECTOR_FONT - 2, title_font_size=PROJECTOR_FONT + 2)
        fig.update_annotations(font_size=PROJECTOR_FONT - 2)
        fig.update_xaxes(tickfont_size=PROJECTOR_FONT - 2)
        fig.update_yaxes(tickfont_size=PROJECTOR_FONT - 2)
        fig.update_traces(selector=dict(type="heatmap"), colorbar_tickfont_size=PROJECTOR_FONT - 2)
    st.plotly_chart(fig, key=key, config=export.plotly_config(stem))


def model_line(config, lang: str) -> str:
    return t("trainlive.model_line", lang, ctx=config.context_length, d=config.d_model, heads=config.num_heads,
             blocks=config.num_blocks, norm=config.norm, vocab=config.vocab, seed=config.seed,
             dropout=f"{config.dropout:g}")


def changes_text(changed, lang: str) -> str:
    """[(field, old, new)] (minigpt.presets.sidebar_changes) as "num_blocks 1 → 2, norm post → pre": the names the
    sidebar's inputs carry; the model choice by its sidebar label ("Model: Bundled model → Fresh random weights")."""
    def one(field, old, new) -> str:
        if field == "model":
            return t("trainlive.model_change", lang, label=t("sidebar.model", lang), old=t("sidebar.model_" + old, lang),
                     new=t("sidebar.model_" + new, lang))
        return f"{field} {old} → {new}"
    return ", ".join(one(*change) for change in changed)


def controls_ui(p, lang: str, on_pause, on_resume, on_stop) -> None:
    """Pause / Resume and Stop beside the progress bar: one row."""
    cols = st.columns([1, 1, 6], vertical_alignment="center")
    if p.status == jobs.PAUSED:
        cols[0].button(t("train.resume", lang), key="train_resume", on_click=on_resume, type="primary", icon="▶️")
    else:
        cols[0].button(t("train.pause", lang), key="train_pause", on_click=on_pause, disabled=not p.active,
                       icon="⏸️")
    cols[1].button(t("train.stop", lang), key="train_stop", on_click=on_stop, disabled=not p.active, icon="⏹️")
    status = t("train.status_" + p.status, lang)
    cols[2].progress(min(1.0, p.fraction), text=t("train.progress_line", lang).format(step=p.step, total=p.total,
                                                                                    status=status))


def model_caption(j, p, ws, changed) -> None:
    """Which model trains, and whether the sidebar shows it. changed: (job id, [(field, old, new)]) that Start
    copied into the sidebar."""
    lang = ws.lang
    line = model_line(j.model_config, lang)
    job_id, fields = changed
    shows = ws.controls.model in ("fresh", "trained") and not presets.sidebar_changes(ws.controls, j.model_config)
    if shows:  # after a later sidebar edit (or another model chosen there): nothing to claim
        line += " — " + (t("trainlive.sidebar_changed", lang, changes=changes_text(fields, lang))
                         if job_id == j.id and fields else t("trainlive.sidebar_matches", lang))
    st.caption(line)


def _vs_best(value: float, best, field: str, lang: str) -> dict:
    """st.metric's delta against the best evaluation (not the first); no arrow at the best itself."""
    if value <= getattr(best, field):
        return dict(delta=t("trainlive.at_best", lang), delta_color="off", delta_arrow="off")
    return dict(delta=t("trainlive.delta_vs_best", lang, delta=value - getattr(best, field), step=best.step),
                delta_color="inverse")


def metrics_ui(p, lang: str) -> None:
    latest = p.latest_eval
    cols = st.columns(5)
    cols[0].metric(t("train.tokens_per_s", lang), f"{p.tokens_per_s:,.0f}")
    cols[1].metric(t("train.elapsed", lang), duration(p.elapsed_s))
    cols[2].metric(t("train.time_left", lang), duration(p.eta_s) if p.active else "–")
    if latest is None or len(p.evals) < 2:
        cols[3].metric(t("ui.train loss", lang), f"{latest.train_loss:.3f}" if latest else "–")
        cols[4].metric(t("train.val_loss", lang), f"{latest.val_loss:.3f}" if latest else "–")
        return
    best_train = min(p.evals, key=lambda e: e.train_loss)
    cols[3].metric(t("ui.train loss", lang), f"{latest.train_loss:.3f}",
                   **_vs_best(latest.train_loss, best_train, "train_loss", lang))
    cols[4].metric(t("train.val_loss", lang), f"{latest.val_loss:.3f}",
                   help=t("trainlive.rule_help", lang, n=overfitting.PATIENCE, margin=overfitting.MARGIN),
                   **_vs_best(latest.val_loss, overfitting.best_eval(p.evals), "val_loss", lang))


def train_tokens(ws, j) -> int:
    """How many tokens the job trains on: the first 90 % of the corpus (minigpt.corpus.split)."""
    return len(wsp.corpus_rows(ws.corpus.text, j.vocab)) * 9 // 10


def overfitting_ui(j, p, v: overfitting.Verdict, ws) -> None:
    """A failure's message; the notice when validation loss has been rising, with what to try for this run."""
    lang = ws.lang
    if p.failure:
        st.error(message(p.failure, lang) + " " + t("train.diverged_tip", lang))
    if not v.warns:
        return
    text = t("trainlive." + v.kind, lang, best=v.best.val_loss, step=v.best.step, n=v.rising, now=v.latest.val_loss,
             rise=v.rise)
    per_step = j.train_config.batch_size * j.model_config.context_length
    tips = overfitting.advice(v, steps=j.train_config.steps, train_tokens=train_tokens(ws, j),
                              parameters=parameter_count(j.model_config, j.vocab.size),
                              tokens_seen=v.latest.step * per_step, dropout=j.model_config.dropout,
                              learning_rate=j.train_config.learning_rate, corpus=ws.corpus.name)
    st.warning(text + "  \n" + t("trainlive.what_to_try", lang) + " " + " ".join(t(k, lang, **kv) for k, kv in tips),
               icon="📈")


def loss_ui(j, p, v: overfitting.Verdict, lang: str) -> None:
    per_step = j.train_config.batch_size * j.model_config.context_length
    by_tokens = st.session_state.get("train_x_axis") == "tokens"
    fig = training.loss_curves(p.loss_steps, p.losses, p.evals, tokens_per_step=per_step if by_tokens else None,
                               uniform_loss=math.log(j.vocab.size), best=v.best, rising=v.warns, height=_height(),
                               lang=lang)
    _plot(fig, "train_loss_chart", "minigpt-loss")
    st.radio(t("train.loss_axis", lang), ("step", "tokens"), key="train_x_axis", horizontal=True,
             format_func=lambda s: t("train.x_" + s, lang), label_visibility="collapsed")


def attention_ui(j, p, lang: str) -> None:
    """The newest snapshot (or a scrubbed one) first, its block / head / follow controls under it."""
    if not p.attention:
        st.subheader(t("train.watch_attention", lang))
        st.caption(t("train.watch_caption", lang))
        return
    for key, count in (("train_att_block", j.model_config.num_blocks), ("train_att_head", j.model_config.num_heads)):
        if st.session_state.get(key, 0) >= count:
            st.session_state[key] = 0  # a new run with fewer blocks or heads
    steps = [s.step for s in p.attention]
    # Follow the newest snapshot while training, or scrub: a slider whose options grow every second would
    # fight the person dragging it, so it appears only when following is switched off.
    chosen = p.attention[-1]
    if not st.session_state.get("train_att_follow", True) and len(steps) > 1:
        if st.session_state.get("train_att_step") not in steps:
            st.session_state["train_att_step"] = steps[-1]
        picked = st.select_slider(t("train.snapshot", lang), steps, key="train_att_step")
        chosen = p.attention[steps.index(picked)]
    fig = training.attention_snapshot(chosen, p.attention_tokens, block=st.session_state.get("train_att_block", 0),
                                      head=st.session_state.get("train_att_head", 0), height=_height(), lang=lang)
    _plot(fig, "train_att_chart", "minigpt-attention")
    cols = st.columns([1, 1, 3], vertical_alignment="bottom")
    cols[0].selectbox(t("train.block", lang), range(j.model_config.num_blocks), key="train_att_block")
    cols[1].selectbox(t("train.head", lang), range(j.model_config.num_heads), key="train_att_head")
    cols[2].toggle(t("train.follow_newest", lang), value=True, key="train_att_follow",
                   help=t("train.watch_caption", lang))


def sample_ui(j, p, ws) -> None:
    lang = ws.lang
    st.subheader(t("train.sample_title", lang))
    if p.sample is None:
        st.caption(t("train.no_sample", lang).format(every=max(10, j.train_config.steps // 10)))
        return
    st.caption(t("train.sample_caption", lang).format(step=p.sample.step, prompt=p.sample.prompt))
    st.code(p.sample.prompt + p.sample.text, language=None, wrap_lines=True)


# Drawn under the live figures and numbers, in order, each as fn(job, progress, workspace): a chart joins the Train
# page by appending its function here (progress = job.snapshot(): what the trainer recorded so far).
LIVE_SECTIONS: list = [sample_ui, why_train.training_ui]


def live_view(j, p, ws, *, on_pause, on_resume, on_stop, changed) -> None:
    v = overfitting.verdict(p.evals)
    controls_ui(p, ws.lang, on_pause, on_resume, on_stop)
    model_caption(j, p, ws, changed)
    left, right = st.columns([3, 2])
    with left:
        loss_ui(j, p, v, ws.lang)
    with right:
        attention_ui(j, p, ws.lang)
    overfitting_ui(j, p, v, ws)  # under the figures, which show the rise too (a shaded band from the best step)
    metrics_ui(p, ws.lang)
    if p.active:
        st.caption(t("train.other_pages", ws.lang))
    for section in LIVE_SECTIONS:
        section(j, p, ws)
