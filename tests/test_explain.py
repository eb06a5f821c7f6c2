"""minigpt.explain: the model banner per model kind, and stage explanations that follow the what-if switches and
the model kind; the colour ranges that must not move with the switches (probabilities 0 to 1), and the mask's
colours against the signed scale's."""
from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import pytest

from minigpt import explain
from minigpt.model import Switches
from minigpt.stages import CATALOGUE
from minigpt.text import keys, placeholders, t
from minigpt.views import heatmaps, style
from tests.views_support import heatmaps_in, labels_per_row

CJK = re.compile(r"[\u4e00-\u9fff]")
W = "blocks.0.attn.weights"


def _sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s])


# -- explanations ---------------------------------------------------------------------------------
def test_the_real_trained_model_keeps_the_stage_explanation():
    for key, spec in CATALOGUE.items():
        name = f"blocks.0.{key}" if spec.per_block else key
        assert explain.explanation_key(name, Switches(), "trained") == spec.text_key
        assert explain.explanation_key(name) == spec.text_key  # kind not known: no random variant


@pytest.mark.parametrize("name, switches, kind, variant", [
    (W, Switches(causal_mask=False), "trained", "no_mask"),
    (W, Switches(causal_mask=False), "fresh", "no_mask"),  # the switch variant describes: true for random too
    (W, Switches(), "fresh", "random"),
    (W, Switches(temperature=2.0), "fresh", "random"),
    ("blocks.1.attn.mask", Switches(causal_mask=False), "loaded", "no_mask"),
    ("blocks.0.attn.masked", Switches(causal_mask=False), "trained", "no_mask"),
    ("blocks.0.attn.scores", Switches(scale=False), "fresh", "no_scale"),
    ("blocks.0.attn.scores", Switches(), "fresh", "random"),
    ("blocks.0.resid1", Switches(residual=False), "trained", "no_residual"),
    ("blocks.0.resid2", Switches(residual=False), "trained", "no_residual"),
    ("blocks.0.norm1", Switches(layer_norm=False), "fresh", "no_layer_norm"),
    ("blocks.0.norm2", Switches(layer_norm=False), "trained", "no_layer_norm"),
    ("final.norm", Switches(layer_norm=False), "trained", "no_layer_norm"),
    ("probs", Switches(), "fresh", "random"),
])
def test_each_variant_is_chosen_by_its_switch_or_model_kind(name, switches, kind, variant):
    key = explain.explanation_key(name, switches, kind)
    assert key.endswith("." + variant) and key.startswith("stage_variant.")
    assert explain.explanation(name, "en", switches, kind) != t(f"stage.{key.split('.', 1)[1].rsplit('.', 1)[0]}")


def test_switches_that_do_not_touch_a_stage_leave_its_text_alone():
    assert explain.explanation_key(W, Switches(scale=False, residual=False), "trained") == "stage.attn.weights"
    assert explain.explanation_key("blocks.0.attn.scores", Switches(causal_mask=False), "trained") == \
        "stage.attn.scores"
    assert explain.explanation_key("blocks.0.ffn.relu", Switches(layer_norm=False), "fresh") == "stage.ffn.relu"


def test_every_variant_exists_in_both_languages_and_reads_like_its_stage():
    wanted = {f"stage_variant.{key}.{v}" for key, variants in explain.VARIANTS.items() for v in variants}
    assert set(explain.VARIANTS) <= set(CATALOGUE)
    assert all(v in explain.CONDITIONS for variants in explain.VARIANTS.values() for v in variants)
    assert {k for k in keys() if k.startswith("stage_variant.")} == wanted
    for key in wanted:
        en, zh = t(key, "en"), t(key, "zh")
        assert 2 <= _sentences(en) <= 5, key
        assert CJK.search(zh) and len(zh) >= 30 and not CJK.search(en), key


def test_the_no_mask_texts_no_longer_claim_what_the_mask_did():
    base, off = t("stage.attn.weights"), explain.explanation(W, "en", Switches(causal_mask=False), "trained")
    assert "exactly 0" in base and "exactly 0" not in off and "no longer 0" in off
    assert "only look at itself" not in off
    assert "−∞" in t("stage.attn.masked") and "nothing is set to −∞" in t("stage_variant.attn.masked.no_mask")


