"""Background training jobs: pause/resume/stop between steps, limits, one job per session.

A test that acts on a running job holds its worker at an exact step first (tests/step_gate.py): a tiny job can
finish 300 steps before a polling test thread gets to press Pause, so no test here races a sleep against it."""
from __future__ import annotations

import dataclasses
import threading
import time

import pytest
import torch

from minigpt import devices, jobs
from minigpt.checkpoint import Checkpoint
from minigpt.config import ModelConfig, TrainConfig
from minigpt.jobs import JobManager, JobRefused, Progress, TrainingJob
from minigpt.trainer import Trainer, prepare
from tests.step_gate import StepGate

TEXT = "abcde fghij " * 200
MODEL = ModelConfig(context_length=8, d_model=32, num_heads=2, num_blocks=1, norm="pre", vocab="char")
TRAIN = TrainConfig(batch_size=8, learning_rate=1e-2, steps=120, eval_interval=20, eval_batches=2, device="cpu")
VOCAB, ROWS = prepare(TEXT, MODEL)


@pytest.fixture(autouse=True)
def keep_torch_threads(monkeypatch):
    """JobManager.start bounds torch's (process-wide) threads; give later tests their threads back."""
    before = torch.get_num_threads()
    monkeypatch.setattr(devices, "_threads_set", None)
    yield
    torch.set_num_threads(before)


def job(train=TRAIN, before_step=None, **options) -> TrainingJob:
    return TrainingJob(Trainer(MODEL, train, ROWS, VOCAB, **options), name="test", before_step=before_step)


def test_a_job_runs_to_the_end_and_reports_progress():
    j = job(sample_every=40, attention_every=20).start()
    assert j.thread.name.startswith("minigpt-train")
    assert j.join(120) and j.status == "finished"
    p = j.snapshot()
    assert isinstance(p, Progress) and p.step == p.total == 120 and p.fraction == 1.0 and not p.active
    assert p.loss_steps == tuple(range(1, 121)) and len(p.losses) == len(p.lrs) == 120
    assert [e.step for e in p.evals] == [0, 20, 40, 60, 80, 100, 120]
    assert p.evals[-1].val_loss < 0.5 * p.evals[0].val_loss
    assert p.sample.step == 120 and [s.step for s in p.samples] == [40, 80, 120]
    assert [a.step for a in p.attention] == [0, 20, 40, 60, 80, 100, 120]
    assert len(p.attention_tokens) == MODEL.context_length and p.attention[0].weights.shape == (1, 2, 8, 8)
    assert p.tokens == 120 * 8 * 8 and p.tokens_per_s > 0 and p.eta_s is None and p.error is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.step = 3
    ckpt = j.result()
    assert isinstance(ckpt, Checkpoint) and ckpt.train_state["steps"] == 120
    assert j._trainer is None  # optimizer and model freed; result() still works from the kept copy


