"""The KV cache figures (minigpt.views.kvcache): the cache grows by one row per step, the new row is outlined,
the attention of the new row spans exactly the cached keys on a fixed 0-1 axis, and the work chart."""
from __future__ import annotations

import numpy as np
import pytest

from minigpt import MiniGPT, ModelConfig, generate, kv_cache
from minigpt.views import kvcache
from minigpt.views.labels import id_labels
from tests.views_support import floats


@pytest.fixture(scope="module")
def walked(compact_vocab):
    config = ModelConfig(context_length=10, d_model=32, num_heads=4, num_blocks=2, seed=4)
    model = MiniGPT(config, compact_vocab.size).eval()
    gen = generate(model, compact_vocab, "Listen to the customer", max_new_tokens=12, seed=1, use_cache=True)
    walk = kv_cache.walk(model, compact_vocab.rows(gen.prompt_ids), compact_vocab.rows(gen.new_ids))
    labels = id_labels(compact_vocab.token_ids(walk.rows), "compact")
    return config, gen, walk, labels


@pytest.mark.parametrize("which", ["keys", "values"])
def test_the_cache_heatmap_grows_one_row_per_step(walked, which):
    _, _, walk, labels = walked
    P = walk.prompt_length
    for step in (0, 1, walk.steps - 1):
        fig = kvcache.cache_heatmap(walk, which, step, block=1, head=2, labels=labels, lang="zh")
        z = floats(fig.data[0].z)
        n = P + step
        assert np.isfinite(z[:n]).all() and np.isnan(z[n:]).all()
        expected = (walk.keys if which == "keys" else walk.values)[1][2].numpy()
        np.testing.assert_allclose(z[:n], expected[:n], rtol=1e-6)
        rect = fig.layout.shapes[0]
        assert (rect.y0, rect.y1) == ((-0.5, n - 0.5) if step == 0 else (n - 1.5, n - 0.5))
        assert f"{n}" in fig.layout.title.text and "块 1" in fig.layout.title.text
        bound = float(np.abs(expected).max())
        assert (fig.data[0].zmin, fig.data[0].zmax) == (-bound, bound)  # the same range at every step


def test_the_new_query_row_and_its_attention(walked):
    _, _, walk, labels = walked
    step = 2
    n = walk.cache_length(step)
    fig = kvcache.query_attention(walk, step, block=0, head=1, labels=labels)
    q, bars = fig.data
    np.testing.assert_allclose(floats(q.z).reshape(-1), walk.queries[0][step, 1].numpy(), rtol=1e-6)
    assert len(bars.x) == n and floats(bars.y).sum() == pytest.approx(1.0, abs=1e-5)
    assert tuple(fig.layout.yaxis2.range) == (0, 1.15)
    with pytest.raises(ValueError, match="Step 99"):
        kvcache.query_attention(walk, 99, block=0, head=0, labels=labels)
    with pytest.raises(ValueError, match="Head 9"):
        kvcache.cache_heatmap(walk, "keys", 0, block=0, head=9, labels=labels)


def test_the_work_chart_marks_the_rebuilds(walked, compact_vocab):
    config, gen, _, _ = walked
    points = kv_cache.work_series(config, compact_vocab.size, len(gen.prompt_ids), len(gen.steps))
    fig = kvcache.work_figure(points, step=3, lang="en")
    without, with_, rebuilt = fig.data
    assert list(floats(without.y)) == [p.uncached for p in points]
    assert list(floats(with_.y)) == [p.cached for p in points]
    assert list(floats(rebuilt.x)) == [p.index + 1 for p in points if p.rebuilt]
    assert fig.layout.shapes[0].x0 == 4
