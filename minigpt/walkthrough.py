"""What the app's shared controls mean, independent of Streamlit: the controls as data, their URL
form (so a lecturer can share a link), and the input batch the walkthrough pages look at.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Mapping

import torch

from . import corpus as corpora
from .config import NORM_PLACEMENTS, VOCAB_MODES, ConfigError, ModelConfig
from .sampling import InputError, tokenize
from .text import LANGUAGES, message, t
from .tokenizer import Vocabulary

DEFAULT_TEXT = "The customer wants to build trust, so listen first and then explain the value."
CORPORA = ("builtin", "sales", "paste", "upload")
SOURCES = ("text", "batch")      # the user's own text, or a random batch from the corpus (the notebook)
MODELS = ("bundled", "fresh", "trained", "loaded")  # bundled: trained on the sales textbook, shipped (minigpt.bundled)
ARCHITECTURE = ("context_length", "d_model", "num_heads", "num_blocks", "norm", "vocab", "seed")  # the fresh model's
MAX_TEXT_CHARS = 5_000           # the input box; only the last context_length tokens are used anyway
MAX_BATCH_ROWS = 16              # the walkthrough shows one row at a time; more is waste


@dataclass(frozen=True)
class Controls:
    """Every shared sidebar control. Defaults are the notebook's hyperparameters."""

    lang: str = "en"
    corpus: str = "builtin"
    source: str = "text"
    text: str = DEFAULT_TEXT
    model: str = "bundled"  # the app opens on the bundled trained model; "fresh" is the notebook's random start
    context_length: int = 16
    d_model: int = 64
    num_heads: int = 4
    num_blocks: int = 1
    norm: str = "post"
    vocab: str = "compact"
    seed: int = 1337
    batch_size: int = 4
    batch_seed: int = 1337     # which rows a corpus batch draws: its own seed, so a new batch keeps the weights

    def model_config(self) -> ModelConfig:
        """The fresh model's config (the architecture controls); raises ConfigError with a student-readable message."""
        return ModelConfig(context_length=self.context_length, d_model=self.d_model, num_heads=self.num_heads,
                           num_blocks=self.num_blocks, norm=self.norm, vocab=self.vocab, seed=self.seed)


# URL parameter -> (field, allowed). Short names keep shared links readable.
_CHOICES = {"lang": LANGUAGES, "corpus": CORPORA, "source": SOURCES, "model": MODELS,
            "norm": NORM_PLACEMENTS, "vocab": VOCAB_MODES}
_INT_RANGES = {"context_length": (1, 256), "d_model": (2, 512), "num_heads": (1, 16), "num_blocks": (1, 8),
               "seed": (0, 2**31 - 1), "batch_size": (1, MAX_BATCH_ROWS), "batch_seed": (0, 2**31 - 1)}
URL_NAMES = {"lang": "lang", "corpus": "corpus", "source": "source", "text": "text", "model": "model",
             "ctx": "context_length", "d": "d_model", "heads": "num_heads", "blocks": "num_blocks", "norm": "norm",
             "vocab": "vocab", "seed": "seed", "batch": "batch_size", "bseed": "batch_seed"}
FIELD_URL = {f: u for u, f in URL_NAMES.items()}
CONTROL_RANGES = _INT_RANGES


class _BadValue(ValueError):
    def __init__(self, kind: str, **values):
        super().__init__(kind)
        self.kind, self.values = kind, values

    def text(self, lang: str) -> str:
        return t(f"url.{self.kind}", lang, **self.values)


def _parse(name: str, raw: str):
    """One URL value, or raise _BadValue with the reason."""
    if name in _CHOICES:
        if raw not in _CHOICES[name]:
            raise _BadValue("choice", options=", ".join(_CHOICES[name]))
        return raw
    if name in _INT_RANGES:
        low, high = _INT_RANGES[name]
        # ASCII digits only: int() also takes "1_0" and "٣٢", and 5000 digits overflow its limit.
        if not re.fullmatch(r"\s*-?[0-9]{1,12}\s*", raw):
            raise _BadValue("number")
        value = int(raw)
        if not low <= value <= high:
            raise _BadValue("range", low=low, high=high)
        return value
    if name == "text":
        if len(raw) > MAX_TEXT_CHARS:
            raise _BadValue("long", n=MAX_TEXT_CHARS)
        return raw
    raise KeyError(name)


def from_query(params: Mapping[str, object]) -> tuple[Controls, list[str]]:
    """Controls from URL parameters. Anything invalid falls back to its default and yields a notice.

    Parameters that name no control are left to the pages (stage, block, head...) or ignored without a notice:
    links shared through chat apps and course platforms pick up tracking parameters (utm_source, fbclid).
    No parameter can name a file or a path.
    """
    values, notices = {}, []
    params = {key: (raw[-1] if raw else "") if isinstance(raw, (list, tuple)) else raw for key, raw in params.items()}
    lang = params.get("lang") if params.get("lang") in LANGUAGES else "en"  # the notices speak the link's language
    for key, raw in params.items():
        field_name = URL_NAMES.get(key)
        if field_name is None:
            continue  # page-level parameters (stage, block, head...) are read by their page
        try:
            values[field_name] = _parse(field_name, str(raw))
        except _BadValue as bad:
            notices.append(t("url.bad", lang, key=key, raw=repr(str(raw)[:40]), why=bad.text(lang)))
    if "model" not in values and any(FIELD_URL[f] in params for f in ARCHITECTURE):
        values["model"] = "fresh"  # a link from before the bundled model that sets an architecture meant fresh weights
    controls = Controls(**values)
    try:
        controls.model_config()
    except ConfigError as exc:  # each value valid alone, but not together (d_model 60 with 8 heads)
        notices.append(t("url.together", lang, why=message(exc, lang)))
        defaults = Controls()
        controls = dataclasses.replace(controls, **{f: getattr(defaults, f) for f in _INT_RANGES if f not in ("batch_size", "batch_seed")})
    return controls, notices


