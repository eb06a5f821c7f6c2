"""The shipped .streamlit/config.toml: the production settings hold, and nothing that starts the app overrides them.

The file watcher is off in production: with Streamlit's default ("auto") every new session's first run walks all
of sys.modules (torch, pandas, plotly: ~2,000 modules) to pick files to watch, which made a class's first pages
several times slower (bench/arrival.py; README "Measured load"). Developers turn it back on with
`--server.fileWatcherType auto --server.runOnSave true` (README "Hosting").
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".streamlit" / "config.toml"


def shipped() -> dict:
    return tomllib.loads(CONFIG.read_text(encoding="utf-8"))


def test_the_file_watcher_is_off_in_production():
    assert shipped()["server"]["fileWatcherType"] == "none"
    assert "runOnSave" not in shipped()["server"]  # it needs a watcher; Community Cloud forces it on anyway


def test_the_other_production_settings_are_still_there():
    c = shipped()
    assert c["runner"]["postScriptGC"] is False and c["runner"]["fastReruns"] is True
    assert c["server"]["enableXsrfProtection"] is True and c["server"]["maxUploadSize"] == 50
    assert c["browser"]["gatherUsageStats"] is False and c["client"]["toolbarMode"] == "viewer"


def test_streamlit_reads_the_setting_from_the_project_config():
    """What a `streamlit run app.py` from the repository root ends up with (no flag, no environment variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    code = ("from streamlit import config; "
            "print(config.get_option('server.fileWatcherType'), config.get_option('server.runOnSave'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["none", "False"]


def test_benchmarks_and_the_cluster_script_measure_the_shipped_setting():
    """The load benches and deploy/run_cluster.sh start servers without overriding the watcher on the command
    line: a flag would outrank config.toml (and the environment variables the benches compare settings with)."""
    for path in ("bench/stclient.py", "deploy/run_cluster.sh"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert not re.search(r"fileWatcherType\W+none", text), path
