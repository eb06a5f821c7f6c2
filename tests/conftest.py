"""Shared fixtures. Nothing here touches the internet or /work/shared."""
from __future__ import annotations

import pytest
import torch

from minigpt import ModelConfig, MiniGPT, Vocabulary, corpus


@pytest.fixture(scope="session")
def builtin_text() -> str:
    """The built-in corpus that ships with the package."""
    return corpus.builtin().text


@pytest.fixture(scope="session")
def small_text(builtin_text) -> str:
    """The first few KB of the built-in corpus: enough tokens for batches, fast to tokenize."""
    return builtin_text[:4000]


@pytest.fixture(scope="session")
def compact_vocab(builtin_text) -> Vocabulary:
    return Vocabulary.from_text(builtin_text, "compact")


@pytest.fixture(scope="session")
def char_vocab(builtin_text) -> Vocabulary:
    return Vocabulary.from_text(builtin_text, "char")


@pytest.fixture
def small_config() -> ModelConfig:
    """A small model that still has several heads and blocks."""
    return ModelConfig(context_length=8, d_model=32, num_heads=4, num_blocks=2, seed=7)


@pytest.fixture
def small_model(small_config, compact_vocab) -> MiniGPT:
    return MiniGPT(small_config, compact_vocab.size).eval()


@pytest.fixture
def rows_generator():
    """A seeded generator for random token rows."""
    return torch.Generator().manual_seed(1234)
