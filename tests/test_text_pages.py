"""Every page in 中文 under AppTest: no raw key and no English sentence from the catalogue on screen
(titles, text, notices, widget labels and options, metric labels, figure titles and axes)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from minigpt.text import keys, t

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["home", "tokens", "embedding", "attention", "block", "output", "step", "compare", "train", "generate"]
TEXT_ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
WIDGETS = ("button", "selectbox", "radio", "slider", "number_input", "toggle", "text_area", "text_input",
           "checkbox", "select_slider", "multiselect")
# English that is the same word in Chinese text: code names, units and the model's own tokens.
SAME_IN_BOTH = {key for key in keys() if t(key, "en") == t(key, "zh")}


def _english_sentences() -> dict[str, str]:
    """English catalogue values long enough to be a phrase (not a code name like d_model) -> their key."""
    found = {}
    for key in keys():
        en = t(key, "en")
        if key in SAME_IN_BOTH or key.startswith("meta."):
            continue
        for part in en.replace("{", "\0{").split("\0"):  # the fixed text between placeholders
            part = part.split("}", 1)[-1].strip(" .,:;()·—-")
            words = [w for w in part.split() if w.isalpha() and len(w) >= 3]
            if len(part) >= 14 and len(words) >= 2 and not set(part) & set("()[]=→"):  # a phrase, not code
                found[part] = key
    return found


ENGLISH = _english_sentences()


def _figure_texts(spec: dict) -> list[str]:
    out = []
    layout = spec.get("layout", {})
    for node in [layout.get("title", {})] + [v.get("title", {}) for k, v in layout.items()
                                              if k.startswith(("xaxis", "yaxis")) and isinstance(v, dict)]:
        if isinstance(node, dict) and isinstance(node.get("text"), str):
            out.append(node["text"])
    out += [a.get("text", "") for a in layout.get("annotations", []) if isinstance(a, dict)]
    out += [d.get("name", "") for d in spec.get("data", []) if isinstance(d.get("name"), str)]
    return out


def screen_texts(at: AppTest) -> list[str]:
    texts = []
    for kind in TEXT_ELEMENTS:
        texts += [str(e.value) for e in getattr(at, kind)]
    for kind in WIDGETS:
        for w in getattr(at, kind):
            texts.append(str(w.label))
            texts += [str(o) for o in getattr(w, "options", []) or []]
    texts += [str(m.label) for m in at.metric]
    texts += [str(e.label) for e in at.expander]
    for chart in at.get("plotly_chart"):
        texts += _figure_texts(json.loads(chart.proto.spec))
    return texts


@pytest.mark.parametrize("page", PAGES)
def test_a_page_in_chinese_shows_no_english_sentence_and_no_raw_key(page):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.run()
    if page != "home":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    texts = screen_texts(at)
    assert len(texts) > 10
    catalogue = keys()
    raw = [s for s in texts if s.strip() in catalogue]
    assert raw == []
    leftovers = sorted({f"{ENGLISH[phrase]}: {phrase!r} in {s[:80]!r}" for s in texts for phrase in ENGLISH
                        if phrase in s})
    assert leftovers == []


def test_a_bad_hyperparameter_is_explained_in_chinese():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"], at.query_params["model"] = "zh", "fresh"  # the bundled model has no such inputs
    at.run()
    at.session_state["c_d_model"] = 60
    at.session_state["c_num_heads"] = 8
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and all(any("\u4e00" <= ch <= "\u9fff" for ch in e) for e in errors), errors
    assert any("d_model 60" in e for e in errors)
