"""`python -m minigpt train|generate|presets`: end to end in a subprocess, details in-process."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minigpt import checkpoint, cli, corpus, presets
from minigpt.config import ModelConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--d-model", "16", "--num-heads", "2", "--num-blocks", "1", "--context-length", "8", "--batch-size", "4",
        "--eval-batches", "2", "--device", "cpu", "--quiet"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MINIGPT_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "minigpt", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_train_then_generate_end_to_end(tmp_path):
    done = run("train", "--preset", "lecture", "--steps", "30", "--corpus", "builtin", "--out", "tmp.safetensors",
               "--eval-batches", "3",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "step      0: train loss" in done.stdout and "step     30: train loss" in done.stdout
    assert "30/30" in done.stderr and "tok/s" in done.stderr  # the progress bar
    assert "Wrote tmp.safetensors" in done.stderr
    ckpt = checkpoint.read(tmp_path / "tmp.safetensors")
    assert ckpt.config == presets.get("lecture").model
    state = ckpt.train_state
    assert state["steps"] == 30 and state["preset"] == "lecture" and state["corpus"] == "builtin"
    assert state["train_config"] == dataclasses.replace(presets.get("lecture").train, steps=30,
                                                                eval_batches=3).to_dict()
    assert len(state["history"]["loss"]) == 30 and state["wall_time_s"] > 0
    assert [e["step"] for e in state["evals"]] == [0, 30]

    text = run("generate", "--checkpoint", "tmp.safetensors", "--prompt", "The customer", "--max-new-tokens", "5",
               "--seed", "1", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("The customer") and len(text.stdout.strip()) > len("The customer")


def test_bad_flag_exits_2_with_one_line_and_no_traceback(tmp_path):
    done = run("train", "--d-model", "33", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: d_model 33 must be even: the positional encoding fills dimensions in sin/cos pairs."


@pytest.mark.parametrize("argv, message", [
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--steps", "many"], "argument --steps: invalid int value: 'many'"),
    (["train", "--norm", "middle"], "argument --norm: invalid choice: 'middle'"),
    (["train", "--preset", "huge"], "argument --preset: invalid choice: 'huge'"),
    (["train", "--num-heads", "3", "--d-model", "32"], "d_model 32 is not divisible by 3 heads"),
    (["train", "--corpus", "no/such/file.txt"], "--corpus no/such/file.txt: no such file"),
    (["generate", "--checkpoint", "missing.safetensors", "--prompt", "hi"], "missing.safetensors: no such file"),
    (["generate", "--prompt", "hi"], "the following arguments are required: --checkpoint"),
])
def test_usage_errors_are_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_not_a_checkpoint_and_binary_corpus_are_clear_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("junk.safetensors").write_bytes(b"not a checkpoint at all")
    Path("binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    assert cli.main(["generate", "--checkpoint", "junk.safetensors", "--prompt", "hi"]) == 2
    assert cli.main(["train", "--corpus", "binary.txt"] + TINY) == 2
    err = capsys.readouterr().err.splitlines()
    assert "junk.safetensors" in err[0] and "binary file" in err[1]


def test_every_config_field_is_a_flag_and_seed_sets_both():
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--preset", "notebook", "--d-model", "32", "--no-qkv-bias", "--lr-schedule",
                              "cosine", "--learning-rate", "0.01", "--seed", "5", "--train-seed", "9"])
    model, train = cli.configs_from_args(args, presets.get("notebook").model, presets.get("notebook").train)
    assert model.d_model == 32 and model.qkv_bias is False and model.seed == 5
    assert train.lr_schedule == "cosine" and train.learning_rate == 0.01 and train.seed == 9
    assert model.num_blocks == presets.get("notebook").model.num_blocks  # untouched fields keep the preset's
    train_help = parser._subparsers._group_actions[0].choices["train"].format_help()
    for cls in (ModelConfig, TrainConfig):
        for field in dataclasses.fields(cls):
            if field.name != "seed":
                assert "--" + field.name.replace("_", "-") in train_help, field.name
    assert "--model-seed" in train_help and "--train-seed" in train_help


def test_offline_sales_corpus_falls_back_to_builtin_with_a_message(capsys, tmp_path, monkeypatch):
    def offline(**kwargs):
        raise corpus.CorpusError("error.corpus_timeout", timeout=10)  # "No answer from the server within 10 s ..."

    monkeypatch.setattr(corpus, "sales_textbook", offline)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--corpus", "sales", "--steps", "3", "--eval-interval", "3", "--out", "m.safetensors"]
                    + TINY) == 0
    err = capsys.readouterr().err
    assert "Using the built-in corpus instead" in err
    assert checkpoint.read("m.safetensors").train_state["corpus"] == "builtin"


def test_default_out_path_and_user_text_corpus(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("mine.txt").write_text("Ask a question, then listen. " * 60, encoding="utf-8")
    assert cli.main(["train", "--preset", "notebook", "--corpus", "mine.txt", "--steps", "2", "--eval-interval", "1",
                     "--vocab", "char"] + TINY) == 0
    ckpt = checkpoint.read(tmp_path / "checkpoints" / "notebook.safetensors")
    assert ckpt.vocab.mode == "char" and ckpt.train_state["corpus"] == "mine.txt"


def test_diverged_training_writes_the_last_good_weights_and_exits_1(capsys, tmp_path, monkeypatch):
    from minigpt import trainer as trainer_module

    real_step = trainer_module.Trainer.step

    def step(self):
        if self.step_count == 2:
            raise trainer_module.TrainingDiverged("error.diverged_loss_nan", step=3, lr=0.5, good=2)
        return real_step(self)

    monkeypatch.setattr(trainer_module.Trainer, "step", step)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--corpus", "builtin", "--steps", "10", "--out", "m.safetensors"] + TINY) == 1
    assert "NaN at step 3" in capsys.readouterr().err
    ckpt = checkpoint.read("m.safetensors")
    assert ckpt.train_state["steps"] == 2 and "NaN" in ckpt.train_state["stopped"]
    assert all(torch.isfinite(p).all() for p in ckpt.model.parameters())


def test_generate_reads_the_tutorial_checkpoint(capsys, tmp_path):
    from bench.tutorial_model import TransformerLanguageModel

    torch.manual_seed(0)
    model = TransformerLanguageModel(d_model=16, num_heads=2, num_blocks=1, context_length=8, max_token_value=2000)
    torch.save(model.state_dict(), tmp_path / "model-ckpt.pt")
    assert cli.main(["generate", "--checkpoint", str(tmp_path / "model-ckpt.pt"), "--prompt", "The", "--seed", "3",
                     "--max-new-tokens", "4"]) == 0
    assert capsys.readouterr().out.startswith("The")


def test_presets_lists_every_preset_in_both_languages(capsys):
    assert cli.main(["presets"]) == 0
    out = capsys.readouterr().out
    for preset in presets.PRESETS.values():
        assert preset.name in out and preset.description("en") in out and preset.description("zh") in out
    assert cli.main([]) == 2
