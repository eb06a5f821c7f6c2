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

from .text import t


@dataclass(frozen=True)
class StageSpec:
    key: str                  # name without the block prefix, e.g. "attn.weights"
    per_block: bool
    axes: tuple[str, ...]
    code_post: str            # code as the notebook writes it (post-LN)
    code_pre: str = ""        # pre-LN variant where it differs

    def code(self, norm: str) -> str:
        return self.code_pre if norm == "pre" and self.code_pre else self.code_post

    def title(self, lang: str = "en") -> str:
        return t(f"stage_title.{self.key}", lang)

    @property
    def text_key(self) -> str:
        """The catalogue key of this stage's explanation."""
        return f"stage.{self.key}"

    @property
    def sign(self) -> str:
        """"probability" (0..1, rows sum to 1), "non_negative", "boolean" or "signed": fixes the colour scale."""
        return SIGNS.get(self.key, "signed")

    @property
    def chapter(self) -> str:
        """The walkthrough chapter (page) that shows this stage."""
        if self.key.startswith("embed."):
            return "embedding"
        if self.key.startswith("attn."):
            return "attention"
        return "output" if self.key in ("final.norm", "logits", "probs") else "block"


BTC = ("batch", "position", "d_model")
BHTD = ("batch", "head", "position", "d_k")
BHQK = ("batch", "head", "query", "key")

_SPECS = [
    StageSpec("embed.token", False, BTC,
              "x = token_embedding(rows)          # nn.Embedding(vocab_size, d_model)"),
    StageSpec("embed.position", False, ("position", "d_model"),
              "pe[:, 0::2] = torch.sin(position * div_term)\npe[:, 1::2] = torch.cos(position * div_term)"),
    StageSpec("embed.sum", False, BTC, "x = x + pe[:T]"),
    StageSpec("attn.q", True, BHTD,
              "Q = Wq(x).view(B, T, num_heads, d_k).transpose(1, 2)"),
    StageSpec("attn.k", True, BHTD,
              "K = Wk(x).view(B, T, num_heads, d_k).transpose(1, 2)"),
    StageSpec("attn.v", True, BHTD,
              "V = Wv(x).view(B, T, num_heads, d_k).transpose(1, 2)"),
    StageSpec("attn.scores", True, BHQK,
              "scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)"),
    StageSpec("attn.mask", True, ("query", "key"),
              "mask = torch.triu(torch.ones(T, T), diagonal=1).bool()"),
    StageSpec("attn.masked", True, BHQK,
              "scores = scores.masked_fill(mask, float('-inf'))"),
    StageSpec("attn.weights", True, BHQK,
              "weights = F.softmax(scores, dim=-1)"),
    StageSpec("attn.mixed", True, BHTD, "A = weights @ V"),
    StageSpec("attn.concat", True, BTC,
              "A = A.transpose(1, 2).reshape(B, T, d_model)"),
    StageSpec("attn.out", True, BTC, "attn_out = Wo(A)"),
    StageSpec("resid1", True, BTC,
              "x = x + attn_out", "x = x + attn_out        # x: the block's input"),
    StageSpec("norm1", True, BTC,
              "x = norm1(x)", "h = norm1(x)            # before attention"),
    StageSpec("ffn.hidden", True, ("batch", "position", "d_ffn"),
              "hidden = nn.Linear(d_model, 4 * d_model)(x)", "hidden = nn.Linear(d_model, 4 * d_model)(h)"),
    StageSpec("ffn.relu", True, ("batch", "position", "d_ffn"),
              "hidden = F.relu(hidden)"),
    StageSpec("ffn.out", True, BTC,
              "ffn_out = nn.Linear(4 * d_model, d_model)(hidden)"),
    StageSpec("resid2", True, BTC, "x = x + ffn_out"),
    StageSpec("norm2", True, BTC,
              "x = norm2(x)", "h = norm2(x)            # before the FFN"),
    StageSpec("final.norm", False, BTC, "x = final_norm(x)"),
    StageSpec("logits", False, ("batch", "position", "vocab"),
              "logits = nn.Linear(d_model, vocab_size)(x)"),
    StageSpec("probs", False, ("batch", "position", "vocab"),
              "probs = F.softmax(logits, dim=-1)"),
]
CATALOGUE: dict[str, StageSpec] = {s.key: s for s in _SPECS}
SIGNS = {"attn.weights": "probability", "probs": "probability", "ffn.relu": "non_negative", "attn.mask": "boolean"}
CHAPTERS = ("tokens", "embedding", "attention", "block", "output")  # the walkthrough's order

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


