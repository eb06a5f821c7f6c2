"""Chapter 1, text → tokens: the corpus, the token chips with their ids, the split, and x / y shifted by one."""
import streamlit as st

from pages import common, stage_view as sv
from minigpt import figures
from minigpt.explain import explain, t
from minigpt.figures_extra import corpus_stats, shift_table

TEXT = {
    "title": {"en": "1 · Text → tokens", "zh": "1 · 文本 → token"},
    "corpus": {"en": "The corpus", "zh": "语料"},
    "characters": {"en": "characters", "zh": "字符数"},
    "tokens": {"en": "tokens", "zh": "token 数"},
    "vocabulary rows": {"en": "vocabulary rows", "zh": "词表行数"},
    "train tokens": {"en": "train tokens (90%)", "zh": "训练集 token（90%）"},
    "validation tokens": {"en": "validation tokens (10%)", "zh": "验证集 token（10%）"},
    "split": {"en": "The first 90% of the corpus's tokens are for training, the last 10% for validation "
                    "(the notebook's split); random batches come from the training part.",
              "zh": "语料前 90% 的 token 用于训练，最后 10% 用于验证（与笔记本相同）；随机批次取自训练部分。"},
    "chips": {"en": "What the model reads (the id under each token)", "zh": "模型读到的内容（每个 token 下方是编号）"},
    "chips_char": {"en": "With the character vocabulary the number under each token is its Unicode code point.",
                   "zh": "字符级词表下，每个 token 下方的数字是它的 Unicode 码位。"},
    "shift": {"en": "Input x and target y: y is x shifted by one", "zh": "输入 x 与目标 y：y 是 x 向后移一位"},
    "shift_note_batch": {"en": "Row {row} of the batch starts at token {start} of the training split. Read across: "
                               "at every position the target is simply the next token, so y[i] = x[i+1].",
                         "zh": "批次的第 {row} 行从训练集的第 {start} 个 token 开始。横着看：每个位置的目标就是下一个 token，即 y[i] = x[i+1]。"},
    "shift_note_text": {"en": "For your own text the target of each position is the token after it; the last "
                              "position's target is unknown (?) — that is the one the model has to guess.",
                        "zh": "对于你自己的文本，每个位置的目标就是它后面的那个 token；最后一个位置的目标未知（?）——这正是模型要猜的。"},
    "batch": {"en": "The whole batch x (one row per line; ids) and y", "zh": "整个批次 x（每行一个样本；编号）与 y"},
}


def tr(key, lang):
    return TEXT[key].get(lang) or TEXT[key]["en"] if key in TEXT else sv.tr(key, lang)


ws = common.workspace()
lang = ws.lang
st.title(tr("title", lang))
st.write(explain("tokens", lang))
common.show_notices(ws)

st.subheader(tr("corpus", lang))
st.caption(f"{ws.corpus.title} · {ws.model_label}")
stats = corpus_stats(ws.corpus.text, ws.corpus_rows, ws.vocab.size)
for col, (name, value) in zip(st.columns(len(stats)), stats.items()):
    col.metric(tr(name, lang), f"{value:,}")
st.progress(0.9, text=tr("split", lang))

row = sv.batch_row(ws, lang)
st.subheader(tr("chips", lang))
st.html(figures.token_chips_html(ws.texts(row), ws.walk.token_ids[row], ws.walk.known[row]))
if ws.vocab.mode == "char":
    st.caption(tr("chips_char", lang))
if not all(ws.walk.known[row]):
    st.caption("🟥 " + t("unknown token", lang))

st.subheader(tr("shift", lang))
target_ids = ws.walk.target_ids[row] if ws.walk.target_ids is not None else None
table = shift_table(ws.walk.token_ids[row], target_ids, ws.vocab.text, lang=lang)
st.dataframe(table, hide_index=True, key="shift_table", height=min(38 + 35 * len(table), 600))
if target_ids is not None:
    st.caption(tr("shift_note_batch", lang).format(row=row, start=ws.walk.starts[row] if ws.walk.starts else 0))
else:
    st.caption(tr("shift_note_text", lang))

if ws.walk.targets is not None and ws.walk.batch_size > 1:
    st.subheader(tr("batch", lang))
    import pandas as pd

    from minigpt.figures import visible_text

    def decoded(ids):
        return "".join(visible_text(ws.vocab.text(i)) for i in ids)

    st.dataframe(pd.DataFrame({
        t("batch row", lang): range(ws.walk.batch_size),
        "x": [decoded(r) for r in ws.walk.token_ids],
        "y": [decoded(r) for r in ws.walk.target_ids],
    }), hide_index=True, key="batch_text")
    left, right = st.columns(2)
    left.markdown("**x** (ids)")
    left.dataframe(pd.DataFrame(ws.walk.token_ids), key="batch_x")
    right.markdown("**y** (ids)")
    right.dataframe(pd.DataFrame(ws.walk.target_ids), key="batch_y")
