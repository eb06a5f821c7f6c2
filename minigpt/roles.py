"""Head roles: how much of each head's attention follows a pattern students can name.

For attention weights w[query, key] of one head (rows sum to 1, the future is 0), each score is the average,
over the queries where the pattern is defined, of the weight on the key the pattern names:

* previous token: key = query - 1;
* first token (an "attention sink"): key = 0;
* current token: key = query;
  these three on queries 2 … (where the three keys differ: query 0 can only look at itself, and query 1's
  previous token is the first token);
* induction: the token after an earlier copy of the current token. On the sequence "A B … A" the second A
  attends to the B that followed the first: key = j + 1 for every earlier j with token j = token query
  (and j + 1 < query, so it is not the previous or current token). Measured on a repeated random sequence
  (`induction_rows`), where only a head that really copies from context can score high.

A score is 1 when a head does exactly that and the chance value (`chance`) when it spreads its attention
evenly over every visible token. Tests check both on hand-built weights.
"""
from __future__ import annotations

from typing import Sequence

import torch

ROLES = ("previous", "first", "current", "induction")


def _targets(T: int, tokens: Sequence | None) -> dict[str, list[tuple[int, list[int]]]]:
    """For each role, the (query, keys) pairs it is scored on."""
    out = {"previous": [(i, [i - 1]) for i in range(2, T)],
           "first": [(i, [0]) for i in range(2, T)],
           "current": [(i, [i]) for i in range(2, T)],
           "induction": []}
    if tokens is not None:
        tokens = list(tokens)
        if len(tokens) != T:
            raise ValueError(f"{len(tokens)} tokens do not fit attention over {T} positions.")
        for i in range(T):
            keys = [j + 1 for j in range(i) if tokens[j] == tokens[i] and j + 1 < i]
            if keys:
                out["induction"].append((i, keys))
    return out


def role_scores(weights: torch.Tensor, tokens: Sequence | None = None) -> torch.Tensor:
    """weights [..., heads, T, T] (leading batch axes averaged) -> scores [heads, 4] in ROLES order.
    tokens: the T tokens (any comparable values) for the induction score; NaN where a role has no query
    (induction without a repeated token, any role with fewer than 3 positions)."""
    w = weights.float()
    while w.dim() > 3:
        w = w.mean(dim=0)
    H, T, _ = w.shape
    scores = torch.full((H, len(ROLES)), float("nan"))
    for r, role in enumerate(ROLES):
        pairs = _targets(T, tokens)[role]
        if pairs:
            scores[:, r] = torch.stack([w[:, i, keys].sum(dim=-1) for i, keys in pairs]).mean(dim=0)
    return scores


def uniform_weights(T: int) -> torch.Tensor:
    """Causal attention spread evenly: query i gives 1/(i+1) to each of keys 0 … i. [T, T]"""
    visible = torch.tril(torch.ones(T, T))
    return visible / visible.sum(dim=-1, keepdim=True)


def chance(T: int, tokens: Sequence | None = None) -> torch.Tensor:
    """The score of evenly spread causal attention, per role [4] (the value a head without a role gets)."""
    return role_scores(uniform_weights(T).unsqueeze(0), tokens)[0]


def induction_rows(pool, context_length: int, *, batch: int = 4, seed: int = 0) -> torch.Tensor:
    """Repeated random sequences [batch, 2n] (n = context_length // 2): n rows drawn from pool (a vocabulary size,
    or the rows to draw from, e.g. those the corpus uses), then the same n again."""
    n = context_length // 2
    allowed = torch.arange(pool) if isinstance(pool, int) else torch.as_tensor(pool).long().reshape(-1)
    if n < 2 or len(allowed) < 2:
        raise ValueError(f"An induction test needs a context of at least 4 tokens and 2 tokens to draw from, "
                         f"got a context of {context_length} and {len(allowed)} tokens.")
    generator = torch.Generator().manual_seed(seed)
    half = allowed[torch.randint(len(allowed), (batch, n), generator=generator)]
    return torch.cat([half, half], dim=1)


def induction_scores(trace, rows: torch.Tensor) -> torch.Tensor:
    """Induction scores [blocks, heads] from a trace of repeated sequences `rows` [B, T], each row scored on its
    own tokens, then averaged."""
    blocks = trace.config.num_blocks
    out = []
    for b in range(blocks):
        w = trace[f"blocks.{b}.attn.weights"]
        out.append(torch.stack([role_scores(w[i], rows[i].tolist())[:, 3] for i in range(w.shape[0])]).nanmean(dim=0))
    return torch.stack(out)


def model_roles(trace, induction_trace, induction: torch.Tensor) -> torch.Tensor:
    """Scores [blocks, heads, 4]: previous / first / current on trace (every row averaged), induction on a
    trace of the repeated sequences `induction` (rows [B, T])."""
    blocks = trace.config.num_blocks
    positional = torch.stack([role_scores(trace[f"blocks.{b}.attn.weights"])[:, :3] for b in range(blocks)])
    return torch.cat([positional, induction_scores(induction_trace, induction).unsqueeze(-1)], dim=-1)


def snapshot_roles(weights: torch.Tensor, tokens: Sequence) -> torch.Tensor:
    """Scores [blocks, heads, 4] from a training snapshot's weights [blocks, heads, T, T] on its fixed sentence
    (induction where the sentence repeats a token, else NaN)."""
    return torch.stack([role_scores(weights[b], tokens) for b in range(weights.shape[0])])


def head_roles(model, trace, pool, switches=None, *, batch: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """What the app shows: (scores [blocks, heads, 4], chance [4]). Previous / first / current token on trace (the
    input on screen), induction on `batch` repeated random sequences drawn from pool (the rows the corpus uses),
    seeded by the model's seed; both under the same what-if switches (knockouts) as trace."""
    from .model import Switches

    rows = induction_rows(pool, model.config.context_length, batch=batch, seed=model.config.seed)
    induction = model.run_with_trace(rows, switches if switches is not None else Switches())
    scores = model_roles(trace, induction, rows)
    T = trace["embed.sum"].shape[1]
    return scores, torch.cat([chance(T)[:3], chance(rows.shape[1], rows[0].tolist())[3:]])
