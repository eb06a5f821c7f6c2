"""Pure builders of the Train and Generate pages (minigpt.train_figures)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from minigpt import presets, train_figures as tf
from minigpt.config import TrainConfig
from minigpt.explain import LANGUAGES
from minigpt.model import MiniGPT
from minigpt.sampling import generate


def _arr(value):
    """plotly 7 keeps numpy arrays as arrays in the figure; lists stay lists."""
    return np.asarray(value, dtype=np.float64)


def test_every_string_exists_in_both_languages():
    for key, entry in tf.TEXT.items():
        assert set(entry) >= set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
    assert tf.tr("loss", "zh") != tf.tr("loss", "en")  # falls back to explain.t's shared words


def test_loss_figure_against_steps_and_tokens():
    steps, losses = [1, 2, 3, 4], [5.0, 4.5, 4.2, 4.0]
    evals = [SimpleNamespace(step=0, train_loss=5.1, val_loss=5.2), SimpleNamespace(step=4, train_loss=4.0, val_loss=4.3)]
    fig = tf.loss_figure(steps, losses, evals, uniform_loss=math.log(100))
    batch, smoothed, train, val = fig.data
    assert _arr(batch.x).tolist() == steps and _arr(batch.y) == pytest.approx(losses)
    assert _arr(val.y).tolist() == pytest.approx([5.2, 4.3])
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(100))
    by_tokens = tf.loss_figure(steps, losses, evals, tokens_per_step=64, lang="zh")
    assert _arr(by_tokens.data[0].x).tolist() == [64, 128, 192, 256]
    assert _arr(by_tokens.data[3].x).tolist() == [0, 256]
    assert by_tokens.layout.xaxis.title.text == tf.TEXT["tokens_seen"]["zh"]
    with pytest.raises(ValueError):
        tf.loss_figure([1, 2], [3.0])


def test_loss_figure_before_any_step_is_empty_not_an_error():
    assert len(tf.loss_figure([], [], []).data) == 0


def test_attention_snapshot_uses_a_fixed_scale_and_checks_the_head():
    weights = torch.softmax(torch.randn(2, 3, 4, 4), -1)
    snap = SimpleNamespace(step=40, weights=weights)
    fig = tf.attention_snapshot(snap, ["a", " b", "c", "d"], block=1, head=2)
    heat = fig.data[0]
    assert np.allclose(_arr(heat.z), weights[1, 2].numpy(), atol=1e-6)
    assert (heat.zmin, heat.zmax) == (0.0, 1.0)
    assert "40" in fig.layout.title.text and list(heat.y)[1] == "1 ␣b"
    with pytest.raises(ValueError, match="does not exist"):
        tf.attention_snapshot(snap, list("abcd"), block=2, head=0)


def test_duration_and_estimate():
    assert tf.duration(None) == "–" and tf.duration(float("inf")) == "–"
    assert tf.duration(4.4) == "4 s" and tf.duration(185) == "3 min 05 s" and tf.duration(3720) == "1 h 02 min"
    p = presets.get("lecture")
    one = tf.estimated_seconds(p.model, p.train, 1000)
    double = tf.estimated_seconds(p.model, TrainConfig(**(p.train.to_dict() | {"steps": 600})), 1000)
    assert 0 < one < double < 2.2 * one
    assert tf.estimated_seconds(presets.get("tutorial").model, p.train, 100_000) > one  # bigger model, longer


def test_probability_colours_are_ordered_stops():
    assert tf.prob_colour(0.0) == tf.PROB_STOPS[0][1]
    assert tf.prob_colour(1.0) == tf.PROB_STOPS[-1][1]
    assert tf.prob_colour(0.3) == "#fee391"


@pytest.fixture(scope="module")
def generation(compact_vocab):
    model = MiniGPT(presets.get("notebook").model, compact_vocab.size).eval()
    return generate(model, compact_vocab, "The customer", max_new_tokens=6, seed=3, num_candidates=4)


def test_generation_html_escapes_and_marks_the_selected_token(generation):
    page = tf.generation_html("<b>The</b> customer", generation.steps, selected=2)
    assert "&lt;b&gt;The&lt;/b&gt;" in page and "<b>The" not in page
    assert page.count('style="display:inline-block') == len(generation.steps)
    assert page.count("border:2px solid #111") == 1
    for step in generation.steps:
        assert tf.prob_colour(step.prob) in page
    assert "≥ 50%" in tf.probability_legend_html()


def test_candidates_figure_ticks_the_chosen_token(generation):
    step = generation.steps[1]
    fig = tf.candidates_figure(step, 1, lang="zh")
    names = list(fig.data[0].y)
    assert sum("✔" in n for n in names) == 1 and "第 2 个位置" in fig.layout.title.text
    assert tf.position_label(step, 1).startswith("2 · ")


def test_prediction_diff_compares_by_text_across_vocabularies(compact_vocab, char_vocab):
    a = torch.zeros(3, compact_vocab.size)
    a[:, 5] = 1.0
    b = torch.zeros(3, char_vocab.size)
    b[0, char_vocab.rows([ord("x")])[0]] = 0.9
    b[1:, 7] = 0.6
    frame = tf.prediction_diff(a, b, compact_vocab, char_vocab, ["0 a", "1 b", "2 c"])
    assert list(frame.columns)[0] == "position" and len(frame) == 3
    assert frame.iloc[0, 2].startswith("x (90.0%") and frame.iloc[0, 3]
    same = tf.prediction_diff(a, a, compact_vocab, compact_vocab, ["0", "1", "2"])
    assert not same.iloc[:, 3].any()
    with pytest.raises(ValueError):
        tf.prediction_diff(a, b[:2], compact_vocab, char_vocab, ["0", "1", "2"])


def test_true_token_probs_bars():
    fig = tf.true_token_probs([0.01, 0.02], [0.3, 0.5], ["a", "b"], lang="zh")
    assert _arr(fig.data[1].y).tolist() == pytest.approx([0.3, 0.5])
    assert fig.data[0].name == "训练前"
    with pytest.raises(ValueError):
        tf.true_token_probs([0.1], [0.2, 0.3], ["a", "b"])


def test_default_prompt():
    assert tf.default_prompt("Sales is   a craft of listening and asking.") == "Sales is a craft"
    assert tf.default_prompt("销售是一门倾听的艺术。") == "销售是一门倾听的"
    assert tf.default_prompt("") == "The"


def test_target_probs_picks_each_rows_target():
    p = np.array([[0.1, 0.9], [0.7, 0.3]])
    assert tf.target_probs(p, [1, 0]).tolist() == pytest.approx([0.9, 0.7])
    with pytest.raises(ValueError):
        tf.target_probs(p, [1])
