"""Data-parallel training under torchrun (2 CPU processes, gloo): the ranks stay in step."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minigpt import checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_ranks_train_on_different_batches_and_end_with_identical_weights(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        torchrun = shutil.which("torchrun")
    assert torchrun, "torchrun ships with torch"
    hashes = tmp_path / "hashes"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MINIGPT_DDP_HASH_DIR": str(hashes), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "minigpt", "train", "--preset", "notebook",
         "--corpus", "builtin", "--steps", "10", "--eval-interval", "5", "--eval-batches", "2", "--d-model", "16",
         "--num-heads", "2", "--context-length", "8", "--device", "cpu", "--quiet", "--out", "ddp.safetensors"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((hashes / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]       # gradients were averaged
    assert ranks[0]["batch_seed"] != ranks[1]["batch_seed"]               # ...over different batches
    assert ranks[0]["steps"] == ranks[1]["steps"] == 10 and ranks[0]["world_size"] == 2
    assert [p.name for p in tmp_path.glob("*.safetensors")] == ["ddp.safetensors"]  # rank 0 alone wrote it
    assert done.stderr.count("Wrote ddp.safetensors") == 1                # and printed
    assert done.stdout.count("step      5: train loss") == 1
    ckpt = checkpoint.read(tmp_path / "ddp.safetensors")
    assert ckpt.train_state["world_size"] == 2 and ckpt.train_state["tokens"] == 10 * 4 * 8 * 2
