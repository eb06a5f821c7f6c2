"""Two students on one server, in two real browser sessions: what one types, pastes or uploads is never shown
to the other (the server caches shared traces, so this is worth proving end to end)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from minigpt import MiniGPT, ModelConfig, Vocabulary, checkpoint, corpus
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, exceptions, streamlit_server, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {CHROMIUM} for the browser tests.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

SECRET_TEXT = "Zebrafish quietly negotiates"
SECRET_CORPUS = "Quokkas sell umbrellas to penguins every winter. " * 40


def _sidebar(page):
    return page.locator("[data-testid='stSidebar']")


def test_two_sessions_never_see_each_other(tmp_path):
    vocab = Vocabulary.from_text(corpus.builtin().text, "compact")
    model = MiniGPT(ModelConfig(seed=4242), vocab.size)
    ckpt = tmp_path / "alice.safetensors"
    ckpt.write_bytes(checkpoint.to_bytes(model, vocab, {"step": 77}))

    with streamlit_server() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        alice = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        bob = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()

        # Alice types her own text, pastes her own corpus and loads her own checkpoint.
        alice.goto(f"{url}/tokens")
        wait_ready(alice)
        box = _sidebar(alice).locator("textarea").first
        box.fill(SECRET_TEXT)
        box.press("Control+Enter")
        wait_ready(alice)
        alice.get_by_text("Zebrafish", exact=False).first.wait_for(timeout=30_000)

        alice.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Overview").click()
        wait_ready(alice)
        assert "Zebrafish" in _sidebar(alice).locator("textarea").first.input_value()
        alice.goto(f"{url}/?corpus=paste&model=loaded")  # a new page load: the link opens paste + loaded
        wait_ready(alice)
        paste = _sidebar(alice).locator("textarea").last
        paste.fill(SECRET_CORPUS)
        paste.press("Control+Enter")
        wait_ready(alice)
        _sidebar(alice).locator("[data-testid='stFileUploaderDropzoneInput']").last.set_input_files(str(ckpt))
        alice.get_by_text("loaded checkpoint (step 77)").wait_for(timeout=30_000)
        alice.get_by_text("Your text").first.wait_for(timeout=30_000)  # the pasted corpus is in use
        assert not exceptions(alice)

        # Bob, at the same time, on the same server, asks for the same kinds of things.
        bob.goto(f"{url}/tokens?model=loaded&corpus=paste")
        wait_ready(bob)
        body = bob.locator("[data-testid='stAppViewContainer']").inner_text()
        assert "Zebrafish" not in body and "Quokka" not in body
        assert "loaded checkpoint (step 77)" not in body
        assert "No checkpoint loaded yet" in _sidebar(bob).inner_text()
        assert "Paste a corpus" in body  # his own (empty) paste box: the built-in corpus is used
        bob.goto(f"{url}/?model=trained")
        wait_ready(bob)
        assert "Nothing trained in this session yet" in _sidebar(bob).inner_text()
        assert not exceptions(bob)

        # And Alice, in her session (navigating, not reloading: a reload is a new session), still has hers.
        alice.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Overview").click()
        wait_ready(alice)
        body = alice.locator("[data-testid='stAppViewContainer']").inner_text()
        assert "loaded checkpoint (step 77)" in body and "Your text" in body
        browser.close()
