"""Tokenizers side by side (minigpt.tokcompare, views.tokcompare, the Tokens page's section): counts, unknown
tokens, parameter cost, byte pieces of one character, the English / 中文 pairs, and the page in both languages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from minigpt import ModelConfig, Vocabulary, tokcompare
from minigpt.config import parameter_count
from minigpt.text import t
from minigpt.views import tokcompare as views

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def vocabs(builtin_text) -> dict[str, Vocabulary]:
    return {mode: Vocabulary.from_text(builtin_text, mode) for mode in tokcompare.ORDER}


def test_one_text_in_every_vocabulary(vocabs):
    config = ModelConfig(d_model=32)
    rows = {r.mode: r for r in tokcompare.compare("Listen to the customer 🤖 倾听客户", vocabs, config)}
    assert list(rows) == ["char", "full", "compact"]
    assert rows["char"].count == len("Listen to the customer 🤖 倾听客户")
    assert rows["full"].ids == rows["compact"].ids  # both are cl100k: the same tokens, different rows
    assert rows["full"].unknown == 0 and rows["compact"].unknown > 0
    assert rows["char"].unknown == 5  # 🤖 and four Chinese characters: the English corpus has none of them
    for r in rows.values():
        assert r.embedding == r.rows * 32 and r.output == r.rows * 32 + r.rows
        # what the vocabulary costs is exactly the model's parameters minus the same model without one
        assert r.embedding + r.output == parameter_count(config, r.rows) - parameter_count(config, 0)
        assert r.total == parameter_count(config, r.rows) and 0 < r.share < 1
    assert rows["full"].rows > rows["compact"].rows > rows["char"].rows
    assert tokcompare.full_cl100k_rows() == 100277


def test_byte_pieces_of_one_character():
    splits = tokcompare.split_characters("a 🤖🤖 倾听 🤖")
    assert [s.char for s in splits] == ["🤖", "倾"]  # each character once; 听 is one whole token
    robot = splits[0]
    assert robot.raw == "🤖".encode() and robot.code_point == "U+1F916"
    assert [(first, last) for _, first, last in robot.tokens] == [(1, 2), (3, 3), (4, 4)]
    assert tokcompare.split_characters("plain English") == []
    table = views.split_table(splits, "zh")
    assert list(table[t("tokcmp.col_bytes", "zh")]) == ["f0 9f a4 96", "e5 80 be"]
    assert "第 3/4 字节" in table[t("tokcmp.col_cl100k", "zh")][0]


def test_sentence_pairs_count_tokens_and_characters(vocabs):
    counts = tokcompare.pair_counts(vocabs)
    assert len(counts) == len(tokcompare.PAIRS) >= 5
    for c, (en, zh) in zip(counts, tokcompare.PAIRS):
        assert c.counts["char"] == (len(en), len(zh))
        assert c.counts["full"] == c.counts["compact"]
        assert c.unknown["full"] == (0, 0)
        assert c.unknown["compact"][1] > 0  # the English corpus has no row for most Chinese tokens
    # The point of the pairs: in characters Chinese is shorter, in cl100k tokens it is not.
    assert sum(c.counts["char"][1] for c in counts) < sum(c.counts["char"][0] for c in counts)
    assert sum(c.counts["compact"][1] for c in counts) > sum(c.counts["compact"][0] for c in counts)
    fig = views.pairs_figure(counts, "en")
    assert [list(map(int, bar.y)) for bar in fig.data[:2]] == [[c.counts["compact"][i] for c in counts] for i in (0, 1)]


def test_chips_name_byte_pieces_by_their_character(vocabs):
    tok = tokcompare.tokenized("I like 🤖", vocabs["compact"], ModelConfig())
    page = views.chips_html(tok, "en")
    assert "🤖 byte 4/4" in page and "\\xf0" not in page and "minigpt emoji" in page


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_tokens_page_compares_the_vocabularies(lang):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/tokens.py")
    at.session_state["c_lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert t("tokcmp.title", lang) in [tab.label for tab in at.tabs]  # a tab of its own (page height)
    html = "".join(str(h.proto.body) for h in at.get("html"))
    assert "🤖 byte 4/4" in html or "🤖 第 4/4 字节" in html
    def table(column: str):
        return next(d.value for d in at.dataframe if t(column, lang) in d.value.columns)

    assert list(table("tokcmp.col_vocab")[t("tokcmp.col_vocab", lang)]) == [
        t(f"tokcmp.mode_{m}", lang) for m in tokcompare.ORDER]
    assert len(table("tokcmp.col_cl100k_zh")) == len(tokcompare.PAIRS)
    assert list(table("tokcmp.col_code_point")[t("tokcmp.col_code_point", lang)]) == ["U+1F916", "U+503E"]
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert t("tokcmp.pairs_title", lang) in titles
    at.text_area(key="tokcmp_text").set_value("plain words")
    at.session_state["c_lang"] = lang
    at.run()
    assert not at.exception
    assert t("tokcmp.no_split", lang) in [c.value for c in at.caption]
