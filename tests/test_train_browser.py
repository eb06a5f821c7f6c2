"""A real browser against `streamlit run app.py`: start a short training run on the Train page, see the loss
figure update at least twice, stop it, and open the Attention chapter on the trained model. Screenshots
(start, middle, end, attention, generate) go to artifacts/screenshots/.

The runs ask for RUN_STEPS steps, more than any machine does within the tests' time limit, so a run is still in
progress whenever a test expects it to be; the waits are for what the page shows, with generous upper bounds."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from minigpt.jobs import THREAD_PREFIX

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
RUN_STEPS = 1_000_000  # TrainConfig's maximum: the lecture preset's ~1-15 ms steps make that 15 min to hours

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {CHROMIUM} for the browser tests.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SERVER_PID: dict[str, int] = {}


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = dict(os.environ, MINIGPT_TORCH_THREADS="1",  # leave a core to the browser
               MINIGPT_MAX_STEPS=str(RUN_STEPS))  # the page allows a run that outlasts the test
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode(errors="replace"))
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not start within 60 s")
    _SERVER_PID[url] = proc.pid
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _ready(page, timeout: float = 60_000) -> None:
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=timeout)
    page.wait_for_selector(".stApp[data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector(".stApp[data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_function("!document.querySelector(\"[data-testid='stSkeleton']\")", timeout=timeout)
    assert page.locator("[data-testid='stException']").count() == 0


LOSS_POINTS = """() => {
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    const title = el.layout && el.layout.title && el.layout.title.text;
    if (title && title.includes('Loss during training')) return el._fullData && el._fullData.length ? el._fullData[0]._length : 0;  // drawn points
  }
  return -1;
}"""


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_selector(".stApp[data-test-script-state='notRunning']", timeout=30_000)  # not mid-refresh
    page.screenshot(path=str(SHOTS / f"train-{name}.png"))  # Streamlit scrolls inside stMain: a tall viewport


def test_train_live_in_a_browser(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 2300})
    try:
        _train_live(server, page)
    finally:
        page.close()  # ends the session: its job is released even when an assertion failed


def _train_live(server, page):
    page.goto(server)
    _ready(page)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Train live").click()
    page.get_by_role("heading", name="Train live").wait_for(timeout=30_000)
    _ready(page)
    steps = page.get_by_label("steps", exact=True)
    steps.fill(str(RUN_STEPS))  # still running when Stop is pressed, however fast the machine
    steps.press("Enter")
    _ready(page)
    every = page.get_by_label("evaluate every … steps")
    every.fill("20")
    every.press("Enter")
    _ready(page)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"({LOSS_POINTS})() > 0", timeout=90_000)  # plotly.js loads lazily
    _shot(page, "1-start")

    seen = [page.evaluate(LOSS_POINTS)]
    for _ in range(2):  # the figure updates twice without reloading: waits for what it draws, not for a clock
        grown = page.wait_for_function(f"() => {{ const n = ({LOSS_POINTS})(); return n > {seen[-1]} && n; }}",
                                       timeout=90_000)
        seen.append(grown.json_value())
    assert len(set(seen)) == 3 and seen == sorted(seen), seen
    page.wait_for_timeout(1500)
    _shot(page, "2-middle")
    _assert_figures_fit(page, 1600, 1000)  # a laptop: the loss curves and the attention snapshot without scrolling
    page.set_viewport_size({"width": 1440, "height": 2300})

    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()  # not the header's
    page.get_by_text("is ready as “Trained in this session”").wait_for(timeout=30_000)
    _ready(page)
    _shot(page, "3-end")

    page.get_by_role("button", name="Look at it in the walkthrough").click()
    page.wait_for_url("**/attention**", timeout=30_000)
    _ready(page)
    page.get_by_role("heading", name="3 · Attention").wait_for(timeout=30_000)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert sidebar.get_by_role("radio", name="Trained in this session").is_checked()
    _shot(page, "4-attention")

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="5 Output").click()
    section = page.get_by_role("heading", name="Trained vs untrained")
    section.wait_for(timeout=60_000)
    _ready(page)
    section.scroll_into_view_if_needed()
    _shot(page, "4b-output")

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Generate").click()
    page.get_by_role("heading", name="Generate").wait_for(timeout=30_000)
    _ready(page)
    assert page.locator("text=Colour = probability").count() == 1
    _shot(page, "5-generate")


PLOT_BOTTOMS = """() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')].map(el => [
  (el.layout && el.layout.title && el.layout.title.text) || '', el.querySelector('.nsewdrag').getBoundingClientRect().bottom]))"""


def _assert_figures_fit(page, width: int, height: int) -> None:
    """The plot areas of the loss curves and the attention snapshot end inside a width x height screen."""
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(1000)  # plotly redraws at the new width
    _ready(page)
    bottoms = page.evaluate(PLOT_BOTTOMS)
    loss = [b for title, b in bottoms.items() if "Loss during training" in title]
    attention = [b for title, b in bottoms.items() if "Attention during training" in title]
    assert loss and attention, bottoms
    assert loss[0] <= height and attention[0] <= height, (width, height, bottoms)


def test_live_figures_fit_a_projector(server, browser):
    """view=projector at 1920x1080: the live figures are on screen without scrolling, the sidebar hidden."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(server + "/train?view=projector")
        _ready(page)
        steps = page.get_by_label("steps", exact=True)
        steps.fill(str(RUN_STEPS))
        steps.press("Enter")
        _ready(page)
        page.get_by_role("button", name="Start training").click()
        page.wait_for_function(f"({LOSS_POINTS})() > 0", timeout=90_000)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
        _assert_figures_fit(page, 1920, 1080)
        _shot(page, "6-projector")
        page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
        page.get_by_text("is ready as “Trained in this session”").wait_for(timeout=30_000)
    finally:
        page.close()


def _training_threads(pid: int) -> int:
    """Threads of the server named by minigpt.jobs (the worker sets its OS thread name)."""
    count = 0
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        try:
            count += comm.read_text().strip() == THREAD_PREFIX
        except OSError:  # the thread ended while we looked
            pass
    return count


def _wait_for(predicate, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return predicate()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_closing_the_tab_stops_the_job(server, browser):
    """The session's job is released about a second after its websocket goes: no orphaned training thread."""
    pid = _SERVER_PID[server]
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    page.goto(server)
    _ready(page)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Train live").click()
    page.get_by_role("heading", name="Train live").wait_for(timeout=30_000)
    _ready(page)
    steps = page.get_by_label("steps", exact=True)
    steps.fill(str(RUN_STEPS))  # still training when the tab closes
    steps.press("Enter")
    _ready(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_role("button", name="Pause").wait_for(timeout=30_000)
    assert _wait_for(lambda: _training_threads(pid) == 1, 30), "no training thread in the server"
    page.close()
    # on_release runs about a second after the websocket closes; the job stops after its current step.
    assert _wait_for(lambda: _training_threads(pid) == 0, 30), "the closed tab's training thread is still running"
