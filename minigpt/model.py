"""The notebook's decoder-only Transformer, with one set of weights per block and two ways to run it.

* `MiniGPT.forward` is the fast path for training and generation: fused Q/K/V projection and
  `F.scaled_dot_product_attention`, which never builds the attention matrix.
* `MiniGPT.run_with_trace` runs the *same weights* step by step, the way the notebook does, and
  records every stage under a stable name (`blocks.0.attn.weights`, see `stages.py`). Every number
  the app shows comes from here; a test proves both paths give the same logits.

Classes appear in the order data flows. Shapes: B batch, T positions, C d_model, H heads, D d_k.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import knockout as ko
from .config import ModelConfig, check_size
from .stages import Trace

Record = Callable[[str, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Switches:
    """What-if switches for the traced path; the defaults are the real model."""

    causal_mask: bool = True    # False: every token may look at later tokens too
    scale: bool = True          # False: scores are Q·Kᵀ without the 1/√d_k
    position: bool = True       # False: no positional encoding is added
    residual: bool = True       # False: the blocks drop their residual connections
    layer_norm: bool = True     # False: every LayerNorm is skipped
    temperature: float = 1.0    # softmax(scores / temperature) in attention
    knockout: ko.Knockout = ko.NONE  # heads whose output is replaced (minigpt/knockout.py)

    def __post_init__(self) -> None:
        if not 0.01 <= float(self.temperature) <= 100:
            raise ValueError(f"attention temperature must be between 0.01 and 100, got {self.temperature}.")


def sinusoidal_table(context_length: int, d_model: int) -> torch.Tensor:
    """The notebook's positional encoding: sin on even dimensions, cos on odd ones. [T, C]"""
    table = torch.zeros(context_length, d_model)
    position = torch.arange(0, context_length, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term)
    return table


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.num_heads, self.d_k = config.num_heads, config.d_k
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=config.qkv_bias)  # Wq | Wk | Wv
        self.out = nn.Linear(config.d_model, config.d_model)  # Wo
        self.dropout = config.dropout

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        B, T, C = t.shape
        return t.view(B, T, self.num_heads, self.d_k).transpose(1, 2)  # [B, H, T, D]

    def forward(self, x: torch.Tensor, off: tuple[int, ...] = (), mode: str = ko.DEFAULT_MODE) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = map(self.split_heads, self.qkv(x).split(C, dim=2))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)  # [B, H, T, D]
        y = ko.apply(y, off, mode)  # knocked-out heads replaced (none: y itself)
        y = y.transpose(1, 2).reshape(B, T, C)  # concat heads
        return F.dropout(self.out(y), p, self.training)

    def traced(self, x: torch.Tensor, record: Record, s: Switches, off: tuple[int, ...] = ()) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # Q = x @ Wq, K = x @ Wk, V = x @ Wv
        q = record("attn.q", self.split_heads(q))
        k = record("attn.k", self.split_heads(k))
        v = record("attn.v", self.split_heads(v))
        scale = math.sqrt(self.d_k) if s.scale else 1.0
        scores = record("attn.scores", q @ k.transpose(-2, -1) / scale)  # [B, H, T, T]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
        if not s.causal_mask:
            mask = torch.zeros_like(mask)
        mask = record("attn.mask", mask)  # True above the diagonal: the future
        masked = record("attn.masked", scores.masked_fill(mask, float("-inf")))
        weights = record("attn.weights", F.softmax(masked / s.temperature, dim=-1))  # rows sum to 1
        mixed = record("attn.mixed", ko.apply(weights @ v, off, s.knockout.mode))  # [B, H, T, D]
        concat = record("attn.concat", mixed.transpose(1, 2).reshape(B, T, C))
        return record("attn.out", self.out(concat))


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.hidden = nn.Linear(config.d_model, config.d_ffn)
        self.out = nn.Linear(config.d_ffn, config.d_model)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(self.out(F.relu(self.hidden(x))), self.dropout, self.training)

    def traced(self, x: torch.Tensor, record: Record, s: Switches) -> torch.Tensor:
        hidden = record("ffn.hidden", self.hidden(x))  # [B, T, ffn_mult * C]
        relu = record("ffn.relu", F.relu(hidden))
        return record("ffn.out", self.out(relu))


