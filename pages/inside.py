"""What it learned: why the model predicts what it does. Head knockouts (and each head's importance), the logit
lens, head roles with each head's typical pattern, gradients of every stage, the embedding map. Numbers from
ui/why.py (one call into minigpt each), figures from minigpt/views/why.py."""
import streamlit as st

from ui import controls, page, stage_view as sv, why
from minigpt import knockout as ko
from minigpt.model import Switches
from minigpt.stages import stage_label, stage_names
from minigpt.text import t
from minigpt.views import output
from minigpt.views import why as views
from minigpt.views.labels import visible_text

ws = page.open_page("why.title", "why.intro")
lang = ws.lang
c = ws.config
cols = st.columns(3)
row = sv.batch_row(ws, lang, container=cols[0])
with cols[2]:
    sv.image_format(lang)
labels, texts = ws.labels(row), ws.texts(row)
T = len(labels)

# -- knockouts: they change everything below ---------------------------------------------------------------
st.header(t("why.knockout_header", lang))
st.write(t("why.knockout_expl", lang))
heads = [(b, h) for b in range(c.num_blocks) for h in range(c.num_heads)]
if any(bh not in heads for bh in st.session_state.get("why_off", [])):  # a smaller model than before
    st.session_state["why_off"] = [bh for bh in st.session_state["why_off"] if bh in heads]
pick, how = st.columns([3, 2])
off = pick.multiselect(t("why.knockout_pick", lang), heads, key="why_off", placeholder=t("why.knockout_none", lang),
                       format_func=lambda bh: f"{t('ui.block', lang)} {bh[0]} · {t('ui.head', lang)} {bh[1]}")
mode = how.radio(t("why.knockout_mode", lang), ko.MODES, key="why_mode", horizontal=True,
                 format_func=lambda m: t(f"why.mode_{m}", lang))
st.caption(t("why.mode_note", lang))
switches = Switches(knockout=ko.Knockout(frozenset(off), mode))
real = ws.trace()
trace = ws.trace(switches)
if off:
    st.warning(t("why.knockout_on", lang, n=len(off)), icon="🔇")
    sv.loss_comparison(ws, switches, lang)
    later = ko.affected_stages(stage_names(c.num_blocks, c.norm), switches.knockout)
    a, b = st.columns(2)
    with a:
        why.show(views.stage_changes(real, trace, later, lang=lang), "minigpt_knockout_changes", lang, key="why_changes")
    with b:
        sv.plot(output.topk_bars(trace["probs"][row, -1], ws.vocab, k=8, lang=lang,
                                 title=t("why.knockout_next", lang, token=visible_text(texts[-1]))),
                sv.file_stem("probs", "knockout", f"row{row}"), key="fig_why_next")
slow = why.importance_seconds(ws) > why.AUTO_IMPORTANCE_S  # a large model: measured when asked
clicked = st.session_state.get("why_measure", False)
found = why.importance(ws, mode, compute=not slow or clicked)
if found is None and slow and not clicked:
    st.button(t("why.importance_measure", lang, s=why.importance_seconds(ws)), key="why_measure", icon="⏱️")
elif found is None:
    st.caption(t("why.no_validation", lang))
else:
    why.show(views.importance_heatmap(found, lang=lang), f"minigpt_head_importance_{mode}", lang, key="why_importance",
             full=found.increase)
    st.caption(t("why.importance_expl", lang))

# -- logit lens --------------------------------------------------------------------------------------------
st.header(t("why.lens_header", lang))
st.write(t("why.lens_expl", lang))
view = why.logit_lens(ws, trace, row)
why.show(views.lens_grid(view, labels, ws.vocab, lang=lang), sv.file_stem("lens", f"row{row}"), lang, key="why_lens",
         full=view.probs)  # .npy: [layers, positions, vocabulary] probabilities
if view.target_probs is not None:
    st.caption(t("why.lens_target_expl", lang))
    why.show(views.lens_grid(view, labels, ws.vocab, lang=lang, target=True), sv.file_stem("lens", "target", f"row{row}"),
             lang, key="why_lens_target", full=view.target_ranks)
else:
    st.caption(t("why.lens_no_target", lang))

# -- head roles --------------------------------------------------------------------------------------------
st.header(t("why.roles_header", lang))
st.write(t("why.roles_expl", lang))
scores, chance = why.role_scores(ws, trace, switches)
left, right = st.columns([2, 3])
with left:
    why.show(views.roles_heatmap(scores, chance, lang=lang), "minigpt_head_roles", lang, key="why_roles", full=scores)
