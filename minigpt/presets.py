"""Named training setups: a (ModelConfig, TrainConfig) pair, described in the text catalogue (preset.<name>).

    from minigpt import presets
    preset = presets.get("lecture")
    preset.model, preset.train, preset.description("zh")
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import ConfigError, ModelConfig, TrainConfig
from .text import t


@dataclass(frozen=True)
class Preset:
    name: str
    model: ModelConfig
    train: TrainConfig
    text_key: str | None = None  # its description's key; None: preset.<name>

    def description(self, lang: str = "en") -> str:
        """One line on what this preset is for (the catalogue's preset.<name>, or text_key)."""
        return t(self.text_key or f"preset.{self.name}", lang)


# What every preset shares unless it says otherwise (the notebook's d_model 64, 4 heads and seed 1337).
_MODEL = dict(d_model=64, num_heads=4, ffn_mult=4, dropout=0.0, norm="pre", qkv_bias=True, vocab="compact", seed=1337)
_TRAIN = dict(eval_interval=50, eval_batches=10, grad_clip=1.0, weight_decay=0.01, seed=1337)


def _preset(name: str, model: dict, train: dict, text_key: str | None = None) -> Preset:
    return Preset(name, ModelConfig(**(_MODEL | model)), TrainConfig(**(_TRAIN | train)), text_key)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    # The tutorial's companion training script, value for value.
    _preset("tutorial", dict(context_length=16, num_blocks=8, dropout=0.1, qkv_bias=False, vocab="full"),
            dict(batch_size=4, learning_rate=1e-3, steps=5000, eval_batches=20, grad_clip=0.0, warmup_steps=0,
                 lr_schedule="constant")),
    # Measured on a 2-core CPU: the loss visibly falls (about 8 to 5 on the sales textbook) in well under a minute.
    _preset("lecture", dict(context_length=32, num_blocks=2),
            dict(batch_size=16, learning_rate=3e-3, steps=300, warmup_steps=20, lr_schedule="cosine")),
    # The lecture model on the built-in primer (7k tokens, offline): at 300 steps it overfits (validation loss
    # lowest near step 100, 6.00, then 6.49 at 300); cosine-decayed over 120 steps its validation loss still falls
    # at the last evaluation (README, "Offline preset"). Evaluated every 10 steps: a curve to watch.
    _preset("offline", dict(context_length=32, num_blocks=2),
            dict(batch_size=16, learning_rate=3e-3, steps=120, eval_interval=10, warmup_steps=20,
                 lr_schedule="cosine"), text_key="trainlive.preset_offline"),
    # The notebook's own numbers: one post-LN block, batch 4, context 16, d_model 64, 4 heads.
    _preset("notebook", dict(context_length=16, num_blocks=1, norm="post"),
            dict(batch_size=4, learning_rate=1e-3, steps=500)),
    # Best time-to-quality found on a 2-core CPU (see README, "Training from the terminal"): on the sales textbook
    # (78k compact tokens) longer runs overfit (600 steps: val 4.71 vs 4.52 at 300) and dropout 0.1 was worse at
    # 300 steps (4.59); a wider model beats the lecture one per second.
    _preset("fast-cpu", dict(context_length=64, d_model=128, num_blocks=2),
            dict(batch_size=32, learning_rate=3e-3, steps=300, weight_decay=0.1, warmup_steps=30, lr_schedule="cosine")),
)}


def names() -> list[str]:
    return list(PRESETS)


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError("error.config_preset_unknown", name=repr(name), choices=", ".join(PRESETS)) from None


# The model fields the app's sidebar shows (walkthrough.Controls has a field of the same name for each): Start on
# the Train page copies these from a preset into the sidebar, so the sidebar shows the architecture it trains.
SIDEBAR_FIELDS = ("context_length", "d_model", "num_heads", "num_blocks", "norm", "vocab", "seed")


def sidebar_changes(shown, config: ModelConfig) -> list[tuple[str, object, object]]:
    """(field, shown value, config's value) for every sidebar field where `shown` (an object with those
    attributes, e.g. walkthrough.Controls) differs from `config`; [] when the sidebar shows this model."""
    return [(name, getattr(shown, name), getattr(config, name)) for name in SIDEBAR_FIELDS
            if getattr(shown, name) != getattr(config, name)]
