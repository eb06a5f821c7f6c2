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
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
WALK_PAGES = ("tokens", "embedding", "attention", "block", "output")  # url paths of the chapter pages
STEP_CONTROL = re.compile(r"next|→|▶|⏭|下一", re.I)   # the button that advances the Step page
TRAIN_BUTTON = re.compile(r"train|start|开始|训练", re.I)
REFUSED = re.compile(r"refus|busy|too many|wait|slot|limit|拒绝|稍后|已满", re.I)


# -- the server(s) ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def option_env(options: dict[str, str]) -> dict[str, str]:
    """Streamlit config options as environment variables (runner.postScriptGC -> STREAMLIT_RUNNER_POST_SCRIPT_GC),
    so they reach every process, also those run_cluster.sh starts."""
    return {"STREAMLIT_" + re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).replace(".", "_").upper(): value
            for name, value in options.items()}


def free_port_range(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1 (checked now; bounded search)."""
    for _ in range(50):
        base = random.randrange(20_000, 60_000)
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports found")


def wait_http(url: str, limit_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {limit_s:.0f} s")


class Servers:
    """One `streamlit run`, or deploy/run_cluster.sh (k processes behind nginx). Stopped on exit."""

    def __init__(self, processes: int, log_dir: Path, options: dict[str, str] | None = None):
        self.processes = processes
        self.port = free_port()
        self.backends = [self.port]  # where the warm-up goes: every streamlit process directly
        self.log = open(log_dir / f"load-server-{processes}.log", "w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **option_env(options or {})}
        if processes == 1:
            cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
        else:
            base = free_port_range(processes)
            self.backends = [base + i for i in range(processes)]
            cmd = ["bash", str(ROOT / "deploy" / "run_cluster.sh"), "--processes", str(processes),
                   "--listen", f"127.0.0.1:{self.port}", "--base-port", str(base)]
            env["STREAMLIT"] = f"{sys.executable} -m streamlit"
        # Its own process group, so that stopping it stops every child (the streamlit processes, nginx).
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def __enter__(self) -> "Servers":
        try:
            wait_http(f"http://127.0.0.1:{self.port}/_stcore/health", 120, self.proc)
            if self.processes > 1:  # every backend answers, not just the first
                deadline = time.monotonic() + 120
                while len(self.streamlit_pids()) < self.processes and time.monotonic() < deadline:
                    time.sleep(0.5)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self.log.close()

    def streamlit_pids(self) -> list[int]:
        return [pid for pid in self.server_pids() if b"nginx" not in Path(f"/proc/{pid}/cmdline").read_bytes()[:5]]

    def server_pids(self) -> list[int]:
        """The streamlit processes (and nginx's) in the server's process group."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp == self.proc.pid and (("streamlit" in cmdline and " run " in cmdline) or cmdline.startswith("nginx")):
                pids.append(int(entry.name))
        return pids


def proc_sample(pids: list[int]) -> tuple[int, float]:
    """(total RSS bytes, total CPU seconds) of these processes, from /proc."""
    rss, cpu = 0, 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime
        rss += int(fields[21]) * PAGE_SIZE
    return rss, cpu


class Monitor:
    """Samples the servers' RSS and CPU every 0.5 s while a level runs."""

    def __init__(self, servers: Servers):
        self.pids = servers.server_pids()
        self.peak_rss = 0
        self.rss_samples: list[int] = []

    async def run(self, stop: asyncio.Event) -> None:
        self.start_cpu = proc_sample(self.pids)[1]
        self.start = time.monotonic()
        while not stop.is_set():
            rss, _ = proc_sample(self.pids)
            self.rss_samples.append(rss)
            self.peak_rss = max(self.peak_rss, rss)
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        self.cpu_s = proc_sample(self.pids)[1] - self.start_cpu
        self.wall_s = time.monotonic() - self.start


# -- one student --------------------------------------------------------------------------------------
@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"control": [], "page": [], "step": [], "train": []})
    exceptions: list[str] = field(default_factory=list)
    disconnects: int = 0
    timeouts: int = 0
    jobs_accepted: int = 0
    jobs_refused: int = 0
    missing: set[str] = field(default_factory=set)  # pages/controls the app does not have (yet)


@dataclass
class RunResult:
    widgets: dict[str, tuple[str, str]]  # widget id -> (element type, label), of this run
    warnings: list[str]                  # st.warning / st.error texts shown
    exceptions: list[str]


def widget_value(widget_id: str, which: str, body) -> WidgetState | None:
    """The value a widget element shows, in the form the frontend sends it back (None: not a value widget)."""
    current = getattr(body, "set_value", False)
    if which == "number_input":
        return WidgetState(id=widget_id, double_value=body.value if current else body.default)
    if which in ("text_area", "text_input"):
        return WidgetState(id=widget_id, string_value=body.value if current else body.default)
    if which in ("radio", "selectbox"):  # options are sent back by their formatted label
        if current and body.raw_value:
            return WidgetState(id=widget_id, string_value=body.raw_value)
        if 0 <= body.default < len(body.options):
            return WidgetState(id=widget_id, string_value=body.options[body.default])
        return None
    if which == "slider" and not body.options:
        state = WidgetState(id=widget_id)
        state.double_array_value.data.extend(body.value if current else body.default)
        return state
    if which == "checkbox":
        return WidgetState(id=widget_id, bool_value=body.value if current else body.default)
    return None


