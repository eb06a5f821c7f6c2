"""The training loop: learns, is reproducible, resumes exactly, stops cleanly on NaN, reports cheaply."""
from __future__ import annotations

import math

import pytest
import torch

from minigpt import corpus
from minigpt.checkpoint import Checkpoint, from_bytes, to_bytes
from minigpt.config import ConfigError, ModelConfig, TrainConfig
from minigpt.trainer import (AttentionSnapshot, EvalReport, SampleReport, StepReport, Trainer, TrainingDiverged,
                             lr_at, parameter_groups, prepare)

PATTERN = "abcde fghij " * 200  # a repeated pattern: the next character is always predictable
MODEL = ModelConfig(context_length=8, d_model=32, num_heads=2, num_blocks=1, norm="pre", vocab="char", dropout=0.0)
TRAIN = TrainConfig(batch_size=8, learning_rate=1e-2, steps=60, eval_interval=20, eval_batches=4, device="cpu")


def make(model=MODEL, train=TRAIN, text=PATTERN, **options) -> Trainer:
    vocab, rows = prepare(text, model)
    return Trainer(model, train, rows, vocab, **options)


def test_prepare_maps_text_to_rows_of_its_vocabulary():
    vocab, rows = prepare("abcab", MODEL)
    assert rows.dtype == torch.long and rows.tolist() == vocab.rows(vocab.encode("abcab"))
    assert vocab.size == 4  # a, b, c and <unk>


def test_loss_falls_well_below_its_start():
    trainer = make().run()
    first, last = trainer.evals[0], trainer.evals[-1]
    assert first.step == 0 and last.step == 60
    assert [e.step for e in trainer.evals] == [0, 20, 40, 60]
    assert last.val_loss < 0.5 * first.val_loss
    assert last.train_loss < 0.5 * first.train_loss
    assert len(trainer.history["loss"]) == 60 and trainer.tokens == 60 * 8 * 8


def test_same_seeds_same_history_and_weights_even_with_dropout():
    model = ModelConfig(context_length=8, d_model=32, num_heads=2, vocab="char", dropout=0.2)
    a = make(model, TRAIN.__class__(**{**TRAIN.to_dict(), "steps": 15}))
    torch.manual_seed(0); torch.rand(3)  # someone else using the global RNG must not matter
    a.run()
    b = make(model, TRAIN.__class__(**{**TRAIN.to_dict(), "steps": 15}))
    torch.rand(7)
    b.run()
    assert a.history["loss"] == b.history["loss"]
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_state_dict_resumes_at_the_same_step_with_the_same_result():
    whole = make().run()
    first = make()
    first.run(steps=25)
    state = first.state_dict()
    second = make()
    second.load_state_dict(state)
    assert second.step_count == 25
    second.run()
    assert second.history["loss"] == whole.history["loss"]
    for p, q in zip(second.model.parameters(), whole.model.parameters()):
        assert torch.equal(p, q)


def test_reports_yield_every_kind_in_order_and_callbacks_see_them():
    seen = []
    trainer = make(train=TrainConfig(batch_size=4, steps=10, eval_interval=5, eval_batches=2, device="cpu"),
                   sample_every=5, sample_prompt="abc", sample_tokens=4, attention_every=5, attention_text="abcde fg")
    trainer.add_callback("eval", seen.append)
    reports = list(trainer.reports())
    kinds = [type(r).__name__ for r in reports]
    assert kinds.count("StepReport") == 10 and kinds.count("EvalReport") == 3
    assert kinds.count("SampleReport") == 2 and kinds.count("AttentionSnapshot") == 3
    assert [e.step for e in seen] == [0, 5, 10]
    step = next(r for r in reports if isinstance(r, StepReport))
    assert step.step == 1 and step.tokens == 4 * 8 and step.lr == pytest.approx(1e-3) and step.tokens_per_s > 0
    sample = next(r for r in reports if isinstance(r, SampleReport))
    assert sample.prompt == "abc" and len(sample.text) == 4
    snap = next(r for r in reports if isinstance(r, AttentionSnapshot))
    assert snap.weights.shape == (1, 2, 8, 8)  # blocks, heads, T, T
    assert torch.allclose(snap.weights.sum(-1), torch.ones(1, 2, 8))
    assert torch.all(snap.weights.triu(1) == 0)  # causal
    with pytest.raises(ValueError):
        trainer.add_callback("nope", print)


def test_attention_snapshots_are_thinned_evenly_and_keep_the_newest():
    trainer = make(train=TrainConfig(batch_size=2, steps=40, eval_interval=40, eval_batches=1, device="cpu"),
                   attention_every=1, max_attention_snapshots=8)
    trainer.run()
    steps = [s.step for s in trainer.attention]
    assert len(steps) <= 8 and steps[0] == 0 and steps[-1] == 40
    gaps = {b - a for a, b in zip(steps, steps[1:-1])}
    assert len(gaps) == 1  # evenly spaced (the newest may sit closer)


