"""Arrival: a class opens the link at once. How long until each student's first page is there?

    .venv/bin/python bench/arrival.py                                     # N = 1, 10, 20, 40; together and over 10 s
    .venv/bin/python bench/arrival.py --processes 1 2                     # then 2 processes behind nginx
    .venv/bin/python bench/arrival.py --variant default --variant server.fileWatcherType=auto   # side by side

For each server setting (`--variant`, as in bench/load.py) the script starts its own server(s) on 127.0.0.1 with
the app's .streamlit/config.toml, warms each process with one session (/ then /attention, not recorded), and keeps
them all running, so that the settings take turns level by level in one run. A level is N new students arriving
together (`--spread 0`) or at uniform random times within S seconds (`--spread S`). Each student does what a
browser's first visit does: GET / and the scripts, style sheet and font it names (6 connections, as a browser;
`--no-assets` skips them), opens the websocket, asks for the first run and waits for `script_finished` — that is
its **first page**; then opens /attention from the sidebar (a page change, timed the same way) and leaves.
Prints median and p95 per level and writes bench/results/arrival.json. See bench/README.md ("## Load").

Bounded: at most 200 students a level, a timeout on every request and on every level, servers stopped on exit.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` as a package, also as a script
from bench.stclient import GaveUp, Monitor, Servers, Session, Stats, fetch_page, pct, port_range  # noqa: E402
from bench.tasks import run_level  # noqa: E402
import websockets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "arrival.json"
SECOND_PAGE = "attention"


async def student(index: int, port: int, args, stats: Stats, times: dict[str, list[float]], delay: float) -> None:
    """One student's arrival: the first page, then the second. Each time goes to `times` only when it completed."""
    await asyncio.sleep(delay)
    cookie = f"minigpt_affinity=a{index}-{random.getrandbits(32):08x}"  # what nginx hashes on (deploy/nginx.conf)
    started = time.perf_counter()
    try:
        await asyncio.wait_for(fetch_page("127.0.0.1", port, "/", cookie, assets=args.assets), args.rerun_timeout)
        fetched = time.perf_counter()
        async with Session(f"ws://127.0.0.1:{port}/_stcore/stream", cookie.split("=", 1)[1], args.rerun_timeout,
                           stats) as s:
            await s.rerun("page")
            first = time.perf_counter()
            times["html"].append(fetched - started)
            times["first_run"].append(first - fetched)
            times["first_page"].append(first - started)
            if SECOND_PAGE not in s.pages:
                stats.missing.add(f"page {SECOND_PAGE}")
                return
            await s.rerun("page", page=SECOND_PAGE)
            times["second_page"].append(time.perf_counter() - first)
    except (websockets.ConnectionClosed, GaveUp):
        pass  # counted by the session
    except asyncio.TimeoutError:
        stats.timeouts += 1
    except OSError as exc:  # could not connect, or an HTTP error
        stats.disconnects += 1
        stats.exceptions.append(f"http: {exc}"[:300])


