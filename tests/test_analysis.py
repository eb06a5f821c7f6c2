"""Numbers beside the figures (minigpt.analysis): time estimates, the default prompt, p(true next token)."""
from __future__ import annotations

import numpy as np
import pytest

from minigpt import analysis, presets
from minigpt.config import TrainConfig
from minigpt.views.labels import duration


def test_duration_and_estimate():
    assert duration(None) == "–" and duration(float("inf")) == "–"
    assert duration(4.4) == "4 s" and duration(185) == "3 min 05 s" and duration(3720) == "1 h 02 min"
    p = presets.get("lecture")
    one = analysis.estimated_seconds(p.model, p.train, 1000)
    double = analysis.estimated_seconds(p.model, TrainConfig(**(p.train.to_dict() | {"steps": 600})), 1000)
    assert 0 < one < double < 2.2 * one
    assert analysis.estimated_seconds(presets.get("tutorial").model, p.train, 100_000) > one  # bigger model, longer


def test_default_prompt():
    assert analysis.default_prompt("Sales is   a craft of listening and asking.") == "Sales is a craft"
    assert analysis.default_prompt("销售是一门倾听的艺术。") == "销售是一门倾听的"
    assert analysis.default_prompt("") == "The"


def test_target_probs_picks_each_rows_target():
    p = np.array([[0.1, 0.9], [0.7, 0.3]])
    assert analysis.target_probs(p, [1, 0]).tolist() == pytest.approx([0.9, 0.7])
    with pytest.raises(ValueError):
        analysis.target_probs(p, [1])