def test_nan_loss_stops_with_an_explanation_and_keeps_finite_weights(monkeypatch):
    trainer = make()
    trainer.run(steps=5)
    good = [p.detach().clone() for p in trainer.model.parameters()]
    real_forward = trainer.forward.forward

    def poisoned(rows, targets=None):
        logits, loss = real_forward(rows, targets)
        return logits, loss * float("nan")

    monkeypatch.setattr(trainer.forward, "forward", poisoned)
    with pytest.raises(TrainingDiverged) as info:
        trainer.step()
    assert "NaN at step 6" in str(info.value) and "learning rate" in str(info.value)
    assert info.value.step == 6 and trainer.step_count == 5
    for p, q in zip(trainer.model.parameters(), good):
        assert torch.equal(p, q)  # the bad step was never applied


def test_huge_learning_rate_never_leaves_non_finite_weights():
    trainer = make(train=TrainConfig(batch_size=8, learning_rate=10.0, steps=80, eval_interval=80, eval_batches=1,
                                     grad_clip=0.0, device="cpu"))
    try:
        trainer.run()
    except TrainingDiverged as exc:
        assert "learning rate" in str(exc)
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_too_short_validation_text_is_refused_before_training():
    with pytest.raises(corpus.CorpusError, match="validation"):
        make(text="abcdefghij" * 5)  # 50 characters: the last 10% is 5 < context 8 + 1


def test_learning_rate_schedule_warms_up_then_decays_to_a_tenth():
    config = TrainConfig(learning_rate=1.0, steps=110, warmup_steps=10, lr_schedule="cosine")
    assert lr_at(0, config) == pytest.approx(0.1) and lr_at(9, config) == pytest.approx(1.0)
    assert lr_at(10, config) == pytest.approx(1.0)
    assert lr_at(60, config) == pytest.approx(0.55)
    assert lr_at(110, config) == pytest.approx(0.1)
    assert lr_at(5000, TrainConfig(learning_rate=0.5)) == 0.5


def test_weight_decay_only_on_linear_weight_matrices():
    trainer = make()
    decay, no_decay = parameter_groups(trainer.model, 0.1)
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    assert {names[id(p)] for p in decay["params"]} == {
        "blocks.0.attn.qkv.weight", "blocks.0.attn.out.weight", "blocks.0.ffn.hidden.weight",
        "blocks.0.ffn.out.weight", "lm_head.weight"}
    assert "token_embedding.weight" in {names[id(p)] for p in no_decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(trainer.model.parameters()))


def test_checkpoint_copy_is_independent_and_round_trips(tmp_path):
    trainer = make()
    trainer.run(steps=20)
    ckpt = trainer.checkpoint_copy()
    assert isinstance(ckpt, Checkpoint) and not ckpt.model.training
    before = ckpt.model.lm_head.weight.clone()
    trainer.run(steps=5)
    assert torch.equal(ckpt.model.lm_head.weight, before)  # training went on; the copy did not move
    again = from_bytes(to_bytes(ckpt.model, ckpt.vocab, ckpt.train_state))
    assert again.train_state["steps"] == 20 and len(again.train_state["history"]["loss"]) == 20
    assert again.train_state["train_config"]["batch_size"] == 8
    assert [e["step"] for e in again.train_state["evals"]] == [0, 20]


def test_device_auto_and_mismatched_vocab_are_handled():
    trainer = make(train=TrainConfig(batch_size=2, steps=2, eval_interval=1, eval_batches=1, device="auto"))
    trainer.run()
    assert next(trainer.model.parameters()).device.type == trainer.device.type
    vocab, rows = prepare(PATTERN, MODEL)
    with pytest.raises(ConfigError, match="vocabulary"):
        Trainer(ModelConfig(vocab="compact"), TRAIN, rows, vocab)
    assert math.isfinite(trainer.evals[-1].val_loss)


def test_presets_hold_the_documented_values():
    from minigpt import presets

    assert presets.names() == ["tutorial", "lecture", "offline", "notebook", "fast-cpu"]
    tutorial = presets.get("tutorial")
    assert (tutorial.train.batch_size, tutorial.model.context_length, tutorial.model.d_model) == (4, 16, 64)
    assert (tutorial.model.num_blocks, tutorial.model.num_heads, tutorial.model.norm) == (8, 4, "pre")
    assert (tutorial.model.dropout, tutorial.model.qkv_bias, tutorial.model.vocab) == (0.1, False, "full")
    assert (tutorial.train.learning_rate, tutorial.train.steps) == (1e-3, 5000)
    assert (tutorial.train.eval_interval, tutorial.train.eval_batches) == (50, 20)
    offline = presets.get("offline")  # the lecture model, short enough not to overfit the built-in primer
    assert (offline.model.context_length, offline.model.num_blocks) == (32, 2)
    assert (offline.train.steps, offline.train.eval_interval, offline.train.lr_schedule) == (120, 10, "cosine")
    notebook = presets.get("notebook")
    assert (notebook.model.num_blocks, notebook.model.norm, notebook.model.vocab) == (1, "post", "compact")
    for preset in presets.PRESETS.values():
        assert preset.description("en") and preset.description("zh") != preset.description("en")
    with pytest.raises(ConfigError, match="Unknown preset 'x'; choose one of tutorial"):
        presets.get("x")
