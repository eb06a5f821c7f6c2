"""The tutorial-layout reference, trained the way the tutorial's script trains it (shared by the benchmarks).

The model is `bench/tutorial_model.py` as written. One deviation, so that it can train on the sales
textbook at all: the tutorial sizes the output layer `max_token_value` wide, one logit fewer than
the embedding's rows, and the textbook's largest id (100,069) appears twice in the training split,
so a batch that has it as a target makes `cross_entropy` raise. Here `max_token_value` is the largest
id + 1: 100,071 embedding rows and 100,070 logits, i.e. the same cost to within 0.001 %.
"""
from __future__ import annotations

import torch

from bench.tutorial_model import TransformerLanguageModel

TUTORIAL = dict(batch_size=4, context_length=16, d_model=64, num_heads=4, num_blocks=8, dropout=0.1,
                learning_rate=1e-3)


class ReferenceRun:
    """Model, AdamW(lr) and the tutorial's random batches over the first 90 % of the token ids."""

    def __init__(self, ids: torch.Tensor, *, batch_size: int, context_length: int, d_model: int, num_heads: int,
                 num_blocks: int, dropout: float = 0.1, learning_rate: float = 1e-3, seed: int = 1337,
                 device: str = "cpu"):
        torch.manual_seed(seed)
        self.batch_size, self.context_length = batch_size, context_length
        n = int(len(ids) * 0.9)
        self.train_data, self.val_data = ids[:n], ids[n:]
        self.model = TransformerLanguageModel(d_model=d_model, num_heads=num_heads, num_blocks=num_blocks,
                                              context_length=context_length, dropout=dropout,
                                              max_token_value=int(ids.max()) + 1)
        self.device = torch.device(device)
        self.model.to(self.device).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=learning_rate)
        self.steps = 0

    def get_batch(self):  # the tutorial's get_batch
        data = self.train_data
        idxs = torch.randint(low=0, high=len(data) - self.context_length, size=(self.batch_size,))
        x = torch.stack([data[i:i + self.context_length] for i in idxs])
        y = torch.stack([data[i + 1:i + self.context_length + 1] for i in idxs])
        return x.to(self.device), y.to(self.device)

    def step(self) -> float:  # the tutorial's loop body
        xb, yb = self.get_batch()
        logits, loss = self.model(xb, yb)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        return loss
