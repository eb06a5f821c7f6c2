"""The KV cache: the same tokens and probabilities as generation without it, its FLOPs formula against torch's own
count, the memory it takes, and the step-by-step replay the Generate page draws."""
from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from minigpt import MiniGPT, ModelConfig, generate
from minigpt import kv_cache
from minigpt.config import parameter_count

PROMPT = "Build trust with every customer"


@pytest.fixture(scope="module", params=["post", "pre"])
def model(request, compact_vocab) -> MiniGPT:
    config = ModelConfig(context_length=12, d_model=32, num_heads=4, num_blocks=2, norm=request.param, seed=5)
    return MiniGPT(config, compact_vocab.size).eval()


@pytest.mark.parametrize("settings", [dict(temperature=0.0), dict(temperature=1.0, seed=7),
                                      dict(temperature=0.8, top_k=20, top_p=0.9, seed=2)],
                         ids=["greedy", "sampled", "top-k+top-p"])
def test_generation_with_the_cache_gives_the_same_tokens_and_probabilities(model, compact_vocab, settings):
    # 20 new tokens after a 5-token prompt: the window of 12 fills and slides, so the rebuild path runs too.
    plain = generate(model, compact_vocab, PROMPT, max_new_tokens=20, num_candidates=6, **settings)
    cached = generate(model, compact_vocab, PROMPT, max_new_tokens=20, num_candidates=6, use_cache=True, **settings)
    assert cached.new_ids == plain.new_ids
    for a, b in zip(plain.steps, cached.steps):
        assert [c.token_id for c in a.candidates] == [c.token_id for c in b.candidates]
        assert b.prob == pytest.approx(a.prob, abs=1e-6)
        for ca, cb in zip(a.candidates, b.candidates):
            assert cb.prob == pytest.approx(ca.prob, abs=1e-6)
            assert cb.sample_prob == pytest.approx(ca.sample_prob, abs=1e-6)


def test_the_cache_grows_by_one_row_per_token_and_matches_the_full_forward(model, compact_vocab):
    rows = compact_vocab.rows(compact_vocab.encode(PROMPT + " and listen to them first"))[:10]
    cache = kv_cache.KVCache(model)
    cache.feed(torch.tensor([rows[:4]]))
    assert cache.length == 4
    for n in range(5, len(rows) + 1):
        logits = cache.feed(torch.tensor([rows[n - 1:n]]))
        assert cache.length == n
        assert cache.keys[0].shape == (1, 4, n, 8) and cache.values[1].shape == (1, 4, n, 8)
        full = model(torch.tensor([rows[:n]]))[0][0, -1]
        torch.testing.assert_close(logits[0], full, atol=1e-5, rtol=1e-5)
        # the new row's keys are the traced path's keys at that position (the same weights, the same numbers)
    trace = model.run_with_trace(torch.tensor([rows]))
    torch.testing.assert_close(cache.keys[1][0], trace["blocks.1.attn.k"][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cache.last.weights[0][0], trace["blocks.0.attn.weights"][0, :, -1], atol=1e-6,
                               rtol=1e-5)
    assert cache.nbytes == kv_cache.cache_bytes(model.config, len(rows))


def test_the_cache_refuses_more_than_the_window_and_training_mode(model, compact_vocab):
    cache = kv_cache.KVCache(model)
    with pytest.raises(ValueError, match="do not fit"):
        cache.feed(torch.zeros(1, 13, dtype=torch.long))
    model.train()
    try:
        with pytest.raises(ValueError, match="eval mode"):
            cache.feed(torch.zeros(1, 2, dtype=torch.long))
    finally:
        model.eval()


def _counted(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("length", [1, 5, 12])
def test_the_flops_formula_is_what_torch_counts(model, compact_vocab, length):
    config, V = model.config, compact_vocab.size
    rows = torch.arange(length).unsqueeze(0) % V
    # The traced path (attention as explicit matrix products, which torch counts) computes every position's
    # logits: the formula's last-position logits plus 2(T-1)dV.
    extra = 2 * (length - 1) * config.d_model * V
    assert _counted(lambda: model.run_with_trace(rows)) == kv_cache.flops_uncached(config, V, length) + extra
    cache = kv_cache.KVCache(model)
    assert _counted(lambda: cache.feed(rows)) == kv_cache.flops_prefill(config, V, length)
    if length > 1:
        cache = kv_cache.KVCache(model)
        cache.feed(rows[:, :-1])
        assert _counted(lambda: cache.feed(rows[:, -1:])) == kv_cache.flops_cached(config, V, length)


def test_flops_by_hand_for_the_notebook_config():
    config, V, T = ModelConfig(), 1000, 16  # d 64, f 256, 1 block
    d, f = 64, 256
    assert kv_cache.flops_cached(config, V, T) == 8 * d * d + 4 * d * f + 4 * T * d + 2 * d * V
    assert kv_cache.flops_uncached(config, V, T) == 8 * T * d * d + 4 * T * d * f + 4 * T * T * d + 2 * d * V
    # In the blocks the cached step is exactly T times cheaper: no work is repeated for the T - 1 earlier rows.
    logits = 2 * d * V
    assert kv_cache.flops_uncached(config, V, T) - logits == T * (kv_cache.flops_cached(config, V, T) - logits)
    assert kv_cache.cache_numbers(config, T) == 2 * 1 * T * d
    assert kv_cache.cache_bytes(config, T) == 4 * 2 * T * d
    assert parameter_count(config, V) > 0  # the same config object the app reads


def test_work_series_prefills_first_and_rebuilds_after_the_window_slides():
    config, V = ModelConfig(context_length=8), 500
    points = kv_cache.work_series(config, V, prompt_length=3, new_tokens=9)
    assert [p.length for p in points] == [3, 4, 5, 6, 7, 8, 8, 8, 8]
    assert [p.rebuilt for p in points] == [True, False, False, False, False, False, True, True, True]
    assert points[0].cached == kv_cache.flops_prefill(config, V, 3)
    assert points[1].cached == kv_cache.flops_cached(config, V, 4) < points[1].uncached
    assert points[-1].cached == kv_cache.flops_prefill(config, V, 8)
    assert all(p.cached <= p.uncached for p in points)
    assert points[-1].cache_bytes == kv_cache.cache_bytes(config, 8)


def test_walk_replays_the_generation_inside_the_window(model, compact_vocab):
    gen = generate(model, compact_vocab, PROMPT, max_new_tokens=20, temperature=0.0, use_cache=True)
    prompt_rows = compact_vocab.rows(gen.prompt_ids)
    new_rows = compact_vocab.rows(gen.new_ids)
    w = kv_cache.walk(model, prompt_rows, new_rows)
    P = len(prompt_rows)
    assert w.prompt_length == P and w.steps == 12 - P + 1  # prefill, then one row per token until the window is full
    assert w.rows == tuple(prompt_rows + new_rows[: 12 - P])
    assert w.keys[0].shape == (4, 12, 8) and w.queries[1].shape == (w.steps, 4, 8)
    for s in range(w.steps):
        n = w.cache_length(s)
        weights = w.weights[0][s]
        assert torch.isnan(weights[:, n:]).all() and torch.allclose(weights[:, :n].sum(-1), torch.ones(4))
        probs = w.probs[s].clone()
        probs[compact_vocab.unk_row] = 0
        assert int(probs.argmax()) == new_rows[s]  # greedy: the step's most likely token is the one generated
    assert math.isclose(float(w.probs[0].sum()), 1.0, rel_tol=1e-5)
