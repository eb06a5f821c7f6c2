"""Small pure helpers the walkthrough pages need beside figures.py: losses under what-if switches and the
tables of the Tokens chapter. No Streamlit here.
"""
from __future__ import annotations

import pandas as pd
import torch

from . import corpus as corpora
from .explain import t
from .figures import visible_text
from .model import MiniGPT, Switches, token_losses


def batch_loss(trace, targets: torch.Tensor | None) -> float | None:
    """Mean cross-entropy of a traced batch against its true next tokens (None without targets)."""
    if targets is None:
        return None
    return float(token_losses(trace["logits"], targets).mean())


@torch.no_grad()
def validation_loss(model: MiniGPT, corpus_rows: torch.Tensor, switches: Switches = Switches(), *,
                    batches: int = 4, batch_size: int = 8, seed: int = 0) -> float | None:
    """Mean loss of the traced path (what-if switches applied) on a few fixed validation batches.

    The same batches for every call with the same seed, so losses with and without switches compare fairly.
    None when the validation split is shorter than one context.
    """
    _, val = corpora.split(corpus_rows)
    ctx = model.config.context_length
    if len(val) < ctx + 1:
        return None
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(batches):
        x, y, _ = corpora.get_batch(val, batch_size, ctx, generator)
        losses.append(token_losses(model.run_with_trace(x, switches)["logits"], y).mean())
    return float(torch.stack(losses).mean())


def shift_table(token_ids, target_ids, texts_of, *, lang: str = "en") -> pd.DataFrame:
    """The input x and its targets y side by side, one position per row: y[i] is x[i + 1].

    target_ids None (the user's own text): y is the next token of the text itself, unknown at the end.
    """
    ids = list(token_ids)
    targets = list(target_ids) if target_ids is not None else ids[1:] + [None]
    return pd.DataFrame({
        t("position", lang): list(range(len(ids))),
        "x id": ids,
        "x": [visible_text(texts_of(i)) for i in ids],
        "→ y": ["?" if j is None else visible_text(texts_of(j)) for j in targets],
        "y id": ["?" if j is None else str(j) for j in targets],
    })


def corpus_stats(text: str, rows: torch.Tensor, vocab_size: int) -> dict[str, int]:
    """Characters, tokens, vocabulary rows and the train / validation split sizes of a corpus."""
    train, val = corpora.split(rows)
    return {"characters": len(text), "tokens": int(len(rows)), "vocabulary rows": int(vocab_size),
            "train tokens": int(len(train)), "validation tokens": int(len(val))}
