"""The KV cache: generation one token at a time, keeping every block's keys and values so that each new token
computes only its own row.

Without a cache, predicting the next token runs the whole window again (`MiniGPT.forward`): every position's
Q, K, V, every score, the FFN and the logits of every position, although only the last row is new. With the
cache, a new token computes its own q, k, v, appends k and v to the cache (one row longer per token) and its
query meets all cached keys. The numbers are the same (tests/test_kv_cache.py: the same tokens and
probabilities as `sampling.generate` without the cache, greedy and sampled).

Positions are absolute (the sinusoidal table): when the window is full and slides by one, every cached key
belongs to a different position, so the cache is rebuilt from the window (`prefill`) for every further token.

Work per new token, in FLOPs (a multiply–add counts 2; matrix products only: softmax, LayerNorm, ReLU, the
additions and the embedding lookup are lower order and left out). d = d_model, f = d_ffn = ffn_mult·d,
V = vocabulary rows, N = num_blocks, T = tokens in the window including the new one:

    with the cache      N·(8d² + 4df + 4Td) + 2dV
        q, k, v of the new token 6d², Wo 2d², FFN 4df, its query against T keys 2Td, weights @ V 2Td; its logits 2dV
    without the cache   N·(8Td² + 4Tdf + 4T²d) + 2dV
        the same for all T positions (every score of the T × T matrix), logits for the last position only
        (`MiniGPT.forward`, which generation calls, also computes the other T - 1 positions' logits: 2(T-1)dV more)
    prefill (the prompt, or a rebuild after the window slid): the same as without the cache

Memory of the cache: 2 (K and V) · N · T · d numbers per sequence, 4 bytes each in float32.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import ModelConfig
from .model import Block, CausalSelfAttention, MiniGPT

BYTES_PER_NUMBER = 4  # float32


# -- the arithmetic of the docstring ------------------------------------------------------------------------------
def _block_flops(config: ModelConfig, rows: int, keys: int) -> int:
    """One block for `rows` new rows meeting `keys` keys (every score computed, masked or not)."""
    d, f = config.d_model, config.d_ffn
    return 8 * rows * d * d + 4 * rows * d * f + 4 * rows * keys * d


def flops_cached(config: ModelConfig, vocab_size: int, length: int) -> int:
    """FLOPs of one new token with the cache; length = tokens in the window including it."""
    return config.num_blocks * _block_flops(config, 1, length) + 2 * config.d_model * vocab_size


def flops_uncached(config: ModelConfig, vocab_size: int, length: int) -> int:
    """FLOPs of one new token without the cache: every position of the window again, logits for the last."""
    return config.num_blocks * _block_flops(config, length, length) + 2 * config.d_model * vocab_size


def flops_prefill(config: ModelConfig, vocab_size: int, length: int) -> int:
    """FLOPs of filling the cache from `length` tokens at once: the same work as without the cache."""
    return flops_uncached(config, vocab_size, length)


def cache_numbers(config: ModelConfig, length: int) -> int:
    """Numbers the cache holds for one sequence of `length` tokens: K and V of every block."""
    return 2 * config.num_blocks * length * config.d_model


def cache_bytes(config: ModelConfig, length: int) -> int:
    return cache_numbers(config, length) * BYTES_PER_NUMBER


@dataclass(frozen=True)
class WorkPoint:
    """The work to predict one generated token (number `index`, from 0) with and without the cache."""

    index: int
    length: int          # tokens the model reads (the window)
    cached: int          # FLOPs with the cache (a prefill for the first token and after the window slid)
    uncached: int        # FLOPs without it
    rebuilt: bool        # True: the cache had to be filled from the whole window (first token, or it slid)
    cache_bytes: int     # the cache after this token's step


def work_series(config: ModelConfig, vocab_size: int, prompt_length: int, new_tokens: int) -> list[WorkPoint]:
    """Work per generated token over a generation of new_tokens after a prompt of prompt_length tokens."""
    ctx, points = config.context_length, []
    for i in range(new_tokens):
        total = prompt_length + i          # tokens before generated token i
        length = min(total, ctx)
        rebuilt = i == 0 or total > ctx
        cached = flops_prefill(config, vocab_size, length) if rebuilt else flops_cached(config, vocab_size, length)
        points.append(WorkPoint(i, length, cached, flops_uncached(config, vocab_size, length), rebuilt,
                                cache_bytes(config, length)))
    return points


# -- the cache itself ---------------------------------------------------------------------------------------------
@dataclass
class StepRecord:
    """What one feed computed for its last new row, per block: q [B, H, D] and its attention weights [B, H, T]."""

    queries: list[torch.Tensor]
    weights: list[torch.Tensor]


class KVCache:
    """Keys and values of every block for the tokens fed so far (one sequence window, positions 0, 1, ...).

    `feed(rows)` runs only the new rows through the model's own modules (its qkv, out, LayerNorms, FFN and
    lm_head) and returns the logits of the last new row. The model must be in eval mode (no dropout)."""

    def __init__(self, model: MiniGPT):
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.keys: list[torch.Tensor | None] = [None] * len(self.model.blocks)    # [B, H, T, D]
        self.values: list[torch.Tensor | None] = [None] * len(self.model.blocks)  # [B, H, T, D]
        self.last: StepRecord | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)

    def _attend(self, attn: CausalSelfAttention, x: torch.Tensor, layer: int, record: StepRecord) -> torch.Tensor:
        B, S, C = x.shape                                              # S new rows
        q, k, v = map(attn.split_heads, attn.qkv(x).split(C, dim=2))   # [B, H, S, D]
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)                # the cache grows by S rows
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        T, past = k.shape[2], k.shape[2] - S
        scores = q @ k.transpose(-2, -1) / math.sqrt(attn.d_k)        # [B, H, S, T]
        # New row i sits at position past + i: it may see keys 0 .. past + i (none of the later new rows).
        future = torch.arange(T, device=x.device)[None, :] > (past + torch.arange(S, device=x.device))[:, None]
        weights = F.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        record.queries.append(q[:, :, -1].detach().cpu())
        record.weights.append(weights[:, :, -1].detach().cpu())
        mixed = (weights @ v).transpose(1, 2).reshape(B, S, C)         # concat heads
        return attn.out(mixed)

    def _block(self, block: Block, x: torch.Tensor, layer: int, record: StepRecord) -> torch.Tensor:
        if block.pre_norm:
            x = x + self._attend(block.attn, block.norm1(x), layer, record)
            return x + block.ffn(block.norm2(x))
        x = block.norm1(x + self._attend(block.attn, x, layer, record))
        return block.norm2(x + block.ffn(x))

    @torch.no_grad()
    def feed(self, rows: torch.Tensor) -> torch.Tensor:
        """rows: [B, S] new embedding rows at positions length .. length+S-1. Returns logits [B, V] of the last."""
        model = self.model
        if model.training:
            raise ValueError("The KV cache needs the model in eval mode (dropout off).")
        start, S = self.length, rows.shape[1]
        if S == 0 or start + S > model.config.context_length:
            raise ValueError(f"{start} cached + {S} new tokens do not fit the context of {model.config.context_length}.")
        x = model.token_embedding(rows) + model.position[start:start + S]
        record = StepRecord([], [])
        for layer, block in enumerate(model.blocks):
            x = self._block(block, x, layer, record)
        if model.final_norm is not None:
            x = model.final_norm(x)
        self.last = record
        return model.lm_head(x[:, -1])


@dataclass(frozen=True)
class CacheWalk:
    """Generation inside one window, step by step. Step s predicts generated token s: step 0 fills the cache from
    the prompt (prefill), step s >= 1 feeds generated token s-1 alone. Everything on the CPU, batch row 0."""

    rows: tuple[int, ...]                 # the window's rows: prompt, then the generated tokens fed
    prompt_length: int
    keys: tuple[torch.Tensor, ...]        # per block [H, T, D]: the cache after the last step
    values: tuple[torch.Tensor, ...]
    queries: tuple[torch.Tensor, ...]     # per block [steps, H, D]: each step's new query row
    weights: tuple[torch.Tensor, ...]     # per block [steps, H, T]: its attention (NaN beyond its keys)
    probs: torch.Tensor                   # [steps, V]: next-token probabilities at each step

    @property
    def steps(self) -> int:
        return self.probs.shape[0]

    def cache_length(self, step: int) -> int:
        """Rows in the cache once step `step` has run (its new row included)."""
        return self.prompt_length + step


def walk(model: MiniGPT, prompt_rows, generated_rows) -> CacheWalk:
    """Replay a generation through the cache as far as the window allows (prompt cropped to the context)."""
    ctx = model.config.context_length
    prompt = list(prompt_rows)[-ctx:]
    fed = list(generated_rows)[: max(0, ctx - len(prompt))]  # step s feeds generated token s-1
    steps = 1 + len(fed)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    cache, queries, weights, probs = KVCache(model), [], [], []
    try:
        for s in range(steps):
            chunk = prompt if s == 0 else [fed[s - 1]]
            logits = cache.feed(torch.tensor([chunk], device=device))
            probs.append(torch.softmax(logits[0].float().cpu(), -1))
            queries.append([q[0] for q in cache.last.queries])
            weights.append([w[0] for w in cache.last.weights])
    finally:
        model.train(was_training)
    T = cache.length
    blocks = len(model.blocks)

    def padded(w: torch.Tensor) -> torch.Tensor:  # [H, t] -> [H, T]
        return F.pad(w, (0, T - w.shape[-1]), value=float("nan"))

    return CacheWalk(
        rows=tuple(prompt + fed), prompt_length=len(prompt),
        keys=tuple(cache.keys[b][0].cpu() for b in range(blocks)),
        values=tuple(cache.values[b][0].cpu() for b in range(blocks)),
        queries=tuple(torch.stack([queries[s][b] for s in range(steps)]) for b in range(blocks)),
        weights=tuple(torch.stack([padded(weights[s][b]) for s in range(steps)]) for b in range(blocks)),
        probs=torch.stack(probs),
    )
