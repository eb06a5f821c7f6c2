"""Run the tests that wait on background training threads many times in a row while other processes keep
every core busy, and count the failures: a test that races its worker fails here sooner or later.

    flock /tmp/minigpt-bench.lock .venv/bin/python bench/repeat_tests.py            # 20 rounds, all cores busy
    .venv/bin/python bench/repeat_tests.py --count 3 --burners 0 tests/test_jobs.py  # quick, on an idle machine

Each round is one `python -m pytest` of the selected tests (default: jobs, trainer, Train page, Train in a
browser). The burners are plain busy loops in other processes, each bounded by --burn-max-s and killed at the
end. Prints one row per test (runs, passed, failed, skipped, mean and slowest seconds) and one per round; exits
1 if any run failed or, unless --allow-skips, was skipped (a skipped browser test proves nothing).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TESTS = ["tests/test_jobs.py", "tests/test_trainer.py", "tests/test_train_page.py",
                 "tests/test_train_browser.py"]
BURN = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    pass\n"


def start_burners(count: int, limit_s: float) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BURN.format(limit=limit_s)]) for _ in range(count)]


def stop_burners(burners: list[subprocess.Popen]) -> None:
    for proc in burners:
        proc.kill()
    for proc in burners:
        proc.wait()


def outcomes(junit: Path) -> list[tuple[str, str, float]]:
    """(test id, passed/failed/skipped, seconds) for every test case of a JUnit XML report."""
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}".removeprefix("tests.")
        if case.find("failure") is not None or case.find("error") is not None:
            result = "failed"
        elif case.find("skipped") is not None:
            result = "skipped"
        else:
            result = "passed"
        rows.append((name, result, float(case.get("time", 0.0))))
    return rows


def run_round(tests: list[str], junit: Path, timeout_s: float, log: Path) -> tuple[int, float]:
    """One pytest run of the tests; its output goes to log. Returns (exit status, seconds)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               f"--junitxml={junit}", *tests]
    started = time.monotonic()
    with log.open("w") as out:
        try:
            status = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            status = 124
    return status, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tests", nargs="*", default=DEFAULT_TESTS, help="pytest paths or node ids")
    parser.add_argument("--count", type=int, default=20, help="rounds (default 20)")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2,
                        help="busy-loop processes alongside (default: one per core)")
    parser.add_argument("--burn-max-s", type=float, default=4 * 3600, help="each burner ends by itself after this")
    parser.add_argument("--round-timeout-s", type=float, default=1800, help="a round running longer counts as failed")
    parser.add_argument("--allow-skips", action="store_true", help="skipped tests do not make the run fail")
    parser.add_argument("--logs", type=Path, default=None, help="keep each round's pytest output here")
    args = parser.parse_args(argv)

    logs = args.logs or Path(tempfile.mkdtemp(prefix="minigpt-repeat-"))
    logs.mkdir(parents=True, exist_ok=True)
    per_test: dict[str, list[tuple[str, float]]] = defaultdict(list)
    rounds = []
    print(f"{args.count} rounds of {' '.join(args.tests)} with {args.burners} busy processes on "
          f"{os.cpu_count()} cores; pytest output in {logs}", flush=True)
    burners = start_burners(args.burners, args.burn_max_s)
    started = time.monotonic()
    try:
        for n in range(1, args.count + 1):
            junit = logs / f"round-{n:02d}.xml"
            status, seconds = run_round(args.tests, junit, args.round_timeout_s, logs / f"round-{n:02d}.log")
            cases = outcomes(junit) if junit.exists() else []
            for name, result, case_s in cases:
                per_test[name].append((result, case_s))
            failed = sum(result == "failed" for _, result, _ in cases)
            if status != 0 and not failed:  # crashed or timed out before reporting a failure
                failed = 1
                per_test["(pytest run itself)"].append(("failed", seconds))
            rounds.append((n, status, failed, seconds))
            print(f"round {n:2d}: exit {status}, {len(cases)} tests, {failed} failed, {seconds:.0f} s", flush=True)
    finally:
        stop_burners(burners)
    total_s = time.monotonic() - started

    print("\n| test | runs | passed | failed | skipped | mean s | max s |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, results in sorted(per_test.items()):
        count = {kind: sum(r == kind for r, _ in results) for kind in ("passed", "failed", "skipped")}
        times = [s for _, s in results]
        print(f"| {name} | {len(results)} | {count['passed']} | {count['failed']} | {count['skipped']} | "
              f"{statistics.mean(times):.1f} | {max(times):.1f} |")
    failures = sum(r == "failed" for results in per_test.values() for r, _ in results)
    skips = sum(r == "skipped" for results in per_test.values() for r, _ in results)
    bad_rounds = sum(1 for _, status, failed, _ in rounds if failed or status != 0)
    print(f"\n{len(rounds)} rounds, {bad_rounds} with a failure; {failures} failed and {skips} skipped test runs "
          f"in total; {total_s / 60:.1f} min with {args.burners} busy processes "
          f"(rounds {min(s for *_, s in rounds):.0f}-{max(s for *_, s in rounds):.0f} s)")
    return 1 if failures or bad_rounds or (skips and not args.allow_skips) else 0


if __name__ == "__main__":
    sys.exit(main())
