"""Rows for typed tokens the corpus never had, so that every token a student types under fresh weights has a
row of its own (and its own Q, K and V) instead of all sharing the one `<unk>` row.

A fresh model for the corpus's vocabulary is built as always (`MiniGPT(config, vocab.size)`); `with_typed_rows`
then inserts one row per typed token just before `<unk>`, in the embedding and in the output layer. Each inserted
row comes from the seed and the token id alone (its own generator), drawn like the rest of its layer
(embedding N(0, 1); output weight and bias U(±1/√d_model), nn.Linear's default), so:

- every other weight (every corpus row, W_q/W_k/W_v, the FFN...) is exactly the fresh model's: typing one more
  word changes no existing number, and the untrained twin of a model trained on this corpus differs from it
  only by the inserted rows;
- the same config, seed and text give the same weights everywhere;
- a token's row is the same whichever text it was typed in.

A trained or loaded model keeps its own vocabulary: a token its corpus never had still reads the `<unk>` row.
"""
from __future__ import annotations

import copy
import hashlib
import math
from typing import Sequence

import torch
from torch import nn

from .config import ModelConfig, check_size
from .model import MiniGPT
from .sampling import InputError, tokenize
from .tokenizer import Vocabulary


def unseen_ids(vocab: Vocabulary, text: str, context_length: int) -> tuple[int, ...]:
    """The ids among the text's last context_length tokens that have no row in vocab (sorted, once each)."""
    try:
        tokens = tokenize(vocab, text, context_length)
    except InputError:  # empty text: the walkthrough says so itself
        return ()
    return tuple(sorted({i for i, known in zip(tokens.ids, tokens.known) if not known}))


def for_text(vocab: Vocabulary, text: str, context_length: int) -> Vocabulary:
    """vocab (the corpus's) extended by the typed text's tokens it lacks; vocab itself when it lacks none."""
    new = unseen_ids(vocab.base, text, context_length)
    return vocab.base.extended(new) if new else vocab.base


def row_generator(seed: int, mode: str, token_id: int) -> torch.Generator:
    """The generator of one typed token's rows: from the model's seed, the vocabulary mode and the token id."""
    digest = hashlib.sha256(f"minigpt-typed-row:{seed}:{mode}:{token_id}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def typed_rows(config: ModelConfig, mode: str, token_ids: Sequence[int]) -> tuple[torch.Tensor, ...]:
    """(embedding rows [n, d], output weight rows [n, d], output biases [n]) for these typed tokens."""
    d = config.d_model
    bound = 1 / math.sqrt(d)
    emb, weight, bias = torch.empty(len(token_ids), d), torch.empty(len(token_ids), d), torch.empty(len(token_ids))
    for k, token_id in enumerate(token_ids):
        g = row_generator(config.seed, mode, token_id)
        emb[k] = torch.randn(d, generator=g)
        weight[k].uniform_(-bound, bound, generator=g)
        bias[k : k + 1].uniform_(-bound, bound, generator=g)
    return emb, weight, bias


def with_typed_rows(model: MiniGPT, vocab: Vocabulary) -> MiniGPT:
    """A copy of model (built for vocab.base) with vocab's typed rows inserted before `<unk>`; model if none."""
    if not vocab.typed:
        return model
    if model.vocab_size != vocab.base.size:
        raise ValueError(f"The model has {model.vocab_size} rows; the corpus's vocabulary has {vocab.base.size}.")
    check_size(model.config, vocab.size)
    known = len(vocab.base.ids)  # rows 0 .. known-1 are the corpus's, row `known` is <unk>
    emb, weight, bias = typed_rows(model.config, vocab.mode, vocab.typed_ids)
    out = copy.deepcopy(model)
    with torch.no_grad():
        E, W, B = model.token_embedding.weight, model.lm_head.weight, model.lm_head.bias

        def insert(old: torch.Tensor, new: torch.Tensor) -> nn.Parameter:
            return nn.Parameter(torch.cat([old[:known], new.to(old), old[known:]]), requires_grad=old.requires_grad)

        out.token_embedding.weight = insert(E, emb)
        out.token_embedding.num_embeddings = vocab.size
        out.lm_head.weight, out.lm_head.bias = insert(W, weight), insert(B, bias)
        out.lm_head.out_features = vocab.size
    out.vocab_size = vocab.size
    return out
