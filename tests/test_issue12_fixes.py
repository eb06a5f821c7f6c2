"""Issue 12's smaller items: positional rows labelled by position, code boxes true for the what-if switches, the
Output page's loss for your own text and where it departs from the notebook, top-k labels for byte pieces, the
batch draw with its own seed in the URL, and sidebar help in both languages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from minigpt import MiniGPT, ModelConfig, Vocabulary, walkthrough
from minigpt.model import Switches
from minigpt.stages import spec_of
from minigpt.text import t
from minigpt.tokenizer import encode
from minigpt.views import heatmaps, output

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def model(compact_vocab) -> MiniGPT:
    return MiniGPT(ModelConfig(num_blocks=1, d_model=16, num_heads=2), compact_vocab.size).eval()


def test_positional_rows_are_positions_not_tokens(model, compact_vocab):
    rows = torch.tensor([compact_vocab.rows(compact_vocab.encode("Build trust with every customer"))])
    trace = model.run_with_trace(rows)
    labels = [f"{i} tok" for i in range(rows.shape[1])]
    cut = heatmaps.stage_slice(trace, "embed.position", labels=labels)
    assert cut.row_labels == [str(i) for i in range(rows.shape[1])]
    assert heatmaps.stage_slice(trace, "embed.sum", labels=labels).row_labels == labels  # the sum has its tokens


@pytest.mark.parametrize("switch, stage, expected, real", [
    (dict(scale=False), "blocks.0.attn.scores", "scores = Q @ K.transpose(-2, -1)", "math.sqrt(d_k)"),
    (dict(causal_mask=False), "blocks.0.attn.mask", "mask = torch.zeros(T, T).bool()", "triu"),
    (dict(temperature=2.5), "blocks.0.attn.weights", "weights = F.softmax(scores / 2.5, dim=-1)", "(scores, dim"),
    (dict(position=False), "embed.sum", "x = token_embedding(rows)", "pe[:T]"),
    (dict(residual=False), "blocks.0.resid1", "x = attn_out", "x + attn_out"),
    (dict(residual=False), "blocks.0.resid2", "x = ffn_out", "x + ffn_out"),
    (dict(layer_norm=False), "blocks.0.norm2", "x = nn.Identity()(x)", "norm2(x)"),
])
def test_code_boxes_are_true_for_the_what_if_switches(model, switch, stage, expected, real):
    rows = torch.tensor([[1, 2, 3]])
    on, off = model.run_with_trace(rows), model.run_with_trace(rows, Switches(**switch))
    assert on.code(stage) == spec_of(stage).code("post") and real in on.code(stage)
    assert off.code(stage) == expected and real not in off.code(stage)
    assert off.code("blocks.0.ffn.hidden") == on.code("blocks.0.ffn.hidden")  # untouched stages keep their code


def test_pre_ln_skipped_norm_names_its_own_variable(compact_vocab):
    pre = MiniGPT(ModelConfig(d_model=16, num_heads=2, norm="pre"), compact_vocab.size).eval()
    trace = pre.run_with_trace(torch.tensor([[1, 2]]), Switches(layer_norm=False))
    assert trace.code("blocks.0.norm1") == "h = nn.Identity()(x)" and trace.code("final.norm") == "x = nn.Identity()(x)"


def test_top_k_names_byte_pieces_by_their_character(compact_vocab):
    ids = encode("I like 🤖", "compact")
    vocab = Vocabulary("compact", tuple(sorted(set(ids))))
    probs = torch.zeros(vocab.size)
    probs[vocab.row(244)] = 0.9  # the robot's last byte
    probs[vocab.row(40)] = 0.1
    fig = output.topk_bars(probs, vocab, k=2, context_ids=ids[:-1], lang="zh")
    assert list(fig.data[0].y)[0] == "🤖 第 4/4 字节 #244"
    assert "\\x" not in "".join(output.topk_bars(probs, vocab, k=2, context_ids=ids[:-1]).data[0].y)


def test_the_batch_draw_has_its_own_seed_in_the_url(compact_vocab, builtin_text):
    controls, notices = walkthrough.from_query({"source": "batch", "bseed": "7"})
    assert notices == [] and controls.batch_seed == 7 and controls.seed == walkthrough.Controls().seed
    assert walkthrough.to_query(controls)["bseed"] == "7"
    assert walkthrough.from_query({"bseed": "x"})[1], "a bad batch seed gets a notice"
    rows = torch.tensor(compact_vocab.rows(compact_vocab.encode(builtin_text)))

    def batch(**kw):
        c = walkthrough.Controls(source="batch", **kw)
        return walkthrough.make_input(c, compact_vocab, rows, 16).token_ids

    assert batch(batch_seed=7) != batch(batch_seed=8)
    assert batch(batch_seed=7, seed=1) == batch(batch_seed=7, seed=2)  # the model's seed leaves the batch alone


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_sidebar_draws_another_batch_and_explains_its_controls(lang):
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in dict(lang=lang, source="batch", model="fresh", bseed="41").items():
        at.query_params[key] = value
    at.run()  # AppTest's tree holds the sidebar's widgets on the first run only (see tests/test_pages.py: rerun)
    assert not at.exception, [e.value for e in at.exception]
    seed = at.sidebar.number_input(key="c_batch_seed")
    assert seed.value == 41 and seed.help == t("fixes.help_batch_seed", lang)
    assert at.sidebar.button(key="new_batch").label == t("fixes.new_batch", lang)
    assert at.sidebar.selectbox(key="c_vocab").help == t("fixes.help_vocab", lang)
    assert at.sidebar.radio(key="c_norm").help == t("fixes.help_norm", lang)
    assert at.sidebar.number_input(key="c_seed").help == t("fixes.help_seed", lang)
    assert at.sidebar.radio(key="c_source").help == t("fixes.help_source", lang)
    at.sidebar.button(key="new_batch").click().run()
    assert not at.exception
    assert at.session_state["c_batch_seed"] == 42


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_output_scores_your_own_text_and_says_where_it_departs_from_the_notebook(lang):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/output.py")
    for key, value in dict(c_lang=lang, c_model="fresh", c_source="text", c_vocab="compact").items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    assert any(c.startswith(t("fixes.own_text_loss", lang, loss=0, u=0, last="")[:20]) for c in captions)
    assert any(t("fixes.notebook_position", lang, pos=0)[:20] in c for c in captions)
    assert any(t("fixes.notebook_rows_compact", lang, V=0, row=0, id=0)[:20] in c for c in captions)
    assert t("output.no loss", lang) not in [i.value for i in at.info]
    codes = [c.value for c in at.code]
    assert any("vocab.ids[row]" in c for c in codes)  # compact rows are mapped to cl100k ids before decoding
    loss = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
            if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith(t("ui.token_loss_title", lang)[:6])]
    assert loss, "the loss chart for your own text"
