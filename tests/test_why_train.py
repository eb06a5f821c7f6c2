"""The Train page's "What it learned" section (ui/why_train.py) on a real run's snapshots, en and 中文."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from streamlit.testing.v1 import AppTest

from minigpt import corpus, roles
from minigpt.config import ModelConfig, TrainConfig
from minigpt.trainer import Trainer
from minigpt.training import prepare


def _section(lang: str, attention, tokens, vocab):
    from types import SimpleNamespace
    from ui import why_train

    why_train.training_ui(SimpleNamespace(vocab=vocab), SimpleNamespace(attention=attention, attention_tokens=tokens),
                          SimpleNamespace(lang=lang))


@pytest.fixture(scope="module")
def run():
    config = ModelConfig(d_model=32, num_heads=2, num_blocks=2, context_length=16)
    vocab, rows = prepare(corpus.builtin().text, config)
    trainer = Trainer(config, TrainConfig(steps=6, eval_interval=6, eval_batches=1, device="cpu"), rows, vocab,
                      attention_every=2, attention_text="The team and the customer trust the team")
    trainer.run()
    return trainer


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_roles_gradients_and_map_over_training(run, lang):
    at = AppTest.from_function(_section, args=(lang, run.attention, run.attention_tokens, run.vocab),
                               default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(figs) == 3
    roles_fig = figs[0]
    assert len(roles_fig["data"]) == 4  # 2 blocks x 2 heads
    expected = roles.snapshot_roles(run.attention[-1].weights, run.attention_tokens)[0, 0, 0]
    from tests.test_pages import decode
    assert float(decode(roles_fig["data"][0]["y"])[-1]) == pytest.approx(float(expected), abs=1e-6)
    assert at.select_slider(key="why_train_map_step").value == run.attention[-1].step
    at.radio(key="why_train_role").set_value("induction").run()
    assert not at.exception


def test_the_report_prints_what_the_page_shows(run, tmp_path, capsys):
    from minigpt import checkpoint, why_report

    path = checkpoint.write(tmp_path / "m.safetensors", run.model, run.vocab, run.train_state())
    assert why_report.main(["--checkpoint", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "| block 1 · head 1 |" in printed and "induction (chance" in printed
    found = why_report.report(checkpoint.read(path))
    assert found["scores"].shape == (2, 2, 4) and found["importance"]["zero"].increase.shape == (2, 2)
