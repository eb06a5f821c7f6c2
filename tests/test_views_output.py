"""Next-token figures (minigpt.views.output): top-k bars, the loss per position, generation candidates,
p(true next token) before and after training."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from minigpt import MiniGPT, ModelConfig
from minigpt.views import output
from minigpt.views.labels import escape_all, position_label, vocab_label
from tests.views_support import floats


def test_topk_bars_show_torch_topk(traced, compact_vocab):
    probs = traced["probs"][0, -1]
    fig = output.topk_bars(probs, compact_vocab, k=7)
    top = torch.topk(probs, 7)
    bar = fig.data[0]
    np.testing.assert_array_equal(np.asarray(bar.x), top.values.numpy())
    assert list(bar.y) == escape_all(vocab_label(compact_vocab, r) for r in top.indices.tolist())
    assert fig.layout.yaxis.autorange == "reversed"  # the first (largest) bar on top
    assert all(t.endswith("%") for t in bar.text)


def test_token_loss_bar_has_the_uniform_reference(compact_vocab):
    losses = torch.tensor([1.0, 2.5, 7.0])
    fig = output.token_loss_bar(losses, ["0 a", "1 b", "2 c"], [" b", "\n", "<d>"],
                                uniform_loss=math.log(compact_vocab.size))
    np.testing.assert_array_equal(np.asarray(fig.data[0].y), losses.numpy())
    assert list(fig.data[0].customdata) == ["␣b", "↵", "&lt;d&gt;"]
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(compact_vocab.size))
    assert "ln(V)" in fig.layout.annotations[0].text
    assert not output.token_loss_bar(losses, ["a", "b", "c"], ["b", "c", "d"]).layout.shapes
    with pytest.raises(ValueError):
        output.token_loss_bar(losses, ["a"], ["b"])


def test_candidate_bars(compact_vocab):
    from minigpt import generate

    model = MiniGPT(ModelConfig(), compact_vocab.size).eval()
    step = generate(model, compact_vocab, "The customer", max_new_tokens=1, temperature=0.7, top_k=3).steps[0]
    bars = output.candidate_bars(step.candidates, chosen_id=step.token_id, lang="zh")
    model_bar, sample_bar = bars.data
    np.testing.assert_allclose(model_bar.x, [c.prob for c in step.candidates], rtol=1e-6)
    np.testing.assert_allclose(sample_bar.x, [c.sample_prob for c in step.candidates], rtol=1e-6)
    assert sum(label.endswith("✔") for label in model_bar.y) == 1
    assert model_bar.name == "模型概率"


def test_candidates_figure_ticks_the_chosen_token(generation):
    step = generation.steps[1]
    fig = output.candidates_figure(step, 1, lang="zh")
    names = list(fig.data[0].y)
    assert sum("✔" in n for n in names) == 1 and "第 2 个位置" in fig.layout.title.text
    assert position_label(step, 1).startswith("2 · ")


def test_true_token_probs_bars():
    fig = output.true_token_probs([0.01, 0.02], [0.3, 0.5], ["a", "b"], lang="zh")
    assert floats(fig.data[1].y).tolist() == pytest.approx([0.3, 0.5])
    assert fig.data[0].name == "训练前"
    with pytest.raises(ValueError):
        output.true_token_probs([0.1], [0.2, 0.3], ["a", "b"])
