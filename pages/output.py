"""Chapter 5, output: logits → softmax, the top-k next tokens at each position, the argmax decoded (as the
notebook ends), and, for a corpus batch, the loss at each position against the true next token."""
import math

import streamlit as st

from ui import model_map, page, controls, stage_view as sv
from minigpt.views import output, tables
from minigpt.views.labels import visible_text
from minigpt.text import t
from minigpt.model import token_losses

ws = page.open_page("output.title", "chapter.output")
model_map.chapter_map(ws, "output")
lang = ws.lang
cols = st.columns(2)
row = sv.batch_row(ws, lang, container=cols[0])
with cols[1]:
    sv.image_format(lang)
trace = ws.trace()
labels = ws.labels(row)
texts = ws.texts(row)
V = ws.vocab.size
if ws.model_kind == "fresh":
    st.caption(t("output.untrained", lang).format(V=V, p=1 / V))

# Tabs, not one long column: only the open section takes the page's height. A model trained in this session opens
# on what training changed (the "Look at it" button of the Train page brings the student here).
names = [t("output.scores", lang), t("output.topk", lang), t("output.loss", lang)]
with_diff = ws.model_kind in ("trained", "bundled")  # both were trained here from fresh_model(config, vocab)
if with_diff:
    names.append(t("train.diff_title", lang))
tabs = st.tabs(names, default=names[-1] if ws.model_kind == "trained" else None)

with tabs[0]:
    for name in ("logits", "probs"):
        sv.show_stage(ws, trace, name, row=row, lang=lang)  # full width: 64 vocabulary columns need it

T = len(labels)
probs = trace["probs"][row]
with tabs[1]:
    a, b = st.columns([3, 1])
    pos = controls.page_param("pos", "out_pos", range(T), T - 1)
    pos = a.selectbox(t("output.position", lang), range(T), key="out_pos", format_func=lambda i: labels[i])
    k = b.slider(t("output.k", lang), 3, 20, 10, key="out_k")
    sv.plot(output.topk_bars(probs[pos], ws.vocab, k=k, lang=lang, context_ids=ws.walk.token_ids[row][:pos + 1],
                             title=t("output.bars title", lang).format(label=visible_text(texts[pos]), k=k)),
            sv.file_stem("probs", "topk", f"row{row}", f"pos{pos}"), key="fig_topk")

    st.subheader(t("output.argmax", lang))
    best_row = int(probs[pos].argmax())
    code_key = "output.argmax code" if ws.vocab.mode == "full" else f"fixes.argmax_code_{ws.vocab.mode}"
    st.code(t(code_key, lang).format(row=row, pos=pos), language="python")
    st.success(t("output.argmax result", lang).format(pos=pos, label=visible_text(texts[pos]),
                                                tok=visible_text(ws.vocab.row_text(best_row)),
                                                id=ws.vocab.token_id(best_row), p=float(probs[pos, best_row])))
    # Where this page departs from the notebook (issue 12): the position it decodes, and rows vs cl100k ids.
    st.caption(t("fixes.notebook_position", lang, pos=pos))
    if ws.vocab.mode != "full":
        st.caption(t(f"fixes.notebook_rows_{ws.vocab.mode}", lang, V=V, row=best_row, id=ws.vocab.token_id(best_row)))
    st.caption(t("output.argmax all", lang))
    st.code(ws.vocab.decode(ws.vocab.token_ids(probs.argmax(dim=-1).tolist())) or " ", language=None)

    st.subheader(t("output.table", lang).format(k=5))
    st.dataframe(tables.topk_table(probs, ws.vocab, labels, k=5, lang=lang), hide_index=True, key="topk_table",
                 height=min(38 + 35 * T, 600),
                 column_config={t("ui.probability", lang): st.column_config.NumberColumn(format="percent")})

with tabs[2]:
    if ws.walk.targets is not None:
        losses = token_losses(trace["logits"], ws.walk.targets)[row]
        target_texts = [ws.vocab.text(i) for i in ws.walk.target_ids[row]]
        uniform = math.log(V)
        sv.plot(output.token_loss_bar(losses, labels, target_texts, uniform, lang=lang),
                sv.file_stem("loss", f"row{row}"), key="fig_loss")
        st.caption(t("output.loss note", lang).format(row=row, loss=float(losses.mean()), V=V, u=uniform))
    elif T > 1:  # own text: every position but the last has its true next token, the text's own next token
        losses = token_losses(trace["logits"][row:row + 1, :-1], ws.walk.rows[row:row + 1, 1:])[0]
        uniform = math.log(V)
        sv.plot(output.token_loss_bar(losses, labels[:-1], texts[1:], uniform, lang=lang),
                sv.file_stem("loss", f"row{row}"), key="fig_loss")
        st.caption(t("fixes.own_text_loss", lang, loss=float(losses.mean()), u=uniform, last=labels[-1]))
    else:
        st.info(t("output.no loss", lang))

if with_diff:
    with tabs[3]:
        from minigpt.analysis import target_probs

        st.header(t("train.diff_title", lang))
        # Same config and seed: exactly the weights training started from (the Trainer builds the model the same way).
        untrained_trace = ws.untrained_trace()
        before, after = untrained_trace["probs"][row], probs
        st.dataframe(tables.prediction_diff(before, after, ws.vocab, ws.vocab, labels, lang=lang), hide_index=True,
                     key="trained_diff", height=min(38 + 35 * T, 600))
        targets = ws.walk.targets[row] if ws.walk.targets is not None else ws.walk.rows[row][1:]
        n = len(targets)  # own text: the true next token is known for every position but the last
        sv.plot(output.true_token_probs(target_probs(before[:n], targets), target_probs(after[:n], targets),
                                        texts[:n], lang=lang), sv.file_stem("trained-vs-untrained", f"row{row}"),
                key="fig_trained_diff")
