"""minigpt: a small GPT-style decoder whose every stage can be looked at.

    from minigpt import ModelConfig, Vocabulary, MiniGPT, corpus, tokenize
    text = corpus.builtin().text
    vocab = Vocabulary.from_text(text, "compact")
    model = MiniGPT(ModelConfig(), vocab.size)
    trace = model.run_with_trace(torch.tensor([tokenize(vocab, "Build trust", 16).rows]))
    trace["blocks.0.attn.weights"]   # [batch 1, head 4, query 3, key 3]

Names are imported on first use (PEP 562): `import minigpt` and the tokenizer load in a fraction of a
second, and torch (about 1.5 s to import) is imported only by what needs it.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> the submodule that defines it ("" : the name is the submodule itself)
_EXPORTS = {
    "checkpoint": "", "corpus": "", "devices": "",
    "ConfigError": "config", "ModelConfig": "config", "TrainConfig": "config", "parameter_count": "config",
    "MiniGPT": "model", "Switches": "model", "sinusoidal_table": "model", "token_losses": "model",
    "Generation": "sampling", "InputError": "sampling", "TokenizedText": "sampling", "generate": "sampling",
    "tokenize": "sampling",
    "CATALOGUE": "stages", "Trace": "stages", "spec_of": "stages", "stage_names": "stages",
    "UNKNOWN_ID": "tokenizer", "Vocabulary": "tokenizer", "cl100k": "tokenizer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'minigpt' has no attribute {name!r}")
    module = importlib.import_module(f".{_EXPORTS[name] or name}", __name__)
    value = module if not _EXPORTS[name] else getattr(module, name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for editors and type checkers: the same names, imported eagerly
    from . import checkpoint, corpus, devices
    from .config import ConfigError, ModelConfig, TrainConfig, parameter_count
    from .model import MiniGPT, Switches, sinusoidal_table, token_losses
    from .sampling import Generation, InputError, TokenizedText, generate, tokenize
    from .stages import CATALOGUE, Trace, spec_of, stage_names
    from .tokenizer import UNKNOWN_ID, Vocabulary, cl100k
