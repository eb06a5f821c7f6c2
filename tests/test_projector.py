"""Projector mode without a browser: the Step page in `view=projector` (one numbering, no download or image-format
controls, the text box is the sidebar's text control, the button leaves and re-enters), the figure copy with
projector fonts, and the two-line lead of an explanation."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from minigpt.stages import lecture_steps
from minigpt.views import style
from ui.projector import lead

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _step(**query) -> AppTest:
    """The Step page on fresh weights, 1 post-LN block (24 lecture steps, then any extra views the page adds)."""
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in dict(dict(model="fresh", blocks="1", norm="post"), **query).items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/step.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> list[str]:
    return [str(m.value) for m in at.markdown]


def test_the_step_page_in_projector_mode_has_one_numbering_and_no_download_controls():
    at = _step(view="projector", stage="blocks.0.attn.weights")
    i = lecture_steps(1, "post").index("blocks.0.attn.weights") + 1
    texts = _texts(at)
    where = [s for s in texts if s.startswith(f"Stage {i} of ")]
    assert len(where) == 1 and where[0].endswith(" · Attention (stages 5–14)"), texts[:3]
    assert any(s.startswith(f"### {i}. Attention weights") for s in texts)  # the same number, no second system
    assert not [r for r in at.radio if r.key == "img_format"]  # no image-format control
    assert not at.get("popover") and not at.get("download_button")
    assert [w.key for w in at.text_input] == ["c_text"]  # the sidebar's own text control


def test_typing_in_the_projector_text_box_shows_that_text_as_the_input():
    at = _step(view="projector", stage="tokens", source="batch")
    at.text_input(key="c_text").set_value("我喜欢学习").run()
    assert not at.exception
    assert at.session_state["c_source"] == "text"
    assert at.session_state["step_stage"] == "tokens"  # typing does not move the stage
    assert "我" in "".join(str(h.value) for h in at.get("html"))


def test_the_button_leaves_and_reenters_projector_mode():
    """(The sidebar and the URL coming back are checked in the browser: tests/test_projector_browser.py.)"""
    at = _step(view="projector", stage="blocks.0.attn.q")
    at.button(key="projector_switch").click().run()
    assert not at.exception
    assert at.session_state["_projector"] is False and at.session_state["step_stage"] == "blocks.0.attn.q"
    assert [r for r in at.radio if r.key == "img_format"] and at.selectbox(key="step_stage")  # the laptop view
    at.button(key="projector_switch").click().run()
    assert at.session_state["_projector"] is True and [w.key for w in at.text_input] == ["c_text"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_stage_renders_in_projector_mode(lang):
    at = _step(view="projector", lang=lang)
    steps = lecture_steps(1, "post")
    for k in range(1, len(steps)):
        at.button(key="step_next").click().run()
        assert not at.exception, (steps[k], [e.value for e in at.exception])
        assert at.session_state["step_stage"] == steps[k]
        assert not at.get("download_button") and not [r for r in at.radio if r.key == "img_format"]


def test_projector_figures_have_large_fonts_and_leave_the_shared_figure_alone(traced, compact_vocab, batch_rows):
    from minigpt.views import heatmaps
    from tests.views_support import labels_per_row

    fig = heatmaps.stage_heatmap(traced, "blocks.0.attn.weights", labels=labels_per_row(compact_vocab, batch_rows))
    before = fig.to_json()
    big = style.for_projector(fig, height=930)
    assert fig.to_json() == before
    lay = big.layout
    assert lay.height == 930 and not (lay.title and lay.title.text)
    assert lay.xaxis.tickfont.size >= 18 and lay.yaxis.tickfont.size >= 18 and lay.font.size >= 18
    assert big.data[0].colorbar.tickfont.size >= 18
    assert lay.yaxis.scaleanchor is None  # the cells may be wider than tall: the plot fills the screen


def test_lead_is_the_first_sentence():
    assert lead("Softmax turns scores into weights. The upper triangle is 0.") == "Softmax turns scores into weights."
    assert lead("Q·Kᵀ / √d_k gives 0.5 here. Next.") == "Q·Kᵀ / √d_k gives 0.5 here."
    assert lead("softmax 把每一行变成权重。上三角为 0。") == "softmax 把每一行变成权重。"
    assert lead("one sentence") == "one sentence"


@pytest.mark.parametrize("stage", ["tokens", "blocks.0.attn.weights", "probs"])
def test_projector_mode_in_chinese_shows_no_english_sentence(stage):
    from tests.test_text_pages import ENGLISH, screen_texts

    at = _step(view="projector", lang="zh", stage=stage)
    texts = screen_texts(at) + [str(w.placeholder) for w in at.text_input]
    assert any(s.startswith("第 ") and " 阶段 · " in s for s in texts)
    assert sorted({phrase for s in texts for phrase in ENGLISH if phrase in s}) == []