with right:
    typical = why.typical_weights(trace)
    why.show(views.typical_patterns(typical, labels, lang=lang), "minigpt_head_patterns", lang, key="why_patterns",
             full=typical)  # CSV: the first head's panel; .npy: [blocks, heads, query, key]
st.caption(t("why.patterns_expl", lang, n=ws.walk.batch_size))

# -- gradients ---------------------------------------------------------------------------------------------
st.header(t("why.grad_header", lang))
st.write(t("why.grad_expl", lang))
g = st.columns([2, 2, 3, 1])
pos = controls.page_param("gpos", "why_pos", range(T), T - 1)
pos = g[0].selectbox(t("why.grad_position", lang), range(T), key="why_pos", format_func=lambda i: labels[i])
probs = trace["probs"][row, pos]
true_next = (int(ws.walk.targets[row, pos]) if ws.walk.targets is not None
             else int(ws.walk.rows[row, pos + 1]) if pos + 1 < T else None)
choices = ([true_next] if true_next is not None else []) + [r for r in probs.topk(min(8, probs.numel())).indices.tolist()
                                                           if r != true_next]
target = g[1].selectbox(t("why.grad_target", lang), choices, key=f"why_target_{pos}",
                        format_func=lambda r: visible_text(ws.vocab.row_text(r)) + (
                            f" · {t('why.true_next', lang)}" if r == true_next else f" · {t('why.model_guess', lang)}"))
names = views.gradient_stages(stage_names(c.num_blocks, c.norm))
default = f"blocks.{c.num_blocks - 1}.attn.weights"
stage = controls.page_param("gstage", "why_stage", tuple(names), default)
stage = g[2].selectbox(t("ui.stage", lang), names, key="why_stage", format_func=lambda n: stage_label(n, lang))
head = 0
if stage.endswith(("attn.q", "attn.k", "attn.v", "attn.scores", "attn.masked", "attn.weights", "attn.mixed")):
    head = sv.head_picker(ws, lang, container=g[3])
grads = why.stage_gradients(ws, row, pos, target, switches)
st.caption(t("why.grad_loss", lang, loss=grads.loss, token=visible_text(ws.vocab.row_text(target)),
             label=labels[pos], p=float(probs[target]) * 100))
why.show(views.gradient_heatmap(grads, stage, labels, head=head, lang=lang),
         sv.file_stem("grad", stage, f"row{row}", f"pos{pos}"), lang, key="why_grad", full=grads[stage])
variants = [(t("why.variant_real", lang), switches),
            (t("why.variant_no_residual", lang), Switches(residual=False, knockout=switches.knockout)),
            (t("why.variant_no_layer_norm", lang), Switches(layer_norm=False, knockout=switches.knockout))]
series = [(name, [v for _, v in why.layer_norms(why.stage_gradients(ws, row, pos, target, s))]) for name, s in variants]
why.show(views.gradient_norm_bars(why.layer_stages(c), series, lang=lang), "minigpt_gradient_per_layer", lang,
         key="why_grad_norms", full=[values for _, values in series])
st.caption(t("why.grad_norms_expl", lang))

# -- embedding map -----------------------------------------------------------------------------------------
st.header(t("why.map_header", lang))
st.write(t("why.map_expl", lang, n=why.MAP_POINTS, k=why.MAP_LABELS))
maps = why.aligned_maps(ws)
shown = "now"
if len(maps) > 1:
    shown = st.select_slider(t("why.map_when", lang), ("untrained", "now"), value="now", key="why_map_when",
                             format_func=lambda s: t(f"why.map_{s}", lang, step=ws.model_step or "?"))
left, right = st.columns(2)
with left:
    proj = maps[shown]
    names_shown = [ws.vocab.row_text(int(r)) for r in proj.rows]
    why.show(views.embedding_map(proj, names_shown, labelled=why.MAP_LABELS, lang=lang, axis_range=why.map_range(maps)),
             f"minigpt_embedding_map_{shown}", lang, key="why_map", full=proj.points)
with right:
    positions = why.position_map(ws)
    why.show(views.embedding_map(positions, [str(i) for i in range(len(positions.rows))], labelled=c.context_length,
                                 title=t("why.posmap_title", lang), lang=lang, colour_by_order=True),
             "minigpt_position_map", lang, key="why_posmap", full=positions.points)
st.caption(t("why.posmap_expl", lang))
