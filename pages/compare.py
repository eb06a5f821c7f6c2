"""Compare two models side by side on the same text and stage, on one colour scale: untrained vs trained,
post-LN vs pre-LN, two seeds, or the model with and without its causal mask."""
import dataclasses

import streamlit as st

from ui import page, workspace as wsp, controls, stage_view as sv
from minigpt import walkthrough
from minigpt.text import t
from minigpt.model import Switches
from minigpt.stages import spec_of, stage_label, stage_names
from minigpt.views import heatmaps
from minigpt.views.labels import id_labels

ws = page.open_page("compare.title", "chapter.compare", banner=False)  # two models: each panel is titled
lang = ws.lang
c = ws.controls
try:
    config = c.model_config()
except ValueError:  # the sidebar already says why
    config = ws.config
other_seed = st.session_state.get("cmp_seed", (config.seed + 1) % 2**31)


@dataclasses.dataclass
class Side:
    model: object
    vocab: object
    key: str
    label: str
    switches: Switches = Switches()
    kind: str = "fresh"  # the model kind (ui.workspace.MODEL_KINDS): chooses the explanation's wording


def fresh(cfg) -> Side:
    model, vocab, key = wsp.fresh_for_text(cfg, ws.corpus.text, c)  # a row for every typed token
    return Side(model, vocab, key, "")


def candidates() -> dict[str, Side]:
    """Every model the page can show. "untrained" is the current model's own architecture and seed at step 0
    (Workspace.untrained: for a model trained here, exactly the weights its training started from);
    "trained_untrained" is the same for the session's trained model when the sidebar shows another one."""
    options = {"current": Side(ws.model, ws.vocab, ws.model_key, ws.model_label, kind=ws.model_kind)}
    if ws.model_kind != "fresh":
        options["untrained"] = untrained(ws.untrained(), ws.vocab)
    options["seed"] = fresh(dataclasses.replace(config, seed=int(other_seed)))
    options["norm"] = fresh(dataclasses.replace(config, norm="pre" if config.norm == "post" else "post"))
    for name, key in (("trained", wsp.TRAINED), ("loaded", wsp.LOADED)):
        ckpt = st.session_state.get(key)
        if ckpt is not None and c.model != name:
            options[name] = Side(ckpt.model, ckpt.vocab, f"{name}:{id(ckpt)}", "", kind=name)
            if name == "trained":
                options["trained_untrained"] = untrained(wsp.fresh_model(ckpt.config, ckpt.vocab), ckpt.vocab)
    options["nomask"] = Side(ws.model, ws.vocab, ws.model_key, "", Switches(causal_mask=False), ws.model_kind)
    return options


def untrained(model_and_key: tuple, vocab) -> Side:
    model, key = model_and_key
    return Side(model, vocab, key, "")


def defaults(names: list[str]) -> tuple[str, str]:
    """After training: the trained model (left) against its own untrained twin (right); otherwise the current model
    against its untrained twin, or against another seed."""
    if "trained_untrained" in names:
        return "trained", "trained_untrained"
    return "current", "untrained" if "untrained" in names else "seed"


def option_label(name: str) -> str:
    if name in ("untrained", "trained_untrained"):
        side = options[name]
        return t(f"trainlive.cmp_{name}", lang, seed=side.model.config.seed)
    return t(f"compare.{name}", lang).format(label=ws.model_label, seed=int(other_seed) if name == "seed" else config.seed,
                                 norm="pre" if config.norm == "post" else "post")


options = candidates()
names = list(options)
default_a, default_b = defaults(names)
if st.session_state.get("_trained_job") is not None and st.session_state.get("_cmp_after") != st.session_state["_trained_job"]:
    st.session_state["_cmp_after"] = st.session_state["_trained_job"]  # a new training run: show what it changed
    st.session_state["cmp_a"], st.session_state["cmp_b"] = default_a, default_b
