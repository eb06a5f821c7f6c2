"""Text in, token rows out, and generation that remembers why it chose each token."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .kv_cache import KVCache
from .model import MiniGPT
from .text import TextError
from .tokenizer import Vocabulary


class InputError(TextError, ValueError):
    """Text the model cannot run on, with a message for the person who typed it (error.input_*)."""


@dataclass(frozen=True)
class TokenizedText:
    ids: tuple[int, ...]     # token ids shown to the user (cl100k ids, or code points)
    rows: tuple[int, ...]    # embedding rows the model reads
    known: tuple[bool, ...]  # False where the id has no row of its own and uses <unk>
    dropped: int             # tokens cut from the front to fit the context

    @property
    def unknown_count(self) -> int:
        return self.known.count(False)


def tokenize(vocab: Vocabulary, text: str, context_length: int) -> TokenizedText:
    """The last context_length tokens of text, mapped to rows; ids the model never saw use <unk>."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("error.input_empty")
    ids = vocab.encode(text)
    dropped = max(0, len(ids) - context_length)
    ids = ids[dropped:]
    return TokenizedText(
        ids=tuple(ids), rows=tuple(vocab.rows(ids)), known=tuple(vocab.is_known(i) for i in ids), dropped=dropped
    )


@dataclass(frozen=True)
class Candidate:
    token_id: int
    text: str
    prob: float          # the model's probability (temperature 1, no filtering)
    sample_prob: float   # the probability it was actually sampled with


@dataclass(frozen=True)
class GenerationStep:
    token_id: int
    text: str
    prob: float                       # probability of the chosen token after temperature/top-k/top-p
    candidates: tuple[Candidate, ...]  # the most likely tokens it was chosen from


@dataclass(frozen=True)
class Generation:
    prompt_ids: tuple[int, ...]
    steps: tuple[GenerationStep, ...] = field(default_factory=tuple)

    @property
    def new_ids(self) -> list[int]:
        return [s.token_id for s in self.steps]


def _filter(probs: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Zero all but the top_k most likely tokens and the smallest set whose mass reaches top_p; renormalise."""
    if top_k and top_k < probs.numel():
        kth = torch.topk(probs, top_k).values[-1]
        probs = torch.where(probs >= kth, probs, torch.zeros_like(probs))
    if 0 < top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, 0) - sorted_probs  # mass of the more likely tokens
        sorted_probs[before >= top_p] = 0
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return probs / probs.sum()


@torch.no_grad()
def generate(
    model: MiniGPT,
    vocab: Vocabulary,
    prompt: str,
    *,
    max_new_tokens: int = 30,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
    num_candidates: int = 5,
    use_cache: bool = False,
) -> Generation:
    """Sample max_new_tokens after prompt. temperature 0 is greedy. The context is cropped to the model's.

    use_cache: compute each new token's row alone, keeping keys and values (`minigpt.kv_cache`); the same
    tokens and probabilities, less work. When the window slides, the cache is rebuilt from the window."""
    if not 0 <= temperature <= 10:
        raise InputError("error.input_temperature", value=temperature)
    if not 0 < top_p <= 1:
        raise InputError("error.input_top_p", value=top_p)
    if top_k < 0 or max_new_tokens < 0 or max_new_tokens > 2000:
        raise InputError("error.input_top_k")
    prompt_ids = tokenize(vocab, prompt, 10**9).ids
    context_length = model.config.context_length
    device = next(model.parameters()).device
    rows = list(vocab.rows(prompt_ids))
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    steps = []
    cache, start = (KVCache(model), 0) if use_cache else (None, 0)
    try:
        for _ in range(max_new_tokens):
            if cache is None:
                window = torch.tensor([rows[-context_length:]], device=device)
                logits = model(window)[0][0, -1].float().cpu()
            else:
                first = max(0, len(rows) - context_length)
                if first != start or cache.length == 0:  # the window slid: every cached position moved
                    cache.reset()
                    start = first
                new = rows[start + cache.length:]
                logits = cache.feed(torch.tensor([new], device=device))[0].float().cpu()
            logits[vocab.unk_row] = float("-inf")  # never emit "a token the model never saw"
            if temperature == 0:
                probs = torch.zeros_like(logits)
                probs[int(torch.argmax(logits))] = 1.0
            else:
                probs = _filter(torch.softmax(logits / temperature, dim=-1), top_k, top_p)
            row = int(torch.multinomial(probs, 1, generator=generator))
            model_probs = torch.softmax(logits, -1)
            shown = torch.topk(model_probs, min(num_candidates, vocab.size - 1)).indices.tolist()
            if row not in shown:  # the chosen token is always among the candidates shown
                shown = shown[:-1] + [row]
            candidates = tuple(
                Candidate(vocab.token_id(r), vocab.row_text(r), float(model_probs[r]), float(probs[r])) for r in shown
            )
            steps.append(GenerationStep(vocab.token_id(row), vocab.row_text(row), float(probs[row]), candidates))
            rows.append(row)
    finally:
        model.train(was_training)
    return Generation(tuple(prompt_ids), tuple(steps))