def to_query(controls: Controls) -> dict[str, str]:
    """URL parameters for the non-default controls (a short link for the defaults)."""
    defaults = Controls()
    return {FIELD_URL[f.name]: str(getattr(controls, f.name)) for f in dataclasses.fields(Controls)
            if getattr(controls, f.name) != getattr(defaults, f.name)}


def parse_page_param(raw, allowed: range | tuple) -> object | None:
    """A page-level URL value (block, head, stage...) if allowed, else None."""
    if isinstance(raw, (list, tuple)):
        raw = raw[-1] if raw else None
    if raw is None:
        return None
    if isinstance(allowed, range):
        try:  # "²" is a digit to str.isdigit but not to int(); 5000 digits overflow int()'s limit
            value = int(str(raw).strip()) if str(raw).strip().isdecimal() else None
        except ValueError:
            return None
        return value if value in allowed else None
    return raw if raw in allowed else None


@dataclass(frozen=True)
class WalkInput:
    """The batch the walkthrough pages look at, with everything needed to label it."""

    rows: torch.Tensor                     # [B, T] embedding rows
    targets: torch.Tensor | None           # [B, T] rows of the true next tokens (corpus batches only)
    token_ids: tuple[tuple[int, ...], ...]  # [B][T] cl100k ids (or code points)
    known: tuple[tuple[bool, ...], ...]     # False where the token uses <unk>
    target_ids: tuple[tuple[int, ...], ...] | None
    starts: tuple[int, ...] = ()            # where each corpus row starts in the training split
    notices: tuple[str, ...] = field(default_factory=tuple)

    @property
    def batch_size(self) -> int:
        return self.rows.shape[0]

    @property
    def length(self) -> int:
        return self.rows.shape[1]


def text_input(vocab: Vocabulary, text: str, context_length: int, lang: str = "en", *,
               unknown_key: str = "input.unknown") -> WalkInput:
    """The user's own text: one batch row of its last context_length tokens (notices in lang; unknown_key: the
    notice for tokens that read as <unk>, worded for the model on screen)."""
    if len(text) > MAX_TEXT_CHARS:
        text = text[-MAX_TEXT_CHARS:]
    tokens = tokenize(vocab, text, context_length)
    notices = []
    if tokens.dropped:
        notices.append(t("input.dropped", lang, total=tokens.dropped + len(tokens.ids), ctx=context_length, dropped=tokens.dropped))
    typed = sum(vocab.is_typed(i) for i in tokens.ids)
    if typed:  # a fresh model's vocabulary extended by this text (minigpt.typed)
        notices.append(t("input.typed", lang, n=typed))
    if tokens.unknown_count:
        notices.append(t(unknown_key, lang, n=tokens.unknown_count))
    if len(tokens.ids) == 1:
        notices.append(t("input.one", lang))
    return WalkInput(rows=torch.tensor([tokens.rows]), targets=None, token_ids=(tokens.ids,),
                     known=(tokens.known,), target_ids=None, notices=tuple(notices))


def batch_input(vocab: Vocabulary, corpus_rows: torch.Tensor, context_length: int, batch_size: int,
                seed: int) -> WalkInput:
    """The notebook's random batch from the training split: x and the targets y shifted by one."""
    train, _ = corpora.split(corpus_rows)
    corpora.check_length(train, context_length, "walk")
    x, y, starts = corpora.get_batch(train, batch_size, context_length, torch.Generator().manual_seed(seed))
    ids = tuple(tuple(vocab.token_ids(r.tolist())) for r in x)
    target_ids = tuple(tuple(vocab.token_ids(r.tolist())) for r in y)
    return WalkInput(rows=x, targets=y, token_ids=ids, known=tuple(tuple(True for _ in r) for r in ids),
                     target_ids=target_ids, starts=tuple(int(s) for s in starts))


def make_input(controls: Controls, vocab: Vocabulary, corpus_rows: torch.Tensor | None, context_length: int, *,
               unknown_key: str = "input.unknown") -> WalkInput:
    """The walkthrough's input for these controls; InputError/CorpusError carry readable messages."""
    if controls.source == "batch":
        if corpus_rows is None:
            raise InputError("error.input_no_corpus")
        return batch_input(vocab, corpus_rows, context_length, controls.batch_size, controls.batch_seed)
    return text_input(vocab, controls.text, context_length, controls.lang, unknown_key=unknown_key)


__all__ = ["Controls", "WalkInput", "from_query", "to_query", "make_input", "text_input", "batch_input",
           "parse_page_param", "DEFAULT_TEXT", "InputError", "ConfigError"]
