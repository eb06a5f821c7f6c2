"""Class-room load: 1 lecturer + N following students (protocol-level clients, no browsers), issue 15.

    flock /tmp/minigpt-bench.lock .venv/bin/python bench/room_load.py                  # 1 + 40, one process
    flock /tmp/minigpt-bench.lock .venv/bin/python bench/room_load.py --processes 2    # behind nginx
    .venv/bin/python bench/room_load.py --followers 2 --presses 1 --idle-s 2            # smoke (tests)

The lecturer opens the Step page and starts a room; every student opens the join link (`?room=CODE`) and then
does what its browser does: the room fragment's timer reruns that fragment every second (run_every), sending
every widget's value. The lecturer presses Next --presses times (one every --gap-s); for each press, each
student's latency is the time from the lecturer's click to the end of the student's first run that draws the
new stage. Then one question: every student answers (student i picks choice i mod the choices), the store's
counts are compared with what was sent (exact), and Reveal is timed to each student's screen the same way.
Also: the server's CPU while the class only polls (--idle-s, nothing changes), how many full page runs the
polls caused, bytes per poll, server RSS. Rooms live in a temporary MINIGPT_DATA_DIR. Writes bench/results/room_load.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` as a package, also as a script
from bench.stclient import GaveUp, Monitor, Servers, Session, Stats, pct, port_range  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402
import websockets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "room_load.json"
STAGE = re.compile(r"^(\d+)\. ")


class Client(Session):
    """A Session that also reads what a student looks at (the stage heading, the question, the reveal), keeps
    the fragment the room polls with, and reruns that fragment as the browser's timer does."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.stage = None        # the number of the stage heading last drawn
        self.fragment = None     # the run_every fragment's id
        self.revealed = False
        self.radio = None        # (widget id, options) of the question's radio
        self.full_runs = self.fragment_runs = self.fragment_bytes = 0

    async def run(self, *, fragment: bool = False, press: str | None = None, page: str | None = None) -> set[str]:
        """One run (a whole one, or the poll fragment's); returns the widget ids it drew. Raises GaveUp."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        if page is not None:
            self.page_hash = self.pages.get(page, "")
        cs.page_script_hash = self.page_hash
        if fragment:
            cs.fragment_id, cs.is_auto_rerun = self.fragment, True
        cs.widget_states.widgets.extend(self.state.values())
        if press is not None:
            cs.widget_states.widgets.append(WidgetState(id=press, trigger_value=True))
        drawn, whole, size = set(), not fragment, 0
        deadline = time.perf_counter() + self.timeout_s
        try:
            await self.ws.send(msg.SerializeToString())
            for _ in range(100_000):
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise asyncio.TimeoutError
                raw = await asyncio.wait_for(self.ws.recv(), remaining)
                size += len(raw)
                fwd = ForwardMsg()
                fwd.ParseFromString(raw)
                kind = fwd.WhichOneof("type")
                if kind == "delta" and not fwd.delta.fragment_id:
                    whole = True   # an element outside the poll fragment: the page was drawn again
                if kind == "navigation":
                    self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
                    self.page_hash = fwd.navigation.page_script_hash
                elif kind == "page_info_changed":
                    self.query_string = fwd.page_info_changed.query_string
                elif kind == "auto_rerun":
                    self.fragment = fwd.auto_rerun.fragment_id  # the one run_every fragment of the page
                elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                    drawn.add(self._element(fwd.delta.new_element))
                elif kind == "script_finished":
                    if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        whole = True   # st.rerun / st.switch_page: a whole run follows
                        continue
                    break
        except asyncio.TimeoutError:
            self.stats.timeouts += 1
            raise GaveUp from None
        except websockets.ConnectionClosed:
            self.stats.disconnects += 1
            raise
        if whole:
            self.full_runs += 1
            self.state = {wid: s for wid, s in self.state.items() if wid in drawn}
        else:
            self.fragment_runs += 1
            self.fragment_bytes += size
        return drawn

    def _element(self, el) -> str:
        which = el.WhichOneof("type")
        body = getattr(el, which, None) if which else None
        if which == "exception":
            self.stats.exceptions.append(f"{el.exception.type}: {el.exception.message}"[:300])
        elif which == "heading" and STAGE.match(body.body):
            self.stage = int(STAGE.match(body.body).group(1))
        elif which == "alert" and body.body.startswith("The model's answer"):
            self.revealed = True
        widget_id = getattr(body, "id", "") if body is not None else ""
        if widget_id:
            if "-room_answer_" in widget_id:
                self.radio = (widget_id, list(body.options))
            if getattr(body, "set_value", False) or widget_id not in self.state:
                from bench.stclient import widget_value
                state = widget_value(widget_id, which, body)
                if state is not None:
                    self.state[widget_id] = state
            self.buttons[widget_id.rsplit("-", 1)[-1]] = widget_id
        return widget_id

    @property
    def buttons(self) -> dict:
        if not hasattr(self, "_buttons"):
            self._buttons = {}
        return self._buttons


async def follower(i: int, url: str, code: str, args, stats: Stats, events: dict, stop: asyncio.Event,
                   clients: list) -> None:
    async with Client(url, f"room-{i}", args.rerun_timeout, stats) as s:
        clients.append(s)
        s.query_string = f"room={code}"
        await s.run()
        answered = False
        for _ in range(int(args.limit_s / args.poll_s) + 1):  # bounded: one poll a second
            if stop.is_set():
                return
            await asyncio.sleep(args.poll_s)
            if s.fragment is None:
                await s.run()
            else:
                await s.run(fragment=True)
            now = time.perf_counter()
            for key, (t0, want) in list(events.items()):
                seen = (s.stage == want) if key.startswith("next") else s.revealed
                if seen and (key, i) not in stats.seen:
                    stats.seen.add((key, i))
                    stats.latencies.setdefault(key.split(":")[0], []).append(now - t0)
            if s.radio is not None and not answered and "ask" in events:
                widget, options = s.radio
                choice = i % len(options)
                s.state[widget] = WidgetState(id=widget, string_value=options[choice])
                stats.sent[choice] = stats.sent.get(choice, 0) + 1
                answered = True
                await s.run()  # the radio's change: a whole run that sends the answer
                stats.answered += 1


async def scenario(args, url: str, data_dir: Path, servers: Servers) -> dict:
    stats = Stats()
    stats.latencies = {}
    stats.seen, stats.sent, stats.answered = set(), {}, 0
    load_before = os.getloadavg()[0]
    async with Client(url, "lecturer", args.rerun_timeout, stats) as lec:
        await lec.run()
        await lec.run(page="step")
        await lec.run(press=lec.buttons["room_start"])
        with sqlite3.connect(data_dir / "rooms.sqlite3") as db:
            code = db.execute("SELECT code FROM rooms ORDER BY created DESC LIMIT 1").fetchone()[0]
        events, stop, clients = {}, asyncio.Event(), []
        tasks = [asyncio.create_task(follower(i, url, code, args, stats, events, stop, clients))
                 for i in range(args.followers)]
        await asyncio.sleep(args.join_s)               # everyone joined and follows
        monitor = Monitor(servers)
        mon_stop = asyncio.Event()
        mon = asyncio.create_task(monitor.run(mon_stop))
        runs_before = sum(c.full_runs for c in clients)
        await asyncio.sleep(args.idle_s)               # the class only polls
        mon_stop.set()
        await mon
        idle = {"cpu_s_per_s": monitor.cpu_s / monitor.wall_s, "full_runs_while_idle":
                sum(c.full_runs for c in clients) - runs_before,
                "fragment_runs": sum(c.fragment_runs for c in clients),
                "bytes_per_poll": sum(c.fragment_bytes for c in clients) / max(1, sum(c.fragment_runs for c in clients))}
        monitor = Monitor(servers)
        mon_stop = asyncio.Event()
        mon = asyncio.create_task(monitor.run(mon_stop))
        for n in range(args.presses):
            stage = (lec.stage or 1) + 1
            events[f"next:{n}"] = (time.perf_counter(), stage)
            await lec.run(press=lec.buttons["step_next"])
            await asyncio.sleep(args.gap_s)
        events["ask"] = (time.perf_counter(), None)
        await lec.run(press=lec.buttons["room_ask"])
        for _ in range(int(args.answer_s * 10)):       # every student answers on its next poll (bounded wait)
            if stats.answered >= args.followers:
                break
            await asyncio.sleep(0.1)
        with sqlite3.connect(data_dir / "rooms.sqlite3") as db:
            poll_id = db.execute("SELECT poll_id FROM rooms WHERE code = ?", (code,)).fetchone()[0]
            counted = dict(db.execute("SELECT choice, COUNT(*) FROM answers WHERE code = ? AND poll_id = ? "
                                      "GROUP BY choice", (code, poll_id)).fetchall())
        await lec.run()                                # the lecturer's page shows the histogram
        events["reveal:0"] = (time.perf_counter(), None)
        await lec.run(press=lec.buttons["room_reveal_btn"])
        await asyncio.sleep(args.gap_s)
        stop.set()
        await asyncio.wait(tasks, timeout=args.rerun_timeout)
        mon_stop.set()
        await mon
        for task in tasks:
            if task.done() and task.exception() is not None:
                stats.exceptions.append(f"client error: {task.exception()!r}"[:300])
    lat = stats.latencies
    expected = args.followers * args.presses
    return {
        "followers": args.followers, "presses": args.presses, "processes": args.processes,
        "next_p50_s": pct(lat.get("next", []), 0.5), "next_p95_s": pct(lat.get("next", []), 0.95),
        "next_max_s": max(lat.get("next", [0])), "next_seen": len(lat.get("next", [])), "next_expected": expected,
        "reveal_p50_s": pct(lat.get("reveal", []), 0.5), "reveal_p95_s": pct(lat.get("reveal", []), 0.95),
        "reveal_seen": len(lat.get("reveal", [])),
        "answers_sent": dict(sorted(stats.sent.items())), "answers_counted": dict(sorted(counted.items())),
        "answers_exact": stats.sent == counted,
        "errors": len(stats.exceptions) + stats.timeouts + stats.disconnects, "exceptions": stats.exceptions[:5],
        "load_average_1min": [load_before, os.getloadavg()[0]], "idle": idle, "peak_rss_mib": monitor.peak_rss / 2**20, "cpu_s_per_s_during_presses": monitor.cpu_s / monitor.wall_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followers", type=int, default=40)
    parser.add_argument("--presses", type=int, default=10)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--poll-s", type=float, default=1.0, help="the room fragment's run_every (ui/room.py)")
    parser.add_argument("--gap-s", type=float, default=4.0, help="seconds between the lecturer's presses")
    parser.add_argument("--join-s", type=float, default=15.0)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--answer-s", type=float, default=60.0, help="the longest wait for every answer")
    parser.add_argument("--rerun-timeout", type=float, default=60.0)
    parser.add_argument("--limit-s", type=float, default=600.0, help="bounds each student's polling")
    parser.add_argument("--ports", type=port_range, default=None, metavar="LO-HI")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minigpt-rooms-") as tmp:
        os.environ["MINIGPT_DATA_DIR"] = tmp   # the servers inherit it: one store for every process
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with Servers(args.processes, args.out.parent, ports=args.ports, log_name="room-load-server") as servers:
            url = f"ws://127.0.0.1:{servers.port}/_stcore/stream"
            result = asyncio.run(scenario(args, url, Path(tmp), servers))
    args.out.write_text(json.dumps(result, indent=1, default=str))
    f = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"| processes | followers | Next p50 s | Next p95 s | Next max s | seen | Reveal p50 / p95 s | answers exact |"
          f" errors | idle CPU s/s | full runs while idle | bytes/poll | peak RSS MiB | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    idle = result["idle"]
    print(f"| {result['processes']} | {result['followers']} | {f(result['next_p50_s'])} | {f(result['next_p95_s'])} | "
          f"{f(result['next_max_s'])} | {result['next_seen']}/{result['next_expected']} | {f(result['reveal_p50_s'])} / "
          f"{f(result['reveal_p95_s'])} | {result['answers_exact']} ({sum(result['answers_counted'].values())}) | "
          f"{result['errors']} | {idle['cpu_s_per_s']:.2f} | {idle['full_runs_while_idle']} | {idle['bytes_per_poll']:.0f} | "
          f"{result['peak_rss_mib']:.0f} | {result['load_average_1min'][0]:.1f}–{result['load_average_1min'][1]:.1f} |")
    if result["exceptions"]:
        print("exceptions:", *result["exceptions"], sep="\n  ")


if __name__ == "__main__":
    main()
