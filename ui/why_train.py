"""The Train page's "What it learned" section (one of ui/train_view.LIVE_SECTIONS): head-role scores over the
attention snapshots (the moment a previous-token or induction head forms), the gradient norm per layer over
training, and the embedding map at any snapshot (a step slider; axes aligned to the newest snapshot)."""
from __future__ import annotations

import streamlit as st
import torch

from minigpt import embedding_map, roles
from minigpt.text import t
from minigpt.views import export
from minigpt.views import why as views

from .why import MAP_LABELS, cached, map_range


def _scores(p) -> torch.Tensor:
    """[snapshots, blocks, heads, 4] role scores, computed once per snapshot (cached by its step)."""
    tokens = tuple(p.attention_tokens)
    return torch.stack([cached(("snaprole", id(s), s.step, tokens), lambda s=s: roles.snapshot_roles(s.weights, tokens))
                        for s in p.attention])


def training_ui(j, p, ws) -> None:
    lang = ws.lang
    if not p.attention:
        return
    st.subheader("🔬 " + t("why.train_header", lang))
    steps = [s.step for s in p.attention]
    T = p.attention[0].weights.shape[-1]
    chance = roles.chance(T, list(p.attention_tokens) if len(p.attention_tokens) == T else None)
    ind = f"{float(chance[3]):.2f}" if torch.isfinite(chance[3]) else t("why.train_no_induction", lang)
    role = st.radio(t("why.train_role", lang), roles.ROLES, key="why_train_role", horizontal=True,
                    format_func=lambda r: t(f"why.role_{r}", lang))
    left, right = st.columns(2)
    with left:
        scores = _scores(p)
        st.plotly_chart(views.roles_over_training(steps, scores, role, lang=lang), key="why_train_roles",
                        config=export.plotly_config(f"minigpt-roles-{role}"))
        st.caption(t("why.train_roles_expl", lang, prev=float(chance[0]), ind=ind))
    norms = [s.grad_norms for s in p.attention if getattr(s, "grad_norms", None) is not None]
    with right:
        if norms:
            grad_steps = [s.step for s in p.attention if getattr(s, "grad_norms", None) is not None]
            st.plotly_chart(views.grad_norms_over_training(grad_steps, torch.stack(norms), lang=lang),
                            key="why_train_grads", config=export.plotly_config("minigpt-gradient-per-layer"))
            st.caption(t("why.train_grads_expl", lang))
    kept = [s for s in p.attention if getattr(s, "embedding", None) is not None]
    if len(kept) >= 1:
        picked = st.select_slider(t("why.train_map_step", lang), [s.step for s in kept], value=kept[-1].step,
                                  key="why_train_map_step") if len(kept) > 1 else kept[-1].step
        maps = cached(("snapmaps", id(kept[-1]), kept[-1].step, len(kept)), lambda: _aligned(kept))
        shown = maps[[s.step for s in kept].index(picked)]
        names = [j.vocab.row_text(int(r)) for r in kept[-1].embedding_rows]
        st.plotly_chart(views.embedding_map(shown, names, labelled=MAP_LABELS, lang=lang,
                                            title=t("why.train_map_title", lang, step=picked),
                                            axis_range=map_range({i: m for i, m in enumerate(maps)})),
                        key="why_train_map", config=export.plotly_config(f"minigpt-embedding-map-step{picked}"))
        st.caption(t("why.train_map_expl", lang))


def _aligned(kept) -> list:
    """Each snapshot's map, its axes' signs turned to match the newest one's."""
    newest = embedding_map.project(kept[-1].embedding)
    return [embedding_map.align(embedding_map.project(s.embedding), newest) for s in kept[:-1]] + [newest]
