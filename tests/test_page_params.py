"""Page-level URL parameters share one memory across chapters (ui/controls.page_param): two pages must not
read each other's values under one name (the Attention page's position switch once shared `pos` with the
Output page's position index, and True == 1 made a switch a position)."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui import stage_view

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_page_parameter_names_are_unique():
    names = list(stage_view.SWITCH_URL.values())
    assert len(names) == len(set(names))
    assert "pos" not in names  # the Output page's position index


def test_attention_then_output_keeps_a_position_index():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/attention.py").run()
    assert not at.exception
    at.switch_page("pages/output.py").run()
    assert not at.exception
    pos = at.session_state["out_pos"]
    assert isinstance(pos, int) and not isinstance(pos, bool)
