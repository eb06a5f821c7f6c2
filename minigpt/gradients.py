"""Gradients: which way training would push every number the model computes.

`stage_gradients` runs the traced path with gradients on (the same arithmetic as `run_with_trace`, recorded
live), takes the cross-entropy of one position against a target token (the true next token, or one a student
picks) and returns ∂loss/∂stage for every stage, with the stage names and shapes of the forward views. A
positive number means "making this number bigger makes the loss bigger": a training step moves it down.
`layer_norms` is the size of the gradient that reaches the residual stream after the embedding and after each
block: with the residual connections switched off, far less of it reaches the embedding.

`torch.autograd.grad` is used (not `.backward()`), so no parameter's `.grad` changes: the shared models the
pages read stay untouched. A test checks these gradients against autograd on the fast path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

import torch
import torch.nn.functional as F

from .lens import layer_stages
from .model import Switches
from .stages import stage_names, spec_of

NO_GRADIENT = ("embed.position", "attn.mask")  # a fixed table and a boolean mask: nothing to differentiate


class _Live:
    """A recorder for MiniGPT.trace_into that keeps the live tensors (the graph) instead of detached copies."""

    def __init__(self, config):
        self.config = config
        self.switches = None
        self.tensors: dict[str, torch.Tensor] = {}

    def record(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        if name == "embed.token":  # the graph's root: gradients flow even where the weights are frozen
            tensor = tensor.detach().requires_grad_(True)
        self.tensors[name] = tensor
        return tensor

    def recorder(self, prefix: str):
        return lambda key, tensor: self.record(prefix + key, tensor)


def _differentiable(names) -> list[str]:
    return [n for n in names if spec_of(n).key not in NO_GRADIENT]


@dataclass
class Gradients(Mapping[str, torch.Tensor]):
    """∂loss/∂stage for every differentiable stage of one run: `grads["blocks.0.attn.weights"]`, shaped like the
    stage. loss: the cross-entropy it differentiates; position/target: whose loss (None: the mean over positions)."""

    config: object
    switches: Switches
    loss: float
    position: int | None
    target: int | None
    batch: int
    tensors: dict

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    def shape_label(self, name: str) -> str:
        axes = spec_of(name).axes
        return "[" + ", ".join(f"{a} {d}" for a, d in zip(axes, self.tensors[name].shape)) + "]"

    def norm(self, name: str) -> float:
        """‖∂loss/∂stage‖ over the batch row differentiated (other rows' gradients are 0)."""
        t = self.tensors[name]
        return float(t[self.batch].norm() if spec_of(name).axes[0] == "batch" else t.norm())


def stage_gradients(model, rows: torch.Tensor, *, batch: int = 0, position: int | None = None,
                    target: int | torch.Tensor | None = None, switches: Switches = Switches()) -> Gradients:
    """∂loss/∂stage for every differentiable stage. loss = cross-entropy of batch row `batch`:
    at `position` against the vocabulary row `target` (an int), or, with position None, the mean over positions
    against `target`, a [T] tensor of next-token rows."""
    T = rows.shape[1]
    if not 0 <= batch < rows.shape[0]:
        raise ValueError(f"Batch row {batch} does not exist: the batch has {rows.shape[0]} rows.")
    if target is None:
        raise ValueError("A gradient needs a target: the true next token or one you pick.")
    live = _Live(model.config)
    with torch.enable_grad():
        model.trace_into(live, rows, switches)
        logits = live.tensors["logits"][batch]  # [T, V]
        if position is None:
            loss = F.cross_entropy(logits.float(), torch.as_tensor(target).reshape(-1).long())
        else:
            if not 0 <= position < T:
                raise ValueError(f"Position {position} does not exist: the input has {T} tokens.")
            if not 0 <= int(target) < logits.shape[-1]:
                raise ValueError(f"Token row {target} does not exist: the vocabulary has {logits.shape[-1]} rows.")
            loss = F.cross_entropy(logits[position].float().unsqueeze(0), torch.tensor([int(target)]))
        names = _differentiable(stage_names(model.config.num_blocks, model.config.norm))
        names = [n for n in names if live.tensors[n].requires_grad]
        grads = torch.autograd.grad(loss, [live.tensors[n] for n in names], allow_unused=True)
    tensors = {n: (g if g is not None else torch.zeros_like(live.tensors[n])).detach().to("cpu", copy=True)
               for n, g in zip(names, grads)}
    return Gradients(model.config, switches, float(loss.detach()), position, None if position is None else int(target),
                     batch, tensors)


def layer_norms(grads: Gradients) -> list[tuple[str, float]]:
    """(stage, ‖∂loss/∂residual stream‖) after the embedding and after each block, in that order."""
    return [(name, grads.norm(name)) for name in layer_stages(grads.config)]


def sentence_layer_norms(model, rows: torch.Tensor, switches: Switches = Switches()) -> torch.Tensor:
    """The gradient norm per layer [layers] for one sentence's own next tokens (rows [1, T], T ≥ 2): the mean loss
    of positions 0 … T-2 against tokens 1 … T-1. Used by the Train page's snapshots."""
    if rows.shape[1] < 2:
        return torch.full((model.config.num_blocks + 1,), float("nan"))
    x, y = rows[:, :-1], rows[0, 1:]
    grads = stage_gradients(model, x, position=None, target=y, switches=switches)
    return torch.tensor([value for _, value in layer_norms(grads)])


MAP_POINTS = 300  # the most frequent tokens whose embedding rows a training snapshot keeps (the embedding map)


def snapshot_extras(model, sentence_rows: torch.Tensor, train_rows: torch.Tensor, vocab):
    """What a training snapshot keeps for "What it learned": (gradient norm per layer on the sentence [layers],
    the embedding rows of the MAP_POINTS most frequent training tokens [k, C], those rows [k]); CPU tensors."""
    from .embedding_map import frequent_rows

    norms = sentence_layer_norms(model, sentence_rows.to(next(model.parameters()).device))
    rows = frequent_rows(train_rows.cpu(), vocab.size, MAP_POINTS, exclude=(vocab.unk_row,))
    embedding = model.token_embedding.weight.detach()[rows.to(model.token_embedding.weight.device)]
    return norms.cpu(), embedding.float().cpu().clone(), rows
