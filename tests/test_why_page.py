"""The "What it learned" page under AppTest, in English and 中文, for fresh and trained weights, with heads
knocked out: no traceback, every view drawn, and the numbers on screen are the model's own."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from minigpt import corpus, walkthrough
from minigpt.config import TrainConfig
from minigpt.model import Switches
from minigpt.trainer import Trainer
from minigpt.training import prepare
from minigpt import knockout as ko
from minigpt.text import keys, t
from tests.test_pages import decode, open_page
from tests.test_text_pages import ENGLISH, screen_texts

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/inside.py"


@pytest.fixture(scope="module")
def trained():
    config = walkthrough.Controls().model_config()
    vocab, rows = prepare(corpus.builtin().text, config)
    trainer = Trainer(config, TrainConfig(steps=6, eval_interval=3, eval_batches=1, device="cpu"), rows, vocab)
    trainer.run()
    return trainer.checkpoint_copy()


def run(lang: str = "en", **state) -> AppTest:
    return open_page(PAGE, lang, timeout=90, **state)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def chart(at: AppTest, title: str) -> dict:
    found = [c for c in charts(at) if title in c["layout"]["title"]["text"]]
    assert found, [c["layout"]["title"]["text"][:60] for c in charts(at)]
    return found[0]


def test_every_view_is_drawn_and_the_lens_ends_on_the_models_prediction():
    at = run("en", c_model="fresh")
    assert len(at.get("plotly_chart")) == 8
    grid = chart(at, t("why.lens_title", "en"))
    z = decode(grid["data"][0]["z"])
    # the model on screen: the sidebar's default fresh model on the default text
    from ui.workspace import fresh_for_text
    c = walkthrough.Controls()
    model, vocab, _ = fresh_for_text(c.model_config(), corpus.builtin().text, c)
    rows = walkthrough.make_input(c, vocab, None, model.config.context_length).rows
    probs = model.run_with_trace(rows)["probs"][0]
    np.testing.assert_allclose(z[:, -1], probs.max(-1).values.numpy(), atol=1e-6)
    assert t("why.lens_no_target", "en") in [str(e.value) for e in at.caption]
    assert any("mean nothing yet" in str(w.value) for w in at.warning)  # random weights are announced


def test_chinese_page_with_a_corpus_batch_and_a_knockout_shows_no_english(trained):
    at = run("zh", c_source="batch", c_model="trained", trained_checkpoint=trained, why_off=[(0, 1)],
             why_mode="zero")
    texts = screen_texts(at)
    assert [s for s in texts if s.strip() in keys()] == []
    leftovers = sorted({f"{ENGLISH[p]}: {p!r} in {s[:80]!r}" for s in texts for p in ENGLISH if p in s})
    assert leftovers == []
    assert t("why.knockout_on", "zh", n=1) in [str(w.value) for w in at.warning]
    assert len(at.get("plotly_chart")) == 11  # + changes, next token with heads off, true-next-token lens
    assert at.select_slider(key="why_map_when").value == "now"


def test_importance_on_screen_is_the_validation_loss_increase(trained):
    at = run("en", c_model="trained", trained_checkpoint=trained)
    fig = chart(at, "Head importance")
    z = decode(fig["data"][0]["z"])
    expected = ko.head_importance(trained.model, _corpus_rows(trained), "mean").increase.numpy()
    np.testing.assert_allclose(z, expected, atol=1e-6)


def _corpus_rows(ckpt):
    return corpus.encode_rows(corpus.builtin().text, ckpt.vocab)


def test_knocked_out_heads_that_no_longer_exist_are_dropped():
    at = run("en", c_model="fresh", why_off=[(0, 3)])
    at.session_state["c_num_heads"] = 2
    at.session_state["c_model"] = "fresh"  # sidebar keys are set on every run (tests/test_pages.py rerun)
    at.session_state["c_d_model"] = 64
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["why_off"] == []


def test_every_view_downloads_the_numbers_it_draws():
    import io

    import pandas as pd

    from minigpt import gradients, lens, embedding_map
    from minigpt.views import why as views
    from ui import why

    c = walkthrough.Controls(model="fresh")
    from ui.workspace import fresh_for_text
    model, vocab, _ = fresh_for_text(c.model_config(), corpus.builtin().text, c)
    rows = walkthrough.make_input(c, vocab, None, model.config.context_length).rows
    trace = model.run_with_trace(rows)
    labels = [f"{i} {vocab.row_text(r)}" for i, r in enumerate(rows[0].tolist())]

    def read(fig, **kw):
        return pd.read_csv(io.BytesIO(why.figure_csv(fig)), encoding="utf-8-sig", **kw)

    view = lens.logit_lens(model, trace)
    table = read(views.lens_grid(view, labels, vocab), index_col=0)
    np.testing.assert_allclose(table.to_numpy(), view.top_probs.T.numpy(), rtol=1e-6)
    assert list(table.index) == labels
    grads = gradients.stage_gradients(model, rows, position=3, target=5)
    table = read(views.gradient_heatmap(grads, "blocks.0.attn.weights", labels, head=2), index_col=0)
    np.testing.assert_allclose(table.to_numpy(), grads["blocks.0.attn.weights"][0, 2].numpy(), rtol=1e-6, atol=1e-12)
    proj = embedding_map.project(model.token_embedding.weight, torch.arange(10))
    table = read(views.embedding_map(proj, [vocab.row_text(r) for r in range(10)]))
    np.testing.assert_allclose(table[["x", "y"]].to_numpy(), proj.points.numpy(), rtol=1e-5)
    bars = views.gradient_norm_bars(lens.layer_stages(model.config), [("a", [1.0, 2.0]), ("b", [3.0, 4.0])])
    assert read(bars, index_col=0).to_numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    changes = views.stage_changes(trace, model.run_with_trace(rows, Switches(knockout=ko.every_head(1, 4))),
                                  ["blocks.0.attn.mixed", "logits"])
    assert read(changes, index_col=0).shape == (1, 2)


def test_a_large_models_importance_is_measured_when_asked(monkeypatch):
    from ui import why

    monkeypatch.setattr(why, "AUTO_IMPORTANCE_S", 0.0)  # every model counts as large
    at = run("en", c_model="fresh", c_seed=4242)
    assert not [c for c in charts(at) if "Head importance" in c["layout"]["title"]["text"]]
    at.session_state["c_model"], at.session_state["c_seed"] = "fresh", 4242
    at.button(key="why_measure").click().run()
    assert not at.exception and chart(at, "Head importance")