class GaveUp(Exception):
    """A rerun took longer than --rerun-timeout; the session is abandoned."""


class Session:
    """A protocol-level client: what the browser's frontend sends, without drawing anything."""

    def __init__(self, url: str, affinity: str, timeout_s: float, stats: Stats):
        self.url, self.affinity, self.timeout_s, self.stats = url, affinity, timeout_s, stats
        self.pages: dict[str, str] = {}      # url path -> page_script_hash
        self.page_hash = ""
        self.state: dict[str, WidgetState] = {}  # widget id -> its current value; a keyed widget's id ends with -<key>
        self.query_string = ""

    async def __aenter__(self) -> "Session":
        # The cookie is what nginx hashes on (deploy/nginx.conf): every client here comes from 127.0.0.1.
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=30,
                                           additional_headers={"Cookie": f"minigpt_affinity={self.affinity}"})
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def rerun(self, kind: str, press: str | None = None, page: str | None = None) -> RunResult:
        """Send one rerun request, as the frontend does: every widget's current value (plus a pressed button's
        trigger), and the page. Read ForwardMsgs until the run finishes. Raises GaveUp on a timeout."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        if page is not None:
            self.page_hash = self.pages.get(page, "")
        cs.page_script_hash = self.page_hash
        for state in self.state.values():
            cs.widget_states.widgets.append(state)
        if press is not None:
            cs.widget_states.widgets.append(WidgetState(id=press, trigger_value=True))
        started = time.perf_counter()
        widgets: dict[str, tuple[str, str]] = {}
        warnings, exceptions = [], []
        try:
            await self.ws.send(msg.SerializeToString())
            deadline = started + self.timeout_s
            for _ in range(100_000):  # bounded: a page sends far fewer messages
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise asyncio.TimeoutError
                fwd = ForwardMsg()
                fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), remaining))
                kind_of = fwd.WhichOneof("type")
                if kind_of == "navigation":
                    self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
                    self.page_hash = fwd.navigation.page_script_hash
                elif kind_of == "page_info_changed":
                    self.query_string = fwd.page_info_changed.query_string
                elif kind_of == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                    self._read_element(fwd.delta.new_element, widgets, warnings, exceptions)
                elif kind_of == "script_finished":
                    if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        continue  # a newer run replaced this one; wait for it
                    break
        except asyncio.TimeoutError:
            # The late messages of this run would be mistaken for the next one's: the student gives up.
            self.stats.timeouts += 1
            raise GaveUp from None
        except websockets.ConnectionClosed:
            self.stats.disconnects += 1
            raise
        self.stats.latencies[kind].append(time.perf_counter() - started)
        # Like the frontend: widgets that were not drawn in this run are forgotten.
        self.state = {wid: state for wid, state in self.state.items() if wid in widgets}
        self.stats.exceptions.extend(exceptions)
        return RunResult(widgets, warnings, exceptions)

    def _read_element(self, el, widgets, warnings, exceptions) -> None:
        which = el.WhichOneof("type")
        if which == "exception":
            exceptions.append(f"{el.exception.type}: {el.exception.message}"[:300])
            return
        if which == "alert" and el.alert.format in (Alert.ERROR, Alert.WARNING):
            warnings.append(el.alert.body)
        body = getattr(el, which, None) if which else None
        widget_id = getattr(body, "id", "") if body is not None else ""
        if widget_id:
            widgets[widget_id] = (which, getattr(body, "label", ""))
            if getattr(body, "set_value", False) or widget_id not in self.state:
                state = widget_value(widget_id, which, body)
                if state is not None:
                    self.state[widget_id] = state

    def set_widget(self, key: str, **value) -> bool:
        """Change the widget with this user key (as typing in it would). False if the app has no such widget."""
        widget_id = next((wid for wid in self.state if wid.endswith("-" + key)), None)
        if widget_id is None:
            self.stats.missing.add(f"widget {key}")
            return False
        self.state[widget_id] = WidgetState(id=widget_id, **value)
        return True


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
def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


async def level(n: int, url: str, servers: Servers, args, seed: int) -> dict:
    stats = Stats()
    monitor = Monitor(servers)
    stop = asyncio.Event()
    watcher = asyncio.create_task(monitor.run(stop))
    rng = random.Random(seed)
    started, client_cpu = time.monotonic(), time.process_time()
    tasks = [asyncio.create_task(student(i, url, args, stats, random.Random(rng.random()))) for i in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=args.level_timeout)
    for task in pending:  # the level's time limit: whoever is still running is cut off and counted
        task.cancel()
        stats.timeouts += 1
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            stats.exceptions.append(f"client error: {task.exception()!r}"[:300])
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
    with Servers(processes, log_dir, args.options) as servers:
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
