"""Numbers computed from traces, models and configs, that the pages show beside their figures: losses,
LayerNorm statistics, ReLU zeros, the probability of the true next token, moving averages, training-time
estimates, a corpus's sizes and its opening words (the default prompt). No plotting and no Streamlit here;
minigpt/views draws these numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import torch

from . import corpus as corpora
from .model import MiniGPT, Switches, token_losses


def as_array(values) -> np.ndarray:
    """A tensor or array-like as float32 numpy (booleans as 0/1), detached and on the CPU."""
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu")
        if values.dtype == torch.bool:
            return values.numpy().astype(np.float32)
        return values.float().numpy()
    return np.asarray(values, dtype=np.float32)


# -- losses ----------------------------------------------------------------------------------------
def batch_loss(trace, targets: torch.Tensor | None) -> float | None:
    """Mean cross-entropy of a traced batch against its true next tokens (None without targets)."""
    if targets is None:
        return None
    return float(token_losses(trace["logits"], targets).mean())


@torch.no_grad()
def validation_loss(model: MiniGPT, corpus_rows: torch.Tensor, switches: Switches = Switches(), *,
                    batches: int = 4, batch_size: int = 8, seed: int = 0) -> float | None:
    """Mean loss of the traced path (what-if switches applied) on a few fixed validation batches.

    The same batches for every call with the same seed, so losses with and without switches compare fairly.
    None when the validation split is shorter than one context.
    """
    _, val = corpora.split(corpus_rows)
    ctx = model.config.context_length
    if len(val) < ctx + 1:
        return None
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(batches):
        x, y, _ = corpora.get_batch(val, batch_size, ctx, generator)
        losses.append(token_losses(model.run_with_trace(x, switches)["logits"], y).mean())
    return float(torch.stack(losses).mean())


def target_probs(probs_2d, target_rows) -> np.ndarray:
    """probs_2d[i, target_rows[i]]: the probability each position gave the token that really came next."""
    p = np.asarray(probs_2d, dtype=np.float32)
    rows = np.asarray(target_rows, dtype=np.int64).reshape(-1)
    if p.ndim != 2 or rows.size != p.shape[0]:
        raise ValueError(f"target_probs needs [positions, vocab] and one target per position, got {p.shape}, {rows.size}.")
    return p[np.arange(rows.size), rows]


def top_vocab_rows(probs_2d, max_columns: int) -> list[int]:
    """Vocabulary rows worth a column: the max_columns most probable at any position, most probable first."""
    best = as_array(probs_2d).max(axis=0)
    k = min(int(max_columns), best.size)
    part = np.argpartition(-best, k - 1)[:k] if k < best.size else np.arange(best.size)
    return part[np.argsort(-best[part], kind="stable")].tolist()


# -- inside a block --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerNormStats:
    """Per position mean and (population) std of a vector before and after LayerNorm."""

    mean_before: np.ndarray
    std_before: np.ndarray
    mean_after: np.ndarray
    std_after: np.ndarray


def layernorm_stats(before_2d, after_2d, positions: int) -> LayerNormStats:
    """Mean and std of each position's vector before and after LayerNorm: after ≈ 0 and ≈ 1."""
    before, after = as_array(before_2d), as_array(after_2d)
    if before.shape != after.shape or before.ndim != 2 or before.shape[0] != positions:
        raise ValueError(f"layernorm_stats needs two [positions, d_model] arrays for {positions} labels.")
    return LayerNormStats(before.mean(axis=1).astype(np.float64), before.std(axis=1).astype(np.float64),
                          after.mean(axis=1).astype(np.float64), after.std(axis=1).astype(np.float64))


def zero_fraction(values) -> float:
    """Fraction of entries that are exactly 0 (ReLU switched them off)."""
    z = as_array(values)
    return float((z == 0).mean()) if z.size else 0.0


# -- training --------------------------------------------------------------------------------------
def ema(values, weight: float = 0.9, *, block: int = 128) -> np.ndarray:
    """Exponential moving average y[i] = weight·y[i-1] + (1-weight)·x[i], starting at x[0].

    Computed block by block with a small matrix of powers, so a million steps take milliseconds.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.empty_like(x)
    if not x.size:
        return out.astype(np.float32)
    idx = np.arange(block)
    lag = idx[:, None] - idx[None, :]
    step = np.where(lag >= 0, weight ** np.clip(lag, 0, None), 0.0) * (1 - weight)
    carry = weight ** (idx + 1)
    previous = x[0]
    for start in range(0, x.size, block):
        chunk = x[start:start + block]
        m = chunk.size
        out[start:start + m] = step[:m, :m] @ chunk + carry[:m] * previous
        previous = out[start + m - 1]
    return out.astype(np.float32)


CPU_FLOPS = 15e9        # measured: lecture preset ≈ 16 GFLOP/s on one core of the 2-core dev machine
STEP_OVERHEAD_S = 0.003  # Python and optimizer bookkeeping per step


def step_flops(model_config, train_config, vocab_size: int) -> float:
    """Forward + backward FLOPs of one training step (6·params·tokens plus the attention matrices)."""
    from .config import parameter_count

    tokens = train_config.batch_size * model_config.context_length
    attention = 12 * model_config.num_blocks * train_config.batch_size * model_config.context_length ** 2 \
        * model_config.d_model
    return 6.0 * parameter_count(model_config, vocab_size) * tokens + attention


def estimated_seconds(model_config, train_config, vocab_size: int, flops_per_s: float = CPU_FLOPS) -> float:
    """Rough wall time of a whole run on a CPU: the steps plus the evaluations (forward only, ⅓ of a step)."""
    per_step = step_flops(model_config, train_config, vocab_size) / flops_per_s + STEP_OVERHEAD_S
    evaluations = train_config.steps // train_config.eval_interval + 1
    eval_steps = evaluations * 2 * train_config.eval_batches / 3
    return per_step * (train_config.steps + eval_steps)


# -- corpus ----------------------------------------------------------------------------------------
def corpus_stats(text: str, rows: torch.Tensor, vocab_size: int) -> dict[str, int]:
    """Characters, tokens, vocabulary rows and the train / validation split sizes of a corpus."""
    train, val = corpora.split(rows)
    return {"characters": len(text), "tokens": int(len(rows)), "vocabulary rows": int(vocab_size),
            "train tokens": int(len(train)), "validation tokens": int(len(val))}


def default_prompt(text: str, words: int = 4) -> str:
    """The first few words of a corpus (its first characters for text without spaces, such as 中文)."""
    first = " ".join(text.split()[:words])
    if len(first) > 40 or " " not in first:
        first = "".join(text.split())[:8]
    return first or "The"
