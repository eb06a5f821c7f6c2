"""Flat parameter buffers (minigpt/flat.py): the Trainer's default layout trains exactly like the per-parameter one."""
from __future__ import annotations

import pytest
import torch

from minigpt.config import ModelConfig, TrainConfig
from minigpt.flat import FlatParameters
from minigpt.model import MiniGPT
from minigpt.trainer import Trainer, TrainingDiverged, parameter_groups, prepare

PATTERN = "abcde fghij " * 200
# No Q/K/V bias: the key bias's true gradient is 0 (softmax ignores a shift shared by all keys), so its computed
# gradient is rounding noise that Adam scales up to full-size steps, and a 1-ulp change in the clip factor (the
# norm summed in another order) moves it by ~lr. Every other weight agrees to 1e-5 either way.
MODEL = ModelConfig(context_length=8, d_model=32, num_heads=2, num_blocks=2, norm="pre", vocab="char", dropout=0.1,
                    qkv_bias=False)
TRAIN = TrainConfig(batch_size=4, learning_rate=3e-3, steps=25, eval_interval=25, eval_batches=1, device="cpu",
                    grad_clip=0.5, weight_decay=0.1, warmup_steps=5, lr_schedule="cosine")


def make(train=TRAIN, **options) -> Trainer:
    vocab, rows = prepare(PATTERN, MODEL)
    return Trainer(MODEL, train, rows, vocab, **options)


def assert_same_weights(a: Trainer, b: Trainer, tol: float) -> None:
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=tol, atol=tol, msg=name)


@pytest.mark.parametrize("grad_clip", [0.5, 0.0])
def test_flat_trains_like_the_per_parameter_layout(grad_clip):
    train = TrainConfig(**(TRAIN.to_dict() | {"grad_clip": grad_clip}))
    flat, plain = make(train).run(), make(train, flat=False).run()
    assert flat._flat is not None and plain._flat is None
    assert len(flat.optimizer.param_groups) == 2 and all(len(g["params"]) == 1 for g in flat.optimizer.param_groups)
    assert [g["weight_decay"] for g in flat.optimizer.param_groups] == [0.1, 0.0]
    # Same math; only the gradient norm's summation order differs (2 partial norms instead of ~30).
    torch.testing.assert_close(torch.tensor(flat.history["loss"]), torch.tensor(plain.history["loss"]),
                               rtol=1e-5, atol=1e-5)
    assert_same_weights(flat, plain, 1e-5)


def test_parameters_are_views_of_the_flat_buffers_and_gradients_are_zeroed():
    trainer = make()
    trainer.run(3)
    buffers = trainer._flat.buffers
    for p in trainer.model.parameters():
        owner = [b for b in buffers if p.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()]
        assert len(owner) == 1
        assert p.grad is not None and p.grad.untyped_storage().data_ptr() == owner[0].grad.untyped_storage().data_ptr()
    assert all(float(b.grad.abs().sum()) == 0 for b in buffers)  # zeroed after the step
    assert sum(b.numel() for b in buffers) == trainer.model.num_parameters()


def test_outside_zero_grad_and_state_dict_keep_training_right():
    a, b = make(), make(flat=False)
    a.run(5), b.run(5)
    a.model.zero_grad()  # sets every .grad to None: attach() re-points them at the flat buffer
    a.run(5), b.run(5)
    assert_same_weights(a, b, 1e-5)
    c = make()
    c.load_state_dict(a.state_dict())  # weights copied in place into c's flat buffer
    assert c.step_count == 10
    a.run(5), c.run(5)
    assert_same_weights(a, c, 0)


def test_a_bad_step_leaves_the_flat_weights_alone(monkeypatch):
    trainer = make()
    trainer.run(3)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    real_forward = trainer.forward.forward
    monkeypatch.setattr(trainer.forward, "forward", lambda rows, targets=None: (None, real_forward(rows, targets)[1]
                                                                               * float("inf")))
    with pytest.raises(TrainingDiverged):
        trainer.step()
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert all(float(b.grad.abs().sum()) == 0 for b in trainer._flat.buffers)  # the bad gradients are dropped


def test_flat_parameters_on_their_own():
    model = MiniGPT(MODEL, 12)
    want = {k: v.clone() for k, v in model.state_dict().items()}
    flat = FlatParameters(parameter_groups(model, 0.01))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in want.items())  # values kept
    model(torch.tensor([[1, 2, 3]]), torch.tensor([[2, 3, 4]]))[1].backward()
    assert all(float(g.abs().sum()) > 0 for g in flat.grads)
    flat.zero_grad()
    assert all(float(g.abs().sum()) == 0 for g in flat.grads)
