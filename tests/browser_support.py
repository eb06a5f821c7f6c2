"""Fixtures for real-browser tests: `streamlit run app.py` on a free loopback port, Debian's Chromium
through Playwright, and the readiness waits Streamlit's own e2e suite uses. Nothing here touches the network."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(url: str, proc: subprocess.Popen, limit_s: float = 60) -> None:
    """Until the server at url answers its health check; raises (with the server's output if it has a pipe) if
    it exits first or does not answer within limit_s."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return
        except OSError:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"the server exited ({proc.returncode}) before answering {url}\n{output}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {limit_s:.0f} s") from None
            time.sleep(0.3)


@contextlib.contextmanager
def streamlit_server(timeout_s: float = 60, *, port: int | None = None, quiet: bool = False):
    """Yields the base URL of a headless `streamlit run app.py` (on port, or a free one); stops it afterwards.
    quiet: discard its output (a bench's long run) instead of keeping it for the error message."""
    port = port or free_port()
    env = dict(os.environ, MINIGPT_TORCH_THREADS="1")  # leave a core to the browser
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL if quiet else subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_health(url, proc, timeout_s)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_ready(page, timeout_ms: int = 60_000) -> None:
    """Connected, the script finished, no skeletons left (the selectors of Streamlit's e2e tests)."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=timeout_ms)
    page.wait_for_selector(".stApp[data-test-connection-state='CONNECTED']", timeout=timeout_ms)
    page.wait_for_selector(".stApp[data-test-script-state='notRunning']", timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stSkeleton']\")", timeout=timeout_ms)


def wait_plots(page, count: int, timeout_ms: int = 30_000) -> None:
    """At least count plotly figures drawn (their SVG main layer exists)."""
    page.wait_for_function(
        f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {count}", timeout=timeout_ms)


def exceptions(page) -> list[str]:
    return [e.inner_text() for e in page.query_selector_all("[data-testid='stException']")]
