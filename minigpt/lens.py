"""The logit lens: what the model would predict if it stopped after each block.

For every position and every layer (the embedding, then each block), the residual stream there goes through
what comes after the last block (the final LayerNorm where the model has one, then the output layer) and a
softmax. After the last block this *is* the model's own prediction (a test checks it, number for number);
earlier rows show how the prediction forms, block by block.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .stages import Trace


def layer_stages(config) -> list[str]:
    """The residual stream after the embedding and after each block: the stages the lens reads."""
    last = "norm2" if config.norm == "post" else "resid2"
    return ["embed.sum"] + [f"blocks.{i}.{last}" for i in range(config.num_blocks)]


@dataclass(frozen=True)
class LogitLens:
    stages: tuple[str, ...]         # the layer each row of the grid reads (embed.sum, blocks.0.norm2, ...)
    probs: torch.Tensor             # [layers, T, V] next-token probabilities of one batch row, layer by layer
    top_rows: torch.Tensor          # [layers, T] the most probable vocabulary row
    top_probs: torch.Tensor         # [layers, T] its probability
    targets: torch.Tensor | None    # [T] the true next tokens' rows (corpus input), else None
    target_probs: torch.Tensor | None  # [layers, T] the probability of the true next token
    target_ranks: torch.Tensor | None  # [layers, T] its rank: 1 = the top token

    @property
    def num_layers(self) -> int:
        return len(self.stages)


@torch.no_grad()
def logit_lens(model, trace: Trace, *, batch: int = 0, targets: torch.Tensor | None = None) -> LogitLens:
    """The lens for one batch row of a trace of this model (its what-if switches apply: no LayerNorm, no final
    LayerNorm). targets: that row's true next tokens [T], for their probability and rank."""
    stages = layer_stages(model.config)
    x = torch.stack([trace[name][batch] for name in stages])  # [layers, T, C]
    use_norm = model.final_norm is not None and (trace.switches is None or trace.switches.layer_norm)
    if use_norm:
        x = model.final_norm(x)
    probs = F.softmax(model.lm_head(x), dim=-1)  # [layers, T, V]
    top_probs, top_rows = probs.max(dim=-1)
    target_probs = target_ranks = None
    if targets is not None:
        targets = targets.reshape(-1).long()
        target_probs = probs.gather(-1, targets.view(1, -1, 1).expand(len(stages), -1, 1)).squeeze(-1)
        target_ranks = (probs > target_probs.unsqueeze(-1)).sum(dim=-1) + 1
    return LogitLens(tuple(stages), probs, top_rows, top_probs, targets, target_probs, target_ranks)
