"""The map of the model on screen (`minigpt.views.architecture`'s SVG in a components.v2 component): a click
on a part comes back to Python as that stage and opens it on the Step page.

`model_map(ws, current=...)` is the one call every page makes: large on the Overview, small on Step and the
chapters (`chapter_map`), the current stage highlighted.
"""
from __future__ import annotations

import streamlit as st

from minigpt.stages import block_of, lecture_steps, step_chapter
from minigpt.text import t
from minigpt.views.architecture import architecture_svg

STEP_KEY = "step_stage"  # the Step page's stage (pages/step.py reads it through controls.page_param)
STEP_PAGE = "pages/step.py"

_JS = """
export default function(component) {
  const { data, parentElement, setTriggerValue } = component;
  let box = parentElement.querySelector('.minigpt-map-box');
  if (!box) {
    box = document.createElement('div');
    box.className = 'minigpt-map-box';
    parentElement.appendChild(box);
  }
  box.innerHTML = data.svg;  // built by minigpt.views.architecture: every text in it is escaped
  const pick = (part) => setTriggerValue('picked', part.getAttribute('data-stage'));
  box.querySelectorAll('[data-stage]').forEach((part) => {
    part.addEventListener('click', () => pick(part));
    part.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); pick(part); } });
  });
}
"""
_CSS = """
.minigpt-map-box svg { max-width: 100%; height: auto; display: block; }
.minigpt-map-box [data-stage]:hover rect { stroke: #000; stroke-width: 2.5; }
.minigpt-map-box [data-stage]:focus { outline: none; }
.minigpt-map-box [data-stage]:focus rect { stroke: #000; stroke-width: 3; }
"""
_MAP = st.components.v2.component("minigpt_model_map", js=_JS, css=_CSS)


def _picked(key: str, on_step_page: bool) -> None:
    """The click's callback: set the Step page's stage before the script runs (its picker exists by then)."""
    stage = st.session_state[key]["picked"]
    if stage:
        st.session_state[STEP_KEY] = stage
        if not on_step_page:
            st.session_state["_map_open_step"] = True


def model_map(ws, *, current: str | None = None, highlight=(), small: bool = False, key: str = "model_map",
              on_step_page: bool = False) -> None:
    """The map of ws's model. A click opens that stage: on the Step page by moving to it, elsewhere by switching
    to the Step page at that stage."""
    on_map = set(lecture_steps(ws.config.num_blocks, ws.config.norm))
    current = current if current in on_map else None  # a step the map has no box for (the Step page's extras)
    svg = architecture_svg(ws.config, lang=ws.lang, current=current, small=small, highlight=highlight)
    _MAP(data={"svg": svg}, key=key, on_picked_change=lambda: _picked(key, on_step_page))
    if st.session_state.pop("_map_open_step", False):
        st.switch_page(STEP_PAGE)


def chapter_map(ws, chapter: str, *, block: int | None = None) -> None:
    """Small, in a closed expander at the top of a chapter: the chapter's stages (of the block shown) highlighted."""
    c = ws.config
    steps = [s for s in lecture_steps(c.num_blocks, c.norm) if step_chapter(s) == chapter
             and (block is None or s in ("tokens", "topk") or block_of(s) in (None, block))]
    with st.expander("🗺️ " + t("map.here", ws.lang), expanded=False):
        model_map(ws, highlight=steps, small=True, key=f"map_{chapter}")
