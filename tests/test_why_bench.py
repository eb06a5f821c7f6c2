"""bench/why_latency.py runs end to end at the default config (one run, no page rows): table and JSON."""
from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))


def test_why_latency(tmp_path, capsys):
    import why_latency

    out = tmp_path / "w.json"
    why_latency.main(["--runs", "1", "--no-page", "--configs", "default", "--threads", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "|---" in printed and "logit lens" in printed
    data = json.loads(out.read_text())
    assert data["benchmark"] == "why_latency" and len(data["table"]) == 2 * len(why_latency.VIEWS)
