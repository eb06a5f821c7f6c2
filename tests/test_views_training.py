"""The Train page's figures and strings (minigpt.views.training)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from minigpt import analysis
from minigpt.text import LANGUAGES, keys, t
from minigpt.views import training
from tests.views_support import floats


def test_every_string_exists_in_both_languages():
    train_keys = [k for k in keys() if k.startswith("train.")]
    assert len(train_keys) > 50
    for key in train_keys:
        assert all(t(key, lang).strip() for lang in LANGUAGES), key
    assert t("ui.loss", "zh") != t("ui.loss", "en")  # the shared words the Train page uses


def test_loss_curves(compact_vocab):
    from minigpt.trainer import EvalReport, StepReport

    steps = [StepReport(step=i, loss=7.0 - i * 0.01, lr=1e-3, tokens=64 * i, elapsed=0.1 * i, tokens_per_s=640.0)
             for i in range(1, 201)]
    evals = [EvalReport(step=s, train_loss=7.0 - s * 0.01, val_loss=7.1 - s * 0.009, elapsed=0.0) for s in (0, 100, 200)]
    fig = training.loss_curves([r.step for r in steps], [r.loss for r in steps], evals,
                               uniform_loss=math.log(compact_vocab.size))
    names = [trace.name for trace in fig.data]
    assert names == ["loss of each batch", "moving average", "train loss (evaluated)", "validation loss"]
    np.testing.assert_allclose(fig.data[0].y, [r.loss for r in steps], rtol=1e-6)
    np.testing.assert_allclose(fig.data[3].y, [e.val_loss for e in evals], rtol=1e-6)
    assert fig.data[1].y[-1] > steps[-1].loss  # a moving average lags a falling loss
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(compact_vocab.size))
    assert len(training.loss_curves([], []).data) == 0  # before the first step: an empty chart, no error


def test_loss_figure_against_steps_and_tokens():
    steps, losses = [1, 2, 3, 4], [5.0, 4.5, 4.2, 4.0]
    evals = [SimpleNamespace(step=0, train_loss=5.1, val_loss=5.2), SimpleNamespace(step=4, train_loss=4.0, val_loss=4.3)]
    fig = training.loss_curves(steps, losses, evals, uniform_loss=math.log(100))
    batch, smoothed, train, val = fig.data
    assert floats(batch.x).tolist() == steps and floats(batch.y) == pytest.approx(losses)
    assert floats(val.y).tolist() == pytest.approx([5.2, 4.3])
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(100))
    by_tokens = training.loss_curves(steps, losses, evals, tokens_per_step=64, lang="zh")
    assert floats(by_tokens.data[0].x).tolist() == [64, 128, 192, 256]
    assert floats(by_tokens.data[3].x).tolist() == [0, 256]
    assert by_tokens.layout.xaxis.title.text == t("train.tokens_seen", "zh")
    with pytest.raises(ValueError):
        training.loss_curves([1, 2], [3.0])


def test_loss_figure_before_any_step_is_empty_not_an_error():
    assert len(training.loss_curves([], [], []).data) == 0


def test_moving_average_matches_its_definition_and_long_runs_are_thinned():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    expected, running = [], x[0]
    for v in x:
        running = 0.9 * running + 0.1 * v
        expected.append(running)
    np.testing.assert_allclose(analysis.ema(x, 0.9), expected, rtol=1e-5, atol=1e-6)
    assert analysis.ema([], 0.9).size == 0

    class Report:
        def __init__(self, step):
            self.step, self.loss = step, 5.0 + math.sin(step)

    reports = [Report(i) for i in range(1, 20_001)]
    fig = training.loss_curves([r.step for r in reports], [r.loss for r in reports])
    assert len(fig.data[0].x) <= training.MAX_CURVE_POINTS + 1 and fig.data[0].x[-1] == 20_000


def test_attention_snapshot_uses_a_fixed_scale_and_checks_the_head():
    weights = torch.softmax(torch.randn(2, 3, 4, 4), -1)
    snap = SimpleNamespace(step=40, weights=weights)
    fig = training.attention_snapshot(snap, ["a", " b", "c", "d"], block=1, head=2)
    heat = fig.data[0]
    assert np.allclose(floats(heat.z), weights[1, 2].numpy(), atol=1e-6)
    assert (heat.zmin, heat.zmax) == (0.0, 1.0)
    assert "40" in fig.layout.title.text and list(heat.y)[1] == "1 ␣b"
    with pytest.raises(ValueError, match="does not exist"):
        training.attention_snapshot(snap, list("abcd"), block=2, head=0)
