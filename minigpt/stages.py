"""The one catalogue of stage names: what each recorded tensor is, its axes, and the code behind it.

Names follow TransformerLens's habit of naming every activation by where it lives:
`embed.token`, `blocks.0.attn.weights`, `final.norm`, `logits`. Per-block stages are written
here without their `blocks.{i}.` prefix. The model may only record names from this catalogue,
and a golden test lists them all, so a renamed stage can never silently break a page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Mapping

import torch


@dataclass(frozen=True)
class StageSpec:
    key: str                  # name without the block prefix, e.g. "attn.weights"
    per_block: bool
    axes: tuple[str, ...]
    title: str
    title_zh: str
    code_post: str            # code as the notebook writes it (post-LN)
    code_pre: str = ""        # pre-LN variant where it differs

    def code(self, norm: str) -> str:
        return self.code_pre if norm == "pre" and self.code_pre else self.code_post


BTC = ("batch", "position", "d_model")
BHTD = ("batch", "head", "position", "d_k")
BHQK = ("batch", "head", "query", "key")

_SPECS = [
    StageSpec("embed.token", False, BTC, "Token embedding", "词嵌入",
              "x = token_embedding(rows)          # nn.Embedding(vocab_size, d_model)"),
    StageSpec("embed.position", False, ("position", "d_model"), "Sinusoidal positional encoding", "正弦位置编码",
              "pe[:, 0::2] = torch.sin(position * div_term)\npe[:, 1::2] = torch.cos(position * div_term)"),
    StageSpec("embed.sum", False, BTC, "Embedding + position", "嵌入 + 位置", "x = x + pe[:T]"),
    StageSpec("attn.q", True, BHTD, "Queries Q (split into heads)", "查询 Q（按头拆分）",
              "Q = Wq(x).view(B, T, num_heads, d_k).transpose(1, 2)"),
    StageSpec("attn.k", True, BHTD, "Keys K (split into heads)", "键 K（按头拆分）",
              "K = Wk(x).view(B, T, num_heads, d_k).transpose(1, 2)"),
    StageSpec("attn.v", True, BHTD, "Values V (split into heads)", "值 V（按头拆分）",
              "V = Wv(x).view(B, T, num_heads, d_k).transpose(1, 2)"),
    StageSpec("attn.scores", True, BHQK, "Scaled scores Q·Kᵀ/√d_k", "缩放点积 Q·Kᵀ/√d_k",
              "scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)"),
    StageSpec("attn.mask", True, ("query", "key"), "Causal mask", "因果掩码",
              "mask = torch.triu(torch.ones(T, T), diagonal=1).bool()"),
    StageSpec("attn.masked", True, BHQK, "Masked scores", "掩码后的分数",
              "scores = scores.masked_fill(mask, float('-inf'))"),
    StageSpec("attn.weights", True, BHQK, "Attention weights (softmax)", "注意力权重（softmax）",
              "weights = F.softmax(scores, dim=-1)"),
    StageSpec("attn.mixed", True, BHTD, "Weights @ V", "权重 @ V", "A = weights @ V"),
    StageSpec("attn.concat", True, BTC, "Heads concatenated", "拼接各头",
              "A = A.transpose(1, 2).reshape(B, T, d_model)"),
    StageSpec("attn.out", True, BTC, "Output projection Wo", "输出投影 Wo", "attn_out = Wo(A)"),
    StageSpec("resid1", True, BTC, "Residual 1", "残差连接 1",
              "x = x + attn_out", "x = x + attn_out        # x: the block's input"),
    StageSpec("norm1", True, BTC, "LayerNorm 1", "层归一化 1",
              "x = norm1(x)", "h = norm1(x)            # before attention"),
    StageSpec("ffn.hidden", True, ("batch", "position", "d_ffn"), "FFN hidden layer", "前馈网络隐藏层",
              "hidden = nn.Linear(d_model, 4 * d_model)(x)", "hidden = nn.Linear(d_model, 4 * d_model)(h)"),
    StageSpec("ffn.relu", True, ("batch", "position", "d_ffn"), "FFN after ReLU", "ReLU 之后",
              "hidden = F.relu(hidden)"),
    StageSpec("ffn.out", True, BTC, "FFN output", "前馈网络输出",
              "ffn_out = nn.Linear(4 * d_model, d_model)(hidden)"),
    StageSpec("resid2", True, BTC, "Residual 2", "残差连接 2", "x = x + ffn_out"),
    StageSpec("norm2", True, BTC, "LayerNorm 2", "层归一化 2",
              "x = norm2(x)", "h = norm2(x)            # before the FFN"),
    StageSpec("final.norm", False, BTC, "Final LayerNorm", "最终层归一化", "x = final_norm(x)"),
    StageSpec("logits", False, ("batch", "position", "vocab"), "Logits", "logits（未归一化分数）",
              "logits = nn.Linear(d_model, vocab_size)(x)"),
    StageSpec("probs", False, ("batch", "position", "vocab"), "Next-token probabilities", "下一个词的概率",
              "probs = F.softmax(logits, dim=-1)"),
]
CATALOGUE: dict[str, StageSpec] = {s.key: s for s in _SPECS}

_BLOCK_ORDER = {
    "post": ["attn.q", "attn.k", "attn.v", "attn.scores", "attn.mask", "attn.masked", "attn.weights",
             "attn.mixed", "attn.concat", "attn.out", "resid1", "norm1",
             "ffn.hidden", "ffn.relu", "ffn.out", "resid2", "norm2"],
    "pre": ["norm1", "attn.q", "attn.k", "attn.v", "attn.scores", "attn.mask", "attn.masked", "attn.weights",
            "attn.mixed", "attn.concat", "attn.out", "resid1", "norm2",
            "ffn.hidden", "ffn.relu", "ffn.out", "resid2"],
}
_BLOCK_NAME = re.compile(r"^blocks\.(\d+)\.(.+)$")


def stage_names(num_blocks: int, norm: str) -> list[str]:
    """Every stage a trace records, in the order the model computes them."""
    names = ["embed.token", "embed.position", "embed.sum"]
    for i in range(num_blocks):
        names += [f"blocks.{i}.{key}" for key in _BLOCK_ORDER[norm]]
    if norm == "pre":
        names.append("final.norm")
    return names + ["logits", "probs"]


def spec_of(name: str) -> StageSpec:
    """The catalogue entry of a full stage name such as `blocks.3.attn.weights`."""
    match = _BLOCK_NAME.match(name)
    key = match.group(2) if match else name
    spec = CATALOGUE.get(key)
    if spec is None or spec.per_block != bool(match):
        raise KeyError(f"unknown stage {name!r}")
    return spec


def block_of(name: str) -> int | None:
    match = _BLOCK_NAME.match(name)
    return int(match.group(1)) if match else None


class Trace(Mapping[str, torch.Tensor]):
    """Every stage of one run of the traced path: `trace["blocks.0.attn.weights"]` is a CPU tensor."""

    def __init__(self, config):
        self.config = config
        self._expected = stage_names(config.num_blocks, config.norm)
        self._tensors: dict[str, torch.Tensor] = {}
        # Set by whoever caches this trace (the app: model, input and switches), so views of it can be cached
        # too; None means "do not cache anything built from it".
        self.cache_key: tuple | None = None

    def record(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        if name not in self._expected:
            raise KeyError(f"stage {name!r} is not in the catalogue for this model")
        if name in self._tensors:
            raise KeyError(f"stage {name!r} recorded twice")
        self._tensors[name] = tensor.detach().to("cpu", copy=True)
        return tensor

    def recorder(self, prefix: str):
        return lambda key, tensor: self.record(prefix + key, tensor)

    def seal(self) -> None:
        missing = [n for n in self._expected if n not in self._tensors]
        if missing:
            raise RuntimeError(f"trace is missing stages: {missing}")

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._tensors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._expected)

    def __len__(self) -> int:
        return len(self._tensors)

    def spec(self, name: str) -> StageSpec:
        return spec_of(name)

    def code(self, name: str) -> str:
        return spec_of(name).code(self.config.norm)

    def shape_label(self, name: str) -> str:
        """For example `[batch 4, head 4, position 16, d_k 16]`."""
        axes = spec_of(name).axes
        dims = self._tensors[name].shape
        return "[" + ", ".join(f"{axis} {size}" for axis, size in zip(axes, dims)) + "]"
