"""What a student waits for, measured in headless Debian Chromium against a real `streamlit run app.py`.

    .venv/bin/python bench/browser_latency.py              # median of 5 of everything (~3 min on 2 cores)
    .venv/bin/python bench/browser_latency.py --quick      # 1 repeat, 1 fresh start (CI: tests/test_bench_smoke.py)
    .venv/bin/python bench/browser_latency.py --only heights --lang zh

Targets (issue 13), all at the app's default config, on a warm server unless said otherwise:
  link -> first picture on /attention        <= 3 s   (a new tab; the first heatmap drawn)
  control change -> page idle on /attention  <= 1 s   (head picker, seed, one temperature arrow press)
  hover a token -> highlight                 <= 100 ms (performance.now() in the page, to the next frame)
  fresh `streamlit run` -> first picture     <= 5 s   (process start to the first heatmap on /attention)
  page height at 1600x1000                   <= 2,500 px on every chapter
"First picture" on /attention is the linked view's first drawing (its root gets data-drawn); elsewhere a plotly
plot area (.nsewdrag) or, on a page without figures, the script finishing. Idle: the view shows the new numbers
(its data-stamp changed) and the script state is notRunning. Servers listen on 127.0.0.1 only; nothing here
reaches the network. Prints a table and writes bench/results/browser_latency.json.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
CHAPTERS = ["", "tokens", "embedding", "attention", "block", "output", "generate", "step", "train", "compare"]
TARGETS = {"link_first_picture_s": 3.0, "control_idle_s": 1.0, "hover_ms": 100.0, "fresh_first_picture_s": 5.0,
           "height_px": 2500}
# The linked view's root inside its shadow root (Playwright's CSS locators pierce it; page JS does not).
ROOT_JS = ("() => { const h = document.querySelector('.st-key-attn_view [data-testid=stBidiComponentIsolated]');"
           " return h && h.shadowRoot ? h.shadowRoot.querySelector('.mg-av') : null; }")
PICTURE_JS = ("() => { const r = (" + ROOT_JS + ")(); return !!(r && r.dataset.drawn)"
              " || !!document.querySelector('.js-plotly-plot .nsewdrag'); }")
IDLE_JS = "() => !!document.querySelector(\".stApp[data-test-script-state='notRunning']\")"


def free_port(start: int) -> int:
    for port in range(start, start + 10):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {start}..{start + 9}")


class Server:
    """`streamlit run app.py` on 127.0.0.1:port; t0 is the moment the process was started."""

    def __init__(self, port: int):
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        env = dict(os.environ, MINIGPT_TORCH_THREADS=os.environ.get("MINIGPT_TORCH_THREADS", "1"))
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_healthy(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/_stcore/health", timeout=1)
                return time.perf_counter() - self.t0
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("streamlit exited") from None
                time.sleep(0.05)
        raise RuntimeError("streamlit did not answer")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def wait_picture(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(PICTURE_JS, timeout=timeout_ms, polling=20)


def wait_ready(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector(".stApp[data-test-connection-state='CONNECTED']", timeout=timeout_ms)
    page.wait_for_function(IDLE_JS, timeout=timeout_ms, polling=20)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stSkeleton']\")", timeout=timeout_ms)


def stamp(page) -> str:
    return page.evaluate("() => { const r = (" + ROOT_JS + ")(); return r ? r.dataset.stamp || '' : ''; }")


def wait_new_view(page, old: str, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "(old) => { const r = (" + ROOT_JS + ")(); return r && r.dataset.stamp && r.dataset.stamp !== old"
        " && !!document.querySelector(\".stApp[data-test-script-state='notRunning']\"); }",
        arg=old, timeout=timeout_ms, polling=20)


def fresh_start(browser, port: int, query: str) -> dict:
    """A new server process, then the attention link as soon as it answers: seconds from process start."""
    server = Server(port)
    try:
        healthy = server.wait_healthy()
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{server.url}/attention{query}")
        wait_picture(page)
        picture = time.perf_counter() - server.t0
        page.close()
        return {"healthy_s": healthy, "first_picture_s": picture}
    finally:
        server.stop()


def link_first_picture(browser, url: str, query: str) -> float:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    t0 = time.perf_counter()
    page.goto(f"{url}/attention{query}")
    wait_picture(page)
    seconds = time.perf_counter() - t0
    page.close()
    return seconds


def control_changes(page, url: str, query: str, seed: int) -> dict[str, float]:
    """Seconds from each control change on /attention to the page idle with the new numbers drawn."""
    page.goto(f"{url}/attention{query}")
    wait_ready(page)
    wait_picture(page)
    out = {}
    # the head picker (in the page's fragment)
    old = stamp(page)
    t0 = time.perf_counter()
    page.locator(".st-key-p_head button[aria-haspopup='listbox']").click()
    page.get_by_role("option", name="2", exact=True).click()
    wait_new_view(page, old)
    out["head"] = time.perf_counter() - t0
    # the seed (sidebar: a whole-page rerun, a new model and trace); the bundled model has none (fixed weights)
    box = page.locator(".st-key-c_seed input")
    if box.count() and box.is_visible():
        old = stamp(page)
        box.fill(str(seed))
        t0 = time.perf_counter()
        box.press("Enter")
        wait_new_view(page, old)
        out["seed"] = time.perf_counter() - t0
    # one arrow press on the temperature slider (inside the what-if expander)
    handle = page.locator(".st-key-wi_temperature input[type='range']")
    if not page.locator(".st-key-wi_temperature [data-testid='stSliderThumbValue']").is_visible():
        page.locator("[data-testid='stExpander']").filter(has=page.locator(".st-key-wi_causal_mask")) \
            .locator("summary").click()  # open the what-if expander
    page.locator(".st-key-wi_temperature [data-testid='stSliderThumbValue']").wait_for()
    old = stamp(page)
    handle.focus()
    t0 = time.perf_counter()
    handle.press("ArrowRight")
    wait_new_view(page, old)
    out["temperature"] = time.perf_counter() - t0
    return out


def hover_ms(page, repeats: int = 5) -> list[float]:
    """Hover token chips in turn; performance.now() from the event to the frame after the highlight."""
    return page.evaluate(
        """async ([rootJs, repeats]) => {
            const root = eval(rootJs)();
            const chips = [...root.querySelectorAll('.tok')];
            const out = [];
            for (let i = 0; i < repeats; i++) {
              const chip = chips[(3 + 2 * i) % chips.length];
              const t0 = performance.now();
              chip.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
              if (root.dataset.focus !== chip.dataset.q) throw new Error('no highlight');
              await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
              out.push(performance.now() - t0);
              root.querySelector('.toks').dispatchEvent(new MouseEvent('mouseleave'));
            }
            return out;
        }""", [ROOT_JS, repeats])


def heights(browser, url: str, lang: str, width: int = 1600, height: int = 1000) -> dict[str, int]:
    page = browser.new_page(viewport={"width": width, "height": height})
    out = {}
    for path in CHAPTERS:
        page.goto(f"{url}/{path}?lang={lang}")
        wait_ready(page)
        time.sleep(0.5)  # let figures and the component lay out
        out[path or "overview"] = page.evaluate(
            "() => document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
    page.close()
    return out


def med(values) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fresh", type=int, default=None, help="fresh server starts (default: --repeats)")
    ap.add_argument("--quick", action="store_true", help="one repeat and one fresh start (a smoke run)")
    ap.add_argument("--port", type=int, default=8641, help="first port to try (10 tried)")
    ap.add_argument("--query", default="", help="extra URL query for /attention, e.g. '?ctx=32&heads=8'")
    ap.add_argument("--lang", default="en")
    ap.add_argument("--only", choices=["fresh", "link", "control", "hover", "heights"], action="append")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "browser_latency.json")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    fresh_n = 1 if args.quick else (args.fresh if args.fresh is not None else repeats)
    only = set(args.only or ["fresh", "link", "control", "hover", "heights"])
    from playwright.sync_api import sync_playwright

    result: dict = {"repeats": repeats, "query": args.query, "lang": args.lang, "targets": TARGETS}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        if "fresh" in only:
            runs = [fresh_start(browser, free_port(args.port), args.query) for _ in range(fresh_n)]
            result["fresh"] = runs
            result["fresh_first_picture_s"] = med([r["first_picture_s"] for r in runs])
        server = Server(free_port(args.port))
        try:
            server.wait_healthy()
            link_first_picture(browser, server.url, args.query)  # warm: imports, caches, the browser's bundle
            if "link" in only:
                runs = [link_first_picture(browser, server.url, args.query) for _ in range(repeats)]
                result["link"] = runs
                result["link_first_picture_s"] = med(runs)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            if "control" in only:
                runs = [control_changes(page, server.url, args.query, 100 + i) for i in range(repeats)]
                result["control"] = runs
                result["control_idle_s"] = {k: med([r[k] for r in runs if k in r]) for k in runs[0]}
            if "hover" in only:
                page.goto(f"{server.url}/attention{args.query}")
                wait_ready(page)
                wait_picture(page)
                runs = [v for _ in range(repeats) for v in hover_ms(page)]
                result["hover"] = runs
                result["hover_ms"] = med(runs)
            page.close()
            if "heights" in only:
                result["heights"] = heights(browser, server.url, args.lang)
        finally:
            server.stop()
        browser.close()
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def report(r: dict) -> None:
    rows = []
    if "fresh_first_picture_s" in r:
        rows.append(("fresh streamlit run -> first picture (s)", r["fresh_first_picture_s"], TARGETS["fresh_first_picture_s"]))
    if "link_first_picture_s" in r:
        rows.append(("link -> first picture on /attention (s)", r["link_first_picture_s"], TARGETS["link_first_picture_s"]))
    for name, value in r.get("control_idle_s", {}).items():
        rows.append((f"control change ({name}) -> idle (s)", value, TARGETS["control_idle_s"]))
    if "hover_ms" in r:
        rows.append(("hover -> highlight (ms)", r["hover_ms"], TARGETS["hover_ms"]))
    for name, value in r.get("heights", {}).items():
        rows.append((f"height {name} (px)", value, TARGETS["height_px"]))
    print(f"median of {r['repeats']}  query={r['query'] or '(default)'}  lang={r['lang']}")
    for name, value, target in rows:
        ok = "met" if value <= target else "MISSED"
        print(f"  {name:<45} {value:>9.3f}   target <= {target:<7} {ok}")


if __name__ == "__main__":
    main()
