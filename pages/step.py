"""Lecture mode: every stage one at a time, in the order the model computes it. Prev / Next, a picker,
the stage in the URL (`?stage=blocks.0.attn.weights`), one large figure with its explanation beside it."""
import streamlit as st

from ui import page, workspace as wsp, controls, stage_view as sv, why_step
from minigpt.views import chips, output
from minigpt.views.labels import visible_text
from minigpt.text import t
from minigpt.stages import spec_of, stage_label, stage_names, step_label

def chapter_of(step: str) -> str:
    if why_step.is_why(step):
        return "why"
    return {"tokens": "tokens", "topk": "output"}.get(step) or spec_of(step).chapter


def step_title(step: str, lang: str) -> str:
    if why_step.is_why(step):
        return step_label(step, lang)
    if step in ("tokens", "topk"):
        return t(f"step.{step}", lang)
    return stage_label(step, lang)


def move(steps: list[str], delta: int) -> None:
    i = steps.index(st.session_state["step_stage"]) + delta
    st.session_state["step_stage"] = steps[max(0, min(len(steps) - 1, i))]


ws = wsp.workspace()
lang = ws.lang
c = ws.config
steps = ["tokens"] + stage_names(c.num_blocks, c.norm) + ["topk"] + why_step.steps()  # then chapter 6's views
stage = controls.page_param("stage", "step_stage", tuple(steps), steps[0])
i = steps.index(stage)

nav = st.columns([1, 5, 1, 2], vertical_alignment="bottom")
nav[0].button("◀ " + t("ui.previous", lang), key="step_prev", on_click=move, args=(steps, -1), disabled=i == 0,
              width="stretch")
nav[1].selectbox(t("ui.stage", lang), steps, key="step_stage",
                 format_func=lambda s: f"{steps.index(s) + 1}. {step_title(s, lang)}")
nav[2].button(t("ui.next", lang) + " ▶", key="step_next", on_click=move, args=(steps, 1), disabled=i == len(steps) - 1,
              type="primary", width="stretch")
nav[3].caption(t("step.step of", lang).format(i=i + 1, n=len(steps)))
page.model_banner(ws)
wsp.show_notices(ws)

chapter = chapter_of(stage)
if i == 0 or chapter_of(steps[i - 1]) != chapter:  # the first stage of a chapter opens with its introduction
    if chapter == "why":
        st.info(f"**{t('why.nav', lang)}** · {t('why.intro', lang)}", icon="📖")
    else:
        st.info(f"**{t(f'home.chapter_{chapter}', lang)}** · {t(f'chapter.{chapter}', lang)}", icon="📖")

spec = spec_of(stage) if stage not in ("tokens", "topk") and not why_step.is_why(stage) else None
pickers = st.columns(4)
row = sv.batch_row(ws, lang, container=pickers[0])
head = 0
if spec is not None and spec.axes[1:2] == ("head",):
    head = sv.head_picker(ws, lang, container=pickers[1])
with pickers[3]:
    sv.image_format(lang)

st.header(f"{i + 1}. {step_title(stage, lang)}")
if stage == "tokens":
    st.html(chips.token_chips_html(ws.texts(row), ws.walk.token_ids[row], ws.walk.known[row])
            .replace("font-size:1.05em", "font-size:1.6em"))
    st.write(t("step.tokens expl", lang))
    st.caption(t("step.token_count", lang, n=len(ws.texts(row))))
elif stage == "topk":
    trace = ws.trace()
    probs = trace["probs"][row]
    last = probs.shape[0] - 1
    best = int(probs[last].argmax())
    left, right = st.columns([3, 2], gap="medium")
    with left:
        label = visible_text(ws.texts(row)[last])
        sv.plot(output.topk_bars(probs[last], ws.vocab, k=10, lang=lang, title=f"{t('ui.top_tokens_title', lang)} · “{label}” →"),
                sv.file_stem("probs", "topk", f"row{row}"), key="fig_step")
    with right:
        st.write(t("step.topk expl", lang).format(tok=visible_text(ws.vocab.row_text(best))))
        st.code(f"predicted_index = torch.argmax(logits[{row}, {last}]).item()\nencoding.decode([predicted_index])"
                f"  # → {ws.vocab.row_text(best)!r}", language="python")
elif why_step.is_why(stage):
    why_step.show(ws, stage, row=row, lang=lang, plot=lambda fig, name: sv.plot(fig, name, key="fig_step"))
else:
    trace = ws.trace()
    sv.show_stage(ws, trace, stage, row=row, head=head, lang=lang, side=True, key="step")
