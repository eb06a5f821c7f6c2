"""Shared links: whatever a URL says, the app opens (defaults plus a visible warning for what it could not
use), a valid link sets the sidebar, and no parameter can make the server read a file it names.
"""
from __future__ import annotations

import builtins
import io
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from minigpt import walkthrough

from tests.attention_support import view_data

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DEFAULTS = walkthrough.Controls()
NUMBER_KEYS = {"c_context_length": "context_length", "c_d_model": "d_model", "c_num_heads": "num_heads",
               "c_num_blocks": "num_blocks", "c_seed": "seed"}


def run_app(params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def numbers(at: AppTest) -> dict[str, int]:
    return {NUMBER_KEYS[w.key]: w.value for w in at.sidebar.number_input if w.key in NUMBER_KEYS}


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def assert_defaults(at: AppTest) -> None:
    # The default model is the bundled one, whose architecture is fixed (no number inputs): the controls behind the
    # fresh model are checked in session state; a link that sets an architecture opens fresh weights and its inputs.
    assert at.sidebar.radio(key="c_model").value == at.session_state["c_model"]
    if at.session_state["c_model"] == "fresh":
        assert numbers(at) == {f: getattr(DEFAULTS, f) for f in NUMBER_KEYS.values()}
        assert at.sidebar.selectbox(key="c_vocab").value == DEFAULTS.vocab
    else:
        assert at.session_state["c_model"] == DEFAULTS.model and not numbers(at)
    assert {f: at.session_state[k] for k, f in NUMBER_KEYS.items()} == {f: getattr(DEFAULTS, f) for f in NUMBER_KEYS.values()}
    assert at.sidebar.radio(key="c_lang").value == DEFAULTS.lang
    assert at.sidebar.selectbox(key="c_corpus").value == DEFAULTS.corpus
    assert at.session_state["c_vocab"] == DEFAULTS.vocab
    assert at.sidebar.text_area(key="c_text").value == DEFAULTS.text
    assert at.title, "the overview page did not render"
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("params, named", [
    ({"ctx": "abc"}, "ctx"),
    ({"d": "-5"}, "d"),
    ({"heads": "7", "d": "64"}, "do not fit together"),
    ({"vocab": "../../etc/passwd"}, "vocab"),
    ({"corpus": "/etc/passwd"}, "corpus"),
    ({"lang": "xx"}, "lang"),
    ({"text": "x" * 10_000}, "text"),
    ({"ctx": "٣٢٣٢٣", "seed": "9" * 5000, "blocks": "²"}, "seed"),
])
def test_nonsense_url_falls_back_to_defaults_with_a_warning(params, named):
    at = run_app(params)
    assert_defaults(at)
    assert any(named in w for w in warnings(at)), warnings(at)
    assert all(len(w) < 400 for w in warnings(at))  # a 10,000-character value is not echoed back
    # The address bar is rewritten to what is shown: the rejected values are gone.
    for key in params:
        assert key not in at.query_params


def test_unknown_parameters_are_ignored_without_error():
    at = run_app({"foo": "bar", "__proto__": "x", "": "1", "view": "nonsense"})
    assert_defaults(at)
    assert not warnings(at)


def test_all_nonsense_at_once():
    at = run_app({"ctx": "abc", "d": "-5", "heads": "7", "vocab": "../../etc/passwd", "corpus": "/etc/passwd",
                  "lang": "xx", "text": "量" * 10_000, "model": "trained", "norm": "middle", "batch": "99"})
    # "model=trained" is valid as a choice but there is no trained model yet: the app says so, no traceback.
    assert numbers(at)["d_model"] == DEFAULTS.d_model
    assert len(warnings(at)) >= 7


def test_valid_url_sets_the_controls():
    at = run_app({"ctx": "32", "d": "128", "heads": "8", "seed": "7", "lang": "zh"})
    assert numbers(at) == {"context_length": 32, "d_model": 128, "num_heads": 8, "num_blocks": 1, "seed": 7}
    assert at.sidebar.radio(key="c_lang").value == "zh"
    assert not warnings(at) and not at.error
    assert any(ch >= "\u4e00" for ch in at.title[0].value)  # the page speaks Chinese
    assert at.query_params["ctx"] == ["32"] or at.query_params["ctx"] == "32"
    # Changing a control updates the link: checked on a real server below
    # (test_first_change_after_server_start_keeps_the_other_controls).


def test_no_parameter_can_make_the_server_open_a_file_it_names(monkeypatch):
    opened: list[str] = []
    real_open, real_io_open = builtins.open, io.open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    hostile = {"corpus": "/etc/passwd", "vocab": "../../etc/passwd", "model": "/etc/passwd", "text": "/etc/passwd",
               "source": "file:///etc/hostname", "lang": "../../etc/hostname", "page": "/etc/passwd"}
    at = run_app(hostile)
    assert not any("passwd" in p or "hostname" in p for p in opened), opened
    # The corpus choice is a closed set: the selectbox offers exactly the built-in names.
    assert tuple(at.sidebar.selectbox(key="c_corpus").options) == tuple(
        at.sidebar.selectbox(key="c_corpus").format_func(c) for c in walkthrough.CORPORA)
    assert at.sidebar.selectbox(key="c_corpus").value == "builtin"
    # The text parameter is only ever text for the model to read.
    assert at.sidebar.text_area(key="c_text").value == "/etc/passwd"


@pytest.mark.parametrize("model", ["trained", "loaded"])
def test_link_to_a_model_this_session_does_not_have_opens_the_fresh_one(model):
    """A lecturer shares a link made after training; a student's new session has no trained model yet."""
    at = run_app({"model": model})
    assert at.sidebar.radio(key="c_model").value == model
    assert at.title and not at.error
    at.sidebar.number_input(key="c_seed").set_value(5).run()  # and the next rerun is fine too
    assert not at.exception



def test_first_change_after_server_start_keeps_the_other_controls(tmp_path):
    """A real server, spoken to over Streamlit's websocket protocol (bench/load.py's client). The first session
    of a fresh process runs through Streamlit's legacy pages/-folder runner (this repo has a pages/ folder),
    which gives widgets other ids than later runs: the first change must not reset every other control.
    (AppTest does not switch page hashes, so it cannot see this.)"""
    import asyncio
    from urllib.parse import parse_qs

    from bench.load import Servers, Session, Stats

    async def visit(port: int) -> tuple[str, str, Stats]:
        stats = Stats()
        async with Session(f"ws://127.0.0.1:{port}/_stcore/stream", "test", 60, stats) as s:
            s.query_string = "ctx=32"
            await s.rerun("page")
            assert s.set_widget("c_seed", double_value=42)
            await s.rerun("control")
            after_change = s.query_string
            await s.rerun("page", page="tokens")
            return after_change, s.query_string, stats

    with Servers(1, tmp_path) as servers:
        after_change, after_page, stats = asyncio.run(visit(servers.port))
    assert {k: v for k, v in parse_qs(after_change).items() if k in ("ctx", "seed", "d", "heads")} == {
        "ctx": ["32"], "seed": ["42"]}
    assert {k: v for k, v in parse_qs(after_page).items() if k in ("ctx", "seed", "d", "heads")} == {
        "ctx": ["32"], "seed": ["42"]}
    assert not stats.exceptions and not stats.timeouts and not stats.disconnects


def test_notices_speak_the_links_language():
    at = run_app({"lang": "zh", "ctx": "abc", "heads": "7"})
    assert at.sidebar.radio(key="c_lang").value == "zh"
    assert any("网址参数 ctx=" in w and "必须是整数" in w for w in warnings(at)), warnings(at)
    assert not any("URL parameter" in w for w in warnings(at))


@pytest.mark.parametrize("page, params, named", [
    ("pages/attention.py", {"head": "99"}, "head='99'"),
    ("pages/attention.py", {"block": "-1"}, "block='-1'"),
    ("pages/step.py", {"stage": "blocks.9.attn.weights"}, "stage='blocks.9.attn.weights'"),
])
def test_a_page_value_that_does_not_fit_gets_a_notice_and_the_default(page, params, named):
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.query_params["lang"] = "zh"
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    notice = [w for w in warnings(at) if named in w]
    assert notice and "网址参数" in notice[0]
    at.run()  # the notice is said once; the page goes on with the default
    assert not [w for w in warnings(at) if named in w] and not at.exception


def test_a_link_with_chinese_and_emoji_text_opens_the_attention_page_with_byte_labels():
    text = "我喜欢学习 Transformer 🤖🎉，注意力机制真有趣！"
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["text"], at.query_params["lang"], at.query_params["model"] = text, "zh", "fresh"
    at.run()
    assert at.sidebar.text_area(key="c_text").value == text and at.sidebar.radio(key="c_lang").value == "zh"
    at.session_state["c_model"] = "fresh"  # AppTest runs the switched page without the sidebar (tests/test_pages.py)
    at.switch_page("pages/attention.py").run()
    assert not at.exception and not at.error, [e.message for e in at.exception]
    labels = view_data(at)["labels"]  # the linked attention view's row labels
    assert "1 🤖 第 3/4 字节" in labels and not any("\\xf0" in s for s in labels)
    assert any("自己的随机向量" in i.value for i in at.info)
