"""The model map (minigpt.views.architecture) without Streamlit: every lecture step of a config drawn exactly
once and clickable under its stage name, LayerNorm where the config puts it, residual lines from what each
residual adds, the current step highlighted, titles in both languages."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from minigpt.config import ModelConfig
from minigpt.stages import lecture_steps, step_label
from minigpt.views.architecture import architecture_svg, layout

SVG = "{http://www.w3.org/2000/svg}"
CONFIGS = [ModelConfig(num_blocks=n, norm=norm) for n in (1, 2, 4) for norm in ("post", "pre")]


def _parts(svg: str) -> list[ET.Element]:
    return [g for g in ET.fromstring(svg).iter(SVG + "g") if g.get("data-stage")]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.num_blocks}-{c.norm}")
@pytest.mark.parametrize("small", [False, True])
def test_every_step_appears_exactly_once_and_is_clickable(config, small):
    svg = architecture_svg(config, lang="en", small=small)
    parts = _parts(svg)
    names = [g.get("data-stage") for g in parts]
    assert names == lecture_steps(config.num_blocks, config.norm)  # once each, in the order computed
    for g in parts:
        assert g.get("style") == "cursor:pointer" and g.get("tabindex") == "0"
        assert g.find(SVG + "title").text == step_label(g.get("data-stage"), "en")  # hover names the stage
        assert g.find(SVG + "rect") is not None and g.find(SVG + "text").text


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.num_blocks}-{c.norm}")
def test_layernorm_placement_blocks_and_final_norm_follow_the_config(config):
    parts, frames, _, _ = layout(config)
    y = {p.step: p.y for p in parts}
    for b in range(config.num_blocks):
        p = f"blocks.{b}."
        if config.norm == "pre":  # LayerNorm before each sublayer, the residual adds the un-normalised input
            assert y[p + "norm1"] < y[p + "attn.q"] < y[p + "resid1"] < y[p + "norm2"] < y[p + "ffn.hidden"]
        else:  # after each residual add
            assert y[p + "attn.q"] < y[p + "resid1"] < y[p + "norm1"] < y[p + "ffn.hidden"] < y[p + "resid2"] < y[p + "norm2"]
    assert ("final.norm" in y) == (config.norm == "pre")
    kinds = [f[4] for f in frames]
    assert kinds.count("attn") == kinds.count("ffn") == config.num_blocks
    assert [k for k in kinds if k.startswith("block")] == [f"block{b}" for b in range(config.num_blocks)]
    svg = architecture_svg(config)
    assert svg.count('class="residual"') == 2 * config.num_blocks
    assert svg.count(f"Attention · {config.num_heads} heads") == config.num_blocks


def test_the_current_step_is_highlighted_and_unknown_steps_refused():
    config = ModelConfig(num_blocks=2, norm="pre")
    parts = _parts(architecture_svg(config, current="blocks.1.attn.weights"))
    current = [g.get("data-stage") for g in parts if "current" in g.get("class")]
    assert current == ["blocks.1.attn.weights"]
    with pytest.raises(ValueError):
        architecture_svg(config, current="blocks.2.attn.weights")
    with pytest.raises(ValueError):
        architecture_svg(ModelConfig(norm="post"), current="final.norm")  # post-LN has no final LayerNorm


def test_labels_in_chinese_and_escaped():
    svg = architecture_svg(ModelConfig(num_heads=2), lang="zh")
    assert "注意力 · 2 个头" in svg and "第 0 块" in svg and "残差" in svg
    ET.fromstring(svg)  # well-formed: "<" / "&" in labels would break this
