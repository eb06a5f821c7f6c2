"""Which words fit what is on screen (pure: no Streamlit; the words themselves live in the text catalogue).

* `banner(kind, lang, ...)`: the line every chapter opens with, saying which model the page shows. The text is
  the catalogue key `banner.<kind>` (fresh, trained, loaded; a new kind is one more key), its details (step,
  validation loss) filled in where the model's train state records them.
* `explanation_key(name, switches, model_kind)`: a stage's explanation chosen for the what-if switches and the
  model kind, so the text stays true for the numbers beside it: with the causal mask off the weights' upper
  triangle is not 0, and random weights get a text that describes their pattern instead of interpreting it.
"""
from __future__ import annotations

from typing import Callable

from .model import Switches
from .stages import spec_of
from .text import t

RANDOM_KINDS = frozenset({"fresh"})  # model kinds whose weights were never trained: their patterns mean nothing yet

# When an explanation variant applies: the switch that is off, or the weights that are random.
CONDITIONS: dict[str, Callable[[Switches, str | None], bool]] = {
    "no_mask": lambda s, kind: not s.causal_mask,
    "no_scale": lambda s, kind: not s.scale,
    "no_residual": lambda s, kind: not s.residual,
    "no_layer_norm": lambda s, kind: not s.layer_norm,
    "random": lambda s, kind: kind in RANDOM_KINDS,
}
# Stage key -> its variants, the first that applies wins. A switch variant comes first: it describes (never
# interprets) what the switch changed, so it is true for random weights too. Each is `stage_variant.<key>.<variant>`.
VARIANTS: dict[str, tuple[str, ...]] = {
    "attn.scores": ("no_scale", "random"),
    "attn.mask": ("no_mask",),
    "attn.masked": ("no_mask",),
    "attn.weights": ("no_mask", "random"),
    "resid1": ("no_residual",),
    "resid2": ("no_residual",),
    "norm1": ("no_layer_norm",),
    "norm2": ("no_layer_norm",),
    "final.norm": ("no_layer_norm",),
    "probs": ("random",),
}


def explanation_key(name: str, switches: Switches | None = None, model_kind: str | None = None) -> str:
    """The catalogue key of the explanation for stage `name` (e.g. `blocks.0.attn.weights`) as computed under
    switches (None: the real model) by a model of model_kind (None: not known, no random variant)."""
    spec = spec_of(name)
    s = switches if switches is not None else Switches()
    for variant in VARIANTS.get(spec.key, ()):
        if CONDITIONS[variant](s, model_kind):
            return f"stage_variant.{spec.key}.{variant}"
    return spec.text_key


def explanation(name: str, lang: str, switches: Switches | None = None, model_kind: str | None = None) -> str:
    return t(explanation_key(name, switches, model_kind), lang)


def val_loss_of(train_state) -> float | None:
    """The last validation loss a train state records (the Trainer's `evals`), or None."""
    evals = train_state.get("evals") if isinstance(train_state, dict) else None
    if not evals or not isinstance(evals[-1], dict):
        return None
    loss = evals[-1].get("val_loss")
    return float(loss) if isinstance(loss, (int, float)) and not isinstance(loss, bool) else None


def is_random(kind: str) -> bool:
    return kind in RANDOM_KINDS


def banner(kind: str, lang: str, *, seed: int | None = None, step: int | None = None,
           val_loss: float | None = None) -> str:
    """"This page shows ...": which model a chapter shows, with the facts known about it (step, validation loss)."""
    facts = []
    if step is not None:
        facts.append(t("banner.fact_step", lang, step=step))
    if val_loss is not None:
        facts.append(t("banner.fact_val_loss", lang, loss=val_loss))
    details = t("banner.facts", lang, facts=t("banner.fact_join", lang).join(facts)) if facts else ""
    return t(f"banner.{kind}", lang, seed=seed, details=details)
