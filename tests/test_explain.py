"""Bilingual texts: complete for every stage and chapter, with a safe fallback."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from minigpt import explain
from minigpt.explain import CHAPTER_TEXT, STAGE_TEXT, UI, t
from minigpt.stages import CATALOGUE

CJK = re.compile(r"[\u4e00-\u9fff]")
CHAPTERS = ["tokens", "embedding", "attention", "block", "output", "step", "compare", "train", "generate"]


def _sentences(text: str) -> int:
    return len(re.findall(r"[.!?。！？](?:\s|$)|[。！？]", text))


def test_every_catalogue_stage_is_explained_in_both_languages():
    assert set(STAGE_TEXT) == set(CATALOGUE)
    for key, entry in STAGE_TEXT.items():
        assert set(entry) == {"en", "zh"}, key
        assert 2 <= _sentences(entry["en"]) <= 5, key
        assert CJK.search(entry["zh"]) and len(entry["zh"]) >= 30, key
        assert not CJK.search(entry["en"]), key


def test_every_chapter_has_an_intro_in_both_languages():
    assert set(CHAPTER_TEXT) == set(CHAPTERS)
    for key, entry in CHAPTER_TEXT.items():
        assert entry["en"].strip() and CJK.search(entry["zh"]), key


def test_the_notebook_terms_are_used_in_chinese():
    zh = " ".join(entry["zh"] for entry in STAGE_TEXT.values())
    for term in ("注意力", "残差连接", "层归一化", "前馈网络", "位置编码", "掩码", "词嵌入"):
        assert term in zh, term
    assert "灰色" in STAGE_TEXT["attn.masked"]["zh"] and "grey" in STAGE_TEXT["attn.masked"]["en"]


def test_explain_accepts_stage_names_and_chapters():
    assert explain.explain("blocks.3.attn.weights", "zh") == STAGE_TEXT["attn.weights"]["zh"]
    assert explain.explain("attn.weights", "en") == STAGE_TEXT["attn.weights"]["en"]
    assert explain.explain("logits", "fr") == STAGE_TEXT["logits"]["en"]
    assert explain.explain("train", "zh") == CHAPTER_TEXT["train"]["zh"]
    assert explain.explain("no.such.stage", "zh") == "no.such.stage"


def test_t_falls_back_to_english_then_to_the_key():
    assert t("shape", "zh") == "形状" and t("shape", "en") == "shape"
    assert t("shape", "fr") == "shape"
    assert t("not a key", "zh") == "not a key"
    for key, entry in UI.items():
        assert entry.get("en") and entry.get("zh"), key


@pytest.mark.parametrize("key", ["shape", "code", "explanation", "block", "head", "batch row", "temperature",
                                 "download CSV", "masked", "next token", "what if", "language"])
def test_the_common_ui_words_exist(key):
    assert key in UI


def test_every_word_the_figures_use_is_translated():
    source = (Path(explain.__file__).parent / "figures.py").read_text(encoding="utf-8")
    used = set(re.findall(r"""\bt\(\s*["']([^"']+)["']""", source))
    axes = {axis for spec in CATALOGUE.values() for axis in spec.axes}
    missing = sorted((used | axes) - set(UI))
    assert not missing
    assert len(used) > 15


def test_format_strings_work_in_both_languages():
    for lang in ("en", "zh"):
        assert "1,354" in t("vocab_top", lang).format(n=64, total=1354)
        assert "7.21" in t("uniform_guess", lang).format(loss=7.2101)
