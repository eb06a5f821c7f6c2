"""Labels (minigpt.views.labels): unique, visible, short, and safe for plotly and HTML whatever the text."""
from __future__ import annotations

import re

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minigpt import MiniGPT, ModelConfig, tokenize
from minigpt.views import chips, heatmaps
from minigpt.views.labels import LABEL_CHARS, escape_all, token_labels


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
