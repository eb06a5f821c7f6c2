"""minigpt: a small GPT-style decoder whose every stage can be looked at.

    from minigpt import ModelConfig, Vocabulary, MiniGPT, corpus, tokenize
    text = corpus.builtin().text
    vocab = Vocabulary.from_text(text, "compact")
    model = MiniGPT(ModelConfig(), vocab.size)
    trace = model.run_with_trace(torch.tensor([tokenize(vocab, "Build trust", 16).rows]))
    trace["blocks.0.attn.weights"]   # [batch 1, head 4, query 3, key 3]
"""
from . import checkpoint, corpus, devices
from .config import ConfigError, ModelConfig, TrainConfig, parameter_count
from .model import MiniGPT, Switches, sinusoidal_table, token_losses
from .sampling import Generation, InputError, TokenizedText, generate, tokenize
from .stages import CATALOGUE, Trace, spec_of, stage_names
from .tokenizer import UNKNOWN_ID, Vocabulary, cl100k

__all__ = [
    "CATALOGUE", "ConfigError", "Generation", "InputError", "MiniGPT", "ModelConfig", "Switches",
    "TokenizedText", "Trace", "TrainConfig", "UNKNOWN_ID", "Vocabulary", "checkpoint", "cl100k", "corpus",
    "devices", "generate", "parameter_count", "sinusoidal_table", "spec_of", "stage_names", "token_losses",
    "tokenize",
]