def test_pause_resume_continues_from_the_same_step_with_the_same_weights():
    train = dataclasses.replace(TRAIN, steps=300)
    whole = Trainer(MODEL, train, ROWS, VOCAB).run()
    gate = StepGate(hold=10)
    j = job(train, before_step=gate).start()
    gate.wait_held(10)
    assert j.status == "running" and j.snapshot().step == 10
    j.pause()  # from another thread, as the page's button does, while the worker is mid-run
    gate.release(hold=11)  # a pause that let step 11 run would be held there
    time.sleep(0.2)  # gives a broken pause the time to show; a working one passes however long this takes
    p = j.snapshot()
    assert p.status == "paused" and p.step == 10 and p.eta_s is None
    copy = j.result()  # weights can be read while paused (and while running)
    assert not copy.model.training and copy.train_state["steps"] == 10
    j.resume()
    gate.wait_held(11)  # resume goes on from the step it paused at
    assert j.status == "running"
    gate.release()
    assert j.join(120) and j.status == "finished"
    final = j.result().model
    for (name, a), b in zip(final.state_dict().items(), whole.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert j.snapshot().losses == tuple(whole.history["loss"])


def test_stop_ends_the_thread_and_frees_the_slot():
    manager = JobManager(max_jobs=1, max_params=10**6, max_steps=10**6)
    long = dataclasses.replace(TRAIN, steps=20_000)
    manager.before_step = gate = StepGate(hold=3)
    j = manager.start("s1", MODEL, long, ROWS, VOCAB)
    gate.wait_held(3)
    assert manager.active_count() == 1 and j.status == "running"
    j.stop()  # mid-run: the worker is held before step 4
    assert j.join(60) and j.status == "stopped" and manager.active_count() == 0
    assert j._trainer is None and j.result().train_state["steps"] == 3
    manager.before_step = gate = StepGate(hold=1)
    j2 = manager.start("s2", MODEL, long, ROWS, VOCAB)  # the slot is free again
    gate.wait_held(1)
    manager.release("s2")
    assert j2.join(60) and j2.status == "stopped" and manager.get("s2") is None
    assert not [t for t in threading.enumerate() if t.name.startswith("minigpt-train") and t.is_alive()]


def test_busy_slots_refuse_another_session_with_a_when_to_retry_message(monkeypatch):
    monkeypatch.setenv("MINIGPT_MAX_JOBS", "1")
    manager = JobManager()
    long = dataclasses.replace(TRAIN, steps=20_000)
    manager.before_step = gate = StepGate(hold=2)
    first = manager.start("alice", MODEL, long, ROWS, VOCAB)
    try:
        gate.wait_held(2)  # running, with an ETA: the refusal can say when to retry
        with pytest.raises(JobRefused, match=r"1 of 1 training slots are busy; the next frees in about [\d,]+ s"):
            manager.start("bob", MODEL, TRAIN, ROWS, VOCAB)
        first.pause()
        with pytest.raises(JobRefused, match="paused"):
            manager.start("bob", MODEL, TRAIN, ROWS, VOCAB)
    finally:
        manager.shutdown()
    assert first.join(60) and first.status == "stopped"


def test_same_session_replaces_its_running_job():
    manager = JobManager(max_jobs=1)
    long = dataclasses.replace(TRAIN, steps=20_000)
    manager.before_step = gate = StepGate(hold=1)
    old = manager.start("alice", MODEL, long, ROWS, VOCAB)
    gate.wait_held(1)  # running when replaced
    manager.before_step = None
    new = manager.start("alice", MODEL, TRAIN, ROWS, VOCAB)  # one slot, same session: no refusal
    assert old.join(60) and old.status == "stopped"
    assert manager.get("alice") is new and new.join(120) and new.status == "finished"
    assert manager.active_count() == 0


def test_too_big_a_model_or_too_many_steps_is_refused(monkeypatch):
    monkeypatch.setenv("MINIGPT_MAX_PARAMS", "50000")
    monkeypatch.setenv("MINIGPT_MAX_STEPS", "500")
    manager = JobManager()
    with pytest.raises(JobRefused, match="parameters; live training here allows at most 50,000"):
        manager.start("a", dataclasses.replace(MODEL, d_model=128), TRAIN, ROWS, VOCAB)
    with pytest.raises(JobRefused, match="1,000 steps is more than the 500 allowed"):
        manager.start("a", MODEL, dataclasses.replace(TRAIN, steps=1000), ROWS, VOCAB)
    assert manager.sessions() == []


def test_nan_fails_the_job_with_the_explanation_and_keeps_finite_weights(monkeypatch):
    trainer = Trainer(MODEL, TRAIN, ROWS, VOCAB)
    real = trainer.forward.forward
    calls = []

    def poisoned(rows, targets=None):
        logits, loss = real(rows, targets)
        calls.append(1)
        return logits, (loss * float("nan") if len(calls) > 30 and targets is not None and trainer.model.training
                        else loss)

    monkeypatch.setattr(trainer.forward, "forward", poisoned)
    j = TrainingJob(trainer).start()
    assert j.join(120) and j.status == "failed"
    p = j.snapshot()
    assert p.error.startswith("The loss became NaN at step") and "learning rate" in p.error
    weights = j.result().model.parameters()
    assert all(torch.isfinite(w).all() for w in weights)


def test_stop_before_start_and_release_of_unknown_session_are_harmless():
    j = job()
    j.stop()
    assert j.status == "stopped"
    JobManager().release("nobody")


def test_bound_threads_sets_torch_threads_once(monkeypatch):
    monkeypatch.setenv("MINIGPT_TORCH_THREADS", "1")
    assert devices.bound_threads() == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("MINIGPT_TORCH_THREADS", "2")
    assert devices.bound_threads() == 1  # once per process


def test_default_manager_is_one_per_process():
    assert jobs.default_manager() is jobs.default_manager()
