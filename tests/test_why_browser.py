"""Chapter 6 ("What it learned") in a real Chromium against `streamlit run app.py`: every figure
drawn, no exception block (中文, a corpus batch). Screenshots go to artifacts/screenshots/ (git-ignored) for a person to look at."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SHOTS, exceptions, streamlit_server, wait_plots, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {CHROMIUM} for the browser tests.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def test_the_chapter_draws_every_view_in_chinese():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 7500})  # tall: Streamlit scrolls inside itself
        # English is covered by AppTest and by tests/test_browser.py's Step walk through chapter 6's stages.
        for lang, query, figures in (("zh", "model=fresh&source=batch", 9),):
            page.goto(f"{url}/inside?lang={lang}&{query}")
            wait_ready(page)
            wait_plots(page, figures)
            assert not exceptions(page), exceptions(page)
            text = page.inner_text("h1")
            assert ("What it learned" in text) if lang == "en" else ("模型学到了什么" in text)
            page.screenshot(path=str(SHOTS / f"inside_{lang}.png"), full_page=True)
        browser.close()
