"""The "What it learned" views as lecture steps after the top-k (the Step page walks them too): the logit lens,
head importance, head roles, the gradient of the last block's attention weights, the embedding map. Each is one
figure and its explanation, the same numbers as pages/inside.py (ui/why.py) with every head on."""
from __future__ import annotations

import streamlit as st

from minigpt.model import Switches
from minigpt.stages import WHY_STEPS, step_label
from minigpt.text import t
from minigpt.views import why as views

from . import why


def is_why(step: str) -> bool:
    return step in WHY_STEPS


def steps() -> list[str]:
    return list(WHY_STEPS)


def _figure(ws, step: str, row: int, lang: str):
    """(figure, file name, explanation) of one step."""
    c, trace = ws.config, ws.trace()
    labels = ws.labels(row)
    if step == "why.lens":
        view = why.logit_lens(ws, trace, row)
        return (views.lens_grid(view, labels, ws.vocab, lang=lang), f"minigpt_lens_row{row}",
                t("why.lens_expl", lang))
    if step == "why.importance":
        slow = why.importance_seconds(ws) > why.AUTO_IMPORTANCE_S
        found = why.importance(ws, "mean", compute=not slow or st.session_state.get("why_step_measure", False))
        if found is None and slow:
            st.button(t("why.importance_measure", lang, s=why.importance_seconds(ws)), key="why_step_measure",
                      icon="⏱️")
            return None, "", t("why.importance_expl", lang)
        if found is None:
            return None, "", t("why.no_validation", lang)
        return (views.importance_heatmap(found, lang=lang), "minigpt_head_importance_mean",
                t("why.importance_expl", lang) + " " + t("why.mode_note", lang))
    if step == "why.roles":
        scores, chance = why.role_scores(ws, trace, Switches())
        return views.roles_heatmap(scores, chance, lang=lang), "minigpt_head_roles", t("why.roles_expl", lang)
    if step == "why.grads":
        pos = len(labels) - 1
        target = int(ws.walk.targets[row, pos]) if ws.walk.targets is not None else int(trace["probs"][row, pos].argmax())
        grads = why.stage_gradients(ws, row, pos, target, Switches())
        stage = f"blocks.{c.num_blocks - 1}.attn.weights"
        return (views.gradient_heatmap(grads, stage, labels, lang=lang), f"minigpt_grad_{stage}_row{row}",
                t("why.grad_expl", lang))
    maps = why.aligned_maps(ws)
    proj = maps["now"]
    names = [ws.vocab.row_text(int(r)) for r in proj.rows]
    return (views.embedding_map(proj, names, labelled=why.MAP_LABELS, lang=lang), "minigpt_embedding_map",
            t("why.map_expl", lang, n=why.MAP_POINTS, k=why.MAP_LABELS))


def show(ws, step: str, *, row: int, lang: str, plot, projector: bool = False, columns=None, side=None) -> None:
    """One step: its figure (drawn with the Step page's plot(fig, name)) and its explanation beside it.
    columns: the (left, right) containers to use, side: draws the explanation (projector mode: the Step page's
    own, with its controls already in right and the explanation cut to its first sentence)."""
    fig, name, text = _figure(ws, step, row, lang)
    left, right = columns or st.columns([13, 7] if projector else [3, 2], gap="medium")
    with left:
        if fig is not None:
            plot(fig, name)
    with right:
        if side is not None:
            side(text)
        else:
            if projector:
                st.markdown("### " + step_label(step, lang))
            st.write(text)
        st.page_link("pages/inside.py", label=t("why.step_more", lang), icon="🔬")
