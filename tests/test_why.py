"""The "why it works" views tell the truth: logit lens, head knockouts, head roles, gradients, embedding map."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from minigpt import MiniGPT, ModelConfig
from minigpt import embedding_map, gradients, knockout as ko, lens, roles
from minigpt.model import Switches

VOCAB = 50


def make(**kw) -> MiniGPT:
    return MiniGPT(ModelConfig(**{"d_model": 32, "num_heads": 4, "num_blocks": 2, "context_length": 16, **kw}),
                   VOCAB).eval()


def random_rows(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


# -- logit lens ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["post", "pre"])
def test_last_lens_row_is_the_models_own_prediction(norm):
    model = make(norm=norm)
    rows = random_rows(2, 12)
    trace = model.run_with_trace(rows)
    for batch in (0, 1):
        view = lens.logit_lens(model, trace, batch=batch, targets=rows[batch].roll(-1))
        assert view.probs.shape == (3, 12, VOCAB) and view.stages[0] == "embed.sum"
        assert torch.equal(view.probs[-1], trace["probs"][batch])
        assert torch.equal(view.top_rows[-1], trace["probs"][batch].argmax(-1))
        target = rows[batch].roll(-1)
        ranks = (trace["probs"][batch] > trace["probs"][batch].gather(-1, target[:, None])).sum(-1) + 1
        assert torch.equal(view.target_ranks[-1], ranks)
        assert (view.target_ranks >= 1).all() and (view.target_ranks <= VOCAB).all()


def test_lens_rows_before_the_last_read_earlier_blocks():
    model = make(norm="pre")
    trace = model.run_with_trace(random_rows(1, 8))
    view = lens.logit_lens(model, trace)
    expected = F.softmax(model.lm_head(model.final_norm(trace["blocks.0.resid2"][0])), -1)
    torch.testing.assert_close(view.probs[1], expected)
    assert view.target_ranks is None


# -- knockouts ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["post", "pre"])
def test_knocking_out_nothing_changes_nothing_bit_for_bit(norm):
    model = make(norm=norm)
    rows = random_rows(3, 10)
    plain, traced = model(rows)[0], model.run_with_trace(rows)
    empty = ko.Knockout(frozenset(), "zero")
    assert empty == ko.NONE and Switches(knockout=empty) == Switches()
    assert torch.equal(model(rows, knockout=empty)[0], plain)
    again = model.run_with_trace(rows, Switches(knockout=empty))
    assert all(torch.equal(again[n], traced[n]) for n in traced)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_knocking_out_every_head_equals_attention_that_outputs_zero(mode):
    model = make()
    rows = random_rows(2, 9)
    every = ko.every_head(2, 4, "zero")
    trace = model.run_with_trace(rows, Switches(knockout=every))
    assert all((trace[f"blocks.{b}.attn.concat"] == 0).all() for b in range(2))
    silent = make()
    with torch.no_grad():
        for block in silent.blocks:  # V = 0: every head's output weights @ V is 0
            C = silent.config.d_model
            block.attn.qkv.weight[2 * C:] = 0
            if block.attn.qkv.bias is not None:
                block.attn.qkv.bias[2 * C:] = 0
    torch.testing.assert_close(trace["logits"], silent.run_with_trace(rows)["logits"], atol=1e-6, rtol=0)
    torch.testing.assert_close(model(rows, knockout=every)[0], silent(rows)[0], atol=1e-5, rtol=0)
    if mode == "mean":  # mean: each head's output is its own average over rows and positions
        mean = ko.Knockout(every.heads, "mean")
        mixed_on = model.run_with_trace(rows)["blocks.0.attn.mixed"]
        mixed_off = model.run_with_trace(rows, Switches(knockout=mean))["blocks.0.attn.mixed"]
        torch.testing.assert_close(mixed_off, mixed_on.mean(dim=(0, 2), keepdim=True).expand_as(mixed_on))


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_a_knockout_acts_the_same_on_the_traced_and_the_fast_path(mode):
    model = make()
    rows = random_rows(3, 11)
    k = ko.Knockout(frozenset({(0, 1), (1, 3)}), mode)
    trace = model.run_with_trace(rows, Switches(knockout=k))
    fast = model(rows, knockout=k)[0]
    torch.testing.assert_close(trace["logits"], fast, atol=1e-5, rtol=0)
    assert not torch.allclose(fast, model(rows)[0], atol=1e-4)  # and it does change the prediction
    assert torch.equal(trace["blocks.0.attn.weights"], model.run_with_trace(rows)["blocks.0.attn.weights"])


def test_knockouts_are_checked():
    with pytest.raises(ValueError, match="mode"):
        ko.Knockout(frozenset({(0, 0)}), "half")
    with pytest.raises(ValueError, match="do not exist"):
        make()(random_rows(1, 4), knockout=ko.Knockout(frozenset({(5, 0)})))


def test_head_importance_is_the_validation_loss_increase():
    model = make(context_length=8)
    corpus_rows = random_rows(1, 400, seed=3)[0]
    found = ko.head_importance(model, corpus_rows, "zero")
    x, y = ko.validation_batches(corpus_rows, 8)
    k = ko.Knockout(frozenset({(1, 2)}), "zero")
    traced = F.cross_entropy(model.run_with_trace(x, Switches(knockout=k))["logits"].flatten(0, 1), y.flatten())
    assert found.increase.shape == (2, 4)
    assert abs(found.base_loss + float(found.increase[1, 2]) - float(traced)) < 1e-4
    from minigpt.analysis import validation_loss
    assert abs(validation_loss(model, corpus_rows) - found.base_loss) < 1e-4  # the same batches as the app's


# -- head roles ---------------------------------------------------------------------------------------
def test_roles_score_one_on_exact_patterns_and_chance_on_uniform():
    T = 10
    prev = torch.zeros(T, T)
    prev[0, 0] = 1
    prev[torch.arange(1, T), torch.arange(T - 1)] = 1
    first = torch.zeros(T, T)
    first[:, 0] = 1
    current = torch.eye(T)
    stacked = torch.stack([prev, first, current])
    scores = roles.role_scores(stacked)
    assert torch.allclose(scores[:, :3], torch.eye(3))
    uniform = roles.role_scores(roles.uniform_weights(T).expand(2, T, T))
    expected = sum(1 / (i + 1) for i in range(2, T)) / (T - 2)
    assert torch.allclose(uniform[:, :3], torch.full((2, 3), expected))
    assert torch.allclose(roles.chance(T)[:3], torch.full((3,), expected))


def test_induction_scores_one_on_exact_induction_weights_and_chance_on_uniform():
    rows = roles.induction_rows(1000, 16, batch=1, seed=2)[0]
    T, n = rows.numel(), rows.numel() // 2
    assert torch.equal(rows[:n], rows[n:])
    w = torch.zeros(T, T)
    w[torch.arange(T), torch.arange(T)] = 1  # the first copy has nothing to copy from
    for i in range(n, T):
        w[i] = 0
        w[i, i - n + 1] = 1  # the token after the first copy's match
    tokens = rows.tolist()
    assert float(roles.role_scores(w.unsqueeze(0), tokens)[0, 3]) == pytest.approx(1.0)
    uniform = float(roles.role_scores(roles.uniform_weights(T).unsqueeze(0), tokens)[0, 3])
    assert uniform == pytest.approx(sum(1 / (i + 1) for i in range(n, T)) / n)
    assert float(roles.chance(T, tokens)[3]) == pytest.approx(uniform)
    assert torch.isnan(roles.role_scores(w.unsqueeze(0))[0, 3])  # no tokens: induction is not measured


def test_model_roles_have_one_score_per_head_and_role():
    model = make()
    trace = model.run_with_trace(random_rows(2, 12))
    induction = roles.induction_rows(VOCAB, 16, batch=2)
    scores = roles.model_roles(trace, model.run_with_trace(induction), induction)
    assert scores.shape == (2, 4, 4) and torch.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()


# -- gradients ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["post", "pre"])
def test_traced_gradients_equal_autograd_on_the_fast_path(norm):
    model = make(norm=norm)
    rows = random_rows(2, 9)
    position, target = 5, 7
    grads = gradients.stage_gradients(model, rows, batch=1, position=position, target=target)
    captured = {}

    def keep(name):
        def hook(module, args, output):
            output.retain_grad()
            captured[name] = output
        return hook

    handles = [model.token_embedding.register_forward_hook(keep("embed.token"))]
    last = "norm2" if norm == "post" else "resid2"
    handles += [b.register_forward_hook(keep(f"blocks.{i}.{last}")) for i, b in enumerate(model.blocks)]
    try:
        logits, _ = model(rows)
        loss = F.cross_entropy(logits[1, position].unsqueeze(0), torch.tensor([target]))
        params = [model.token_embedding.weight, model.blocks[0].attn.qkv.weight, model.lm_head.weight]
        param_grads = torch.autograd.grad(loss, [captured[n] for n in captured] + params)
    finally:
        for h in handles:
            h.remove()
    assert grads.loss == pytest.approx(float(loss.detach()), abs=1e-5)
    for (name, _), expected in zip(captured.items(), param_grads):
        torch.testing.assert_close(grads[name], expected, atol=1e-5, rtol=1e-4)
    assert model.token_embedding.weight.grad is None  # the shared model's .grad is untouched
    # the embedding's gradient is the per-row sum of ∂loss/∂embed.token: chain rule through the lookup
    by_row = torch.zeros_like(model.token_embedding.weight).index_add_(0, rows.flatten(),
                                                                      grads["embed.token"].flatten(0, 1))
    torch.testing.assert_close(by_row, param_grads[len(captured)], atol=1e-5, rtol=1e-4)
    assert (grads["embed.token"][0] == 0).all() and (grads["blocks.0.attn.weights"][1, :, position + 1:] == 0).all()


def test_no_residual_shrinks_the_gradient_reaching_the_embedding():
    model = make(num_blocks=4)
    rows = random_rows(1, 12)
    target = rows[0].roll(-1)
    on = gradients.layer_norms(gradients.stage_gradients(model, rows, position=None, target=target))
    off = gradients.layer_norms(gradients.stage_gradients(model, rows, position=None, target=target,
                                                          switches=Switches(residual=False)))
    assert [n for n, _ in on][0] == "embed.sum" and len(on) == 5
    assert off[0][1] < on[0][1]
    assert gradients.sentence_layer_norms(model, rows).shape == (5,)


def test_a_gradient_needs_a_real_position_and_target():
    model = make()
    with pytest.raises(ValueError, match="Position"):
        gradients.stage_gradients(model, random_rows(1, 4), position=9, target=1)
    with pytest.raises(ValueError, match="target"):
        gradients.stage_gradients(model, random_rows(1, 4), position=1, target=None)


# -- embedding map ------------------------------------------------------------------------------------
def test_the_map_is_pca_with_stable_signs():
    g = torch.Generator().manual_seed(0)
    table = torch.randn(40, 8, generator=g) * torch.tensor([5.0, 3.0, 1, 1, 1, 1, 1, 1])
    p = embedding_map.project(table)
    assert p.points.shape == (40, 2) and p.explained[0] >= p.explained[1] > 0
    centred = table - table.mean(0)
    torch.testing.assert_close(p.points, centred @ p.axes.T)
    torch.testing.assert_close(p.axes @ p.axes.T, torch.eye(2), atol=1e-5, rtol=0)
    flipped = embedding_map.project(-table)
    assert torch.allclose(embedding_map.align(flipped, p).points, p.points, atol=1e-4)
    rows = embedding_map.frequent_rows(torch.tensor([3, 3, 3, 1, 1, 2]), 5, 2)
    assert rows.tolist() == [3, 1]


def test_training_snapshots_keep_gradient_norms_and_embedding_rows():
    from minigpt import corpus as corpora
    from minigpt.config import TrainConfig
    from minigpt.trainer import Trainer
    from minigpt.training import prepare

    config = ModelConfig(d_model=32, num_heads=4, num_blocks=2, context_length=16)
    vocab, rows = prepare(corpora.builtin().text, config)
    trainer = Trainer(config, TrainConfig(steps=4, eval_interval=4, eval_batches=1, device="cpu"), rows, vocab,
                      attention_every=2, attention_text="The customer wants the customer to trust the team")
    trainer.run()
    last = trainer.attention[-1]
    assert last.step == 4 and last.grad_norms.shape == (3,) and torch.isfinite(last.grad_norms).all()
    torch.testing.assert_close(last.embedding, trainer.model.token_embedding.weight.detach()[last.embedding_rows])
    expected = gradients.sentence_layer_norms(trainer.model, trainer._attention_rows)
    torch.testing.assert_close(last.grad_norms, expected)
    assert all(p.grad is None or not p.grad.any() for p in trainer.model.parameters())  # training's grads untouched
    scores = roles.snapshot_roles(last.weights, trainer.attention_tokens)
    assert scores.shape == (2, 4, 4) and torch.isfinite(scores[..., 3]).all()  # "the customer" repeats


def test_typical_patterns_of_many_heads_draw():
    """16 panels in 4 rows: plotly refuses a domain of -5e-17 (the panel grid keeps to [0, 1])."""
    from minigpt.views import why as views

    model = make(num_blocks=4)
    trace = model.run_with_trace(random_rows(2, 8))
    weights = torch.stack([trace[f"blocks.{b}.attn.weights"].mean(0) for b in range(4)])
    fig = views.typical_patterns(weights, [f"{i} t" for i in range(8)])
    assert len(fig.data) == 16 and all(0 <= d <= 1 for k, v in fig.layout.to_plotly_json().items()
                                       if k.startswith("yaxis") for d in v["domain"])
