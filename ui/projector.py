"""Projector mode (`?view=projector`, or the button): a lecture-hall screen at 1920×1080. Large type (body 24 px,
code 20 px, figure labels 20 px), one stage a screen, keys for a presenter clicker (←/→, PageUp/PageDown, Space),
a one-line text box for a student's sentence, and no download or image-format controls.

The mode lives in session state (`controls.PROJECTOR`), seeded from the URL once, and is written back to the
URL by `controls.sync_url`, so a lecturer's link opens in it.
"""
from __future__ import annotations

import re

import streamlit as st

from minigpt import walkthrough
from minigpt.text import t

from . import controls

VOCAB_COLUMNS = 24    # logits / probabilities: the most likely columns a back row can still read, each labelled
FIGURE_HEIGHT = 940   # px: a 1080-px screen under the page header (the stage's controls sit beside the figure)

CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding: 4.2rem 1.5rem 0.5rem 1.5rem; max-width: 100%; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.6rem; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p,
[data-testid="stAlertContainer"] p, [data-testid="stWidgetLabel"] p, [data-testid="stExpander"] summary p,
.stButton button p, [data-testid="stHeaderNavLink"] span, [data-testid="stTopNavLink"] span,
[data-testid="stTextInput"] input, [data-testid="stSelectbox"] *, [data-baseweb="select"] * {
  font-size: 24px !important; line-height: 1.35; }
.st-key-p_head [data-testid="stWidgetLabel"] { display: none; }
[data-testid="stMarkdownContainer"] code, [data-testid="stCode"] code, [data-testid="stCode"] pre,
.stCode code { font-size: 20px !important; }
[data-testid="stMarkdownContainer"] h3 { font-size: 30px !important; padding: 0 0 0.2rem 0; }
[data-testid="stHeading"] h2 { font-size: 34px !important; padding: 0.2rem 0; }
.st-key-proj_position p { font-weight: 600; }
</style>
"""

_KEYS_JS = """
export default function(component) {
  const { setTriggerValue } = component;
  const TYPING = new Set(['INPUT', 'TEXTAREA', 'SELECT']);
  const onKey = (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.defaultPrevented) return;
    const target = (e.composedPath && e.composedPath()[0]) || e.target;
    if (target && (TYPING.has(target.tagName) || target.isContentEditable)) {  // typing a sentence
      if (e.key === 'Escape') target.blur();  // Esc gives the keys back to the stages
      return;
    }
    let dir = 0;
    if (['ArrowRight', 'PageDown'].includes(e.key) || (e.key === ' ' && !e.shiftKey)) dir = 1;
    else if (['ArrowLeft', 'PageUp'].includes(e.key) || (e.key === ' ' && e.shiftKey)) dir = -1;
    if (!dir) return;
    e.preventDefault();
    // A focused button (the one just clicked) would also take Space as its own click: one move, not two.
    if (document.activeElement && document.activeElement.tagName === 'BUTTON') document.activeElement.blur();
    setTriggerValue('nav', dir);
  };
  if (window.__minigptKeys) document.removeEventListener('keydown', window.__minigptKeys);
  window.__minigptKeys = onKey;
  document.addEventListener('keydown', onKey);
  return () => {
    document.removeEventListener('keydown', onKey);
    if (window.__minigptKeys === onKey) window.__minigptKeys = null;
  };
}
"""
_KEYS = st.components.v2.component("minigpt_projector_keys", js=_KEYS_JS)


def is_on() -> bool:
    return bool(st.session_state.get(controls.PROJECTOR))


def init() -> bool:
    """Once per session, from the URL (`view=projector`); afterwards the button decides. Returns the mode."""
    if controls.PROJECTOR not in st.session_state:
        st.session_state[controls.PROJECTOR] = st.query_params.get("view") == "projector"
    return is_on()


def _flip() -> None:
    st.session_state[controls.PROJECTOR] = not is_on()


def switch_button(lang: str, *, container=st, key: str = "projector_switch") -> None:
    """The visible way in and out of projector mode."""
    on = is_on()
    container.button(t("projector.leave" if on else "projector.enter", lang), key=key, on_click=_flip,
                     icon=":material/close_fullscreen:" if on else ":material/slideshow:",
                     help=None if on else t("projector.enter_help", lang), width="stretch")


def style() -> None:
    st.html(CSS)


def keys(on_move, key: str = "projector_keys") -> None:
    """←/→, PageUp/PageDown and Space (Shift+Space back) call on_move(+1 / -1), except while typing in a field."""
    _KEYS(key=key, on_nav_change=lambda: _moved(key, on_move), height=0)


def _moved(key: str, on_move) -> None:
    value = st.session_state[key]["nav"]
    if value in (1, -1):
        on_move(int(value))


def _typed() -> None:
    st.session_state[controls.KEY + "source"] = "text"  # a typed sentence replaces a corpus batch


def text_box(lang: str, *, container=st) -> None:
    """One line for a student's sentence: the sidebar's text control itself (`c_text`)."""
    container.text_input(t("projector.text", lang), key=controls.KEY + "text", max_chars=walkthrough.MAX_TEXT_CHARS,
                         on_change=_typed, label_visibility="collapsed", placeholder=t("projector.text", lang),
                         help=t("projector.text_help", lang))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"(])|(?<=[。！？])")


def lead(text: str) -> str:
    """The first sentence of an explanation: what fits in two lines on the projector."""
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts[0].strip() if parts else text