class Block(nn.Module):
    """Attention, residual, LayerNorm, FFN, residual, LayerNorm: post-LN (the notebook) or pre-LN."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.pre_norm = config.norm == "pre"
        self.attn = CausalSelfAttention(config)
        self.norm1 = nn.LayerNorm(config.d_model)
        self.ffn = FeedForward(config)
        self.norm2 = nn.LayerNorm(config.d_model)

    def forward(self, x: torch.Tensor, off: tuple[int, ...] = (), mode: str = ko.DEFAULT_MODE) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attn(self.norm1(x), off, mode)
            return x + self.ffn(self.norm2(x))
        x = self.norm1(x + self.attn(x, off, mode))
        return self.norm2(x + self.ffn(x))

    def traced(self, x: torch.Tensor, record: Record, s: Switches, off: tuple[int, ...] = ()) -> torch.Tensor:
        def norm(name: str, layer: nn.LayerNorm, t: torch.Tensor) -> torch.Tensor:
            return record(name, layer(t) if s.layer_norm else t)

        def add(name: str, residual: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return record(name, residual + t if s.residual else t)

        if self.pre_norm:
            x = add("resid1", x, self.attn.traced(norm("norm1", self.norm1, x), record, s, off))
            return add("resid2", x, self.ffn.traced(norm("norm2", self.norm2, x), record, s))
        x = norm("norm1", self.norm1, add("resid1", x, self.attn.traced(x, record, s, off)))
        return norm("norm2", self.norm2, add("resid2", x, self.ffn.traced(x, record, s)))


class MiniGPT(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__()
        check_size(config, vocab_size)
        self.config, self.vocab_size = config, vocab_size
        # Weights come from the config's seed alone, whatever else used the global RNG before.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.token_embedding = nn.Embedding(vocab_size, config.d_model)
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_blocks))
            self.final_norm = nn.LayerNorm(config.d_model) if config.norm == "pre" else None
            self.lm_head = nn.Linear(config.d_model, vocab_size)
        self.register_buffer("position", sinusoidal_table(config.context_length, config.d_model), persistent=False)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_rows(self, rows: torch.Tensor) -> None:
        if rows.dim() != 2 or rows.shape[1] == 0:
            raise ValueError(f"Expected token rows shaped [batch, positions], got {tuple(rows.shape)}.")
        if rows.shape[1] > self.config.context_length:
            raise ValueError(
                f"{rows.shape[1]} tokens do not fit the context of {self.config.context_length}; "
                f"crop to the last {self.config.context_length}."
            )

    def forward(self, rows: torch.Tensor, targets: torch.Tensor | None = None, knockout: ko.Knockout = ko.NONE):
        """Fast path. rows: [B, T] embedding rows. Returns (logits [B, T, V], loss or None).
        knockout: heads whose output is replaced, exactly as on the traced path."""
        self._check_rows(rows)
        knockout.check(self.config.num_blocks, self.config.num_heads)
        T = rows.shape[1]
        x = self.token_embedding(rows) + self.position[:T]
        x = F.dropout(x, self.config.dropout, self.training)
        for i, block in enumerate(self.blocks):
            x = block(x, knockout.of_block(i), knockout.mode)
        if self.final_norm is not None:
            x = self.final_norm(x)
        logits = self.lm_head(x)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    @torch.no_grad()
    def run_with_trace(self, rows: torch.Tensor, switches: Switches = Switches()) -> Trace:
        """Traced path: the same weights, every stage recorded (detached, on the CPU). Never uses dropout."""
        trace = self.trace_into(Trace(self.config), rows, switches)
        trace.seal()
        return trace

    def trace_into(self, trace, rows: torch.Tensor, s: Switches):
        """The traced path's arithmetic, recording into trace (`record(name, tensor)` returns the tensor the
        computation goes on with). run_with_trace records detached copies without gradients; minigpt.gradients
        records live tensors and differentiates the loss with respect to them."""
        self._check_rows(rows)
        s.knockout.check(self.config.num_blocks, self.config.num_heads)
        trace.switches = s
        T = rows.shape[1]
        tok = trace.record("embed.token", self.token_embedding(rows))  # [B, T, C]
        pos = trace.record("embed.position", self.position[:T])  # [T, C]
        x = trace.record("embed.sum", tok + pos if s.position else tok)
        for i, block in enumerate(self.blocks):
            x = block.traced(x, trace.recorder(f"blocks.{i}."), s, s.knockout.of_block(i))
        if self.final_norm is not None:
            x = trace.record("final.norm", self.final_norm(x) if s.layer_norm else x)
        logits = trace.record("logits", self.lm_head(x))  # [B, T, V]
        trace.record("probs", F.softmax(logits, dim=-1))
        return trace


def token_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each position against its true next token: [B, T]."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none").view(targets.shape)
