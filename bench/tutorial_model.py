"""The tutorial's companion training script's model, written out literally.

This is the reference the rest of the project is checked against: `checkpoint.import_tutorial`
must reproduce its logits, and a benchmark compares its speed with `MiniGPT`. Keep the names and
the arithmetic exactly as the tutorial has them (per-head Linear layers without bias, a `tril`
buffer, pre-LN blocks, a final LayerNorm inside `transformer_blocks`, sinusoidal positions built
in `forward`, and an output layer with one logit fewer than the embedding has rows).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class FeedForwardNetwork(nn.Module):
    def __init__(self, d_model: int, dropout: float):
        super().__init__()
        self.d_model = d_model
        self.dropout = dropout
        self.ffn = nn.Sequential(
            nn.Linear(in_features=self.d_model, out_features=self.d_model * 4),
            nn.ReLU(),
            nn.Linear(in_features=self.d_model * 4, out_features=self.d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.ffn(x)


class Attention(nn.Module):
    """One head: its own key/query/value projections of width d_model // num_heads."""

    def __init__(self, d_model: int, num_heads: int, context_length: int, dropout: float):
        super().__init__()
        self.d_model = d_model
        self.head_size = d_model // num_heads
        self.context_length = context_length
        self.dropout = dropout
        self.key_layer = nn.Linear(in_features=self.d_model, out_features=self.head_size, bias=False)
        self.query_layer = nn.Linear(in_features=self.d_model, out_features=self.head_size, bias=False)
        self.value_layer = nn.Linear(in_features=self.d_model, out_features=self.head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones((self.context_length, self.context_length))))
        self.dropout_layer = nn.Dropout(self.dropout)

    def forward(self, x):
        B, T, C = x.shape
        q = self.query_layer(x)
        k = self.key_layer(x)
        v = self.value_layer(x)
        weights = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        weights = weights.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        weights = F.softmax(input=weights, dim=-1)
        weights = self.dropout_layer(weights)
        out = weights @ v
        return out


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int, context_length: int, dropout: float):
        super().__init__()
        self.heads = nn.ModuleList(
            [Attention(d_model, num_heads, context_length, dropout) for _ in range(num_heads)]
        )
        self.projection_layer = nn.Linear(in_features=d_model, out_features=d_model)
        self.dropout_layer = nn.Dropout(dropout)

    def forward(self, x):
        out = torch.cat([h(x) for h in self.heads], dim=-1)
        out = self.projection_layer(out)
        out = self.dropout_layer(out)
        return out


class TransformerBlock(nn.Module):
    def __init__(self, d_model: int, num_heads: int, context_length: int, dropout: float):
        super().__init__()
        self.multi_head_attention_layer = MultiHeadAttention(d_model, num_heads, context_length, dropout)
        self.feed_forward_layer = FeedForwardNetwork(d_model, dropout)
        self.layer_norm_1 = nn.LayerNorm(d_model)
        self.layer_norm_2 = nn.LayerNorm(d_model)

    def forward(self, x):
        # Note: the tutorial normalises *before* each sub-layer (pre-LN), unlike the notebook.
        x = x + self.multi_head_attention_layer(self.layer_norm_1(x))
        x = x + self.feed_forward_layer(self.layer_norm_2(x))
        return x


class TransformerLanguageModel(nn.Module):
    def __init__(
        self,
        d_model: int = 64,
        num_heads: int = 4,
        num_blocks: int = 8,
        context_length: int = 16,
        dropout: float = 0.1,
        max_token_value: int = 100256,
    ):
        super().__init__()
        self.d_model = d_model
        self.num_heads = num_heads
        self.num_blocks = num_blocks
        self.context_length = context_length
        self.dropout = dropout
        self.max_token_value = max_token_value
        self.token_embedding_lookup_table = nn.Embedding(
            num_embeddings=self.max_token_value + 1, embedding_dim=self.d_model
        )
        # The final LayerNorm sits inside the Sequential: its weights are transformer_blocks.{num_blocks}.*
        self.transformer_blocks = nn.Sequential(
            *(
                [TransformerBlock(d_model, num_heads, context_length, dropout) for _ in range(self.num_blocks)]
                + [nn.LayerNorm(self.d_model)]
            )
        )
        # The tutorial's quirk: max_token_value outputs, one fewer than the embedding's rows.
        self.language_model_out_linear_layer = nn.Linear(in_features=self.d_model, out_features=self.max_token_value)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        position_encoding_lookup_table = torch.zeros(self.context_length, self.d_model)
        position = torch.arange(0, self.context_length, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, self.d_model, 2).float() * (-math.log(10000.0) / self.d_model))
        position_encoding_lookup_table[:, 0::2] = torch.sin(position * div_term)
        position_encoding_lookup_table[:, 1::2] = torch.cos(position * div_term)
        position_embedding = position_encoding_lookup_table[:T, :].to(idx.device)
        x = self.token_embedding_lookup_table(idx) + position_embedding
        x = self.transformer_blocks(x)
        logits = self.language_model_out_linear_layer(x)

        if targets is not None:
            B, T, C = logits.shape
            logits_reshaped = logits.view(B * T, C)
            targets_reshaped = targets.view(B * T)
            loss = F.cross_entropy(input=logits_reshaped, target=targets_reshaped)
        else:
            loss = None
        return logits, loss

    def generate(self, idx, max_new_tokens):
        # idx is a (B, T) array of token ids in the current context
        for _ in range(max_new_tokens):
            idx_crop = idx[:, -self.context_length:]
            logits, loss = self(idx_crop)
            logits_last_timestep = logits[:, -1, :]
            probs = F.softmax(input=logits_last_timestep, dim=-1)
            idx_next = torch.multinomial(input=probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx
