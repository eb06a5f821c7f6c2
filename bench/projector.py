"""Projector mode in a real browser: for every stage of the Step page at 1920×1080 (`?view=projector`), in English
and 中文, the body / code / tick-label font sizes, the figure's plot area as a share of the screen, whether the
figure and its explanation fit on the screen without scrolling, and whether ArrowRight advances to the next stage.
The sweep itself moves by ArrowRight, so every stage is reached by the key a presenter clicker sends.

    .venv/bin/python bench/projector.py [--port 8620] [--shots DIR] [--lang en --lang zh]

Targets (issue 12): body ≥ 24 px, code ≥ 20 px, ticks ≥ 18 px, plot area ≥ 30 % of the screen, fits, key advances.
Prints a table per language and writes bench/results/projector.json. Needs Debian's chromium and Playwright.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser_support import (CHROMIUM, CHROMIUM_ARGS, exceptions, streamlit_server, wait_plots,  # noqa: E402
                                   wait_ready)

SCREEN = {"width": 1920, "height": 1080}
TARGETS = {"body": 24, "code": 20, "ticks": 18, "area": 0.30}

# Measured in the page: the smallest font of each kind on screen, the plot area, what lies below the screen.
MEASURE_JS = """
() => {
  const H = window.innerHeight, W = window.innerWidth;
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const px = (el) => parseFloat(getComputedStyle(el).fontSize);
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const body = [...main.querySelectorAll(
      '[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li, [data-testid="stCaptionContainer"],'
      + ' [data-testid="stWidgetLabel"] p, .stButton button p, input, [data-testid="stAlertContainer"] p')]
    .filter((el) => visible(el) && el.closest('[data-testid="stExpanderDetails"]') === null
            && (el.innerText || el.value || el.placeholder || '').trim());
  const code = [...main.querySelectorAll('code')].filter(visible);
  const ticks = [...main.querySelectorAll('.js-plotly-plot .xtick text, .js-plotly-plot .ytick text,'
      + ' .js-plotly-plot .cbaxis text, .js-plotly-plot .colorbar text')].filter(visible);
  const drag = [...main.querySelectorAll('.js-plotly-plot .nsewdrag')].filter(visible);
  const figure = main.querySelector('.st-key-proj_figure');
  let area = 0;
  if (drag.length) { const r = drag[0].getBoundingClientRect(); area = r.width * r.height; }
  else if (figure) { const r = figure.getBoundingClientRect(); area = r.width * r.height; }
  const lead = main.querySelector('.st-key-proj_lead');
  const bottom = (el) => el ? el.getBoundingClientRect().bottom : 0;
  const plot = main.querySelector('.js-plotly-plot') || figure;
  const scroller = main.querySelector('[data-testid="stAppScrollToBottomContainer"]') || main;
  return {
    body: body.length ? Math.min(...body.map(px)) : null,
    code: code.length ? Math.min(...code.map(px)) : null,
    ticks: ticks.length ? Math.min(...ticks.map((el) => parseFloat(el.style.fontSize || getComputedStyle(el).fontSize))) : null,
    area: area / (W * H),
    fits: Math.max(bottom(plot), bottom(lead)) <= H && !!lead && !!plot,
    overflow: Math.max(0, scroller.scrollHeight - scroller.clientHeight),
    position: (main.querySelector('.st-key-proj_position') || {innerText: ''}).innerText.trim(),
    heading: (main.querySelector('h3') || {innerText: ''}).innerText.trim(),
  };
}
"""


def stage_marker(lang: str, i: int) -> str:
    """The start of the position line for stage i (1-based): what the page says after a key press."""
    return f"Stage {i} of " if lang == "en" else f"第 {i} / "


def settle(page, lang: str, i: int, timeout_ms: int = 60_000) -> None:
    """Stage i is on screen and drawn."""
    page.wait_for_function(
        "m => { const e = document.querySelector('.st-key-proj_position'); return e && e.innerText.trim().startsWith(m); }",
        arg=stage_marker(lang, i), timeout=timeout_ms)
    wait_ready(page, timeout_ms)
    if page.locator(".st-key-proj_figure .js-plotly-plot").count() or i > 1:
        with contextlib.suppress(Exception):
            wait_plots(page, 1, timeout_ms=10_000)
    page.wait_for_timeout(300)  # plotly's last relayout after the script finished


def warm_up(page, url: str) -> None:
    """One run of the Overview first: the first run after `streamlit run` can go through Streamlit's legacy
    pages/-folder mode (ui/legacy_pages.py), which is not what this bench measures."""
    page.goto(url)
    wait_ready(page)


def sweep(page, url: str, lang: str, shots: Path | None = None, stages: list[int] | None = None) -> list[dict]:
    """Open stage 1 in projector mode, measure, press ArrowRight, ... to the last stage. stages: 1-based numbers
    to measure (None: all); the key still moves through every stage on the way."""
    warm_up(page, url)
    page.goto(f"{url}/step?view=projector&lang={lang}&stage=tokens")
    settle(page, lang, 1)
    rows = []
    i = 1
    while True:
        m = page.evaluate(MEASURE_JS)
        n = int(m["position"].split(" of ")[1].split()[0]) if lang == "en" else int(m["position"].split("/")[1].split()[0])
        m.update(stage=i, lang=lang, errors=exceptions(page))
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"projector_{lang}_{i:02d}.png"))
        if i == n:
            m["arrow_advances"] = None  # the last stage: nothing after it
            rows.append(m)
            break
        page.keyboard.press("ArrowRight")
        try:
            settle(page, lang, i + 1, timeout_ms=30_000)
            m["arrow_advances"] = True
        except Exception:
            m["arrow_advances"] = False
            rows.append(m)
            break
        if stages is None or i in stages:
            rows.append(m)
        i += 1
        if stages is not None and i > max(stages):
            break
    return rows


def ok(m: dict) -> bool:
    return ((m["body"] or 0) >= TARGETS["body"] and (m["code"] is None or m["code"] >= TARGETS["code"])
            and (m["ticks"] is None or m["ticks"] >= TARGETS["ticks"]) and m["area"] >= TARGETS["area"]
            and m["fits"] and m["arrow_advances"] is not False and not m["errors"])


def _px(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def table(rows: list[dict]) -> str:
    lines = ["| lang | stage | body px | code px | ticks px | plot area | fits | ArrowRight | ok |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in rows:
        adv = "last" if m["arrow_advances"] is None else "yes" if m["arrow_advances"] else "NO"
        where = m["position"].split("·")
        lines.append(f"| {m['lang']} | {where[0].strip()} · {where[-1].strip()} | {_px(m['body'])} | {_px(m['code'])} | "
                     f"{_px(m['ticks'])} | {m['area']:.0%} | {'yes' if m['fits'] else 'NO'} | {adv} | "
                     f"{'✓' if ok(m) else '✗'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8620)
    parser.add_argument("--lang", action="append", choices=["en", "zh"], help="default: both")
    parser.add_argument("--shots", type=Path, default=None, help="save a screenshot of every stage here")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "projector.json")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    rows = []
    with streamlit_server(90, port=args.port, quiet=True) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=SCREEN)
        for lang in args.lang or ["en", "zh"]:
            rows += sweep(page, url, lang, args.shots)
        browser.close()
    print(table(rows))
    passed = sum(ok(m) for m in rows)
    print(f"\n{passed} of {len(rows)} stage views meet every target "
          f"(body ≥ {TARGETS['body']} px, code ≥ {TARGETS['code']} px, ticks ≥ {TARGETS['ticks']} px, "
          f"plot area ≥ {TARGETS['area']:.0%}, fits, ArrowRight advances)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"screen": SCREEN, "targets": TARGETS, "rows": rows}, indent=1, ensure_ascii=False))
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
