"""Projector mode and the model map in a real Chromium at 1920×1080: a few stages meet the size targets and fit
on screen, ←/→, PageUp/PageDown and Space move between stages but not while typing in the text box, a typed
sentence reaches the figure, a click on the map opens its stage (Step page and Overview), and the button leaves
and re-enters the mode. The full sweep of every stage is `bench/projector.py`."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SHOTS, exceptions, streamlit_server, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {CHROMIUM} for the browser tests.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

from bench.projector import MEASURE_JS, SCREEN, TARGETS, settle, warm_up  # noqa: E402


@pytest.fixture(scope="module")
def projector_page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("MINIGPT_PROJECTOR_PORT") or 0) or None
    with streamlit_server(90, port=port) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=SCREEN)
        warm_up(page, url)
        yield url, page
        browser.close()


def _meets_targets(page) -> dict:
    m = page.evaluate(MEASURE_JS)
    assert m["body"] >= TARGETS["body"] and m["code"] >= TARGETS["code"] and m["ticks"] >= TARGETS["ticks"], m
    assert m["area"] >= TARGETS["area"] and m["fits"], m
    assert not exceptions(page)
    return m


def test_keys_move_typing_does_not_and_the_map_jumps(projector_page):
    url, page = projector_page
    page.goto(f"{url}/step?view=projector&model=fresh&blocks=1&norm=post&stage=blocks.0.attn.scores")
    settle(page, "en", 8)
    _meets_targets(page)
    for key, stage in (("ArrowRight", 9), ("PageDown", 10), ("Space", 11), ("ArrowLeft", 10), ("PageUp", 9)):
        page.keyboard.press(key)
        settle(page, "en", stage)
    _meets_targets(page)
    assert "stage=blocks.0.attn.mask&" in page.url + "&" and "view=projector" in page.url
    box = page.locator(".st-key-c_text input")
    box.click()
    page.keyboard.press("ArrowRight")  # moves the cursor, not the stage
    page.keyboard.press("Space")
    box.fill("我喜欢学习 Transformer 🤖")
    box.press("Enter")
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot .ytick text')]"
                           ".some(t => t.textContent.includes('我'))", timeout=30_000)
    settle(page, "en", 9)  # still the same stage
    _meets_targets(page)
    page.screenshot(path=str(SHOTS / "projector_typed_zh.png"))
    page.keyboard.press("Escape")  # leaves the text box: the keys move stages again
    page.keyboard.press("ArrowRight")
    settle(page, "en", 10)
    page.locator(".st-key-step_next button").click()
    settle(page, "en", 11)
    page.keyboard.press("Space")  # the focused Next button must not take it as a second click
    settle(page, "en", 12)
    page.wait_for_timeout(1500)
    settle(page, "en", 12)
    page.locator('.st-key-step_map [data-stage="blocks.0.attn.q"]').click()  # CSS locators pierce the shadow root
    settle(page, "en", 5)


def test_the_overview_map_opens_a_stage_and_the_button_switches_the_mode(projector_page):
    url, page = projector_page
    page.goto(f"{url}/?model=fresh&blocks=1")  # the Overview's large map, laptop view
    wait_ready(page)
    page.locator('.st-key-home_map [data-stage="blocks.0.ffn.relu"]').click()
    page.wait_for_url("**/step?*stage=blocks.0.ffn.relu*", timeout=30_000)
    wait_ready(page)
    assert "ReLU" in page.inner_text("h2") and not exceptions(page)
    page.locator(".st-key-projector_switch button").first.click()  # into projector mode
    page.wait_for_function("() => !!document.querySelector('.st-key-proj_position')", timeout=30_000)
    wait_ready(page)
    assert "view=projector" in page.url and "stage=blocks.0.ffn.relu" in page.url
    page.locator(".st-key-projector_switch button").first.click()  # and out again: the sidebar is back
    page.wait_for_selector("[data-testid='stSidebar'] textarea, [data-testid='stSidebar'] input", timeout=30_000)
    wait_ready(page)
    assert "view=projector" not in page.url and "stage=blocks.0.ffn.relu" in page.url