async def level(n: int, spread: float, port: int, servers: Servers, args, rng: random.Random) -> dict:
    stats, times = Stats(), {"html": [], "first_run": [], "first_page": [], "second_page": []}
    monitor, stop = Monitor(servers), asyncio.Event()
    watcher = asyncio.create_task(monitor.run(stop))
    started = time.monotonic()
    delays = [rng.uniform(0, spread) if spread > 0 else 0.0 for _ in range(n)]
    tasks = [asyncio.create_task(student(i, port, args, stats, times, d)) for i, d in enumerate(delays)]
    await run_level(tasks, args.level_timeout, stats)
    stop.set()
    await watcher
    row = {"sessions": n, "spread_s": spread, "processes": servers.processes, "nginx": servers.nginx,
           "wall_s": round(time.monotonic() - started, 2), "completed": len(times["second_page"]),
           "exceptions": len(stats.exceptions), "exception_samples": sorted(set(stats.exceptions))[:5],
           "disconnects": stats.disconnects, "timeouts": stats.timeouts,
           "server_peak_rss_mb": round(monitor.peak_rss / 2**20, 1),
           "server_cpu_percent": round(100 * monitor.cpu_s / max(monitor.wall_s, 1e-9), 1),
           "server_cpu_s": round(monitor.cpu_s, 2), "missing": sorted(stats.missing),
           "loadavg_1min": round(os.getloadavg()[0], 2)}
    for name, values in times.items():
        row[name] = {"median_s": pct(values, 0.5), "p95_s": pct(values, 0.95), "max_s": max(values, default=None),
                     "count": len(values)}
    return row


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def variant_name(options: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "config.toml as shipped"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| server setting | processes | students | arriving | first page median / p95 (s) | "
             "of which HTML + scripts median (s) | first run median / p95 (s) | /attention median / p95 (s) | "
             "errors (exc/disc/timeout) | server RSS (MB) | server CPU (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fp, fr, sp = r["first_page"], r["first_run"], r["second_page"]
        arriving = "together" if not r["spread_s"] else f"within {r['spread_s']:g} s"
        procs = f"{r['processes']}" + (" + nginx" if r.get("nginx") else "")
        lines.append(f"| {variant_name(r['streamlit_options'])} | {procs} | {r['sessions']} | {arriving} | "
                     f"{fmt(fp['median_s'])} / {fmt(fp['p95_s'])} | {fmt(r['html']['median_s'])} | "
                     f"{fmt(fr['median_s'])} / {fmt(fr['p95_s'])} | {fmt(sp['median_s'])} / {fmt(sp['p95_s'])} | "
                     f"{r['exceptions']}/{r['disconnects']}/{r['timeouts']} | {r['server_peak_rss_mb']:.0f} | "
                     f"{r['server_cpu_s']:.1f} |")
    return "\n".join(lines)


def summary_table(rows: list[dict]) -> str:
    """One line per (setting, processes, arrival): first page median / p95 at each N, /attention at the largest."""
    groups: dict[tuple, dict[int, dict]] = {}
    for r in rows:
        procs = f"{r['processes']}" + (" + nginx" if r.get("nginx") else "")
        groups.setdefault((variant_name(r["streamlit_options"]), procs, r["spread_s"]), {})[r["sessions"]] = r
    ns = sorted({r["sessions"] for r in rows})
    lines = ["| server setting | processes | arriving | " + " | ".join(f"first page, N = {n}" for n in ns) +
             f" | /attention, N = {ns[-1] if ns else '-'} | errors |", "|---" * (len(ns) + 5) + "|"]
    for (name, procs, spread), by_n in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        cells = [f"{fmt(by_n[n]['first_page']['median_s'])} / {fmt(by_n[n]['first_page']['p95_s'])}" if n in by_n
                 else "-" for n in ns]
        last = by_n[max(by_n)]["second_page"]
        errors = sum(r["exceptions"] + r["disconnects"] + r["timeouts"] for r in by_n.values())
        arriving = "together" if not spread else f"within {spread:g} s"
        lines.append(f"| {name} | {procs} | {arriving} | " + " | ".join(cells) +
                     f" | {fmt(last['median_s'])} / {fmt(last['p95_s'])} | {errors} |")
    return "\n".join(lines)


async def warm(port: int, args) -> None:
    """One session through / and /attention on this process (imports, caches, the first traces); not recorded."""
    stats = Stats()
    await student(10_000, port, args, stats, {"html": [], "first_run": [], "first_page": [], "second_page": []}, 0)
    if stats.exceptions or stats.timeouts or stats.disconnects:
        raise RuntimeError(f"warm-up failed on port {port}: {stats.exceptions[:2]} timeouts={stats.timeouts}")


async def measure(args, processes: int, variants: list[dict[str, str]]) -> list[dict]:
    rows: list[dict] = []
    servers = []
    try:
        for options in variants:  # every setting's server(s) run side by side; the levels take turns
            name = "arrival-" + "-".join(f"{k.split('.')[-1]}{v}" for k, v in options.items()) if options else "arrival"
            servers.append(Servers(processes, RESULTS.parent, options, ports=args.ports, log_name=name,
                                   nginx=args.nginx).__enter__())
            for port in servers[-1].backends:
                await warm(port, args)
        rng = random.Random(args.seed)
        turn = 0
        for n in args.sessions:
            for spread in args.spread:
                order = list(range(len(variants)))
                order = order[turn % len(order):] + order[:turn % len(order)]  # who goes first rotates
                turn += 1
                for v in order:
                    await asyncio.sleep(args.pause)  # the previous level's sessions are closed and cleaned up
                    row = await level(n, spread, servers[v].port, servers[v], args, rng)
                    row["streamlit_options"] = variants[v]
                    rows.append(row)
                    print(markdown_table([row]).splitlines()[-1], flush=True)
    finally:
        for s in servers:
            s.__exit__()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 20, 40])
    parser.add_argument("--spread", type=float, nargs="+", default=[0.0, 10.0],
                        help="students arrive within this many seconds (0: all together); each value is a level")
    parser.add_argument("--processes", type=int, nargs="+", default=[1],
                        help="1: one streamlit process; k>1: k processes behind nginx (deploy/run_cluster.sh)")
    parser.add_argument("--variant", action="append", default=[], metavar="OPTION=VALUE[,...]",
                        help="Streamlit options for the server(s), e.g. server.fileWatcherType=auto; repeat to "
                             "measure settings side by side ('default': the app's own config.toml)")
    parser.add_argument("--nginx", action="store_true",
                        help="put nginx in front of one process too (it always fronts two or more)")
    parser.add_argument("--no-assets", dest="assets", action="store_false",
                        help="fetch only the HTML, not the scripts, style sheet and font it names")
    parser.add_argument("--rerun-timeout", type=float, default=120.0, help="seconds one request or run may take")
    parser.add_argument("--level-timeout", type=float, default=600.0)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between levels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ports", type=port_range, default=None, metavar="LO-HI",
                        help="take the servers' ports from this range (default: any free port)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tables", type=Path, nargs="+", metavar="JSON",
                        help="measure nothing: print the tables of earlier runs' JSON files together")
    args = parser.parse_args(argv)
    if args.tables:
        rows = [r for path in args.tables for r in json.loads(path.read_text())["rows"]]
        print(summary_table(rows) + "\n\n" + markdown_table(rows))
        return
    try:
        variants = [{} if v in ("", "default") else dict(item.split("=", 1) for item in v.split(","))
                    for v in (args.variant or ["default"])]
    except ValueError:
        parser.error("--variant takes SECTION.OPTION=VALUE[,SECTION.OPTION=VALUE...] or 'default'")
    if max(args.sessions) > 200 or max(args.processes) > 8 or max(args.spread) > 120:
        parser.error("at most 200 students, 8 processes and a 120 s spread: this is a laptop-sized test")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)  # server logs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for processes in args.processes:
        print(f"\n== {processes} process(es){' behind nginx' if processes > 1 or args.nginx else ''} ==", flush=True)
        print("\n".join(markdown_table([]).splitlines()[:2]), flush=True)
        rows += asyncio.run(measure(args, processes, variants))
    print("\nAll levels (first page: from GET / to the first run's script_finished):\n")
    print(markdown_table(sorted(rows, key=lambda r: (r["processes"], variant_name(r["streamlit_options"]),
                                                     r["spread_s"], r["sessions"]))) + "\n")
    print("Summary (first page median / p95 in seconds):\n\n" + summary_table(rows) + "\n")
    samples = sorted({e for r in rows for e in r["exception_samples"]})
    if samples:
        print("Errors seen:", *samples, sep="\n  ")
    missing = sorted({m for r in rows for m in r["missing"]})
    if missing:
        print("Not in the app (skipped):", ", ".join(missing))
    args.out.write_text(json.dumps({"command": " ".join([Path(sys.executable).name, *sys.argv]),
                                    "variants": variants, "cpu_count": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
