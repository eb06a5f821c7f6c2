"""The bundled model: a small model trained on the notebook's sales textbook, shipped in the package
(`minigpt/data/bundled.safetensors`: weights, vocabulary and train state), so the app opens on weights whose
patterns mean something. It is made by one command, recorded in its own train state:

    python -m minigpt fetch-corpus          # the sales textbook into the cache, once
    python -m minigpt bundle                # trains PRESET on it and writes FILE (see `command_of`)

`bundle` is `train` with this preset, the sales textbook required (no built-in fallback) and FILE as the default
output; the train state records the command line, seeds, torch's thread count and version, the corpus's SHA-256,
the steps and every evaluation. `tests/test_bundled.py` checks that the shipped file is what the command makes.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from .config import ModelConfig, TrainConfig
from .presets import Preset

NAME = "bundled"
FILE = "data/bundled.safetensors"  # inside the minigpt package
THREADS = 2                        # torch threads of the recorded run: another count changes float rounding

# The notebook's architecture family (d_model 64, 4 heads, compact vocabulary, seed 1337) with 2 pre-LN blocks
# and context 32: chosen by measuring head patterns and validation loss on the sales textbook (README, "The
# bundled model").
PRESET = Preset(
    NAME,
    ModelConfig(context_length=32, d_model=64, num_heads=4, num_blocks=2, ffn_mult=4, dropout=0.1, norm="pre",
                qkv_bias=True, vocab="compact", seed=1337),
    TrainConfig(batch_size=16, learning_rate=3e-3, steps=1500, eval_interval=250, eval_batches=20, grad_clip=1.0,
                weight_decay=0.01, warmup_steps=50, lr_schedule="cosine", device="cpu", seed=1337),
)
COMMAND = f"python -m minigpt bundle --threads {THREADS} --quiet"  # the recorded run; the README tells you to run it


def path() -> Path:
    """Where the installed package keeps the bundled file."""
    return Path(str(resources.files("minigpt").joinpath(FILE)))


def available() -> bool:
    return path().is_file()


def load():
    """The bundled checkpoint (minigpt.checkpoint.Checkpoint); CheckpointError if the file is missing or broken."""
    from . import checkpoint

    if not available():
        raise checkpoint.CheckpointError("bundled.missing", path=str(path()))
    return checkpoint.read(path())


def command_of(train_state: dict) -> list[str]:
    """The recorded command line's arguments (after `python -m minigpt`), as a list."""
    words = shlex.split(str(train_state.get("command", "")))
    return words[3:] if words[:3] == ["python", "-m", "minigpt"] else words


@dataclass(frozen=True)
class HeadPattern:
    """Where one head looks, averaged over every query after the first of a batch: the mean attention weight on
    the previous token, on the first token of the window, and on itself; `uniform` is what spreading evenly over
    the visible keys would give to any one of them (the same average of 1 / (q + 1))."""

    block: int
    head: int
    previous: float
    first: float
    itself: float
    uniform: float

    @property
    def kind(self) -> str:
        """The pattern it shows most: "previous", "first", "self", or "spread" (none above twice uniform)."""
        best = max((self.previous, "previous"), (self.first, "first"), (self.itself, "self"))
        return best[1] if best[0] > 2 * self.uniform else "spread"


def head_patterns(model, rows: torch.Tensor) -> list[HeadPattern]:
    """HeadPattern of every head of every block on rows [batch, T] (T >= 2)."""
    trace = model.run_with_trace(rows)
    T = rows.shape[1]
    q = torch.arange(1, T)
    uniform = float((1.0 / (q + 1).float()).mean())
    found = []
    for b in range(model.config.num_blocks):
        w = trace[f"blocks.{b}.attn.weights"]  # [batch, head, query, key]
        previous, first, itself = (w[:, :, q, k].mean(dim=(0, 2)) for k in (q - 1, torch.zeros_like(q), q))
        found += [HeadPattern(b, h, float(previous[h]), float(first[h]), float(itself[h]), uniform)
                  for h in range(w.shape[1])]
    return found


__all__ = ["NAME", "FILE", "PRESET", "COMMAND", "THREADS", "path", "available", "load", "command_of", "HeadPattern", "head_patterns"]
