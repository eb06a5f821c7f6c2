"""Honest pages under AppTest: every chapter opens with a banner naming the model it shows (fresh random weights,
trained in this session with its step and validation loss, a loaded checkpoint), in English and 中文; the
explanations follow the what-if switches; the weights keep their 0 to 1 colour range with the mask off."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from minigpt import bundled, checkpoint, corpus, explain, walkthrough
from minigpt.config import TrainConfig
from minigpt.text import t
from minigpt.trainer import Trainer, prepare
from tests import attention_support
from tests.test_pages import open_page

APP = str(Path(__file__).resolve().parents[1] / "app.py")
CHAPTERS = ["pages/embedding.py", "pages/attention.py", "pages/block.py", "pages/output.py", "pages/step.py"]
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def trained():
    """A Trainer's checkpoint, as the Train page hands it over (Trainer.checkpoint_copy): the sidebar's default
    model config on the built-in corpus, a few steps, evaluated twice."""
    config = walkthrough.Controls().model_config()
    vocab, rows = prepare(corpus.builtin().text, config)
    trainer = Trainer(config, TrainConfig(steps=4, eval_interval=2, eval_batches=1, device="cpu"), rows, vocab)
    trainer.run()
    ckpt = trainer.checkpoint_copy()
    assert ckpt.steps == 4 and explain.val_loss_of(ckpt.train_state) is not None
    return ckpt


def run_page(page: str, lang: str = "en", **state) -> AppTest:
    return open_page(page, lang, **state)


def texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def chart(at: AppTest, contains: str) -> dict:
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        if contains in spec["layout"].get("title", {}).get("text", ""):
            return spec
    raise AssertionError(f"no figure titled with {contains!r}")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", CHAPTERS)
def test_fresh_weights_are_announced_on_every_chapter(page, lang):
    at = run_page(page, lang, c_model="fresh")
    banner = explain.banner("fresh", lang, seed=walkthrough.Controls().model_config().seed)
    assert banner in texts(at, "warning")
    assert ("mean nothing yet" in banner) if lang == "en" else ("没有任何含义" in banner)


@pytest.mark.parametrize("page, lang", [(page, ("en", "zh")[i % 2]) for i, page in enumerate(CHAPTERS)])
def test_the_bundled_model_is_announced_on_every_chapter_by_default(page, lang):
    shipped = bundled.load()
    at = run_page(page, lang)
    banner = explain.banner("bundled", lang, seed=shipped.config.seed, step=shipped.steps,
                            val_loss=explain.val_loss_of(shipped.train_state))
    assert banner in texts(at, "info")
    assert not any(explain.banner("fresh", lang, seed=shipped.config.seed) == w for w in texts(at, "warning"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_banner_names_the_model_trained_here_with_its_step_and_validation_loss(trained, lang):
    loss = explain.val_loss_of(trained.train_state)
    for page in ("pages/attention.py", "pages/output.py"):
        at = run_page(page, lang, trained_checkpoint=trained, c_model="trained")
        shown = texts(at, "info")
        assert explain.banner("trained", lang, step=4, val_loss=loss) in shown, shown
        assert any(f"{loss:.3f}" in s and "4" in s for s in shown)
        assert not any(explain.banner("fresh", lang, seed=trained.config.seed) == w for w in texts(at, "warning"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_banner_names_a_loaded_checkpoint(trained, lang):
    data = checkpoint.to_bytes(trained.model, trained.vocab, {"steps": 9})
    loaded = checkpoint.load_any(data, num_heads=None, context_length=trained.config.context_length)
    at = run_page("pages/block.py", lang, loaded_checkpoint=loaded, c_model="loaded")
    assert explain.banner("loaded", lang, step=9) in texts(at, "info")
    assert ("loaded checkpoint (step 9)" if lang == "en" else "加载的检查点（第 9 步）") in " ".join(texts(at, "info"))


def test_pages_without_one_model_have_no_banner():
    for page in ("pages/tokens.py", "pages/compare.py"):
        at = run_page(page)
        assert not any("This page shows" in s for s in texts(at, "warning") + texts(at, "info")), page


def switch_off(at, *switches: str, **state) -> list[str]:
    """Turn what-if switches off, rerun with the given session state kept, and return the page's texts."""
    for name in switches:
        at.toggle(key=f"wi_{name}").set_value(False)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    return texts(at, "markdown")


def test_attention_explanations_follow_the_causal_mask_and_the_scale_switch():
    at = run_page("pages/attention.py", c_source="batch", c_model="fresh")
    shown = attention_support.texts(attention_support.view_data(at))  # the linked view's explanation per tab
    assert t("stage_variant.attn.weights.random") in shown  # fresh weights: described, not interpreted
    assert t("stage.attn.weights") not in shown
    assert t("stage.attn.masked") in shown and t("stage_variant.attn.scores.random") in shown
    switch_off(at, "causal_mask", "scale", c_source="batch", c_model="fresh")
    data = attention_support.view_data(at)
    shown = attention_support.texts(data)
    for key in ("attn.weights.no_mask", "attn.masked.no_mask", "attn.mask.no_mask", "attn.scores.no_scale"):
        assert t(f"stage_variant.{key}") in shown, key
    assert not any("exactly 0" in s for s in shown)
    weights = attention_support.stage(data, "attn.weights")
    assert (weights["lo"], weights["hi"]) == (0.0, 1.0)  # not re-ranged to the flatter weights (heads share it)


def test_block_explanations_follow_the_residual_and_layernorm_switches():
    at = run_page("pages/block.py", "zh")
    assert t("stage.norm1", "zh") in texts(at, "markdown")
    shown = switch_off(at, "layer_norm", "residual", c_lang="zh")
    for key in ("norm1.no_layer_norm", "norm2.no_layer_norm", "resid1.no_residual", "resid2.no_residual"):
        assert t(f"stage_variant.{key}", "zh") in shown, key
    assert t("stage.norm1", "zh") not in shown
