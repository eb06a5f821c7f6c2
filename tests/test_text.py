"""The one text system: every key in every language with the same placeholders, stage and chapter texts
complete, unknown keys fail loudly, and every literal key the code uses exists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from minigpt import text
from minigpt.stages import CATALOGUE
from minigpt.text import LANGUAGES, TextError, keys, message, placeholders, t

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
CHAPTERS = ["tokens", "embedding", "attention", "block", "output", "step", "compare", "train", "generate"]
SOURCES = [*ROOT.glob("minigpt/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]


def _sentences(value: str) -> int:
    return len(re.findall(r"[.!?。！？](?:\s|$)|[。！？]", value))


def test_the_shipped_languages_are_english_and_chinese():
    assert LANGUAGES[0] == "en" and set(LANGUAGES) == {"en", "zh"}
    assert t("meta.name", "en") == "English" and t("meta.name", "zh") == "中文"


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != "en"])
def test_every_key_exists_in_every_language_with_the_same_placeholders(lang):
    assert keys(lang) == keys("en")
    for key in keys("en"):
        assert placeholders(t(key, lang)) == placeholders(t(key, "en")), key
        assert t(key, lang).strip(), key


def test_an_unknown_key_raises_instead_of_reaching_the_screen():
    with pytest.raises(KeyError):
        t("ui.no such key", "zh")
    with pytest.raises(KeyError):
        t("shape")  # a key without its namespace is unknown too
    assert t("ui.shape", "fr") == "shape"  # a language without a catalogue reads English


def test_every_literal_key_in_the_code_exists():
    used = set()
    for path in SOURCES:
        # Literal keys only: t("sidebar.source_" + s) is a prefix, covered by the AppTest of its page.
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[^"'{}]+[^_"'{}])["']\s*[,)]""", path.read_text(encoding="utf-8")))
    assert len(used) > 150
    assert sorted(used - keys("en")) == []


def test_every_catalogue_stage_is_explained_and_titled_in_both_languages():
    for key, spec in CATALOGUE.items():
        en, zh = t(spec.text_key, "en"), t(spec.text_key, "zh")
        assert 2 <= _sentences(en) <= 5, key
        assert CJK.search(zh) and len(zh) >= 30, key
        assert not CJK.search(en), key
        assert spec.title("en") and CJK.search(spec.title("zh")), key
    assert {k.split(".", 1)[1] for k in keys() if k.startswith("stage.")} == set(CATALOGUE)


def test_every_chapter_has_an_intro_in_both_languages():
    assert {k.split(".", 1)[1] for k in keys() if k.startswith("chapter.")} == set(CHAPTERS)
    for chapter in CHAPTERS:
        assert t(f"chapter.{chapter}", "en").strip() and CJK.search(t(f"chapter.{chapter}", "zh")), chapter


def test_the_notebook_terms_are_used_in_chinese():
    zh = " ".join(t(spec.text_key, "zh") for spec in CATALOGUE.values())
    for term in ("注意力", "残差连接", "层归一化", "前馈网络", "位置编码", "掩码", "词嵌入"):
        assert term in zh, term
    assert "灰色" in t("stage.attn.masked", "zh") and "grey" in t("stage.attn.masked", "en")


@pytest.mark.parametrize("key", ["shape", "code", "explanation", "block", "head", "batch row", "temperature",
                                 "download CSV", "masked", "next token", "what if"])
def test_the_common_ui_words_exist(key):
    assert f"ui.{key}" in keys() and CJK.search(t(f"ui.{key}", "zh"))


def test_the_sidebar_says_what_it_means():
    """Namespaces keep words apart that once collided: the sidebar's "Vocabulary" is not the axis "vocabulary"."""
    assert t("sidebar.vocab", "en") == "Vocabulary" and t("ui.vocab", "en") == "vocabulary"
    assert t("sidebar.seed", "zh") == "随机种子 seed" and t("sidebar.language", "zh") == "语言"


def test_every_axis_name_is_translated():
    axes = {axis for spec in CATALOGUE.values() for axis in spec.axes}
    assert sorted(f"ui.{axis}" for axis in axes if f"ui.{axis}" not in keys()) == []


def test_format_strings_work_in_both_languages():
    for lang in ("en", "zh"):
        assert "1,354" in t("ui.vocab_top", lang, n=64, total=1354)
        assert "7.21" in t("ui.uniform_guess", lang, loss=7.2101)


def test_a_text_error_speaks_the_users_language_and_nests():
    inner = TextError("url.range", low=1, high=64)
    outer = TextError("url.bad", key="ctx", raw="'99'", why=inner)
    assert str(outer) == "URL parameter ctx='99' must be between 1 and 64; using the default."
    assert message(outer, "zh") == "网址参数 ctx='99' 必须在 1 到 64 之间；已改用默认值。"
    assert message(ValueError("plain"), "zh") == "plain"


def test_a_third_language_is_data(tmp_path, monkeypatch):
    """Adding a language is adding a catalogue file: no code changes, and it appears in LANGUAGES."""
    for lang in ("en", "zh"):
        (tmp_path / f"{lang}.toml").write_text((Path(text.__file__).parent / f"{lang}.toml").read_text("utf-8"), "utf-8")
    (tmp_path / "fr.toml").write_text('[meta]\nname = "Français"\n[ui]\nshape = "forme"\n', "utf-8")
    monkeypatch.setattr(text, "_HERE", tmp_path)
    text._catalogue.cache_clear()
    try:
        assert text.languages() == ("en", "fr", "zh")
        monkeypatch.setattr(text, "LANGUAGES", text.languages())
        assert t("ui.shape", "fr") == "forme" and t("ui.code", "fr") == "code"  # untranslated keys read English
    finally:
        text._catalogue.cache_clear()
