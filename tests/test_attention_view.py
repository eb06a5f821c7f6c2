"""The linked attention view's data (minigpt/views/linked.py): what the browser component receives is the trace's
own numbers, exactly (float32 bytes, −∞ kept), for every stage of the strip and every head; its words are plain
text that the component writes with textContent; on the page (AppTest), the data equals an independent trace."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from minigpt import MiniGPT, corpus, tokenize, typed, walkthrough
from minigpt.model import Switches
from minigpt.tokenizer import Vocabulary
from minigpt.views import linked
from minigpt.views.labels import id_labels
from tests import attention_support as av

APP = str(Path(__file__).resolve().parents[1] / "app.py")
ASSETS = Path(linked.__file__).resolve().parent / "assets"


def expected(trace, name: str, row: int) -> np.ndarray:
    tensor = trace[name].detach().numpy()
    if name.endswith("attn.mask"):
        return tensor[None].astype(np.float32)
    tensor = tensor[row]
    return tensor if tensor.ndim == 3 else tensor[None]


@pytest.mark.parametrize("block, row, head", [(0, 0, 0), (1, 1, 3)])
def test_every_stage_is_the_traces_slice_exactly(traced, block, row, head):
    labels = [f"{i} tok" for i in range(16)]
    data = linked.view_data(traced, block=block, row=row, head=head, labels=labels, lang="en")
    assert [s["key"] for s in data["stages"]] == list(linked.STAGES) and data["allHeads"]
    for s in data["stages"]:
        got = av.values(data, s["key"])
        want = expected(traced, s["name"], row)
        assert got.dtype == np.float32 and got.shape == want.shape, s["key"]
        assert np.array_equal(got, want.astype(np.float32), equal_nan=True), s["key"]  # bit for bit, −∞ included
    masked = av.values(data, "attn.masked")
    assert np.isneginf(masked).any() and s["name"].startswith(f"blocks.{block}.")
    weights = av.stage(data, "attn.weights")
    assert (weights["lo"], weights["hi"]) == (0.0, 1.0) and weights["kind"] == "probability"
    scores = av.stage(data, "attn.scores")
    finite = av.values(data, "attn.scores")
    assert scores["hi"] == pytest.approx(float(np.abs(finite).max())) and scores["lo"] == -scores["hi"]


def test_a_large_model_sends_only_the_chosen_head(compact_vocab):
    model = MiniGPT(walkthrough.Controls(context_length=128, d_model=128, num_heads=16).model_config(),
                    compact_vocab.size).eval()
    rows = torch.randint(0, compact_vocab.size, (1, 128), generator=torch.Generator().manual_seed(0))
    trace = model.run_with_trace(rows)
    data = linked.view_data(trace, block=0, row=0, head=5, labels=[str(i) for i in range(128)], lang="zh")
    assert not data["allHeads"]
    got = av.values(data, "attn.weights")
    assert got.shape == (1, 128, 128) and np.array_equal(got[0], trace["blocks.0.attn.weights"][0, 5].numpy())
    assert data["ui"]["show_values"] == "显示数值"


def test_user_text_travels_as_text_and_the_component_never_writes_html(compact_vocab, traced):
    labels = ["<img src=x onerror=alert(1)>"] + [str(i) for i in range(15)]
    data = linked.view_data(traced, block=0, row=0, head=0, labels=labels, lang="en")
    assert data["labels"][0] == labels[0]  # as typed; the JS writes it with textContent
    source = "".join((ASSETS / f).read_text(encoding="utf-8") for f in ("attention_view_draw.js", "attention_view.js"))
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source and "textContent" in source
    assert "http://" not in source.replace("http://www.w3.org/2000/svg", "") and "https://" not in source  # no CDN


def test_the_attention_page_hands_the_component_the_models_own_numbers():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.session_state["c_model"] = "fresh"
    at.switch_page("pages/attention.py").run()
    assert not at.exception, [e.value for e in at.exception]
    data = av.view_data(at)
    controls = walkthrough.Controls()
    vocab = Vocabulary.from_text(corpus.builtin().text, controls.vocab)
    vocab = typed.for_text(vocab, controls.text, controls.context_length)
    model = typed.with_typed_rows(MiniGPT(controls.model_config(), vocab.base.size).eval(), vocab) if vocab.typed \
        else MiniGPT(controls.model_config(), vocab.size).eval()
    tokens = tokenize(vocab, controls.text, context_length=controls.context_length)
    trace = model.run_with_trace(torch.tensor([tokens.rows]), Switches())
    assert data["labels"] == id_labels(tokens.ids, vocab.mode, "en")
    for s in data["stages"]:
        assert np.array_equal(av.values(data, s["key"]), expected(trace, s["name"], 0)), s["key"]
    assert data["T"] == len(tokens.rows)
