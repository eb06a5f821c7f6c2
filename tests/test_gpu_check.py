"""bench/gpu_check.sh runs its CPU-safe parts end to end on the CPU (--cpu --quick) and prints its table.

On a CUDA machine the same script runs every check on the GPU; here it proves the script itself works
(each check's command, its time limit, the summary lines and the exit status). No timing is asserted.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_gpu_check_script_runs_its_cpu_parts(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    done = subprocess.run(["bash", "bench/gpu_check.sh", "--cpu", "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=550)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    table = done.stdout[done.stdout.index("| check | device | status |"):].strip().splitlines()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table[2:]}
    assert list(rows) == ["tests", "trainer", "cli", "throughput", "train_page"], table
    for name, (device, status, seconds, result) in rows.items():
        assert device == "cpu" and status == "ok" and float(seconds) > 0 and result, (name, rows[name])
    assert "passed" in rows["tests"][3] and "val loss" in rows["trainer"][3]
    assert "generate: The customer" in rows["cli"][3] and "tok/s" in rows["throughput"][3]
    assert (tmp_path / "gpu_check" / "throughput.json").exists()


def test_gpu_check_refuses_unknown_arguments():
    done = subprocess.run(["bash", "bench/gpu_check.sh", "--gpu-please"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2 and "unknown argument" in done.stderr