cols = st.columns([2, 2, 1])
a_name = controls.page_param("a", "cmp_a", tuple(names), default_a)
b_name = controls.page_param("b", "cmp_b", tuple(names), default_b)
a_name = cols[0].selectbox(t("compare.left", lang), names, key="cmp_a", format_func=option_label)
b_name = cols[1].selectbox(t("compare.right", lang), names, key="cmp_b", format_func=option_label)
cols[2].number_input(t("compare.other seed", lang), 0, 2**31 - 1, value=int(other_seed), key="cmp_seed")
if a_name == b_name:
    st.warning(t("compare.same", lang))
    st.stop()


def run(side: Side):
    """The same text for this side's model: its own vocabulary and context length."""
    rows = wsp.corpus_rows(ws.corpus.text, side.vocab.base)
    walk = walkthrough.make_input(c, side.vocab, rows, side.model.config.context_length)
    trace = wsp.trace_of(side.model, side.key, walk.rows, side.switches)
    labels = [id_labels(r, side.vocab.mode, lang) for r in walk.token_ids]
    return trace, labels


A, B = options[a_name], options[b_name]
trace_a, labels_a = run(A)
trace_b, labels_b = run(B)
stages_b = set(stage_names(trace_b.config.num_blocks, trace_b.config.norm))
common_stages = [s for s in stage_names(trace_a.config.num_blocks, trace_a.config.norm) if s in stages_b]
if not common_stages:
    st.warning(t("compare.no stage", lang))
    st.stop()
cols = st.columns([3, 1, 1, 2])
stage = controls.page_param("stage", "cmp_stage", tuple(common_stages), next(s for s in common_stages if s.endswith("attn.weights")))
stage = cols[0].selectbox(t("ui.stage", lang), common_stages, key="cmp_stage",
                          format_func=lambda s: stage_label(s, lang))
row = controls.index_picker("row", min(len(labels_a), len(labels_b)), t("ui.batch row", lang), container=cols[1])
head = 0
if spec_of(stage).axes[1:2] == ("head",):
    heads = min(trace_a.config.num_heads, trace_b.config.num_heads)
    head = controls.index_picker("head", heads, t("ui.head", lang), container=cols[2])
with cols[3]:
    sv.image_format(lang)

cut_a = heatmaps.stage_slice(trace_a, stage, labels=labels_a, batch=row, head=head, lang=lang, vocab=A.vocab)
cut_b = heatmaps.stage_slice(trace_b, stage, labels=labels_b, batch=row, head=head, lang=lang, vocab=B.vocab)
titles = (option_label(a_name), option_label(b_name))
if cut_a.values.shape == cut_b.values.shape and cut_a.col_labels == cut_b.col_labels and \
        cut_a.row_labels == cut_b.row_labels:
    fig = heatmaps.compare_heatmaps(cut_a.values, cut_b.values, labels_x=cut_a.col_labels, labels_y=cut_a.row_labels,
                                    titles=titles, signed=cut_a.signed if cut_a.signed is not None else False,
                                    lang=lang, x_title=cut_a.x_title, y_title=cut_a.y_title, title=cut_a.title,
                                    zrange=cut_a.zrange)
    sv.plot(fig, sv.file_stem(stage, "compare", a_name, b_name), key="fig_compare")
    import numpy as np

    diff = np.nan_to_num(cut_a.values, neginf=0.0) - np.nan_to_num(cut_b.values, neginf=0.0)
    st.caption(t("compare.diff", lang).format(d=float(np.abs(diff).max())))
else:
    st.info(t("compare.separate", lang).format(a=trace_a.shape_label(stage), b=trace_b.shape_label(stage)))
    left, right = st.columns(2)
    for col, cut, name in ((left, cut_a, a_name), (right, cut_b, b_name)):
        with col:
            st.markdown(f"**{option_label(name)}**")
            zmin, zmax = cut.zrange or (None, None)  # probabilities: 0 to 1 on both sides
            sv.plot(heatmaps.heatmap(cut.values, x_labels=cut.col_labels, y_labels=cut.row_labels, title=cut.title,
                                     x_title=cut.x_title, y_title=cut.y_title, signed=cut.signed, lang=lang,
                                     zmin=zmin, zmax=zmax),
                    sv.file_stem(stage, name), key=f"fig_{name}")
sv.stage_info(trace_a, stage, lang, A.kind)
