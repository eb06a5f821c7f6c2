"""What bench/load.py and bench/arrival.py share: the app's server(s) and a protocol-level Streamlit client.

`Servers`: `streamlit run app.py` (or deploy/run_cluster.sh: k processes behind nginx) on 127.0.0.1 only, with the
app's own config.toml, stopped on exit. `Session`: what the browser's frontend sends over `/_stcore/stream`.
`fetch_page`: what a browser fetches before it opens that websocket. See bench/README.md ("## Load").
"""
from __future__ import annotations

import asyncio
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
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# -- the server(s) ----------------------------------------------------------------------------------
def option_env(options: dict[str, str]) -> dict[str, str]:
    """Streamlit config options as environment variables (runner.postScriptGC -> STREAMLIT_RUNNER_POST_SCRIPT_GC),
    so they reach every process, also those run_cluster.sh starts."""
    return {"STREAMLIT_" + re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).replace(".", "_").upper(): value
            for name, value in options.items()}


def free_port_range(count: int, ports: tuple[int, int] | None = None) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1 (checked now; bounded search), within ports =
    (lo, hi) if given (tried in order), else anywhere in 20000-60000 (tried at random)."""
    if ports is None:
        if count == 1:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                return s.getsockname()[1]
        bases = [random.randrange(20_000, 60_000) for _ in range(50)]
    else:
        bases = list(range(ports[0], ports[1] - count + 2))
    for base in bases:
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports found" + (f" in {ports[0]}-{ports[1]}" if ports else ""))


def port_range(text: str) -> tuple[int, int]:
    """argparse type for --ports LO-HI."""
    lo, hi = (int(x) for x in text.split("-", 1))
    if not 1024 <= lo <= hi <= 65535:
        raise ValueError(text)
    return lo, hi


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
    """One `streamlit run`, or deploy/run_cluster.sh (k processes behind nginx). Stopped on exit.

    The servers read the app's own .streamlit/config.toml, like a deployment: nothing on the command line
    overrides it except what every run needs (headless, port, loopback address, no usage statistics).
    `options` (e.g. {"server.fileWatcherType": "auto"}) go in as environment variables, which Streamlit ranks
    above config.toml and below command-line flags."""

    def __init__(self, processes: int, log_dir: Path, options: dict[str, str] | None = None,
                 ports: tuple[int, int] | None = None, log_name: str = "load-server", nginx: bool = False):
        self.processes = processes
        self.nginx = nginx or processes > 1
        self.port = free_port_range(1, ports)
        self.backends = [self.port]  # where the warm-up goes: every streamlit process directly
        self.log = open(log_dir / f"{log_name}-{processes}.log", "w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **option_env(options or {})}
        if not self.nginx:
            cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--browser.gatherUsageStats", "false"]
        else:
            base = free_port_range(processes, None if ports is None else (self.port + 1, ports[1]))
            self.backends = [base + i for i in range(processes)]
            cmd = ["bash", str(ROOT / "deploy" / "run_cluster.sh"), "--processes", str(processes),
                   "--listen", f"127.0.0.1:{self.port}", "--base-port", str(base)]
            env["PYTHON"] = sys.executable
        # Its own process group, so that stopping it stops every child (the streamlit processes, nginx).
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def __enter__(self) -> "Servers":
        try:
            wait_http(f"http://127.0.0.1:{self.port}/_stcore/health", 120, self.proc)
            if self.nginx:  # every backend answers, not just the first
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


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]




# -- what a browser fetches before it opens the websocket ---------------------------------------------
ASSET = re.compile(rb'<(?:script|link)\b[^>]*?\b(?:src|href)="\./((?:static/)[^"]+)"')
BROWSER_CONNECTIONS = 6  # what a browser opens per host over HTTP/1.1


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response (Content-Length or chunked body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        for _ in range(1_000_000):  # bounded
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return status, bytes(body)
    return status, await reader.readexactly(int(headers.get("content-length", "0")))


async def _get_many(host: str, port: int, paths: list[str], cookie: str) -> list[tuple[str, int, bytes]]:
    """GET each path over one keep-alive connection, in order."""
    reader, writer = await asyncio.open_connection(host, port)
    out = []
    try:
        for path in paths:
            writer.write((f"GET /{path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: gzip\r\n"
                          f"Cookie: {cookie}\r\nConnection: keep-alive\r\n\r\n").encode())
            await writer.drain()
            status, body = await _read_response(reader)
            out.append((path, status, body))
    finally:
        writer.close()
    return out


async def fetch_page(host: str, port: int, path: str, cookie: str, assets: bool = True) -> tuple[int, int]:
    """What a browser fetches for a first visit before its websocket: the page's HTML, then (assets=True) every
    script, style sheet and font the HTML names, over BROWSER_CONNECTIONS keep-alive connections, plus the two
    endpoints the frontend asks before connecting. Returns (requests, bytes). Raises OSError on a non-200."""
    [(_, status, html)] = await _get_many(host, port, [path.lstrip("/")], cookie)
    if status != 200:
        raise OSError(f"GET {path}: HTTP {status}")
    files = sorted({m.decode() for m in ASSET.findall(html)}) if assets else []
    files += ["_stcore/health", "_stcore/host-config"]
    lanes = [files[i::BROWSER_CONNECTIONS] for i in range(BROWSER_CONNECTIONS) if files[i::BROWSER_CONNECTIONS]]
    results = await asyncio.gather(*(_get_many(host, port, lane, cookie) for lane in lanes))
    bad = [f"{p}: HTTP {s}" for lane in results for p, s, _ in lane if s != 200]
    if bad:
        raise OSError("; ".join(bad[:3]))
    return 1 + len(files), len(html) + sum(len(b) for lane in results for _, _, b in lane)