STEP_ENDS = ("tokens", "topk")  # lecture steps with no tensor of their own: the token chips, the top-k bars
# After the top-k, the Step page walks the "What it learned" views (ui/why_step.py); not parts of the model map.
WHY_STEPS = ("why.lens", "why.importance", "why.roles", "why.grads", "why.map")


def lecture_steps(num_blocks: int, norm: str) -> list[str]:
    """The one list of steps a lecture walks (the Step page, the model map): the tokens, every stage in the order
    the model computes it, the top-k. Extend it here and both follow."""
    return [STEP_ENDS[0], *stage_names(num_blocks, norm), STEP_ENDS[1]]


def step_chapter(step: str) -> str:
    """The chapter a lecture step belongs to (`tokens` ... `output`)."""
    if step in WHY_STEPS:
        return "why"
    return {"tokens": "tokens", "topk": "output"}.get(step) or spec_of(step).chapter


def step_label(step: str, lang: str = "en") -> str:
    """A lecture step for a person: a stage's label, or the title of the tokens / top-k step."""
    if step in WHY_STEPS:
        return t(f"why.step_{step.split('.')[1]}", lang)
    return t(f"step.{step}", lang) if step in STEP_ENDS else stage_label(step, lang)


def spec_of(name: str) -> StageSpec:
    """The catalogue entry of a full stage name such as `blocks.3.attn.weights`."""
    match = _BLOCK_NAME.match(name)
    key = match.group(2) if match else name
    spec = CATALOGUE.get(key)
    if spec is None or spec.per_block != bool(match):
        raise KeyError(f"unknown stage {name!r}")
    return spec


def inputs_of(name: str, names: list[str], norm: str) -> tuple[str, ...]:
    """What a residual add or a LayerNorm was computed from, as full stage names (the block's input is the
    stage before the block's first one in `names`, the model's stage order). A golden test checks these
    against the traced arithmetic (resid1 = input + attn.out, ...)."""
    block = block_of(name)
    key = spec_of(name).key
    if block is None:
        if key != "final.norm":
            raise KeyError(f"{name!r} is not a residual or a LayerNorm")
        return (f"blocks.{max(0, sum(n.endswith('.resid2') for n in names) - 1)}.resid2",)
    p = f"blocks.{block}."
    block_input = names[names.index(p + _BLOCK_ORDER[norm][0]) - 1]
    wiring = {
        "post": {"resid1": (block_input, p + "attn.out"), "norm1": (p + "resid1",),
                 "resid2": (p + "norm1", p + "ffn.out"), "norm2": (p + "resid2",)},
        "pre": {"norm1": (block_input,), "resid1": (block_input, p + "attn.out"),
                "norm2": (p + "resid1",), "resid2": (p + "resid1", p + "ffn.out")},
    }[norm]
    if key not in wiring:
        raise KeyError(f"{name!r} is not a residual or a LayerNorm")
    return wiring[key]


def stage_label(name: str, lang: str = "en") -> str:
    """A full stage name for a person: "Attention weights (softmax) · block 2"."""
    block = block_of(name)
    title = spec_of(name).title(lang)
    return title if block is None else f"{title} · {t('ui.block', lang)} {block}"


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
        self.switches = None  # the what-if Switches it was computed under (set by MiniGPT.run_with_trace)

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
        """The stage's code, true for this trace's what-if switches (minigpt/switch_code.py)."""
        from .switch_code import switched_code

        spec = spec_of(name)
        return switched_code(spec.key, spec.code(self.config.norm), getattr(self, "switches", None))

    def shape_label(self, name: str) -> str:
        """For example `[batch 4, head 4, position 16, d_k 16]`."""
        axes = spec_of(name).axes
        dims = self._tensors[name].shape
        return "[" + ", ".join(f"{axis} {size}" for axis, size in zip(axes, dims)) + "]"
