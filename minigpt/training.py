"""What the training loop is made of: its reports, the text it trains on, its learning-rate schedule, its
parameter groups and the random-number helpers that keep dropout reproducible. The loop is minigpt/trainer.py."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from . import corpus
from .config import ModelConfig, TrainConfig
from .text import TextError
from .tokenizer import Vocabulary, encode

COSINE_FLOOR = 0.1          # cosine decay ends at 10% of the peak learning rate (TrainConfig's comment)


class TrainingDiverged(TextError, RuntimeError):
    """The loss (or a gradient) became NaN or infinite; the weights are those of the last good step."""

    def __init__(self, key: str, /, **values):
        super().__init__(key, **values)
        self.step = values.get("step")


# -- reports ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepReport:
    step: int              # optimizer steps done, counting this one (1 .. total)
    loss: float            # training loss of this step's batch (mean over ranks under DDP)
    lr: float              # learning rate this step used
    tokens: int            # tokens seen so far (all ranks)
    elapsed: float         # seconds of training so far (pauses excluded)
    tokens_per_s: float    # tokens / time spent in optimizer steps (evaluations excluded)


@dataclass(frozen=True)
class EvalReport:
    step: int              # 0 = before training
    train_loss: float      # mean over eval_batches training batches
    val_loss: float        # mean over eval_batches validation batches
    elapsed: float


@dataclass(frozen=True)
class SampleReport:
    step: int
    prompt: str
    text: str              # the generated continuation only (without the prompt)


@dataclass(frozen=True)
class AttentionSnapshot:
    step: int
    weights: torch.Tensor  # [blocks, heads, T, T] attention weights on the fixed sentence (CPU, float32)
    # For "What it learned" (minigpt/gradients.snapshot_extras): the gradient norm per layer [blocks + 1] for the
    # sentence's own next tokens, and the embedding rows of the most frequent training tokens [k, d_model].
    grad_norms: torch.Tensor | None = None
    embedding: torch.Tensor | None = None
    embedding_rows: torch.Tensor | None = None  # [k] which vocabulary rows those are


EVENTS = ("step", "eval", "sample", "attention")


# -- data -------------------------------------------------------------------------------------------
def prepare(text: str, model_config: ModelConfig) -> tuple[Vocabulary, torch.Tensor]:
    """The vocabulary of text (model_config.vocab mode) and the text as a 1-D LongTensor of embedding rows."""
    ids = encode(text, model_config.vocab)
    if not ids:
        raise corpus.CorpusError("error.corpus_no_text")
    vocab = Vocabulary.from_ids(ids, model_config.vocab)
    return vocab, corpus.rows_of(ids, vocab)


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warm-up, then constant or cosine to 10%."""
    peak = config.learning_rate
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return peak
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return peak * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on the Linear layers' weight matrices only.

    Biases and LayerNorm gains are offsets and scales, not interactions, and pulling them to zero
    only hurts (minGPT's rule). Embedding rows are left alone too: with a compact vocabulary many
    tokens are rare, and decay would shrink a rare token's row every step while it gets a gradient
    only when the token shows up, erasing what the model learned about it.
    """
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            (decay if isinstance(module, nn.Linear) and name == "weight" else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def rng_state(device: torch.device) -> torch.Tensor:
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.mps.get_rng_state()
    return torch.get_rng_state()


def set_rng_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(state)
    else:
        torch.set_rng_state(state)


def dropout_rng_state(device: torch.device, seed: int) -> torch.Tensor:
    saved = rng_state(device)
    try:
        if device.type == "cuda":
            torch.cuda.manual_seed(seed)
        elif device.type == "mps":
            torch.mps.manual_seed(seed)
        else:
            torch.manual_seed(seed)
        return rng_state(device)
    finally:
        set_rng_state(device, saved)


def distributed_rank() -> tuple[int, int]:
    """(rank, world_size) of an initialised process group, else (0, 1)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
