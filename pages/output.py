"""Chapter 5, output: logits → softmax, the top-k next tokens at each position, the argmax decoded (as the
notebook ends), and, for a corpus batch, the loss at each position against the true next token."""
import math

import streamlit as st

from pages import common, stage_view as sv
from minigpt import figures
from minigpt.explain import explain, t
from minigpt.model import token_losses

TEXT = {
    "title": {"en": "5 · Output: next-token probabilities", "zh": "5 · 输出：下一个词的概率"},
    "scores": {"en": "Logits and probabilities", "zh": "logits 与概率"},
    "topk": {"en": "The most likely next tokens", "zh": "最可能的下一个词"},
    "position": {"en": "after position", "zh": "在这个位置之后"},
    "k": {"en": "how many", "zh": "显示几个"},
    "bars title": {"en": "After “{label}”: the {k} most likely next tokens", "zh": "在“{label}”之后：最可能的 {k} 个词"},
    "table": {"en": "Every position's favourite next token (top {k})", "zh": "每个位置最看好的下一个词（前 {k} 个）"},
    "argmax": {"en": "The argmax, decoded (the notebook's last cell)", "zh": "取 argmax 再解码（笔记本的最后一步）"},
    "argmax code": {"en": "predicted_index = torch.argmax(logits[{row}, {pos}]).item()\nencoding.decode([predicted_index])",
                    "zh": "predicted_index = torch.argmax(logits[{row}, {pos}]).item()\nencoding.decode([predicted_index])"},
    "argmax result": {"en": "At position {pos} (“{label}”) the model's single best guess is “{tok}” (id {id}, {p:.2%}).",
                      "zh": "在第 {pos} 个位置（“{label}”）之后，模型最看好的词是“{tok}”（编号 {id}，{p:.2%}）。"},
    "argmax all": {"en": "Argmax at every position, read as text:", "zh": "每个位置的 argmax 连起来读："},
    "untrained": {"en": "Fresh random weights: expect nonsense and probabilities near 1 / {V:,} = {p:.4%}.",
                  "zh": "全新随机权重：预测没有意义，概率都接近 1 / {V:,} = {p:.4%}。"},
    "loss": {"en": "Loss at each position against the true next token", "zh": "每个位置相对于真实下一个词的损失"},
    "loss note": {"en": "Mean loss of row {row}: {loss:.4f}. A uniform guess scores ln({V:,}) = {u:.2f}; lower is better.",
                  "zh": "第 {row} 行的平均损失：{loss:.4f}。均匀乱猜的损失是 ln({V:,}) = {u:.2f}；越低越好。"},
    "no loss": {"en": "Your own text has no known next token after its end; choose “Random corpus batch” in the "
                      "sidebar to see the loss against the true next tokens.",
                "zh": "你自己的文本最后一个词之后没有已知的下一个词；在侧边栏选择“语料随机批次”即可看到相对于真实下一个词的损失。"},
}


def tr(key, lang):
    return (TEXT[key].get(lang) or TEXT[key]["en"]) if key in TEXT else sv.tr(key, lang)


ws = common.workspace()
lang = ws.lang
st.title(tr("title", lang))
st.write(explain("output", lang))
common.show_notices(ws)
cols = st.columns(2)
row = sv.batch_row(ws, lang, container=cols[0])
with cols[1]:
    sv.image_format(lang)
trace = ws.trace()
labels = ws.labels(row)
texts = ws.texts(row)
V = ws.vocab.size
if ws.model_label.startswith("fresh"):
    st.caption(tr("untrained", lang).format(V=V, p=1 / V))

st.header(tr("scores", lang))
for name in ("logits", "probs"):
    sv.show_stage(ws, trace, name, row=row, lang=lang)  # full width: 64 vocabulary columns need it

st.header(tr("topk", lang))
T = len(labels)
a, b = st.columns([3, 1])
pos = common.page_param("pos", "out_pos", range(T), T - 1)
pos = a.selectbox(tr("position", lang), range(T), key="out_pos", format_func=lambda i: labels[i])
k = b.slider(tr("k", lang), 3, 20, 10, key="out_k")
probs = trace["probs"][row]
sv.plot(figures.topk_bars(probs[pos], ws.vocab, k=k, lang=lang,
                          title=tr("bars title", lang).format(label=figures.visible_text(texts[pos]), k=k)),
        sv.file_stem("probs", "topk", f"row{row}", f"pos{pos}"), key="fig_topk")

st.subheader(tr("argmax", lang))
best_row = int(probs[pos].argmax())
st.code(tr("argmax code", lang).format(row=row, pos=pos), language="python")
st.success(tr("argmax result", lang).format(pos=pos, label=figures.visible_text(texts[pos]),
                                            tok=figures.visible_text(ws.vocab.row_text(best_row)),
                                            id=ws.vocab.token_id(best_row), p=float(probs[pos, best_row])))
st.caption(tr("argmax all", lang))
st.code("".join(ws.vocab.row_text(int(r)) for r in probs.argmax(dim=-1)) or " ", language=None)

st.subheader(tr("table", lang).format(k=5))
st.dataframe(figures.topk_table(probs, ws.vocab, labels, k=5, lang=lang), hide_index=True, key="topk_table",
             height=min(38 + 35 * T, 600),
             column_config={t("probability", lang): st.column_config.NumberColumn(format="percent")})

st.header(tr("loss", lang))
if ws.walk.targets is not None:
    losses = token_losses(trace["logits"], ws.walk.targets)[row]
    target_texts = [ws.vocab.text(i) for i in ws.walk.target_ids[row]]
    uniform = math.log(V)
    sv.plot(figures.token_loss_bar(losses, labels, target_texts, uniform, lang=lang),
            sv.file_stem("loss", f"row{row}"), key="fig_loss")
    st.caption(tr("loss note", lang).format(row=row, loss=float(losses.mean()), V=V, u=uniform))
else:
    st.info(tr("no loss", lang))


# -- Trained vs untrained (added by the Train page's helper; builders in minigpt/train_figures.py) ------------------
if ws.controls.model == "trained" and common.TRAINED in st.session_state:
    from minigpt import train_figures as trf
    from minigpt.model import Switches

    st.header(trf.tr("diff_title", lang))
    # Same config and seed: exactly the weights training started from (the Trainer builds the model the same way).
    untrained = common._fresh_model(ws.config, ws.vocab.size)
    untrained_trace = common._trace(f"fresh:{ws.config}:{ws.vocab.fingerprint}",
                                    common._text_key(repr(ws.walk.rows.tolist())), Switches(), untrained, ws.walk.rows)
    before, after = untrained_trace["probs"][row], probs
    st.dataframe(trf.prediction_diff(before, after, ws.vocab, ws.vocab, labels, lang=lang), hide_index=True,
                 key="trained_diff", height=min(38 + 35 * T, 600))
    targets = ws.walk.targets[row] if ws.walk.targets is not None else ws.walk.rows[row][1:]
    n = len(targets)  # own text: the true next token is known for every position but the last
    sv.plot(trf.true_token_probs(trf.target_probs(before[:n], targets), trf.target_probs(after[:n], targets),
                                 texts[:n], lang=lang), sv.file_stem("trained-vs-untrained", f"row{row}"),
            key="fig_trained_diff")
