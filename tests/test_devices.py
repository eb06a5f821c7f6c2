"""Device placement: every test here runs on "cpu" always and on "cuda" when this machine has one.

The same code runs on both (minigpt.devices, the Trainer, the CLI, the Train page), so the CUDA variants
exercise no extra code beyond the device argument: on a CPU-only machine the "cpu" variant proves the path,
and `bench/gpu_check.sh` runs this file on a CUDA machine.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import pytest
import torch

from minigpt import checkpoint, cli, devices, jobs
from minigpt.config import ConfigError, ModelConfig, TrainConfig
from minigpt.model import MiniGPT, Switches
from minigpt.trainer import Trainer, prepare

DEVICES = [d for d in devices.available() if d in ("cpu", "cuda")]
ON = pytest.mark.parametrize("device", DEVICES)
PATTERN = "abcde fghij " * 200
MODEL = ModelConfig(context_length=8, d_model=32, num_heads=2, num_blocks=2, norm="pre", vocab="char", dropout=0.1)
TRAIN = TrainConfig(batch_size=4, learning_rate=1e-2, steps=6, eval_interval=3, eval_batches=2, device="cpu")
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def make(device: str, **options) -> Trainer:
    vocab, rows = prepare(PATTERN, MODEL)
    return Trainer(MODEL, dataclasses.replace(TRAIN, device=device), rows, vocab, **options)


def test_helpers_on_the_cpu():
    assert devices.available()[0] == "cpu" and devices.resolve("cpu") == torch.device("cpu")
    devices.synchronize("cpu")  # a no-op, never an error
    assert isinstance(devices.autocast("cpu", "fp32"), contextlib.nullcontext)
    with devices.autocast("cpu", "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="precision must be one of fp32, bf16"):
        devices.check_precision("fp8")
    assert devices.describe("cpu").startswith("cpu (")
    assert isinstance(devices.bf16_supported("cpu"), bool)


@ON
def test_trainer_keeps_model_batches_and_optimizer_on_the_device(device):
    trainer = make(device, sample_every=3, attention_every=3)
    trainer.run()
    want = torch.device(device).type
    assert trainer.device.type == want
    assert all(p.device.type == want for p in trainer.model.parameters())
    for state in trainer.optimizer.state.values():
        assert all(v.device.type == want for k, v in state.items() if k != "step" and torch.is_tensor(v))
    assert trainer.step_count == 6 and all(map(torch.isfinite, map(torch.tensor, trainer.history["loss"])))
    assert trainer.attention[-1].weights.device.type == "cpu"  # snapshots are handed to the pages on the CPU
    assert trainer.samples and isinstance(trainer.samples[-1].text, str)
    copy = trainer.checkpoint_copy()
    assert next(copy.model.parameters()).device.type == "cpu"


@ON
def test_traced_path_on_the_device_equals_the_cpu_trace(device):
    cpu_model = MiniGPT(MODEL, 40).eval()
    model = MiniGPT(MODEL, 40).to(device).eval()
    rows = torch.randint(0, 40, (2, 8), generator=torch.Generator().manual_seed(0))
    for switches in (Switches(), Switches(causal_mask=False, temperature=2.0)):
        want, got = cpu_model.run_with_trace(rows, switches), model.run_with_trace(rows.to(device), switches)
        assert list(got) == list(want)
        for name in want:
            assert got[name].device.type == "cpu"
            torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-4, msg=name)
    with torch.no_grad():  # the fast path on the device gives the real model's traced logits too
        logits = model(rows.to(device))[0].cpu()
    torch.testing.assert_close(logits, cpu_model.run_with_trace(rows)["logits"], rtol=1e-4, atol=1e-4)


@ON
def test_checkpoint_saved_on_the_device_loads_on_the_cpu(device, tmp_path):
    trainer = make(device)
    trainer.run(3)
    path = checkpoint.write(tmp_path / "d.safetensors", trainer.model, trainer.vocab, trainer.train_state())
    loaded = checkpoint.read(path)
    assert next(loaded.model.parameters()).device.type == "cpu"
    for name, tensor in trainer.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor.cpu(), rtol=0, atol=0, msg=name)
    rows = torch.tensor([[1, 2, 3, 4]])
    trainer.model.eval()
    with torch.no_grad():
        on_device = trainer.model(rows.to(trainer.device))[0].cpu()
        torch.testing.assert_close(loaded.model(rows)[0], on_device, rtol=1e-4, atol=1e-4)
    assert loaded.train_state["steps"] == 3


@ON
def test_bf16_autocast_trains_close_to_fp32(device):
    if not devices.bf16_supported(device):
        pytest.skip(f"no native bf16 on this {device}")
    fp32, bf16 = make(device), make(device, precision="bf16")
    fp32.run(), bf16.run()
    assert bf16.precision == "bf16" and all(p.dtype == torch.float32 for p in bf16.model.parameters())
    first32, first16 = fp32.history["loss"][0], bf16.history["loss"][0]
    assert abs(first16 - first32) < 0.05 * first32  # same weights, same batch: bf16 rounding only
    assert bf16.evals[-1].val_loss < bf16.evals[0].val_loss


@ON
def test_cli_trains_on_the_device(device, tmp_path, capsys):
    out = tmp_path / "cli.safetensors"
    code = cli.main(["train", "--preset", "lecture", "--corpus", "builtin", "--steps", "4", "--eval-interval", "2",
                     "--eval-batches", "1", "--d-model", "16", "--num-heads", "2", "--num-blocks", "1",
                     "--context-length", "8", "--batch-size", "4", "--device", device, "--quiet", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"device {device}" in captured.err
    ckpt = checkpoint.read(out)
    assert ckpt.train_state["steps"] == 4 and ckpt.train_state["train_config"]["device"] == device


@ON
@pytest.mark.timeout(180)
def test_train_page_trains_on_the_device(device):
    from streamlit.testing.v1 import AppTest

    manager = jobs.default_manager()
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        at.switch_page("pages/train.py").run()
        assert not at.exception
        assert device in at.selectbox(key="train_device").options
        at.selectbox(key="train_preset").set_value("notebook").run()
        at.number_input(key="train_steps").set_value(20).run()
        at.number_input(key="train_eval_interval").set_value(10).run()
        at.selectbox(key="train_device").set_value(device).run()
        at.button(key="train_start").click().run()
        assert not at.exception and not at.error
        job = manager.get(manager.sessions()[0])
        assert job.train_config.device == device
        deadline = time.monotonic() + 120
        while job.status not in (jobs.FINISHED, jobs.FAILED) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.status == jobs.FINISHED, job.snapshot().error
        at.run()
        assert not at.exception
        result = job.result()
        assert result.train_state["steps"] == 20 and next(result.model.parameters()).device.type == "cpu"
    finally:
        manager.shutdown(wait=10)
