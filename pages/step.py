"""Lecture mode: every stage one at a time, in the order the model computes it (`stages.lecture_steps`). Prev / Next,
the stage in the URL (`?stage=blocks.0.attn.weights`), one large figure with its explanation beside it, and the
map of the model with the current stage highlighted (a click jumps there).

In projector mode (`view=projector`, ui/projector.py) the same stage fills a 1920×1080 screen: large type, the
keys of a presenter clicker, a one-line text box, one numbering system ("Stage 9 of 24 · Attention")."""
import streamlit as st

from ui import page, workspace as wsp, controls, model_map, projector, stage_view as sv, why_step
from minigpt import explain
from minigpt.views import chips, heatmaps, output, style
from minigpt.views.labels import visible_text
from minigpt.text import t
from minigpt.stages import lecture_steps, spec_of, step_chapter, step_label


def move(steps: list[str], delta: int) -> None:
    i = steps.index(st.session_state["step_stage"]) + delta
    st.session_state["step_stage"] = steps[max(0, min(len(steps) - 1, i))]


def position(steps: list[str], i: int, lang: str) -> str:
    """"Stage 9 of 24 · Attention (stages 5–14)": the stage number and its chapter's run of stages, one numbering."""
    chapter = step_chapter(steps[i])
    first = last = i
    while first > 0 and step_chapter(steps[first - 1]) == chapter:
        first -= 1
    while last < len(steps) - 1 and step_chapter(steps[last + 1]) == chapter:
        last += 1
    return t("projector.position", lang, i=i + 1, n=len(steps), chapter=t(f"projector.chapter_{chapter}", lang),
             first=first + 1, last=last + 1)


ws = wsp.workspace()
lang = ws.lang
c = ws.config
steps = lecture_steps(c.num_blocks, c.norm) + why_step.steps()  # then chapter 6's views
stage = controls.page_param("stage", "step_stage", tuple(steps), steps[0])
i = steps.index(stage)
spec = spec_of(stage) if stage not in ("tokens", "topk") and not why_step.is_why(stage) else None
on_projector = projector.is_on()

if on_projector:  # app.py has applied projector.style(); the controls sit beside the figure (see below)
    projector.keys(lambda delta: move(steps, delta))
    left, right = st.columns([7, 3], gap="medium")
    left = left.container(key="proj_figure")
    with right:
        nav = st.columns([1, 1, 1.3], vertical_alignment="center")
        prev_col, next_col = nav[0], nav[1]
        projector.switch_button(lang, container=nav[2])
        st.container(key="proj_position").markdown(position(steps, i, lang))
        tools = st.columns([3, 1.2] if spec is not None and spec.axes[1:2] == ("head",) else [1])
        projector.text_box(lang, container=tools[0])
else:
    nav = st.columns([1.2, 5, 1.2, 2.4, 2], vertical_alignment="bottom")
    prev_col, next_col = nav[0], nav[2]
prev_col.button("◀ " + t("ui.previous", lang), key="step_prev", on_click=move, args=(steps, -1), disabled=i == 0,
                width="stretch")
next_col.button(t("ui.next", lang) + " ▶", key="step_next", on_click=move, args=(steps, 1),
                disabled=i == len(steps) - 1, type="primary", width="stretch")
head = 0
if on_projector:
    if spec is not None and spec.axes[1:2] == ("head",):
        head = controls.index_picker("head", c.num_heads, t("ui.head", lang), container=tools[1],
                                     format_func=lambda h: f"{t('ui.head', lang)} {h}")
else:
    nav[1].selectbox(t("ui.stage", lang), steps, key="step_stage",
                     format_func=lambda s: f"{steps.index(s) + 1}. {step_label(s, lang)}")
    nav[3].caption(position(steps, i, lang))
    projector.switch_button(lang, container=nav[4])
    page.model_banner(ws)
wsp.show_notices(ws)

chapter = step_chapter(stage)
if not on_projector:
    if i == 0 or step_chapter(steps[i - 1]) != chapter:  # the first stage of a chapter opens with its introduction
        st.info(f"**{t(f'projector.chapter_{chapter}', lang)}** · {t('why.intro' if chapter == 'why' else f'chapter.{chapter}', lang)}", icon="📖")
    pickers = st.columns(4)
    row = sv.batch_row(ws, lang, container=pickers[0])
    if spec is not None and spec.axes[1:2] == ("head",):
        head = sv.head_picker(ws, lang, container=pickers[1])
    with pickers[3]:
        sv.image_format(lang)
    st.header(f"{i + 1}. {step_label(stage, lang)}")
