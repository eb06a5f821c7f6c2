"""Every walkthrough page under Streamlit's AppTest: defaults, each bad input, and what the figures carry
(shapes in titles, axis labels of the row shown, −∞ cells marked, top-k probabilities equal to the model's)."""
from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from minigpt import corpus, walkthrough
from minigpt.stages import WHY_STEPS
from minigpt.views.labels import token_labels, visible_text, vocab_label
from minigpt.model import MiniGPT
from minigpt.tokenizer import Vocabulary
from tests.attention_support import stage, values, view_data, view_datas

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["pages/home.py", "pages/tokens.py", "pages/embedding.py", "pages/attention.py", "pages/block.py",
         "pages/output.py", "pages/step.py", "pages/compare.py"]


# -- helpers -------------------------------------------------------------------------------------------
def start(lang: str | None = None, *, timeout: float = 60, **state) -> AppTest:
    """The app after its first run (lang: the link's `lang`), with sidebar controls (c_*) or page state set for
    the next run."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if lang is not None:
        at.query_params["lang"] = lang
    at.run()
    for key, value in state.items():
        at.session_state[key] = value
    return at


def open_page(page: str, lang: str | None = None, *, timeout: float = 60, **state) -> AppTest:
    at = start(lang, timeout=timeout, **state)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rerun(at: AppTest, **state) -> AppTest:
    """Run again. After switch_page, AppTest's tree holds no sidebar widgets (streamlit 1.67 with a pages/
    folder), and the keys of unrendered widgets are dropped after each run: set the sidebar's keys every time."""
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def decode(value):
    """plotly 7 sends arrays as {"dtype", "bdata", "shape"}; lists stay lists."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(s) for s in shape.split(",")]
        return array.reshape(shape) if shape else array
    return np.asarray(value) if isinstance(value, list) else value


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def title(fig: dict) -> str:
    return fig["layout"].get("title", {}).get("text", "")


def chart(at: AppTest, contains: str) -> dict:
    found = [f for f in charts(at) if contains in title(f)]
    assert found, f"no figure titled with {contains!r}: {[title(f)[:60] for f in charts(at)]}"
    return found[0]


def unescape(labels) -> list[str]:
    import html

    return [html.unescape(str(s)) for s in labels]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.from_text(corpus.builtin().text, "compact")


def expected_labels(vocab, ids) -> list[str]:
    return token_labels([vocab.text(i) for i in ids])


# -- every page with the defaults ----------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_defaults(page):
    at = open_page(page)
    assert at.title or at.header, "the page drew nothing"
    if page not in ("pages/home.py", "pages/tokens.py", "pages/step.py"):  # step opens on the token chips
        assert charts(at) or view_datas(at), "the page has no figure"
    for fig in charts(at):
        for trace in fig["data"]:
            z = decode(trace.get("z")) if "z" in trace else None
            if z is not None and np.ndim(z) == 2:
                assert z.shape[0] <= 256 and z.shape[1] <= 256, "a figure ships a huge matrix"


def test_tokens_page_shows_ids_and_the_shift_by_one(vocab):
    at = open_page("pages/tokens.py", c_source="batch", c_model="fresh", p_row=2)  # the builtin corpus's vocabulary
    walk = walkthrough.batch_input(vocab, torch.tensor(vocab.rows(vocab.encode(corpus.builtin().text))), 16, 4, 1337)
    html_block = "".join(h.proto.body for h in at.get("html"))
    for token_id in walk.token_ids[2]:
        assert f">{token_id}</span>" in html_block
    shift = at.dataframe[0].value
    assert list(shift["x id"]) == list(walk.token_ids[2])
    assert [int(y) for y in shift["y id"]] == list(walk.target_ids[2])
    assert list(shift["x id"])[1:] == [int(y) for y in shift["y id"]][:-1]  # y is x shifted by one
    assert len(at.metric) == 5


def test_embedding_page_shapes_and_similarity():
    at = open_page("pages/embedding.py")
    assert "[batch 1, position 16, d_model 64]" in title(chart(at, "Token embedding"))
    assert "[position 16, d_model 64]" in title(chart(at, "Sinusoidal"))
    sim = decode(chart(at, "Cosine similarity")["data"][0]["z"])
    assert sim.shape == (16, 16) and np.allclose(np.diag(sim), 1, atol=1e-5)
    curves = chart(at, "value against position")
    assert len([d for d in curves["data"] if d.get("mode") == "markers"]) == 5


def test_attention_page_marks_the_future_and_labels_the_row_shown(vocab):
    at = open_page("pages/attention.py", c_source="batch", c_model="fresh", p_row=3, p_head=1)
    walk = walkthrough.batch_input(vocab, torch.tensor(vocab.rows(vocab.encode(corpus.builtin().text))), 16, 4, 1337)
    data = view_data(at)
    assert data["labels"] == expected_labels(vocab, walk.token_ids[3]) and (data["row"], data["head"]) == (3, 1)
    scores = stage(data, "attn.scores")
    assert "head 1 · batch row 3" in scores["figTitle"] and scores["shape"] == "[batch 4, head 4, query 16, key 16]"
    assert (scores["xTitle"], scores["yTitle"]) == ("key", "query") and scores["square"]
    masked = values(data, "attn.masked")
    assert masked.shape == (4, 16, 16)  # every head travels: the view switches heads in the browser
    assert (np.isneginf(masked) == np.triu(np.ones((16, 16), bool), 1)).all()
    assert (values(data, "attn.mask")[0] == np.triu(np.ones((16, 16)), 1)).all()
    weights = values(data, "attn.weights")
    assert np.allclose(weights.sum(axis=-1), 1, atol=1e-5) and np.allclose(np.triu(weights[1], 1), 0)
    assert (stage(data, "attn.weights")["lo"], stage(data, "attn.weights")["hi"]) == (0.0, 1.0)
    assert stage(data, "attn.q")["shape"] == "[batch 4, head 4, position 16, d_k 16]"
    assert values(data, "attn.concat").shape == (1, 16, 64) and values(data, "attn.out").shape == (1, 16, 64)
    assert [s["key"] for s in data["stages"]] == ["attn.q", "attn.k", "attn.v", "attn.scores", "attn.mask",
                                                 "attn.masked", "attn.weights", "attn.mixed", "attn.concat", "attn.out"]


def test_what_if_switches_change_every_later_stage():
    at = open_page("pages/attention.py", c_source="batch", c_model="fresh")
    before = values(view_data(at), "attn.weights")
    out_before = values(view_data(at), "attn.out")
    at.toggle(key="wi_causal_mask").set_value(False)
    at.slider(key="wi_temperature").set_value(2.0)
    rerun(at, c_source="batch", c_model="fresh")
    after = values(view_data(at), "attn.weights")
    assert np.triu(after[0], 1).max() > 0, "without the mask, tokens look ahead"
    assert not np.isneginf(values(view_data(at), "attn.masked")).any()
    assert not np.allclose(out_before, values(view_data(at), "attn.out"))
    assert not np.allclose(before, after)
    assert any("NOT what the real model" in w.value for w in at.warning)
    assert len(at.metric) == 2  # loss with and without the switches (the batch has targets)
    assert (at.query_params["mask"], at.query_params["temp"]) == ("0", "2.0")  # the link keeps them


def test_block_page_layernorm_table_and_relu_zeros():
    at = open_page("pages/block.py", c_model="fresh")
    table = at.dataframe[0].value
    assert np.allclose(table["mean after"].abs().max(), 0, atol=1e-4)  # fresh LayerNorm: scale 1, shift 0
    assert np.allclose(table["std after"], 1, atol=1e-2)
    assert "[batch 1, position 16, d_ffn 256]" in title(chart(at, "FFN hidden layer"))
    relu = decode(chart(at, "FFN after ReLU")["data"][0]["z"])
    shown = float(at.metric[0].value.rstrip("%")) / 100
    assert math.isclose(shown, float((relu == 0).mean()), abs_tol=1e-3)
    before_after = chart(at, "Embedding + position → Residual 1")
    assert len([d for d in before_after["data"] if d.get("coloraxis")]) == 2


def test_output_topk_matches_the_model(vocab):
    at = open_page("pages/output.py", c_model="fresh")
    config = walkthrough.Controls().model_config()
    model = MiniGPT(config, vocab.size).eval()
    ids = vocab.encode(walkthrough.DEFAULT_TEXT)[-16:]
    with torch.no_grad():
        logits, _ = model(torch.tensor([vocab.rows(ids)]))
    probs = torch.softmax(logits[0, -1], dim=-1)
    top = torch.topk(probs, 10)
    bars = chart(at, "most likely next tokens")["data"][0]
    assert np.allclose(decode(bars["x"]), top.values.numpy(), atol=1e-6)
    assert unescape(bars["y"]) == [vocab_label(vocab, r) for r in top.indices.tolist()]
    best = vocab.row_text(int(top.indices[0]))
    assert any(visible_text(best) in s.value for s in at.success)


def test_output_per_token_loss_for_a_corpus_batch():
    at = open_page("pages/output.py", c_source="batch", c_model="fresh")  # the notebook's context of 16
    loss = chart(at, "Loss at each position")
    assert len(decode(loss["data"][0]["y"])) == 16
    assert any(s.get("type") == "line" for s in loss["layout"].get("shapes", []))  # ln(V) reference


def test_step_page_walks_every_stage_and_reads_the_url():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["stage"], at.query_params["model"] = "blocks.0.attn.weights", "fresh"  # one block: 24 stages
    at.run()
    at.session_state["c_model"] = "fresh"
    at.switch_page("pages/step.py").run()
    assert "Attention weights" in at.header[0].value
    at.selectbox(key="step_stage").set_value("tokens").run()
    seen = []
    while True:
        assert not at.exception, [e.value for e in at.exception]
        seen.append(at.header[0].value)
        if at.button(key="step_next").disabled:
            break
        at.session_state["c_model"] = "fresh"  # AppTest drops the unrendered sidebar key after each run
        at.button(key="step_next").click().run()
    assert len(seen) == 24 + len(WHY_STEPS) and "argmax" in seen[23]  # then chapter 6's views
    at.session_state["c_model"] = "fresh"
    at.button(key="step_prev").click().run()
    assert at.header[0].value.startswith(f"{len(seen) - 1}.")


def test_compare_page_shares_one_colour_scale():
    at = open_page("pages/compare.py", cmp_b="norm")
    fig = charts(at)[0]
    panels = [d for d in fig["data"] if d.get("coloraxis") == "coloraxis"]
    assert len(panels) == 2 and "coloraxis" in fig["layout"]


def test_chinese_switch_changes_page_texts():
    at = open_page("pages/attention.py", c_lang="zh")
    assert at.title[0].value == "3 · 注意力"
    assert "注意力" in stage(view_data(at), "attn.weights")["figTitle"]
    assert view_data(at)["ui"]["show_values"] == "显示数值"


# -- bad input ---------------------------------------------------------------------------------------
BAD_INPUTS = {
    "empty": ({"c_text": ""}, "error", "empty"),
    "whitespace": ({"c_text": "  \n\t "}, "error", "whitespace"),
    "one token": ({"c_text": "Hello"}, "info", "Only one token"),
    "too long": ({"c_text": "value " * 300, "c_model": "fresh"}, "info", "sees the last 16"),
    "chinese": ({"c_text": "注意力机制很有趣"}, "info", "<unk>"),
    "emoji": ({"c_text": "🙂🚀🎉"}, "info", "<unk>"),
    "heads": ({"c_d_model": 30, "c_num_heads": 4, "c_model": "fresh"}, "error", "not divisible"),
    "tiny corpus": ({"c_corpus": "paste", "corpus_pasted_text": "a b", "c_source": "batch"}, "error", "at least"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_a_message_and_the_app_recovers(case):
    state, kind, words = BAD_INPUTS[case]
    at = open_page("pages/attention.py", **state)
    messages = [m.value for m in (at.error if kind == "error" else at.info)]
    assert any(words in m for m in messages), messages
    if kind == "info":
        assert view_datas(at), "a notice, and the page still draws"
    rerun(at, c_text=walkthrough.DEFAULT_TEXT, c_d_model=64, c_num_heads=4, c_corpus="builtin", c_source="text")
    assert not at.error and view_datas(at)  # fixed: everything works again


SENTENCE = "我喜欢学习 Transformer 🤖🎉，注意力机制真有趣！"  # issue 12: 16 tokens the English corpus never had


@pytest.mark.parametrize("lang, byte_label, said", [("en", "1 🤖 byte 3/4", "own random row"),
                                                    ("zh", "1 🤖 第 3/4 字节", "自己的随机向量")])
def test_every_typed_token_gets_its_own_row_under_fresh_weights(lang, byte_label, said):
    at = open_page("pages/attention.py", c_text=SENTENCE, c_lang=lang, c_model="fresh")
    assert any(said in i.value for i in at.info), [i.value for i in at.info]
    data = view_data(at)
    labels = data["labels"]
    assert byte_label in labels and len(set(labels)) == 16
    rows = values(data, "attn.q")[0]
    assert rows.shape[0] == 16 and len({tuple(r) for r in np.round(rows.astype(float), 6)}) == 16


def test_a_trained_model_says_unseen_tokens_share_the_unk_row():
    from minigpt.config import TrainConfig
    from minigpt.trainer import Trainer, prepare

    config = walkthrough.Controls().model_config()
    vocab, rows = prepare(corpus.builtin().text, config)
    trainer = Trainer(config, TrainConfig(steps=2, eval_interval=2, eval_batches=1, device="cpu"), rows, vocab)
    trainer.run()
    at = open_page("pages/embedding.py", c_text=SENTENCE, c_model="trained", trained_checkpoint=trainer.checkpoint_copy())
    assert any("16 token(s)" in i.value and "all share its single <unk> row" in i.value for i in at.info)
    tok = decode(chart(at, "Token embedding")["data"][0]["z"])
    assert len({tuple(r) for r in tok.astype(float)}) == 1  # what the notice says: one row for all 16


def test_upload_corpus_without_a_file_says_so_and_uses_the_builtin():
    # The upload widget itself is driven in the browser test (tests/test_browser.py): after the first run,
    # AppTest runs the page without the entry point here, so the sidebar cannot be driven.
    at = open_page("pages/tokens.py", c_corpus="upload")
    assert any("Upload a .txt corpus" in i.value for i in at.info)
    assert at.metric[0].value == f"{len(corpus.builtin().text):,}"


@pytest.mark.parametrize("data, words", [(b"caf\xe9 \xff\xfe\xfd text", "not UTF-8"),
                                          (b"a" * (corpus.MAX_UPLOAD_BYTES + 1), "the limit is 2,000,000")])
def test_bad_upload_messages(data, words):
    with pytest.raises(corpus.CorpusError, match=words):
        corpus.decode_upload(data)


def test_corpus_notice_follows_the_language_switch():
    at = open_page("pages/tokens.py", c_corpus="paste", c_lang="zh")
    assert any("请在侧边栏粘贴语料" in i.value for i in at.info), [i.value for i in at.info]


def test_stage_downloads_wait_in_a_popover_until_opened():
    at = open_page("pages/block.py")
    assert not at.get("download_button") and len(at.get("popover")) >= 7  # closed: no buttons built
    at.session_state["dl_blocks.0.norm1"] = True
    at.run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["download CSV", "download .npy"] and not at.exception


def test_stage_figures_are_shared_between_reruns():
    from ui import stage_view

    at = open_page("pages/block.py")
    before = dict(stage_view._FIGURES)
    at.run()
    assert before and all(stage_view._FIGURES[k] is fig for k, fig in before.items())
