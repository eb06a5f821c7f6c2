"""The linked attention view in a real Chromium (issue 13): hovering a token highlights its row in every picture
without the server, a stage tab needs no rerun, a head picked in the view reaches the page's picker and the link,
and the row/block/head/switch choices survive a chapter change. Then the browser bench's quick run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, SHOTS, exceptions, streamlit_server, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {CHROMIUM} for the browser tests.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

VIEW = ".st-key-attn_view .mg-av"  # Playwright's CSS pierces the component's shadow root
# Counts the script runs the page starts from now on (Streamlit marks .stApp while a script runs).
WATCH_RUNS = """() => { window.__runs = 0; const app = document.querySelector('.stApp');
  new MutationObserver(() => { if (app.dataset.testScriptState === 'running') window.__runs++; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"""


def view_ready(page, head: str | None = None) -> None:
    wait_ready(page)
    page.wait_for_selector(VIEW + "[data-drawn]", timeout=60_000)
    if head is not None:
        page.wait_for_selector(f"{VIEW}[data-head='{head}']", timeout=60_000)


@pytest.fixture(scope="module")
def browser_page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        yield url, page
        browser.close()


def test_hover_highlights_the_row_everywhere_and_a_tab_needs_no_rerun(browser_page):
    url, page = browser_page
    page.goto(f"{url}/attention?model=fresh&source=batch")
    view_ready(page)
    view = page.locator(VIEW)
    page.locator(f"{VIEW} .tok").nth(5).hover()
    assert view.get_attribute("data-focus") == "5"
    lit = page.locator(f"{VIEW} .yl.on")  # the row label of token 5 in the large heatmap and each head's panel
    assert lit.count() >= 2 and all(t.startswith("5 ") for t in lit.all_inner_texts())
    assert page.locator(f"{VIEW} .tok.on").all_inner_texts() == [page.locator(f"{VIEW} .tok").nth(5).inner_text()]
    assert page.locator(f"{VIEW} svg.lines .ln.on").count() >= 1  # its lines in who-looks-at-whom
    assert float(view.get_attribute("data-highlight-ms")) < 1000  # in the page, no server involved
    page.screenshot(path=str(SHOTS / "attention_hover.png"), full_page=True)

    page.evaluate(WATCH_RUNS)
    page.locator(f"{VIEW} button.tab[data-stage='attn.scores']").click()
    assert view.get_attribute("data-tab") == "attn.scores"
    page.locator(f"{VIEW} .opt-values input").check()  # values printed in the cells, also in the browser
    page.wait_for_timeout(1500)
    assert page.evaluate("() => window.__runs") == 0, "a tab switch must not rerun the script"
    assert page.locator(f"{VIEW} .ftitle").first.inner_text().startswith("Scaled scores")
    assert not exceptions(page)


def test_a_head_picked_in_the_view_and_the_switches_survive_a_chapter_change(browser_page):
    url, page = browser_page
    page.goto(f"{url}/attention?model=fresh&source=batch&row=2")
    view_ready(page)
    page.locator(f"{VIEW} button.ptitle[data-head='3']").click()  # the view reports it; the picker follows
    view_ready(page, head="3")
    page.wait_for_function("() => new URLSearchParams(location.search).get('head') === '3'", timeout=30_000)
    page.locator("[data-testid='stExpander']").filter(has=page.locator(".st-key-wi_causal_mask")) \
        .locator("summary").click()
    page.locator(".st-key-wi_causal_mask label").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('mask') === '0'", timeout=30_000)
    wait_ready(page)

    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_role("link", name="4 Residual").click()
    page.wait_for_url("**/block**", timeout=30_000)
    wait_ready(page)
    assert not page.locator(".st-key-wi_causal_mask input").is_checked()  # the switch stayed off
    assert "row=2" in page.url and "mask=0" in page.url
    nav.get_by_role("link", name="3 Attention").click()
    page.wait_for_url("**/attention**", timeout=30_000)
    view_ready(page, head="3")
    assert page.locator(".st-key-p_head input").input_value() == "3"
    assert page.locator(".st-key-p_row input").input_value().startswith("2")
    query = page.evaluate("() => Object.fromEntries(new URLSearchParams(location.search))")
    assert (query["head"], query["row"], query["mask"]) == ("3", "2", "0")
    assert not exceptions(page)


def test_browser_bench_quick_run(tmp_path):
    """bench/browser_latency.py --quick: one fresh start, one link, each control change, hovers (no targets
    asserted: a test never asserts a wall-clock time; the README holds the measured medians)."""
    out = tmp_path / "browser_latency.json"
    done = subprocess.run([sys.executable, "bench/browser_latency.py", "--quick", "--port", "8645", "--only", "fresh",
                           "--only", "link", "--only", "control", "--only", "hover", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "link -> first picture" in done.stdout and "hover -> highlight" in done.stdout and out.exists()
