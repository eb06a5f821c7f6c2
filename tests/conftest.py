"""Shared fixtures. Nothing here touches the internet or /work/shared."""
from __future__ import annotations

import pytest
import torch

from minigpt import Vocabulary, corpus, figures

# The tests run tiny models: one thread is as fast, and with other processes busy on a 2-core
# machine, torch's worker threads spin-waiting for each other made the suite twice as slow.
torch.set_num_threads(1)

# The app builds figures without plotly's property checks (minigpt/figures.py, VALIDATE). Every figure a test
# builds, in the core tests and in the AppTest page runs alike, is checked: an invalid property raises here.
figures.VALIDATE = True


@pytest.fixture(scope="session")
def builtin_text() -> str:
    """The built-in corpus that ships with the package (about 35 KB of English sales text)."""
    return corpus.builtin().text


@pytest.fixture(scope="session")
def compact_vocab(builtin_text) -> Vocabulary:
    """One row per cl100k id of the built-in corpus, plus <unk>."""
    return Vocabulary.from_text(builtin_text, "compact")


@pytest.fixture(scope="session")
def char_vocab(builtin_text) -> Vocabulary:
    """One row per character of the built-in corpus, plus <unk>."""
    return Vocabulary.from_text(builtin_text, "char")
