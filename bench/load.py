"""Load test: N students at once, each a protocol-level Streamlit client (no browser).

    .venv/bin/python bench/load.py                       # 1, 10, 20, 40 sessions against one process
    .venv/bin/python bench/load.py --processes 2         # the same behind nginx (deploy/run_cluster.sh)
    .venv/bin/python bench/load.py --sessions 1 5 --rounds 1 --train
    .venv/bin/python bench/load.py --variant default --variant runner.postScriptGC=false   # side by side

The script starts the app itself (a free port on 127.0.0.1 only), warms it with one session, then for each
N opens N websocket sessions at once. Each session does what a student does: opens the app, changes a
sidebar control (seed, then text), opens the walkthrough pages, steps through the Step page, and, with
--train, the first --train-sessions of them press Train. Every rerun is timed from the request to
`script_finished`. It prints a table and writes bench/results/load.json. See bench/README.md ("## Load").

Everything is bounded: a count and a time limit on every loop, a timeout on every rerun, and the server is
stopped on exit (also on Ctrl-C).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` as a package, also as a script
from bench.stclient import (GaveUp, Monitor, Servers, Session, Stats, pct,  # noqa: E402
                            port_range)
from bench.tasks import run_level  # noqa: E402
import websockets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load.json"
WALK_PAGES = ("tokens", "embedding", "attention", "block", "output")  # url paths of the chapter pages
STEP_CONTROL = re.compile(r"next|→|▶|⏭|下一", re.I)   # the button that advances the Step page
TRAIN_BUTTON = re.compile(r"train|start|开始|训练", re.I)
REFUSED = re.compile(r"refus|busy|too many|wait|slot|limit|拒绝|稍后|已满", re.I)


# -- one student --------------------------------------------------------------------------------------
async def think(args, rng: random.Random) -> None:
    """A student reading what they just got: --think-s on average (0: the next click comes at once)."""
    if args.think_s > 0:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think_s)


async def student(index: int, url: str, args, stats: Stats, rng: random.Random) -> None:
    """One student's visit. Bounded by args.rounds and each rerun's timeout."""
    if args.arrival_s > 0:  # students arrive at random times within --arrival-s, not all in the same instant
        await asyncio.sleep(rng.uniform(0, args.arrival_s))
    try:
        async with Session(url, f"s{index}-{rng.getrandbits(32):08x}", args.rerun_timeout, stats) as s:
            await s.rerun("page")  # opening the app: the overview page
            for round_ in range(args.rounds):
                # A control change: the seed (a number input), then the text (a text area).
                await think(args, rng)
                if s.set_widget("c_seed", double_value=rng.randrange(0, 10_000)):
                    await s.rerun("control")
                await think(args, rng)
                if s.set_widget("c_text", string_value=f"Listen first, then explain the value ({round_}, {index})."):
                    await s.rerun("control")
                for page in WALK_PAGES:
                    if page not in s.pages:
                        stats.missing.add(f"page {page}")
                        continue
                    await think(args, rng)
                    await s.rerun("page", page=page)
                await think(args, rng)
                await step_through(s, args, stats, rng)
            if args.train and index < args.train_sessions:
                await press_train(s, args, stats)
    except (websockets.ConnectionClosed, GaveUp):
        pass  # counted where it happened
    except (OSError, asyncio.TimeoutError):  # could not connect at all
        stats.disconnects += 1


async def step_through(s: Session, args, stats: Stats, rng: random.Random) -> None:
    if "step" not in s.pages:
        stats.missing.add("page step")
        return
    result = await s.rerun("page", page="step")
    for _ in range(args.steps):
        buttons = [wid for wid, (kind, label) in result.widgets.items()
                   if kind == "button" and (STEP_CONTROL.search(label) or STEP_CONTROL.search(wid))]
        if not buttons:
            stats.missing.add("a Next/Step button on the Step page")
            return
        await think(args, rng)
        result = await s.rerun("step", press=buttons[-1])


async def press_train(s: Session, args, stats: Stats) -> None:
    if "train" not in s.pages:
        stats.missing.add("page train")
        return
    result = await s.rerun("page", page="train")
    buttons = [wid for wid, (kind, label) in result.widgets.items()
               if kind == "button" and (TRAIN_BUTTON.search(label) or TRAIN_BUTTON.search(wid))]
    if not buttons:
        stats.missing.add("a Train button on the Train page")
        return
    buttons.sort(key=lambda wid: not wid.endswith("start"))  # the page's start button (key train_start) first
    after = await s.rerun("train", press=buttons[0])
    if any(REFUSED.search(t) for t in after.warnings):
        stats.jobs_refused += 1
    else:
        stats.jobs_accepted += 1
    # Watch the job for a few reruns (the page's own refresh), as a student would, then leave.
    for _ in range(args.train_polls):
        await asyncio.sleep(1.0)
        await s.rerun("train")


# -- one level (N students at once) -----------------------------------------------------------------
async def level(n: int, url: str, servers: Servers, args, seed: int) -> dict:
    stats = Stats()
    monitor = Monitor(servers)
    stop = asyncio.Event()
    watcher = asyncio.create_task(monitor.run(stop))
    rng = random.Random(seed)
    started, client_cpu = time.monotonic(), time.process_time()
    tasks = [asyncio.create_task(student(i, url, args, stats, random.Random(rng.random()))) for i in range(n)]
    await run_level(tasks, args.level_timeout, stats)
    stop.set()
    await watcher
    control, every = stats.latencies["control"], [x for v in stats.latencies.values() for x in v]
    return {
        "sessions": n, "processes": servers.processes, "wall_s": round(time.monotonic() - started, 2),
        "reruns": len(every),
        "control_median_s": pct(control, 0.5), "control_p95_s": pct(control, 0.95),
        "all_median_s": pct(every, 0.5), "all_p95_s": pct(every, 0.95),
        "by_kind": {k: {"count": len(v), "median_s": pct(v, 0.5), "p95_s": pct(v, 0.95)} for k, v in stats.latencies.items()},
        "exceptions": len(stats.exceptions), "exception_samples": sorted(set(stats.exceptions))[:5],
        "disconnects": stats.disconnects, "timeouts": stats.timeouts,
        "jobs_accepted": stats.jobs_accepted, "jobs_refused": stats.jobs_refused,
        "server_peak_rss_mb": round(monitor.peak_rss / 2**20, 1),
        "server_cpu_percent": round(100 * monitor.cpu_s / max(monitor.wall_s, 1e-9), 1),
        # The client shares the machine's cores with the servers: it is part of the load on a 2-core box.
        "client_cpu_percent": round(100 * (time.process_time() - client_cpu) / max(monitor.wall_s, 1e-9), 1),
        # CPU per rerun hardly depends on what else runs on the machine: the cost of one student's click.
        "server_cpu_ms_per_rerun": round(1000 * monitor.cpu_s / max(len(every), 1), 1),
        "missing": sorted(stats.missing),
        # Load average at the end of the level: well above the server's own share means other programs
        # were competing for the cores, and the latencies are worse than the app alone would give.
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_table(rows: list[dict]) -> None:
    head = (f"{'variant':<22} {'proc':>4} {'N':>3} {'reruns':>6} {'ctrl med':>8} {'ctrl p95':>8} {'all med':>8} {'all p95':>8} "
            f"{'exc':>4} {'disc':>4} {'t/o':>4} {'jobs ok/ref':>11} {'RSS MB':>7} {'CPU %':>6} {'ms/run':>6} {'wall s':>7} {'load':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        variant = ",".join(f"{k.split('.')[-1]}={v}" for k, v in r["streamlit_options"].items()) or "default"
        if r.get("arrival_s") or r.get("think_s"):
            variant = f"arr{r['arrival_s']:g}/think{r['think_s']:g} " + variant
        print(f"{variant[:22]:<22} {r['processes']:>4} {r['sessions']:>3} {r['reruns']:>6} {fmt(r['control_median_s']):>8} "
              f"{fmt(r['control_p95_s']):>8} {fmt(r['all_median_s']):>8} {fmt(r['all_p95_s']):>8} "
              f"{r['exceptions']:>4} {r['disconnects']:>4} {r['timeouts']:>4} "
              f"{str(r['jobs_accepted']) + '/' + str(r['jobs_refused']):>11} {r['server_peak_rss_mb']:>7} "
              f"{r['server_cpu_percent']:>6} {r['server_cpu_ms_per_rerun']:>6} {r['wall_s']:>7} {r['loadavg_1min']:>5}")


def markdown_table(rows: list[dict]) -> str:
    """The table for bench/README.md and README.md."""
    lines = ["| variant | processes | sessions | control change median / p95 (s) | any rerun median / p95 (s) | "
             "errors (exc/disc/timeout) | jobs ok/refused | server RSS (MB) | server CPU | CPU per rerun (ms) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        variant = ", ".join(f"{k}={v}" for k, v in r["streamlit_options"].items()) or "default"
        if r.get("arrival_s") or r.get("think_s"):
            variant = f"arrivals within {r['arrival_s']:g} s, {r['think_s']:g} s between clicks; " + variant
        lines.append(f"| {variant} | {r['processes']} | {r['sessions']} | {fmt(r['control_median_s'])} / "
                     f"{fmt(r['control_p95_s'])} | {fmt(r['all_median_s'])} / {fmt(r['all_p95_s'])} | "
                     f"{r['exceptions']}/{r['disconnects']}/{r['timeouts']} | {r['jobs_accepted']}/{r['jobs_refused']} | "
                     f"{r['server_peak_rss_mb']:.0f} | {r['server_cpu_percent']:.0f} % | {r['server_cpu_ms_per_rerun']:.0f} |")
    return "\n".join(lines)


async def measure(args, processes: int) -> list[dict]:
    log_dir = RESULTS.parent
    with Servers(processes, log_dir, args.options, ports=args.ports) as servers:
        url = f"ws://127.0.0.1:{servers.port}/_stcore/stream"
        # Warm-up: one visit through every page on every process, not recorded (imports, caches, first traces).
        for port in servers.backends:
            warm, quick = Stats(), argparse.Namespace(**{**vars(args), "arrival_s": 0.0, "think_s": 0.0})
            await asyncio.wait_for(student(10_000, f"ws://127.0.0.1:{port}/_stcore/stream", quick, warm,
                                           random.Random(0)), args.level_timeout)
        rows = []
        for n in args.sessions:
            row = await level(n, url, servers, args, seed=n)
            row["streamlit_options"] = args.options
            row["arrival_s"], row["think_s"] = args.arrival_s, args.think_s
            rows.append(row)
            print_table([row])
            await asyncio.sleep(args.pause)  # let disconnected sessions be cleaned up before the next level
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 20, 40])
    parser.add_argument("--processes", type=int, nargs="+", default=[1],
                        help="1: one streamlit process; k>1: k processes behind nginx (deploy/run_cluster.sh)")
    parser.add_argument("--rounds", type=int, default=2, help="control changes + page visits per student")
    parser.add_argument("--steps", type=int, default=3, help="Next presses on the Step page per round")
    parser.add_argument("--train", action="store_true", help="some students press Train (needs pages/train.py)")
    parser.add_argument("--train-sessions", type=int, default=4)
    parser.add_argument("--train-polls", type=int, default=3)
    parser.add_argument("--rerun-timeout", type=float, default=60.0, help="seconds one rerun may take")
    parser.add_argument("--level-timeout", type=float, default=600.0, help="seconds one level may take")
    parser.add_argument("--pause", type=float, default=3.0)
    parser.add_argument("--arrival-s", type=float, default=0.0,
                        help="students arrive at random within this many seconds (0: all at once, the worst case)")
    parser.add_argument("--think-s", type=float, default=0.0,
                        help="mean pause between one student's clicks (0: clicks back to back, the worst case)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--ports", type=port_range, default=None, metavar="LO-HI",
                        help="take the servers' ports from this range (default: any free port)")
    parser.add_argument("--variant", action="append", default=[], metavar="OPTION=VALUE[,...]",
                        help="Streamlit config options for the servers, e.g. runner.postScriptGC=false; repeat to "
                             "measure several variants side by side in one run ('default': the app's own config)")
    args = parser.parse_args()
    try:
        variants = [{} if v in ("", "default") else dict(item.split("=", 1) for item in v.split(","))
                    for v in (args.variant or ["default"])]
    except ValueError:
        parser.error("--variant takes SECTION.OPTION=VALUE[,SECTION.OPTION=VALUE...] or 'default'")
    if max(args.sessions) > 200 or max(args.processes) > 8:
        parser.error("at most 200 sessions and 8 processes: this is a laptop-sized test")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)  # server logs
    rows = []
    for processes in args.processes:
        for options in variants:
            args.options = options
            print(f"\n== {processes} process(es){' behind nginx' if processes > 1 else ''} {options or ''} ==")
            rows += asyncio.run(measure(args, processes))
    print("\nAll levels (latencies in seconds from rerun request to script_finished):")
    print_table(rows)
    print("\n" + markdown_table(rows) + "\n")
    missing = sorted({m for r in rows for m in r["missing"]})
    if missing:
        print("Not in the app (skipped):", ", ".join(missing))
    samples = sorted({e for r in rows for e in r["exception_samples"]})
    if samples:
        print("Exceptions seen:", *samples, sep="\n  ")
    args.out.write_text(json.dumps({"command": " ".join([Path(sys.executable).name, *sys.argv]),
                                   "variants": variants,
                                   "cpu_count": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
