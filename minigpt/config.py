"""Hyperparameters as small frozen dataclasses, validated once with messages a student understands.

Change a config with `dataclasses.replace(config, d_model=128)`; the new object is validated again.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .text import TextError

NORM_PLACEMENTS = ("post", "pre")  # post: the notebook (add, then LayerNorm); pre: the tutorial's training script
VOCAB_MODES = ("compact", "full", "char")  # compact/full: cl100k token ids; char: one id per character
DEVICES = ("auto", "cpu", "cuda", "mps")
LR_SCHEDULES = ("constant", "cosine")

# Upper bounds keep a typo from allocating gigabytes (a whole class shares one server).
MAX_CONTEXT_LENGTH = 1024
MAX_D_MODEL = 1024
MAX_HEADS = 64
MAX_BLOCKS = 24
MAX_FFN_MULT = 8
MAX_BATCH_SIZE = 512
MAX_STEPS = 1_000_000
MAX_PARAMETERS = 300_000_000


class ConfigError(TextError, ValueError):
    """A hyperparameter value that cannot work, with a message meant for the person who typed it (error.config_*)."""


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("error.config_whole_number", name=name, value=repr(value))
    if value < low:
        raise ConfigError("error.config_at_least", name=name, low=low, value=value)
    if value > high:
        raise ConfigError("error.config_too_large", name=name, value=value, high=high)


def _check_float(name: str, value, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError("error.config_number", name=name, value=repr(value))
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        left, right = ("(" if low_open else "["), (")" if high_open else "]")
        raise ConfigError("error.config_range", name=name, left=left, low=low, high=high, right=right, value=value)


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError("error.config_choice", name=name, choices=", ".join(choices), value=repr(value))


@dataclass(frozen=True)
class ModelConfig:
    context_length: int = 16   # tokens the model sees at once (the notebook's context_length)
    d_model: int = 64          # width of every token vector
    num_heads: int = 4         # attention heads; each gets d_model // num_heads dimensions (d_k)
    num_blocks: int = 1        # the notebook walks one block by hand
    ffn_mult: int = 4          # FFN hidden width = ffn_mult * d_model
    dropout: float = 0.0       # the notebook has none; the tutorial's training script uses 0.1
    norm: str = "post"         # "post" or "pre"
    qkv_bias: bool = True      # nn.Linear's default (the notebook); the tutorial's script has no bias
    vocab: str = "compact"     # "compact", "full" or "char"
    seed: int = 1337           # same seed, same weights, on every machine

    def __post_init__(self) -> None:
        _check_int("context_length", self.context_length, 1, MAX_CONTEXT_LENGTH)
        _check_int("d_model", self.d_model, 2, MAX_D_MODEL)
        _check_int("num_heads", self.num_heads, 1, MAX_HEADS)
        _check_int("num_blocks", self.num_blocks, 1, MAX_BLOCKS)
        _check_int("ffn_mult", self.ffn_mult, 1, MAX_FFN_MULT)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_float("dropout", self.dropout, 0.0, 1.0, high_open=True)
        _check_choice("norm", self.norm, NORM_PLACEMENTS)
        _check_choice("vocab", self.vocab, VOCAB_MODES)
        if not isinstance(self.qkv_bias, bool):
            raise ConfigError("error.config_qkv_bias", value=repr(self.qkv_bias))
        if self.d_model % 2:
            raise ConfigError("error.config_d_model_odd", d_model=self.d_model)
        if self.d_model % self.num_heads:
            raise ConfigError("error.config_heads_divide", d_model=self.d_model, num_heads=self.num_heads,
                              suggest=self._nearest_divisible())

    def _nearest_divisible(self) -> int:
        step = self.num_heads * 2 // _gcd(self.num_heads, 2)
        return max(step, round(self.d_model / step) * step)

    @property
    def d_k(self) -> int:
        """Dimensions per head."""
        return self.d_model // self.num_heads

    @property
    def d_ffn(self) -> int:
        return self.ffn_mult * self.d_model

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        return _from_dict(cls, data)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 4          # the notebook's batch
    learning_rate: float = 1e-3  # AdamW
    steps: int = 500
    eval_interval: int = 50      # evaluate train/validation loss every N steps
    eval_batches: int = 10       # batches averaged per evaluation
    device: str = "auto"         # auto picks cuda, then mps, then cpu
    grad_clip: float = 1.0       # 0 turns clipping off
    weight_decay: float = 0.01
    warmup_steps: int = 0
    lr_schedule: str = "constant"  # or "cosine" (decays to 10% after warm-up)
    seed: int = 1337             # batch order

    def __post_init__(self) -> None:
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_float("learning_rate", self.learning_rate, 0.0, 10.0, low_open=True)
        _check_int("steps", self.steps, 1, MAX_STEPS)
        _check_int("eval_interval", self.eval_interval, 1, MAX_STEPS)
        _check_int("eval_batches", self.eval_batches, 1, 1000)
        _check_choice("device", self.device, DEVICES)
        _check_float("grad_clip", self.grad_clip, 0.0, 1e6)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_int("warmup_steps", self.warmup_steps, 0, MAX_STEPS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_int("seed", self.seed, 0, 2**31 - 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return _from_dict(cls, data)


def _from_dict(cls, data: dict):
    """Build a config from untrusted data (a checkpoint, a URL): unknown keys and wrong types are ConfigErrors."""
    if not isinstance(data, dict):
        raise ConfigError("error.config_not_object", cls=cls.__name__, got=type(data).__name__)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in data if k not in known)  # str(): keys may mix types
    if unknown:
        raise ConfigError("error.config_unknown_setting", cls=cls.__name__, names=", ".join(unknown))
    return cls(**data)


def parameter_count(config: ModelConfig, vocab_size: int) -> int:
    """Number of trainable parameters of a MiniGPT with this config (matches model.num_parameters())."""
    d, f = config.d_model, config.d_ffn
    attn = d * 3 * d + (3 * d if config.qkv_bias else 0) + d * d + d
    ffn = d * f + f + f * d + d
    norms = 2 * 2 * d
    per_block = attn + ffn + norms
    final_norm = 2 * d if config.norm == "pre" else 0
    return vocab_size * d + config.num_blocks * per_block + final_norm + d * vocab_size + vocab_size


def check_size(config: ModelConfig, vocab_size: int, limit: int = MAX_PARAMETERS) -> None:
    """Refuse models too big for a shared CPU, before any memory is allocated."""
    n = parameter_count(config, vocab_size)
    if n > limit:
        raise ConfigError("error.config_too_many_parameters", n=n, limit=limit)
