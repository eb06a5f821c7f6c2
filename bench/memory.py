"""Memory of the app process: idle, one page open, more sessions, one training job (from /proc).

    .venv/bin/python bench/memory.py                        # 1 + 4 sessions, then one training job
    .venv/bin/python bench/memory.py --sessions 8 --train-s 30

Starts `streamlit run app.py` itself (headless, free port) and reads VmRSS (now) and VmHWM (peak) from
/proc/<pid>/status of the server process. Sessions are real pages in headless Chromium (one browser
context each, so each is its own Streamlit session), each waited for until its script finished.
"idle" is the server after start-up with no session; the growth per session is the RSS difference
between one open session and 1 + --sessions, divided by --sessions. The training job is started on the
Train page with its Train button (the first session's tab), left running --train-s seconds, peak reported.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request

import common  # noqa: F401
from common import ROOT, add_common_args, table, write_json
from page_latency import free_port

READY = [".stApp[data-test-script-state='notRunning']", "[data-testid='stAppViewContainer']"]


def status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024  # MiB
    return out


def wait_health(port: int, timeout: float) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
            return
        except Exception:
            time.sleep(0.2)
    raise TimeoutError("the app did not start")


def open_session(browser, url: str, timeout_ms: float):
    context = browser.new_context()
    page = context.new_page()
    page.goto(url, timeout=timeout_ms)
    for sel in READY:
        page.wait_for_selector(sel, timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout_ms)
    return page


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--sessions", type=int, default=4, help="sessions opened after the first one")
    p.add_argument("--train-s", type=float, default=20, help="seconds the training job runs before reading")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--no-train", dest="train", action="store_false")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    readings, notes = [], {}
    try:
        wait_health(port, args.timeout)
        time.sleep(2)
        readings.append(("idle (started, no session)", 0, status(server.pid)))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            pages = [open_session(browser, url, args.timeout * 1000)]
            time.sleep(1)
            readings.append(("one session (overview page)", 1, status(server.pid)))
            for i in range(args.sessions):
                pages.append(open_session(browser, url, args.timeout * 1000))
            time.sleep(1)
            readings.append((f"{1 + args.sessions} sessions", 1 + args.sessions, status(server.pid)))
            if args.train:
                page = pages[0]
                page.goto(url + "train", timeout=args.timeout * 1000)
                for sel in READY:
                    page.wait_for_selector(sel, timeout=args.timeout * 1000)
                button = page.locator(".st-key-train_start button")
                try:  # the page's first elements can be ready before its Train button is drawn
                    button.first.wait_for(timeout=30_000)
                except Exception:
                    pass
                if button.count():
                    button.first.click()
                    time.sleep(args.train_s)
                    readings.append((f"+ one training job ({args.train_s:g} s in)", 1 + args.sessions,
                                     status(server.pid)))
                else:
                    notes["train"] = "no Train button (.st-key-train_start) found on /train"
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    rows = [[what, n, r.get("VmRSS"), r.get("VmHWM")] for what, n, r in readings]
    one = next(r for what, n, r in readings if n == 1)
    many = next((r for what, n, r in readings if n == 1 + args.sessions and "training" not in what), None)
    growth = (many["VmRSS"] - one["VmRSS"]) / args.sessions if many and args.sessions else None
    print(table(["state", "sessions", "RSS MiB", "peak RSS MiB (VmHWM)"], rows))
    if growth is not None:
        print(f"\ngrowth per additional session: {growth:.1f} MiB")
    for k, v in notes.items():
        print(f"note ({k}): {v}")
    write_json("memory", {"readings": [{"state": w, "sessions": n, **r} for w, n, r in readings],
                          "growth_per_session_mib": growth, "notes": notes, "table": rows}, args.out)
    return readings


if __name__ == "__main__":
    main()
