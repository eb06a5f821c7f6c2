"""Token chips (minigpt.views.chips): escaped, unknown tokens marked, generations coloured by probability."""
from __future__ import annotations

import pytest

from minigpt.views import chips


def test_token_chips_escape_html_and_mark_unknown_tokens():
    texts = ["<script>alert(1)</script>", ' "quoted" & co', "\n", " 量子", "😀"]
    ids = [7890, 330, 198, 5, 9468]
    page = chips.token_chips_html(texts, ids, [True, True, True, False, True])
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "␣&quot;quoted&quot;␣&amp;␣co" in page
    assert "␣量子" in page and "😀" in page and "↵" in page
    assert page.count("dashed") == 1 and "&lt;unk&gt;" in page
    assert all(f">{i}<" in page for i in (7890, 330, 198, 9468))
    bare = chips.token_chips_html(["a", "b"], [64, 65], [True, False], show_ids=False)
    assert ">64<" not in bare and "&lt;unk&gt;" in bare
    with pytest.raises(ValueError):
        chips.token_chips_html(["a"], [1, 2], [True])


def test_probability_colours_are_ordered_stops():
    assert chips.prob_colour(0.0) == chips.PROB_STOPS[0][1]
    assert chips.prob_colour(1.0) == chips.PROB_STOPS[-1][1]
    assert chips.prob_colour(0.3) == "#fee391"


def test_generation_html_escapes_and_marks_the_selected_token(generation):
    page = chips.generation_html("<b>The</b> customer", generation.steps, selected=2)
    assert "&lt;b&gt;The&lt;/b&gt;" in page and "<b>The" not in page
    assert page.count('style="display:inline-block') == len(generation.steps)
    assert page.count("border:2px solid #111") == 1
    for step in generation.steps:
        assert chips.prob_colour(step.prob) in page
    assert "≥ 50%" in chips.probability_legend_html()


def test_byte_pieces_are_named_by_their_character_not_hex():
    from minigpt.tokenizer import encode

    ids = encode("I like 🤖", "compact")
    texts = chips.piece_texts(ids, "compact", "en")
    assert texts[-2:] == ["🤖 byte 3/4", "🤖 byte 4/4"]
    page = chips.token_chips_html(texts, ids, [True] * len(ids), labelled=True)
    assert "🤖 byte 4/4" in page and "␣byte" not in page and "\\x" not in page
    assert chips.piece_texts(ids, "compact", "zh")[-1] == "🤖 第 4/4 字节"


def test_generated_chips_read_their_byte_pieces_after_the_prompt(generation):
    from minigpt.sampling import GenerationStep
    from minigpt.tokenizer import encode

    *prompt, a, b = encode("I like 🤖", "compact")
    steps = [GenerationStep(a, "\\xa4", 0.5, ()), GenerationStep(b, "\\x96", 0.5, ())]
    texts = chips.generated_texts(prompt, steps, "compact", "en")
    assert texts == ["🤖 byte 3/4", "🤖 byte 4/4"]
    page = chips.generation_html("I like", steps, texts=texts)
    assert "🤖 byte 3/4" in page and "\\xa4" not in page


def test_chips_draw_emoji_with_the_colour_font_first():
    from minigpt.views import style

    page = chips.token_chips_html(["🤖"], [1], [True])
    assert f"font-family:'{style.EMOJI_FAMILY}'," in page
    assert 'local("Noto Color Emoji")' in style.EMOJI_FONT_CSS and "U+1F000-1FAFF" in style.EMOJI_FONT_CSS
    assert style.layout("x", 100)["font"]["family"].startswith(f'"{style.EMOJI_FAMILY}"')
