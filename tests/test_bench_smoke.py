"""Each benchmark runs end to end at a tiny size on the built-in corpus: prints its table, writes JSON.

No timing is asserted (benchmarks report medians and ratios; a test cannot know the machine). The
browser-based ones (page start-up in Chromium, memory) are left to their own runs: they start a server.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))


def check(capsys, out: Path, name: str) -> dict:
    printed = capsys.readouterr().out
    assert "| " in printed and "|---" in printed, printed  # a markdown table was printed
    data = json.loads(out.read_text())
    assert data["benchmark"] == name and data["table"]
    return data


def test_throughput(tmp_path, capsys):
    import throughput

    out = tmp_path / "t.json"
    throughput.main(["--builtin", "--tiny", "--threads", "1", "--presets", "tutorial", "lecture", "--windows", "1",
                     "--window-s", "0.01", "--no-compile", "--out", str(out)])
    data = check(capsys, out, "throughput")
    sides = data["presets"]["tutorial"]["sides"]
    assert {"reference", "full+fused", "compact", "compact-foreach"} <= set(sides)
    assert sides["reference"]["x_reference"] == pytest.approx(1.0)
    assert all(0 < side["mfu"] < 1 for side in sides.values())
    assert "reference" not in data["presets"]["lecture"]["sides"] and data["presets"]["lecture"]["base"]


def test_time_to_quality(tmp_path, capsys):
    import time_to_quality

    out = tmp_path / "q.json"
    time_to_quality.main(["--builtin", "--threads", "1", "--ref-steps", "2", "--ref-eval-every", "1",
                          "--presets", "notebook", "--ours-max-steps", "3", "--eval-every", "1", "--windows", "2",
                          "--out", str(out)])
    data = check(capsys, out, "time_to_quality")
    assert data["target"] == pytest.approx(data["reference"]["curve"][-1][2])


def test_scaling(tmp_path, capsys):
    import scaling

    out = tmp_path / "s.json"
    scaling.main(["--builtin", "--threads", "1", "--contexts", "8", "--d-models", "16", "--windows", "1",
                  "--window-s", "0.01", "--page-runs", "1", "--out", str(out)])
    data = check(capsys, out, "scaling")
    assert len(data["points"]) == 2 and all(0 < p["mfu"] for p in data["points"])


def test_page_latency(tmp_path, capsys):
    import page_latency

    out = tmp_path / "p.json"
    page_latency.main(["--threads", "1", "--runs", "1", "--pages", "tokens", "--configs", "default",
                       "--no-browser", "--out", str(out)])
    data = check(capsys, out, "page_latency")
    assert not data["pages"]["default"]["tokens"]["errors"]


def test_figure_build(tmp_path, capsys):
    import figure_build

    out = tmp_path / "f.json"
    figure_build.main(["--threads", "1", "--runs", "1", "--out", str(out)])
    data = check(capsys, out, "figure_build")
    assert len(data["table"]) == 2


def test_kv_cache(tmp_path, capsys):
    import kv_cache

    out = tmp_path / "kv.json"
    kv_cache.main(["--builtin", "--tiny", "--threads", "1", "--windows", "1", "--out", str(out)])
    data = check(capsys, out, "kv_cache")
    point = data["points"]["tiny"]
    assert point["same_tokens"] and point["flops_ratio"] > 1  # no timing asserted: only that both sides ran
