"""Tables (pandas DataFrames for st.dataframe): the top next tokens at every position, LayerNorm's statistics,
trained vs untrained predictions, and the input beside its targets."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .. import analysis
from ..text import t
from .labels import percent, visible_text


def topk_table(probs_2d, vocab, labels: Sequence[str], *, k: int = 5, lang: str = "en") -> pd.DataFrame:
    """Per position: the input token, the model's favourite next token and its probability, and the top k."""
    p = probs_2d if isinstance(probs_2d, torch.Tensor) else torch.as_tensor(np.asarray(probs_2d))
    if p.dim() != 2 or p.shape[0] != len(labels):
        raise ValueError(f"topk_table needs [positions, vocab] probabilities for {len(labels)} labels, got {tuple(p.shape)}.")
    top = torch.topk(p.float(), min(int(k), p.shape[1]), dim=1)
    table = {t("ui.input token", lang): list(labels), t("ui.next token", lang): [], t("ui.probability", lang): []}
    ranks = [f"#{r + 1}" for r in range(top.indices.shape[1])]
    for rank in ranks:
        table[rank] = []
    for values, rows in zip(top.values.tolist(), top.indices.tolist()):
        table[t("ui.next token", lang)].append(visible_text(vocab.row_text(rows[0])))
        table[t("ui.probability", lang)].append(values[0])
        for rank, value, row in zip(ranks, values, rows):
            table[rank].append(f"{visible_text(vocab.row_text(row))} ({percent(value)})")
    return pd.DataFrame(table)


def layernorm_table(before_2d, after_2d, labels: Sequence[str], *, lang: str = "en") -> pd.DataFrame:
    """Per position mean and (population) std of a vector before and after LayerNorm: after ≈ 0 and ≈ 1."""
    stats = analysis.layernorm_stats(before_2d, after_2d, len(labels))
    return pd.DataFrame({
        t("ui.token", lang): list(labels),
        t("ui.mean before", lang): stats.mean_before,
        t("ui.std before", lang): stats.std_before,
        t("ui.mean after", lang): stats.mean_after,
        t("ui.std after", lang): stats.std_after,
    })


def prediction_diff(untrained_probs, trained_probs, untrained_vocab, trained_vocab, labels: Sequence[str], *,
                    lang: str = "en") -> pd.DataFrame:
    """Per position: each model's favourite next token with its probability, and whether it changed.

    *_probs: [positions, vocab rows] of the same text; the vocabularies may differ (a trained model
    brings its own), so tokens are compared by their text.
    """
    a, b = np.asarray(untrained_probs, dtype=np.float32), np.asarray(trained_probs, dtype=np.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0] or a.shape[0] != len(labels):
        raise ValueError(f"prediction_diff needs two [positions, vocab] arrays for {len(labels)} labels, "
                         f"got {a.shape} and {b.shape}.")
    rows_a, rows_b = a.argmax(axis=1), b.argmax(axis=1)
    text_a = [untrained_vocab.row_text(int(r)) for r in rows_a]
    text_b = [trained_vocab.row_text(int(r)) for r in rows_b]
    return pd.DataFrame({
        t("train.position", lang): list(labels),
        t("train.untrained_guess", lang): [f"{visible_text(s)} ({percent(float(p))})"
                                      for s, p in zip(text_a, a.max(axis=1))],
        t("train.trained_guess", lang): [f"{visible_text(s)} ({percent(float(p))})"
                                    for s, p in zip(text_b, b.max(axis=1))],
        t("train.changed", lang): [x != y for x, y in zip(text_a, text_b)],
    })


def shift_table(token_ids, target_ids, texts_of, *, lang: str = "en") -> pd.DataFrame:
    """The input x and its targets y side by side, one position per row: y[i] is x[i + 1].

    target_ids None (the user's own text): y is the next token of the text itself, unknown at the end.
    """
    ids = list(token_ids)
    targets = list(target_ids) if target_ids is not None else ids[1:] + [None]
    return pd.DataFrame({
        t("ui.position", lang): list(range(len(ids))),
        "x id": ids,
        "x": [visible_text(texts_of(i)) for i in ids],
        "→ y": ["?" if j is None else visible_text(texts_of(j)) for j in targets],
        "y id": ["?" if j is None else str(j) for j in targets],
    })
