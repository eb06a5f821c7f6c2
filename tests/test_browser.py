"""Every walkthrough page in a real Chromium against `streamlit run app.py`: the plotly figures render, no
Streamlit exception block appears, Next walks the Step page to its end, and bad uploads get a message.
Screenshots of every page go to artifacts/screenshots/ (git-ignored) for a person to look at."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from minigpt import bundled
from minigpt.stages import WHY_STEPS, lecture_steps
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SHOTS, exceptions, streamlit_server, wait_plots, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {CHROMIUM} for the browser tests.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

# url path -> figures the page draws at least (with the default controls)
PAGES = {"": 0, "tokens": 0, "embedding": 5, "attention": 0, "block": 9, "output": 4, "compare": 1}  # attention: its linked view (tests/test_attention_browser.py)


@pytest.fixture(scope="module")
def browser_page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Tall: Streamlit scrolls inside its own container, so a screenshot shows the viewport only.
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        yield url, page
        browser.close()


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_without_exceptions(browser_page, path):
    url, page = browser_page
    page.goto(f"{url}/{path}")
    wait_ready(page)
    if PAGES[path]:
        wait_plots(page, PAGES[path])
    assert not exceptions(page), exceptions(page)
    page.screenshot(path=str(SHOTS / f"page_{path or 'overview'}.png"), full_page=True)


def test_step_page_next_to_the_end(browser_page):
    url, page = browser_page
    page.goto(f"{url}/step")
    wait_ready(page)
    page.screenshot(path=str(SHOTS / "step_01.png"), full_page=True)
    config = bundled.PRESET.model  # the app opens on the bundled model: 2 pre-LN blocks, 42 lecture steps
    lecture = len(lecture_steps(config.num_blocks, config.norm))
    for n in range(2, lecture + 1 + len(WHY_STEPS)):  # every lecture step, then chapter 6's views
        page.locator(".st-key-step_next button").click()
        page.wait_for_function(  # the click's rerun has drawn step n (a readiness check alone can run early)
            f"() => [...document.querySelectorAll('h2')].some(h => h.innerText.startsWith('{n}. '))", timeout=30_000)
        wait_ready(page)
        if n != 1:
            wait_plots(page, 1)
        assert not exceptions(page), (n, exceptions(page))
        if n in (3, 10, 11, 18, lecture):
            page.screenshot(path=str(SHOTS / f"step_{n:02d}.png"), full_page=True)
    assert page.locator(".st-key-step_next button").is_disabled()
    assert "stage=probs" not in page.url and f"stage={WHY_STEPS[-1]}" in page.url  # the stage lives in the URL


def test_projector_view_and_chinese(browser_page):
    url, page = browser_page
    page.goto(f"{url}/step?view=projector&lang=zh&stage=blocks.0.attn.masked")
    wait_ready(page)
    wait_plots(page, 1)
    assert not exceptions(page)
    assert "掩码" in page.inner_text("h3")  # projector mode: the stage heads the column beside its figure
    page.screenshot(path=str(SHOTS / "step_projector_zh.png"), full_page=True)


@pytest.mark.parametrize("name, data, words", [
    ("latin1.txt", "café à la crème".encode("latin-1"), "not UTF-8"),
    ("huge.txt", b"a" * 2_000_001, "the limit is 2,000,000"),
])
def test_bad_uploads_get_a_message(browser_page, tmp_path, name, data, words):
    url, page = browser_page
    page.goto(f"{url}/tokens?corpus=upload")
    wait_ready(page)
    upload = tmp_path / name
    upload.write_bytes(data)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(upload))
    page.wait_for_selector(f"text={words}", timeout=30_000)
    wait_ready(page)
    assert not exceptions(page)
    assert page.locator("h1").first.is_visible()  # the page still works, on the built-in corpus
    page.screenshot(path=str(SHOTS / f"upload_{name}.png"), full_page=True)


def test_stage_tensor_downloads_from_its_popover(browser_page):
    url, page = browser_page
    page.goto(f"{url}/attention")
    wait_ready(page)
    page.get_by_role("button", name="Download this tensor").first.click()  # opening it reruns and draws the buttons
    csv_button = page.get_by_role("button", name="download CSV")
    csv_button.wait_for(timeout=30_000)
    with page.expect_download(timeout=30_000) as download:
        csv_button.click()
    assert download.value.suggested_filename == "minigpt_blocks-0-attn-q_row0_head0.csv"
    header = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert header[0].split(",")[1:] == [str(i) for i in range(16)] and header[1].startswith("0 The,")
    assert not exceptions(page), exceptions(page)