else:
    row = st.session_state.get("p_row", 0) if ws.walk.batch_size > 1 else 0
    row = row if 0 <= row < ws.walk.batch_size else 0


def plot(fig, name: str) -> None:
    if on_projector:
        st.plotly_chart(style.for_projector(fig, height=projector.FIGURE_HEIGHT), key="fig_step",
                        config={"displayModeBar": False})
    else:
        sv.plot(fig, name, key="fig_step")


def side_text(lead: str, code: str | None, full: str | None) -> None:
    """Beside the figure: in projector mode the stage's name, its first sentence, code, the small map."""
    if on_projector:
        has_head = spec is not None and spec.axes[1:2] == ("head",)
        heading = step_label(stage, lang) + (f" · {t('ui.head', lang)} {head}" if has_head else "")
        st.markdown(f"### {i + 1}. {heading}")
        if spec is not None:
            st.markdown(f"`{trace.shape_label(stage)}`")
        st.container(key="proj_lead").markdown(projector.lead(lead))
        if code:
            st.code(code, language="python", wrap_lines=True)
        if stage != "tokens":  # the tokenizer has no weights
            st.caption(("🎲 " + t("projector.random", lang, model=ws.model_label)) if explain.is_random(ws.model_kind)
                       else "🧠 " + ws.model_label)
    else:
        st.write(lead)
        if code:
            st.code(code, language="python", wrap_lines=True)
    model_map.model_map(ws, current=stage, small=True, key="step_map", on_step_page=True)
    if on_projector and full and projector.lead(full) != full:
        with st.expander(t("projector.more", lang)):
            st.write(full)


trace = ws.trace() if stage != "tokens" else None
if stage in ("tokens", "topk") and not on_projector:
    left, right = st.columns([3, 2], gap="medium")
if stage == "tokens":
    with left:
        n = len(ws.texts(row))  # projector: as large as the screen allows for this many tokens
        size = ("4.6em" if n <= 20 else "3em" if n <= 40 else "2em") if on_projector else "1.6em"
        st.html(chips.token_chips_html(ws.texts(row), ws.walk.token_ids[row], ws.walk.known[row])
                .replace("font-size:1.05em", f"font-size:{size}"))
        st.caption(t("step.token_count", lang, n=len(ws.texts(row))))
    with right:
        side_text(t("step.tokens expl", lang), None, None)
elif stage == "topk":
    probs = trace["probs"][row]
    last = probs.shape[0] - 1
    best = int(probs[last].argmax())
    with left:
        label = visible_text(ws.texts(row)[last])
        plot(output.topk_bars(probs[last], ws.vocab, k=10, lang=lang, title=f"{t('ui.top_tokens_title', lang)} · “{label}” →"),
             sv.file_stem("probs", "topk", f"row{row}"))
    with right:
        side_text(t("step.topk expl", lang).format(tok=visible_text(ws.vocab.row_text(best))),
                  f"predicted_index = torch.argmax(logits[{row}, {last}]).item()\nencoding.decode([predicted_index])"
                  f"  # → {ws.vocab.row_text(best)!r}", None)
elif why_step.is_why(stage):
    why_step.show(ws, stage, row=row, lang=lang, plot=plot, projector=on_projector,
                  columns=(left, right) if on_projector else None,
                  side=(lambda text: side_text(text, None, text)) if on_projector else None)
elif on_projector:
    if spec.axes[-1] == "vocab":  # a projector shows fewer vocabulary columns, each one labelled
        fig = heatmaps.stage_heatmap(trace, stage, labels=ws.labels(row), batch=row, lang=lang, vocab=ws.vocab,
                                     max_columns=projector.VOCAB_COLUMNS)
    else:
        fig = sv.stage_figure(ws, trace, stage, row=row, head=head, lang=lang)
    full = explain.explanation(stage, lang, trace.switches, ws.model_kind)
    with left:
        plot(fig, stage)
    with right:
        side_text(full, trace.code(stage), full)
else:
    sv.show_stage(ws, trace, stage, row=row, head=head, lang=lang, side=True, key="step")
    st.subheader("🗺️ " + t("map.here", lang))
    model_map.model_map(ws, current=stage, small=True, key="step_map", on_step_page=True)
