"""Shared helpers for the benchmarks: threads, corpus, medians, alternation, tables, JSON results.

Every script prints a small table and writes `bench/results/<name>.json` (git-ignored). Numbers are
medians of several timed windows after a warm-up, and comparisons alternate the two sides in one run,
so a busy machine slows both alike.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SHARED_TEXTBOOK = ROOT.parent / "shared" / "data" / "sales_textbook.txt"


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for every side (default: all cores, %d here)" % (os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/<script>.json)")
    parser.add_argument("--builtin", action="store_true",
                        help="use the built-in corpus instead of the sales textbook (smoke tests)")


def set_threads(threads: int | None) -> int:
    n = threads or os.cpu_count() or 1
    torch.set_num_threads(n)
    os.environ["MINIGPT_TORCH_THREADS"] = str(n)  # the app's own bound (minigpt.devices.bound_threads) agrees
    return torch.get_num_threads()


def corpus_text(builtin: bool = False) -> tuple[str, str]:
    """(text, where from): the sales textbook from ../shared/data, else the cached download, else built-in."""
    from minigpt import corpus

    if builtin:
        return corpus.builtin().text, "built-in corpus"
    if SHARED_TEXTBOOK.exists():
        return SHARED_TEXTBOOK.read_text(encoding="utf-8"), str(SHARED_TEXTBOOK)
    found, warning = corpus.load("sales")
    return found.text, ("cached sales textbook" if warning is None else "built-in corpus (" + str(warning) + ")")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def time_windows(step: Callable[[], object], steps_per_window: int, windows: int, warmup: int = 3) -> list[float]:
    """Seconds per step of each timed window (median them); `warmup` untimed steps first."""
    for _ in range(warmup):
        step()
    out = []
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(steps_per_window):
            step()
        out.append((time.perf_counter() - t0) / steps_per_window)
    return out


def alternate(sides: dict[str, Callable[[], object]], steps_per_window: int, windows: int,
              warmup: int = 3) -> dict[str, list[float]]:
    """Seconds per step, windows of every side interleaved (A B C A B C ...) after each side's warm-up."""
    for step in sides.values():
        for _ in range(warmup):
            step()
    out: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(windows):
        for name, step in sides.items():
            t0 = time.perf_counter()
            for _ in range(steps_per_window):
                step()
            out[name].append((time.perf_counter() - t0) / steps_per_window)
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table (prints well in a terminal and pastes into the README)."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "platform": platform.platform(), "loadavg": load,
            "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_json(name: str, data: dict, out: Path | None = None) -> Path:
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "command": " ".join([Path(sys.executable).name] + sys.argv),
               "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, default=float), encoding="utf-8")
    print(f"\nwrote {path}")
    return path
