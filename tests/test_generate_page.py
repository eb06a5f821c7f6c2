"""The Generate page under AppTest, English and 中文: the generation, its candidates, the KV cache replay (step,
cache rows, work and memory), the note on random weights, and a position picker that follows a new prompt."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from minigpt import kv_cache
from minigpt.text import t

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def generate_page(lang: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/generate.py")
    # The sidebar's keys must be set on every run after switch_page (see tests/test_pages.py: rerun).
    for key, value in dict(state, c_lang=lang, c_model="fresh").items():  # the notebook's random weights
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_kv_cache_steps_through_the_generation(lang):
    at = generate_page(lang, gen_prompt="Build trust with", gen_length=20)
    assert t("kv.title", lang) in [h.value for h in at.header]
    assert any(t("fixes.random_same", lang, p="", u="", seed=0)[:12] in i.value for i in at.info)
    at.slider(key="kv_step").set_value(4)
    at.session_state["c_lang"], at.session_state["c_model"] = lang, "fresh"
    at.run()
    assert not at.exception
    n = 3 + 3  # a 3-token prompt, then 3 generated tokens fed one at a time
    found = titles(at)
    assert any(t("kv.keys", lang) in s and f" {n} " in s for s in found), found
    metrics = [m.value for m in at.metric]
    assert metrics[2] == t("kv.memory_value", lang, numbers=2 * 1 * n * 64, kb=2 * n * 64 * 4 / 1024)
    config = kv_cache.ModelConfig()
    # 4th generated token: 6 tokens in the window
    assert metrics[0].startswith(f"{kv_cache.flops_cached(config, _vocab_size(at), n):,}")
    assert metrics[1].startswith(f"{kv_cache.flops_uncached(config, _vocab_size(at), n):,}")


def _vocab_size(at: AppTest) -> int:
    caption = [c.value for c in at.caption if "V" in c.value and "d = 64" in c.value][0]
    return int(caption.rsplit("=", 1)[1].strip(" .。"))


def test_the_position_picker_shows_the_new_prompts_tokens():
    at = generate_page("en", gen_prompt="Build trust with", gen_length=5)
    first = at.selectbox[0].options
    at.session_state["gen_prompt"] = "Listen first, then explain the value"
    at.session_state["c_lang"], at.session_state["c_model"] = "en", "fresh"
    at.run()
    assert not at.exception
    second = at.selectbox[0].options
    chips_html = [m.value for m in at.markdown if "inline-block" in m.value][-1]
    for label in second:
        token = label.split(" · ", 1)[1].rsplit(" (", 1)[0]
        assert token.replace("␣", "") in chips_html.replace("␣", "")
    assert first != second


def test_a_prompt_that_fills_the_window_says_the_cache_cannot_grow():
    at = generate_page("en", gen_prompt="word " * 30, gen_length=3)
    assert any(t("kv.prompt_fills", "en", ctx=16)[:40] in i.value for i in at.info)
