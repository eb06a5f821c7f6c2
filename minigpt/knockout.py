"""Head knockouts: switch off attention heads and see what the model loses without them.

A knocked-out head still computes its attention weights, but its output (weights @ V, one [T, d_k] slice of
`attn.mixed`) is replaced before the heads are joined, on the traced path and on the fast path alike:

* "mean" (the default): by that head's average output over every position of every row in the batch. The
  later layers still get the head's typical contribution and lose only what it says about *these* tokens,
  so the loss increase measures the information the head carries, not the shock of an input (a zero)
  the model never saw in training.
* "zero": by zeros, the simplest to explain; also removes the head's average contribution.

`head_importance` is the validation-loss increase when each head alone is knocked out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

MODES = ("mean", "zero")
DEFAULT_MODE = "mean"


@dataclass(frozen=True)
class Knockout:
    """Which heads are off, as (block, head) pairs, and how they are replaced. Knockout() changes nothing."""

    heads: frozenset = field(default_factory=frozenset)
    mode: str = DEFAULT_MODE

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"knockout mode must be one of {', '.join(MODES)}, got {self.mode!r}.")
        heads = frozenset((int(b), int(h)) for b, h in self.heads)
        if any(b < 0 or h < 0 for b, h in heads):
            raise ValueError(f"knockout heads must be (block, head) pairs of non-negative numbers, got {sorted(heads)}.")
        object.__setattr__(self, "heads", heads)
        if not heads:  # nothing off: the mode does not matter, so every empty knockout is equal
            object.__setattr__(self, "mode", DEFAULT_MODE)

    def __bool__(self) -> bool:
        return bool(self.heads)

    def of_block(self, block: int) -> tuple[int, ...]:
        return tuple(sorted(h for b, h in self.heads if b == block))

    def check(self, num_blocks: int, num_heads: int) -> None:
        bad = sorted((b, h) for b, h in self.heads if b >= num_blocks or h >= num_heads)
        if bad:
            raise ValueError(f"knockout heads {bad} do not exist: the model has {num_blocks} blocks of {num_heads} heads.")


NONE = Knockout()


def every_head(num_blocks: int, num_heads: int, mode: str = DEFAULT_MODE) -> Knockout:
    return Knockout(frozenset((b, h) for b in range(num_blocks) for h in range(num_heads)), mode)


def apply(y: torch.Tensor, heads: tuple[int, ...], mode: str) -> torch.Tensor:
    """y: the heads' outputs [B, H, T, D]; the listed heads replaced (a new tensor). No heads: y itself."""
    if not heads:
        return y
    keep = torch.ones(y.shape[1], dtype=y.dtype, device=y.device)
    keep[list(heads)] = 0
    keep = keep.view(1, -1, 1, 1)
    if mode == "zero":
        return y * keep
    mean = y.mean(dim=(0, 2), keepdim=True)  # [1, H, 1, D]: each head's average over rows and positions
    return y * keep + mean * (1 - keep)


def affected_stages(names: list[str], knockout: Knockout) -> list[str]:
    """The stages (in computation order, from the model's stage list) a knockout can change: from the first
    knocked-out block's attn.mixed on. Nothing off: []."""
    if not knockout:
        return []
    first = names.index(f"blocks.{min(b for b, _ in knockout.heads)}.attn.mixed")
    return names[first:]


# -- head importance -----------------------------------------------------------------------------------
def validation_batches(corpus_rows: torch.Tensor, context_length: int, *, batches: int = 4, batch_size: int = 8,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The fixed validation batches of analysis.validation_loss, stacked: (x, y) [batches·batch_size, T] or None."""
    from . import corpus as corpora

    _, val = corpora.split(corpus_rows)
    if len(val) < context_length + 1:
        return None
    generator = torch.Generator().manual_seed(seed)
    xs, ys = zip(*(corpora.get_batch(val, batch_size, context_length, generator)[:2] for _ in range(batches)))
    return torch.cat(xs), torch.cat(ys)


@dataclass(frozen=True)
class Importance:
    base_loss: float
    increase: torch.Tensor  # [blocks, heads]: validation loss with that head knocked out, minus base_loss
    mode: str


def importance_seconds(config, vocab_size: int, *, windows: int = 32, flops_per_s: float | None = None) -> float:
    """A rough CPU time for head_importance: 1 + blocks·heads forward passes over `windows` validation windows
    (2 FLOPs per parameter per token), at analysis.CPU_FLOPS."""
    from .analysis import CPU_FLOPS
    from .config import parameter_count

    tokens = windows * config.context_length
    passes = 1 + config.num_blocks * config.num_heads
    return passes * 2.0 * parameter_count(config, vocab_size) * tokens / (flops_per_s or CPU_FLOPS)


@torch.no_grad()
def head_importance(model, corpus_rows: torch.Tensor, mode: str = DEFAULT_MODE) -> Importance | None:
    """The validation-loss increase when each head alone is knocked out (fast path; a test shows it equals the
    traced path). None when the validation split is shorter than one context."""
    data = validation_batches(corpus_rows, model.config.context_length)
    if data is None:
        return None
    x, y = data
    was_training = model.training
    model.eval()
    try:
        base = float(model(x, y)[1])
        c = model.config
        increase = torch.zeros(c.num_blocks, c.num_heads)
        for b in range(c.num_blocks):
            for h in range(c.num_heads):
                increase[b, h] = float(model(x, y, knockout=Knockout(frozenset({(b, h)}), mode))[1]) - base
    finally:
        model.train(was_training)
    return Importance(base, increase, mode)
