"""The embedding map: the token embedding rows (and the positional table) projected onto their two main
directions (PCA), so tokens the model treats alike land near each other.

PCA: centre the rows, take the two right singular vectors with the largest singular values. Their signs are
arbitrary; `project` fixes each axis so its largest coordinate is positive, and `align` turns a training
snapshot's axes to match a reference's, so a step slider shows tokens moving, not the whole map flipping.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Projection:
    points: torch.Tensor        # [N, 2] coordinates of each row
    axes: torch.Tensor          # [2, C] the two directions (unit vectors)
    explained: tuple[float, float]  # share of the total variance along each direction
    rows: torch.Tensor          # [N] which rows of the table these are


def project(table: torch.Tensor, rows: torch.Tensor | None = None) -> Projection:
    """PCA of table[rows] ([N, C], N ≥ 2) onto 2 directions (fewer dimensions: the missing axis is 0)."""
    table = table.detach().float().cpu()
    rows = torch.arange(table.shape[0]) if rows is None else torch.as_tensor(rows).long()
    x = table[rows]
    if x.shape[0] < 2:
        raise ValueError(f"A map needs at least 2 rows, got {x.shape[0]}.")
    centred = x - x.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = torch.zeros(2, x.shape[1])
    k = min(2, vh.shape[0])
    axes[:k] = vh[:k]
    points = centred @ axes.T
    for a in range(2):  # a fixed sign: the point farthest along the axis is on its positive side
        if points[:, a].abs().max() > 0 and points[points[:, a].abs().argmax(), a] < 0:
            points[:, a] *= -1
            axes[a] *= -1
    total = float((s ** 2).sum()) or 1.0
    explained = tuple(float(s[i] ** 2) / total if i < len(s) else 0.0 for i in range(2))
    return Projection(points, axes, explained, rows)


def align(moving: Projection, reference: Projection) -> Projection:
    """moving with each axis's sign flipped where that brings its points closer to the reference's points
    (same rows in the same order)."""
    points, axes = moving.points.clone(), moving.axes.clone()
    for a in range(2):
        if float((points[:, a] * reference.points[:, a]).sum()) < 0:
            points[:, a] *= -1
            axes[a] *= -1
    return Projection(points, axes, moving.explained, moving.rows)


def frequent_rows(corpus_rows: torch.Tensor, vocab_size: int, k: int, *, exclude: tuple[int, ...] = ()) -> torch.Tensor:
    """The k vocabulary rows the corpus uses most, most frequent first (ties: the lower row first)."""
    counts = torch.bincount(corpus_rows.reshape(-1).long(), minlength=vocab_size)[:vocab_size].float()
    for r in exclude:
        counts[r] = -1
    order = torch.argsort(-counts, stable=True)
    used = int((counts > 0).sum())
    return order[:max(2, min(k, used))]
