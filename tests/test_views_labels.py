"""Labels (minigpt.views.labels): unique, visible, short, and safe for plotly and HTML whatever the text."""
from __future__ import annotations

import re

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minigpt import MiniGPT, ModelConfig, tokenize
from minigpt.views import chips, heatmaps
from minigpt.views.labels import LABEL_CHARS, escape_all, id_labels, token_labels


def test_token_labels_are_unique_visible_and_short():
    texts = [" the", " the", "\n", "the", " ", "量子", "😀", " a-very-long-token-indeed", "\t"] + [" the"] * 12
    labels = token_labels(texts)
    assert len(set(labels)) == len(labels) == len(texts)
    assert labels[0] == "0 ␣the" and labels[2] == "2 ↵" and labels[4] == "4 ␣" and labels[8] == "8 ⇥"
    assert labels[5] == "5 量子" and labels[6] == "6 😀"
    assert all(len(label) <= LABEL_CHARS for label in labels)
    assert labels[7].endswith("…")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
def test_any_text_gives_unique_labels_safe_chips_and_figures(text, compact_vocab):
    tokens = tokenize(compact_vocab, text, 16)
    texts = [compact_vocab.text(i) for i in tokens.ids]
    labels = token_labels(texts)
    assert len(set(labels)) == len(labels)
    assert len(set(id_labels(tokens.ids, "compact", "zh"))) == len(labels)
    page = chips.token_chips_html(texts, list(tokens.ids), list(tokens.known))
    assert set(re.findall(r"<(/?[^\s>]*)", page)) <= {"div", "/div", "span", "/span"}  # only our own tags
    assert page.count("<span") == page.count("</span>")
    model = _hypothesis_model(compact_vocab.size)
    trace = model.run_with_trace(torch.tensor([tokens.rows]))
    for name in ("blocks.0.attn.masked", "blocks.0.attn.weights", "probs"):
        fig = heatmaps.stage_heatmap(trace, name, labels=labels, vocab=compact_vocab)
        assert list(fig.data[0].y) == escape_all(labels)


_MODELS: dict[int, MiniGPT] = {}


def _hypothesis_model(vocab_size: int) -> MiniGPT:
    if vocab_size not in _MODELS:
        _MODELS[vocab_size] = MiniGPT(ModelConfig(d_model=16, num_heads=2), vocab_size).eval()
    return _MODELS[vocab_size]


def test_byte_pieces_are_labelled_by_their_character_in_each_language():
    from minigpt.tokenizer import encode, token_text
    from minigpt.views.labels import id_labels

    sentence = "我喜欢学习 Transformer 🤖🎉，注意力机制真有趣！"
    ids = encode(sentence, "compact")[-16:]
    en, zh = id_labels(ids, "compact", "en"), id_labels(ids, "compact", "zh")
    assert en[:3] == ["0 ␣+🤖 bytes 1–2/4", "1 🤖 byte 3/4", "2 🤖 byte 4/4"]
    assert zh[:3] == ["0 ␣+🤖 第 1–2/4 字节", "1 🤖 第 3/4 字节", "2 🤖 第 4/4 字节"]
    assert en[13:] == ["13 趣 bytes 1–2/3", "14 趣 byte 3/3", "15 ！"] and en[7] == "7 注意"
    assert len(set(en)) == len(en) == 16 and not any("\\x" in label for label in en + zh)
    assert all(len(label) <= 20 for label in en + zh)  # short enough for a heatmap axis
    # A row that starts inside a character names the stray byte; whole tokens keep "3 ␣the".
    assert id_labels(ids[1:2], "compact", "en") == ["0 byte a4"] and id_labels(ids[1:2], "compact", "zh") == ["0 字节 a4"]
    english = encode(" the customer wants a-very-long-token-indeed", "compact")
    assert id_labels(english, "compact") == token_labels([token_text(i, "compact") for i in english])