def test_random_weights_are_described_not_interpreted():
    assert "Red cells are strong matches" in t("stage.attn.scores")
    assert "strong matches" not in explain.explanation("blocks.0.attn.scores", "en", None, "fresh")
    assert "relies on" in t("stage.attn.weights")
    random = explain.explanation(W, "en", None, "fresh")
    assert "does not mean the row relies on" in random and "random" in random
    assert "随机" in explain.explanation(W, "zh", None, "fresh")


# -- the banner -----------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_banner_names_each_model_kind(lang):
    fresh = explain.banner("fresh", lang, seed=7)
    assert "7" in fresh and explain.is_random("fresh")
    assert ("mean nothing yet" in fresh) if lang == "en" else ("没有任何含义" in fresh)
    trained = explain.banner("trained", lang, step=120, val_loss=2.34567)
    assert "120" in trained and "2.346" in trained
    assert ("trained in this session" in trained) if lang == "en" else ("本次会话训练" in trained)
    loaded = explain.banner("loaded", lang, step=50)
    assert "50" in loaded and ("loaded checkpoint" in loaded if lang == "en" else "加载的检查点" in loaded)
    bare = explain.banner("loaded", lang)  # a tutorial .pt says nothing of its steps or losses
    assert "(" not in bare and "（" not in bare
    assert not any(explain.is_random(k) for k in ("trained", "loaded"))


def test_a_new_model_kind_is_one_catalogue_key():
    kinds = {k.split(".", 1)[1] for k in keys() if k.startswith("banner.") and not k.startswith("banner.fact")}
    assert {"fresh", "trained", "loaded"} <= kinds
    for kind in kinds:
        assert placeholders(t(f"banner.{kind}")) <= {"seed", "details"}, kind


def test_validation_loss_comes_from_the_last_evaluation():
    state = {"steps": 40, "evals": [{"step": 20, "val_loss": 3.5}, {"step": 40, "train_loss": 2.0, "val_loss": 2.25}]}
    assert explain.val_loss_of(state) == 2.25
    for empty in ({}, {"evals": []}, {"evals": [{"step": 1}]}, None, {"evals": [{"val_loss": True}]}):
        assert explain.val_loss_of(empty) is None


# -- colour ranges and colours ----------------------------------------------------------------------
def test_probabilities_keep_their_0_to_1_range_with_the_mask_off(compact_vocab, batch_rows):
    from minigpt import MiniGPT, ModelConfig

    model = MiniGPT(ModelConfig(), compact_vocab.size).eval()
    labels = labels_per_row(compact_vocab, batch_rows)
    for switches in (Switches(), Switches(causal_mask=False), Switches(temperature=3.0)):
        trace = model.run_with_trace(batch_rows, switches)
        assert trace.switches == switches
        for name in (W, "probs"):
            main = heatmaps.stage_heatmap(trace, name, labels=labels, vocab=compact_vocab).data[0]
            assert (main.zmin, main.zmax) == (0.0, 1.0), (name, switches)
        grid = heatmaps.head_grid(trace, 0, labels=labels)
        assert (grid.layout.coloraxis.cmin, grid.layout.coloraxis.cmax) == (0.0, 1.0)
    # the weights really did shrink to ~0.12 without the mask: the range is fixed, not matched to them
    assert float(model.run_with_trace(batch_rows, Switches(causal_mask=False))[W].max()) < 1.0


def test_the_mask_is_not_drawn_in_the_signed_scales_blue(traced, compact_vocab, batch_rows):
    fig = heatmaps.stage_heatmap(traced, "blocks.0.attn.mask", labels=labels_per_row(compact_vocab, batch_rows))
    (trace,) = heatmaps_in(fig)
    diverging = {c for _, c in go.Heatmap(colorscale=style.DIVERGING).colorscale}
    mask_colours = {c for _, c in trace.colorscale}
    assert not mask_colours & diverging

    def rgb(colour: str) -> np.ndarray:
        return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)

    r, g, b = rgb(style.MASK_VISIBLE)
    assert g > b and g > r  # green, not blue ("negative" elsewhere)
    lightness = lambda c: rgb(c) @ [0.299, 0.587, 0.114]
    assert lightness(style.MASK_VISIBLE) - lightness(style.MASKED_GREY) > 50  # apart in greyscale too
    assert list(trace.colorbar.ticktext) == ["visible", "masked"]
    assert "green" in t("stage.attn.mask") and "blue" not in t("stage.attn.mask")
    assert "绿色" in t("stage.attn.mask", "zh") and "蓝色" not in t("stage.attn.mask", "zh")
