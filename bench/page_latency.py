"""Page latency: server-side time of each walkthrough page's script run, and start-up times.

    .venv/bin/python bench/page_latency.py                 # every page, default and large config, + browser start-up
    .venv/bin/python bench/page_latency.py --threads 2     # force torch's threads (default: the app's own bound)
    .venv/bin/python bench/page_latency.py --no-browser    # skip the `streamlit run` -> first page in Chromium timing

Each page runs under Streamlit's AppTest (in this process): the real page script, its calls into
`minigpt` for the trace and every figure builder it uses, and the serialisation of every element. Page
scripts are compiled once and reused, as a running server does (AppTest alone would recompile every run).
"cold" changes the seed before every run, so the page builds a fresh model, computes a new trace and
builds every figure (what a student's control change costs); "warm" reruns with nothing changed
(the trace comes from the shared cache; figures are rebuilt). Medians over --runs runs after one warm-up.
Configs: the app's default (context 16, d_model 64, 1 block) and context 64 / d_model 256 / 4 blocks.
Start-up: `import minigpt` + tokenizer load in a fresh interpreter; `streamlit run` to the overview page
fully rendered in headless Chromium (container present, script state notRunning, its content shown).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import common
from common import ROOT, add_common_args, median, set_threads, table, write_json

PAGES = ["home", "tokens", "embedding", "attention", "block", "output", "step", "step@weights", "compare", "generate"]
# "page@variant": the page with these page-level controls set (the Step page opens on the token chips;
# its heaviest stages are heatmaps).
PAGE_STATE = {"step@weights": {"step_stage": "blocks.0.attn.weights"}}
CONFIGS = {"default": {}, "ctx64-d256-4blocks": {"c_context_length": 64, "c_d_model": 256, "c_num_blocks": 4}}


def _share_script_cache() -> None:
    """A server compiles each page script once (its ScriptCache lives as long as the server); AppTest builds a
    new cache, so a new compile with Streamlit's magic AST pass (~10-25 ms), on every run. Share one, as the
    server does, so the figure is the page's own cost."""
    import streamlit.testing.v1.app_test as app_test
    import streamlit.testing.v1.local_script_runner as local_script_runner
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared


def time_page(page: str, state: dict, runs: int) -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()

    def run(seed):
        for key, value in state.items():
            at.session_state[key] = value
        if seed is not None:
            at.session_state["c_seed"] = seed
        t0 = time.perf_counter()
        at.run()
        return time.perf_counter() - t0

    state = {**state, **PAGE_STATE.get(page, {})}
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{page.split('@')[0]}.py").run()  # warm-up: the page's first run
    errors = [str(e.value)[:200] for e in at.exception]
    cold = [run(1000 + i) for i in range(runs)]
    warm = [run(None) for _ in range(runs)]
    figures = len(at.get("plotly_chart"))
    return {"cold_ms": median(cold) * 1e3, "warm_ms": median(warm) * 1e3, "cold_runs_ms": [c * 1e3 for c in cold],
            "figures": figures, "errors": errors}


def import_time() -> float:
    code = ("import time; t0 = time.perf_counter(); import minigpt; minigpt.cl100k().encode('warm up'); "
            "print(time.perf_counter() - t0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_startup(timeout: float = 90) -> dict:
    """Seconds from `streamlit run` to the overview page fully rendered in headless Chromium, with the steps on
    the way. The browser asks for the page once the server answers its health check, as the browser that
    `streamlit run` opens itself does (polling with page loads would add Chromium's error-page round trips)."""
    import urllib.request

    from playwright.sync_api import sync_playwright

    port = free_port()
    marks = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        t0 = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError("the server did not answer its health check")
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.02)
            marks["server_answers_s"] = time.perf_counter() - t0
            page.goto(f"http://127.0.0.1:{port}/", timeout=timeout * 1000)
            page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=timeout * 1000)
            marks["page_shell_loaded_s"] = time.perf_counter() - t0
            page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout * 1000)
            page.wait_for_selector(".stApp[data-test-script-state='notRunning']", timeout=timeout * 1000)
            page.wait_for_function("!document.querySelector(\"[data-testid='stSkeleton']\")", timeout=timeout * 1000)
            marks["streamlit_run_to_first_page_s"] = time.perf_counter() - t0
            return marks
        finally:
            server.terminate()
            server.wait(10)
            browser.close()


def first_run_parts() -> dict:
    """What the first script run of a fresh server pays for: imports and the vocabulary (fresh interpreter)."""
    code = ("import time, json; r = {}; t = time.perf_counter()\n"
            "def lap(k):\n    global t; n = time.perf_counter(); r[k] = n - t; t = n\n"
            "import streamlit; lap('import streamlit')\n"
            "import torch; lap('import torch')\n"
            "import pandas, plotly.graph_objects; lap('import pandas + plotly')\n"
            "import ui.workspace; lap('import ui.workspace (minigpt, rest)')\n"
            "from minigpt import corpus, Vocabulary; Vocabulary.from_text(corpus.builtin().text, 'compact'); "
            "lap('tokenizer + built-in corpus vocabulary')\n"
            "print(json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    import json

    return {k: round(v, 3) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--pages", nargs="+", default=PAGES)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--no-browser", dest="browser", action="store_false")
    args = p.parse_args(argv)
    # Without --threads the pages run with the app's own bound (minigpt.devices.bound_threads: MINIGPT_TORCH_THREADS,
    # default half the cores), as they do under `streamlit run`.
    if args.threads:
        set_threads(args.threads)
    _share_script_cache()
    print(f"{args.runs} runs per page and mode (median)", flush=True)
    results, rows = {}, []
    for cfg in args.configs:
        for page in args.pages:
            r = time_page(page, CONFIGS[cfg], args.runs)
            results.setdefault(cfg, {})[page] = r
            rows.append([cfg, page, r["cold_ms"], r["warm_ms"], r["figures"], "; ".join(r["errors"]) or "-"])
            print(f"  {cfg:20s} {page:10s} cold {r['cold_ms']:8.1f} ms  warm {r['warm_ms']:8.1f} ms  "
                  f"{r['figures']} figures", flush=True)
    import torch

    threads = torch.get_num_threads()
    print(f"torch threads in the pages: {threads}", flush=True)
    startup = {"import_minigpt_and_tokenizer_s": median([import_time() for _ in range(3)])}
    if args.browser:
        try:
            runs = [browser_startup() for _ in range(3)]
            for key in runs[0]:
                startup[key] = median([r[key] for r in runs])
        except Exception as exc:
            startup["browser_error"] = f"{type(exc).__name__}: {exc}"[:300]
        startup.update({f"first run: {k} (s)": v for k, v in first_run_parts().items()})
    print()
    print(table(["config", "page", "cold ms (new seed)", "warm ms (rerun)", "plotly figures", "errors"], rows))
    print()
    print(table(["start-up", "seconds"], [[k, v] for k, v in startup.items()]))
    write_json("page_latency", {"threads": threads, "runs": args.runs, "pages": results, "startup": startup,
                                "table": rows}, args.out)
    return results


if __name__ == "__main__":
    main()
