"""Predict, then reveal: multiple-choice questions whose answers are the model's own numbers.

Three kinds, each read off a trace (the answer is whatever this model computes, trained or not):
- "attend": which earlier token will the token at position q attend to most (block b, head h)?
- "next": what is the next token after the text? (four of the most likely tokens, in a shuffled order)
- "prev_head": which head of block b is the previous-token head? (mean attention weight on position q-1)

A `Question` is plain data (`to_dict` / `from_dict`: it travels through the room store as JSON). Its wording is
rendered in each reader's language from its kind and values (`prompt`), so a student reading 中文 sees 中文.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import torch

from .text import t
from .views.labels import shorten, visible_text

KINDS = ("attend", "next", "prev_head")
MAX_CHOICES = 10       # an "attend" question about a late position asks about position MAX_CHOICES-1
NEXT_CHOICES = 4


@dataclass(frozen=True)
class Question:
    kind: str
    choices: tuple[str, ...]   # what a student picks from (token labels, or head names)
    answer: int                # index into choices: the model's answer
    values: tuple[float, ...]  # the model's number behind each choice (weight, probability, mean weight)
    block: int = 0
    head: int = 0
    row: int = 0
    query: int = 0             # "attend": the asking position
    token: str = ""            # "attend": the asking token; "next": the end of the text

    def prompt(self, lang: str) -> str:
        return t(f"poll.q_{self.kind}", lang, token=self.token, block=self.block, head=self.head, query=self.query)

    def labels(self, lang: str) -> list[str]:
        """The choices as a reader sees them (head names in the reader's language)."""
        if self.kind == "prev_head":
            return [t("poll.head_name", lang, head=c) for c in self.choices]
        return list(self.choices)

    def stage(self) -> str:
        """The Step page's stage that shows the answer."""
        return "topk" if self.kind == "next" else f"blocks.{self.block}.attn.weights"

    def correct(self, choice: int | None) -> bool:
        return choice == self.answer

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Question":
        fields = {**data, "choices": tuple(data["choices"]), "values": tuple(float(v) for v in data["values"])}
        question = cls(**fields)
        if question.kind not in KINDS or not 0 <= question.answer < len(question.choices) \
                or len(question.values) != len(question.choices):
            raise ValueError(f"not a question: {data!r}"[:200])
        return question


def _weights(trace, block: int):
    return trace[f"blocks.{block}.attn.weights"]  # [batch, head, query, key]


def attend(trace, labels: list[str], *, block: int, head: int, row: int = 0, query: int | None = None) -> Question:
    """Which earlier token (itself included) gets the largest attention weight from position `query`."""
    w = _weights(trace, block)
    T = w.shape[-1]
    q = min(T - 1, MAX_CHOICES - 1) if query is None else int(query)
    if not 0 <= q < T:
        raise ValueError(f"query position {q} outside 0..{T - 1}")
    weights = w[row, head, q, : q + 1].float()
    return Question("attend", tuple(labels[: q + 1]), int(weights.argmax()), tuple(round(float(v), 6) for v in weights),
                    block=block, head=head, row=row, query=q, token=labels[q])


def next_token(trace, vocab, texts: list[str], *, row: int = 0) -> Question:
    """The model's most likely next token after the row's text, among NEXT_CHOICES likely ones (shuffled with a
    seed from the numbers themselves: the same question twice has the same order)."""
    probs = trace["probs"][row, -1].float()
    top = torch.topk(probs, min(NEXT_CHOICES, probs.numel()))
    rows = top.indices.tolist()
    order = list(range(len(rows)))
    random.Random(sum(rows)).shuffle(order)
    choices = tuple(visible_text(vocab.row_text(rows[i])) for i in order)
    values = tuple(round(float(top.values[i]), 6) for i in order)
    ending = shorten(visible_text("".join(texts[-4:])), 24)
    return Question("next", choices, order.index(0), values, row=row, token=ending)


def previous_token_scores(trace, block: int, row: int = 0) -> list[float]:
    """Per head: the mean attention weight each position (from 1 on) puts on the position right before it."""
    w = _weights(trace, block)[row].float()   # [head, query, key]
    T = w.shape[-1]
    if T < 2:
        return [0.0] * w.shape[0]
    idx = torch.arange(1, T)
    return [float(v) for v in w[:, idx, idx - 1].mean(dim=1)]


def previous_token_head(trace, *, block: int, row: int = 0) -> Question:
    scores = previous_token_scores(trace, block, row)
    choices = tuple(str(h) for h in range(len(scores)))
    best = max(range(len(scores)), key=scores.__getitem__)
    return Question("prev_head", choices, best, tuple(round(s, 6) for s in scores), block=block, row=row)


def available(num_heads: int, tokens: int) -> tuple[str, ...]:
    """The kinds that make sense for this model and input (one token: nothing earlier; one head: no choice)."""
    kinds = ["next"]
    if tokens >= 2:
        kinds.insert(0, "attend")
        if num_heads >= 2:
            kinds.append("prev_head")
    return tuple(kinds)


def make(kind: str, trace, *, labels: list[str], texts: list[str], vocab, block: int = 0, head: int = 0,
         row: int = 0) -> Question:
    if kind == "attend":
        return attend(trace, labels, block=block, head=head, row=row)
    if kind == "next":
        return next_token(trace, vocab, texts, row=row)
    if kind == "prev_head":
        return previous_token_head(trace, block=block, row=row)
    raise ValueError(f"unknown question kind {kind!r}")
