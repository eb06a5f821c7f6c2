"""minigpt.overfitting (when validation loss has been rising, and what to try), the loss figure's best-step
marker, and the presets' sidebar fields: pure functions, no Streamlit."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from minigpt import overfitting, presets
from minigpt.overfitting import OVERFITTING, UNSTABLE, NONE
from minigpt.text import t
from minigpt.views import training
from minigpt.walkthrough import Controls


@dataclass(frozen=True)
class Eval:
    step: int
    train_loss: float
    val_loss: float
    elapsed: float = 0.0


def evals(*rows):
    return [Eval(step, tr, va) for step, tr, va in rows]


FALLING = evals((0, 7.3, 7.3), (50, 5.1, 6.1), (100, 4.0, 6.0), (150, 3.6, 5.98))
# The lecture preset on the built-in text, as the issue saw it: lowest near step 100, then climbing.
RISING = evals((0, 7.3, 7.3), (50, 5.1, 6.1), (100, 4.0, 6.0), (150, 3.3, 6.12), (200, 2.8, 6.33), (300, 2.4, 6.49))


def test_a_falling_run_does_not_warn():
    v = overfitting.verdict(FALLING)
    assert v.kind == NONE and not v.warns and v.best.step == 150 and v.rise == 0.0


def test_a_rising_validation_loss_with_a_falling_training_loss_is_overfitting():
    v = overfitting.verdict(RISING)
    assert v.kind == OVERFITTING and v.best.step == 100 and v.rising == 3
    assert v.rise == pytest.approx(0.49)


def test_one_evaluation_above_the_best_or_a_rise_within_the_margin_is_not_enough():
    assert overfitting.verdict(RISING[:4]).kind == NONE  # one evaluation above the best: patience is 2
    small = evals((0, 7.0, 7.0), (10, 5.0, 6.0), (20, 4.9, 6.04), (30, 4.8, 6.049))
    assert overfitting.verdict(small).kind == NONE  # 0.049 above: within the margin (noise)
    assert overfitting.verdict(small, margin=0.01).kind == OVERFITTING
    dip = evals((0, 7.0, 7.0), (10, 5.0, 6.0), (20, 4.9, 6.2), (30, 4.8, 6.01), (40, 4.7, 6.3))
    assert overfitting.verdict(dip).rising == 1  # the run of rising evaluations is the latest one, in a row


def test_both_losses_rising_is_unstable_not_overfitting():
    v = overfitting.verdict(evals((0, 7.0, 7.0), (10, 5.0, 6.0), (20, 5.6, 6.4), (30, 6.5, 6.9)))
    assert v.kind == UNSTABLE
    assert overfitting.advice(v, steps=30, train_tokens=6000, tokens_seen=9000, parameters=10**5, dropout=0.0,
                              learning_rate=0.03, corpus="builtin") == [("trainlive.try_lower_lr", {"lr": "0.03"})]


def test_no_evaluations_and_bad_arguments():
    assert overfitting.verdict([]).kind == NONE and overfitting.best_eval([]) is None
    with pytest.raises(ValueError):
        overfitting.verdict(RISING, patience=0)


def test_advice_is_true_for_the_run():
    v = overfitting.verdict(RISING)
    tips = dict(overfitting.advice(v, steps=300, train_tokens=6_600, tokens_seen=300 * 16 * 32,
                                   parameters=290_000, dropout=0.0, learning_rate=3e-3, corpus="builtin"))
    assert tips["trainlive.try_fewer_steps"] == {"best": 100, "steps": 300}
    assert tips["trainlive.try_more_data_sales"]["epochs"] == "23"  # 153,600 tokens seen / 6,600
    assert "trainlive.try_dropout" in tips and "trainlive.try_smaller" in tips
    tips = dict(overfitting.advice(v, steps=300, train_tokens=500_000, tokens_seen=10, parameters=290_000,
                                   dropout=0.2, learning_rate=3e-3, corpus="sales"))
    assert set(tips) == {"trainlive.try_fewer_steps", "trainlive.try_more_data"}  # dropout 0.2, more tokens than weights
    for lang in ("en", "zh"):  # every tip reads in both languages
        for key, values in overfitting.advice(v, steps=300, train_tokens=6_600, tokens_seen=1, parameters=290_000,
                                              dropout=0.0, learning_rate=3e-3, corpus="builtin"):
            assert t(key, lang, **values)
    assert overfitting.advice(overfitting.verdict(FALLING), steps=1, train_tokens=1, tokens_seen=1, parameters=1,
                              dropout=0.0, learning_rate=1.0, corpus="builtin") == []


def test_the_loss_figure_marks_the_best_step_and_shades_the_rise():
    v = overfitting.verdict(RISING)
    fig = training.loss_curves([1, 2], [7.0, 6.5], RISING, best=v.best, rising=v.warns)
    star = [d for d in fig.data if d.name and d.name.startswith("best validation loss")]
    assert len(star) == 1 and list(star[0].x) == [100] and list(star[0].y) == [6.0]
    assert "step 100" in star[0].name
    assert [s.x0 for s in fig.layout.shapes if s.type == "rect"] == [100]  # shaded from the best step...
    assert [s.x1 for s in fig.layout.shapes if s.type == "rect"] == [300]  # ...to the last evaluation
    calm = training.loss_curves([1, 2], [7.0, 6.5], FALLING, best=overfitting.best_eval(FALLING), lang="zh")
    assert not [s for s in calm.layout.shapes if s.type == "rect"]
    assert any(d.name and d.name.startswith("最低验证损失") for d in calm.data)


def test_the_offline_preset_and_the_sidebar_fields():
    p = presets.get("offline")
    assert p.description("en") and p.description("zh") != p.description("en")
    assert p.train.steps < presets.get("lecture").train.steps and p.model == presets.get("lecture").model
    changed = presets.sidebar_changes(Controls(), p.model)
    assert {name for name, _, _ in changed} == {"context_length", "num_blocks", "norm"}
    assert presets.sidebar_changes(Controls(context_length=32, num_blocks=2, norm="pre"), p.model) == []
    assert all(hasattr(Controls(), name) for name in presets.SIDEBAR_FIELDS)
