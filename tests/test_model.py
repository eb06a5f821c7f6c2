"""The truth tests: the traced path computes what the fast path computes, and each stage is what its
name says, checked against independent arithmetic on the weights."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from minigpt import CATALOGUE, MiniGPT, ModelConfig, Switches, sinusoidal_table, spec_of, stage_names, token_losses

VOCAB = 97
REPO = Path(__file__).resolve().parents[1]


def make(**overrides) -> MiniGPT:
    settings = dict(context_length=12, d_model=32, num_heads=4, num_blocks=2, seed=11)
    settings.update(overrides)
    return MiniGPT(ModelConfig(**settings), VOCAB).eval()


def random_rows(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


# -- both paths agree --------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("qkv_bias", [True, False])
@pytest.mark.parametrize("num_blocks", [1, 3])
def test_traced_logits_equal_fast_path_logits(norm, qkv_bias, num_blocks):
    model = make(norm=norm, qkv_bias=qkv_bias, num_blocks=num_blocks)
    for length in (1, 2, 7, 12):
        rows = random_rows(3, length, seed=length)
        fast, _ = model(rows)
        trace = model.run_with_trace(rows)
        assert trace["logits"].shape == (3, length, VOCAB)
        torch.testing.assert_close(trace["logits"], fast, atol=1e-5, rtol=0)
        torch.testing.assert_close(trace["probs"], F.softmax(fast, -1), atol=1e-6, rtol=0)


def test_traced_path_ignores_dropout_and_matches_eval_mode():
    model = make(dropout=0.3)
    rows = random_rows(2, 12)
    model.eval()
    fast, _ = model(rows)
    model.train()
    torch.manual_seed(0)
    noisy, _ = model(rows)
    assert not torch.allclose(noisy, fast)  # dropout really acts in training
    trace = model.run_with_trace(rows)
    torch.testing.assert_close(trace["logits"], fast, atol=1e-5, rtol=0)


def test_forward_loss_is_mean_of_token_losses():
    model = make()
    rows, targets = random_rows(2, 12, 1), random_rows(2, 12, 2)
    logits, loss = model(rows, targets)
    per_token = token_losses(logits, targets)
    assert per_token.shape == (2, 12)
    torch.testing.assert_close(loss, per_token.mean())
    # Untrained, the loss is about log(vocab): no token is favoured yet.
    assert abs(loss.item() - math.log(VOCAB)) < 1.0


# -- each stage is what it says ----------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("qkv_bias", [True, False])
def test_scores_equal_an_independent_computation(norm, qkv_bias):
    model = make(norm=norm, qkv_bias=qkv_bias)
    rows = random_rows(2, 9)
    trace = model.run_with_trace(rows)
    x = trace["blocks.0.norm1"] if norm == "pre" else trace["embed.sum"]  # what attention reads
    d, h = 32, 4
    d_k = d // h
    weight = model.state_dict()["blocks.0.attn.qkv.weight"]
    bias = model.state_dict().get("blocks.0.attn.qkv.bias", torch.zeros(3 * d))
    assert ("blocks.0.attn.qkv.bias" in model.state_dict()) == qkv_bias
    wq, wk, wv = weight[:d], weight[d : 2 * d], weight[2 * d :]
    bq, bk, bv = bias[:d], bias[d : 2 * d], bias[2 * d :]
    for b in range(2):
        Q, K, V = x[b] @ wq.T + bq, x[b] @ wk.T + bk, x[b] @ wv.T + bv  # [T, d]
        for head in range(h):
            cols = slice(head * d_k, (head + 1) * d_k)
            expected = Q[:, cols] @ K[:, cols].T / math.sqrt(d_k)
            torch.testing.assert_close(trace["blocks.0.attn.q"][b, head], Q[:, cols], atol=1e-5, rtol=0)
            torch.testing.assert_close(trace["blocks.0.attn.v"][b, head], V[:, cols], atol=1e-5, rtol=0)
            torch.testing.assert_close(trace["blocks.0.attn.scores"][b, head], expected, atol=1e-5, rtol=0)


def test_mask_masked_weights_and_mixing():
    model = make()
    trace = model.run_with_trace(random_rows(2, 10))
    T = 10
    upper = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for i in range(2):
        p = f"blocks.{i}.attn."
        assert torch.equal(trace[p + "mask"], upper)
        masked, scores, weights = trace[p + "masked"], trace[p + "scores"], trace[p + "weights"]
        assert torch.equal(torch.isneginf(masked), upper.expand_as(masked))  # -inf exactly above the diagonal
        assert torch.equal(masked[..., ~upper], scores[..., ~upper])
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, T), atol=1e-6, rtol=0)
        assert torch.all(weights[..., upper] == 0)
        assert torch.all(weights[..., 0, 0] == 1)  # the first token can only look at itself
        torch.testing.assert_close(trace[p + "mixed"], weights @ trace[p + "v"], atol=1e-6, rtol=0)
        concat = trace[p + "concat"]
        torch.testing.assert_close(concat[:, :, 8:16], trace[p + "mixed"][:, 1], atol=0, rtol=0)  # head 1's columns


def test_ffn_and_residual_stages():
    model = make(norm="post")
    trace = model.run_with_trace(random_rows(1, 6))
    block = model.blocks[0]
    p = "blocks.0."
    torch.testing.assert_close(trace[p + "resid1"], trace["embed.sum"] + trace[p + "attn.out"], atol=1e-6, rtol=0)
    torch.testing.assert_close(trace[p + "ffn.hidden"], block.ffn.hidden(trace[p + "norm1"]), atol=1e-6, rtol=0)
    torch.testing.assert_close(trace[p + "ffn.relu"], trace[p + "ffn.hidden"].clamp(min=0), atol=0, rtol=0)
    torch.testing.assert_close(trace[p + "resid2"], trace[p + "norm1"] + trace[p + "ffn.out"], atol=1e-6, rtol=0)
    torch.testing.assert_close(trace["blocks.1.attn.q"].shape, (1, 4, 6, 8))


def _assert_normalised(t: torch.Tensor) -> None:
    torch.testing.assert_close(t.mean(-1), torch.zeros(t.shape[:-1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(t.std(-1, unbiased=False), torch.ones(t.shape[:-1]), atol=1e-3, rtol=0)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_layer_norm_outputs_have_zero_mean_unit_std(norm):
    model = make(norm=norm)
    trace = model.run_with_trace(random_rows(3, 12))
    names = ["blocks.0.norm1", "blocks.0.norm2", "blocks.1.norm1", "blocks.1.norm2"]
    if norm == "pre":
        names.append("final.norm")
    for name in names:
        _assert_normalised(trace[name])


def test_position_stage_is_the_notebooks_sinusoidal_table():
    trace = make().run_with_trace(random_rows(1, 5))
    pos = trace["embed.position"]
    torch.testing.assert_close(pos, sinusoidal_table(12, 32)[:5])
    assert torch.all(pos[0, 0::2] == 0) and torch.all(pos[0, 1::2] == 1)  # sin(0), cos(0)
    assert pos[1, 0].item() == pytest.approx(math.sin(1.0))
    assert pos[3, 1].item() == pytest.approx(math.cos(3.0))
    assert pos[2, 2].item() == pytest.approx(math.sin(2 / 10000 ** (2 / 32)))
    torch.testing.assert_close(trace["embed.sum"], trace["embed.token"] + pos, atol=0, rtol=0)


# -- the catalogue ------------------------------------------------------------------------------------
GOLDEN_POST_2 = [
    "embed.token", "embed.position", "embed.sum",
    "blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v", "blocks.0.attn.scores", "blocks.0.attn.mask",
    "blocks.0.attn.masked", "blocks.0.attn.weights", "blocks.0.attn.mixed", "blocks.0.attn.concat",
    "blocks.0.attn.out", "blocks.0.resid1", "blocks.0.norm1", "blocks.0.ffn.hidden", "blocks.0.ffn.relu",
    "blocks.0.ffn.out", "blocks.0.resid2", "blocks.0.norm2",
    "blocks.1.attn.q", "blocks.1.attn.k", "blocks.1.attn.v", "blocks.1.attn.scores", "blocks.1.attn.mask",
    "blocks.1.attn.masked", "blocks.1.attn.weights", "blocks.1.attn.mixed", "blocks.1.attn.concat",
    "blocks.1.attn.out", "blocks.1.resid1", "blocks.1.norm1", "blocks.1.ffn.hidden", "blocks.1.ffn.relu",
    "blocks.1.ffn.out", "blocks.1.resid2", "blocks.1.norm2",
    "logits", "probs",
]
GOLDEN_PRE_2 = [
    "embed.token", "embed.position", "embed.sum",
    "blocks.0.norm1", "blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v", "blocks.0.attn.scores",
    "blocks.0.attn.mask", "blocks.0.attn.masked", "blocks.0.attn.weights", "blocks.0.attn.mixed",
    "blocks.0.attn.concat", "blocks.0.attn.out", "blocks.0.resid1", "blocks.0.norm2", "blocks.0.ffn.hidden",
    "blocks.0.ffn.relu", "blocks.0.ffn.out", "blocks.0.resid2",
    "blocks.1.norm1", "blocks.1.attn.q", "blocks.1.attn.k", "blocks.1.attn.v", "blocks.1.attn.scores",
    "blocks.1.attn.mask", "blocks.1.attn.masked", "blocks.1.attn.weights", "blocks.1.attn.mixed",
    "blocks.1.attn.concat", "blocks.1.attn.out", "blocks.1.resid1", "blocks.1.norm2", "blocks.1.ffn.hidden",
    "blocks.1.ffn.relu", "blocks.1.ffn.out", "blocks.1.resid2",
    "final.norm", "logits", "probs",
]


@pytest.mark.parametrize("norm,golden", [("post", GOLDEN_POST_2), ("pre", GOLDEN_PRE_2)])
def test_golden_stage_names(norm, golden):
    assert stage_names(2, norm) == golden
    trace = make(norm=norm).run_with_trace(random_rows(1, 4))
    assert list(trace) == golden and len(trace) == len(golden)
    assert set(trace.keys()) == set(golden)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_every_recorded_tensor_matches_its_catalogue_axes(norm):
    trace = make(norm=norm).run_with_trace(random_rows(2, 5))
    sizes = {"batch": 2, "position": 5, "query": 5, "key": 5, "head": 4, "d_model": 32, "d_k": 8,
             "d_ffn": 128, "vocab": VOCAB}
    for name in trace:
        axes = spec_of(name).axes
        assert trace[name].dim() == len(axes), name
        assert tuple(trace[name].shape) == tuple(sizes[a] for a in axes), name
        assert trace[name].device.type == "cpu" and not trace[name].requires_grad


def test_catalogue_specs_have_both_languages_and_code():
    for key, spec in CATALOGUE.items():
        assert spec.title("en") and spec.title("zh") != spec.title("en") and spec.code("post") and spec.code("pre"), key
    with pytest.raises(KeyError):
        spec_of("blocks.0.embed.token")
    with pytest.raises(KeyError):
        spec_of("attn.weights")  # a per-block stage needs its block


def test_shape_label():
    trace = make().run_with_trace(random_rows(2, 5))
    assert trace.shape_label("blocks.0.attn.weights") == "[batch 2, head 4, query 5, key 5]"
    assert trace.shape_label("blocks.1.attn.q") == "[batch 2, head 4, position 5, d_k 8]"
    assert trace.shape_label("embed.position") == "[position 5, d_model 32]"
    assert trace.shape_label("blocks.0.attn.mask") == "[query 5, key 5]"
    assert trace.shape_label("blocks.0.ffn.hidden") == "[batch 2, position 5, d_ffn 128]"
    assert trace.shape_label("logits") == f"[batch 2, position 5, vocab {VOCAB}]"


# -- reproducibility ----------------------------------------------------------------------------------
FINGERPRINT_FUNCTION = textwrap.dedent(
    """
    def fingerprint():
        import hashlib, torch
        from minigpt import MiniGPT, ModelConfig
        model = MiniGPT(ModelConfig(context_length=8, d_model=32, num_heads=4, num_blocks=2, seed=5), 50).eval()
        rows = torch.arange(16).remainder(50).view(2, 8)
        h = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            h.update(name.encode()); h.update(tensor.contiguous().numpy().tobytes())
        trace = model.run_with_trace(rows)
        for name in trace:
            h.update(name.encode()); h.update(trace[name].contiguous().numpy().tobytes())
        return h.hexdigest()
    """
)
FINGERPRINT_SCRIPT = (
    "import sys, torch\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "torch.manual_seed(int(sys.argv[2]))  # the global RNG must not matter\n"
    + FINGERPRINT_FUNCTION
    + "print(fingerprint())\n"
)


def test_same_config_and_seed_are_bit_identical_in_fresh_processes():
    procs = [
        subprocess.Popen([sys.executable, "-c", FINGERPRINT_SCRIPT, str(REPO), str(global_seed)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
        for global_seed in (0, 12345)
    ]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out.strip())
    namespace: dict = {}
    exec(FINGERPRINT_FUNCTION, namespace)
    here = namespace["fingerprint"]()  # this process, after many other tests used the RNG
    assert len(outputs[0]) == 64 and outputs[0] == outputs[1] == here


def _weights(model: MiniGPT) -> list[torch.Tensor]:
    return [t.clone() for t in model.state_dict().values()]


def test_different_seeds_differ_and_global_rng_does_not_matter():
    torch.manual_seed(0)
    a = _weights(make(seed=1))
    torch.manual_seed(999)
    torch.rand(1000)
    b = _weights(make(seed=1))
    c = _weights(make(seed=2))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_building_a_model_leaves_the_global_rng_alone():
    torch.manual_seed(3)
    state = torch.get_rng_state()
    make()
    assert torch.equal(torch.get_rng_state(), state)


# -- what-if switches ---------------------------------------------------------------------------------
def test_switch_causal_mask_off_lets_tokens_see_the_future():
    model = make()
    rows = random_rows(1, 8)
    trace = model.run_with_trace(rows, Switches(causal_mask=False))
    upper = torch.triu(torch.ones(8, 8, dtype=torch.bool), diagonal=1)
    assert not trace["blocks.0.attn.mask"].any()
    assert not torch.isinf(trace["blocks.0.attn.masked"]).any()
    assert torch.all(trace["blocks.0.attn.weights"][..., upper] > 0)
    torch.testing.assert_close(trace["blocks.0.attn.weights"].sum(-1), torch.ones(1, 4, 8), atol=1e-6, rtol=0)


def test_switch_scale_off_multiplies_scores_by_sqrt_dk():
    model = make()
    rows = random_rows(2, 8)
    default = model.run_with_trace(rows)
    unscaled = model.run_with_trace(rows, Switches(scale=False))
    torch.testing.assert_close(unscaled["blocks.0.attn.scores"], default["blocks.0.attn.scores"] * math.sqrt(8),
                               atol=1e-5, rtol=1e-5)


def test_switch_position_off():
    model = make()
    rows = random_rows(1, 8)
    default = model.run_with_trace(rows)
    trace = model.run_with_trace(rows, Switches(position=False))
    assert torch.equal(trace["embed.sum"], trace["embed.token"])
    assert not torch.allclose(trace["logits"], default["logits"])


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_switch_residual_off(norm):
    model = make(norm=norm)
    rows = random_rows(1, 8)
    default = model.run_with_trace(rows)
    trace = model.run_with_trace(rows, Switches(residual=False))
    assert torch.equal(trace["blocks.0.resid1"], trace["blocks.0.attn.out"])
    assert torch.equal(trace["blocks.0.resid2"], trace["blocks.0.ffn.out"])
    first = "blocks.0.norm1" if norm == "pre" else "blocks.0.attn.scores"
    assert torch.equal(trace[first], default[first])  # upstream unchanged
    for later in ("blocks.0.resid1", "blocks.1.attn.scores", "logits"):
        assert not torch.allclose(trace[later], default[later]), later


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_switch_layer_norm_off(norm):
    model = make(norm=norm)
    rows = random_rows(1, 8)
    default = model.run_with_trace(rows)
    trace = model.run_with_trace(rows, Switches(layer_norm=False))
    if norm == "post":
        assert torch.equal(trace["blocks.0.norm1"], trace["blocks.0.resid1"])
        assert torch.equal(trace["blocks.0.attn.scores"], default["blocks.0.attn.scores"])
    else:
        assert torch.equal(trace["blocks.0.norm1"], trace["embed.sum"])
        assert torch.equal(trace["final.norm"], trace["blocks.1.resid2"])
    assert torch.equal(trace["embed.sum"], default["embed.sum"])
    for later in ("blocks.0.norm2", "blocks.1.attn.scores", "logits"):
        assert not torch.allclose(trace[later], default[later]), later


def test_switch_attention_temperature():
    model = make()
    rows = random_rows(2, 10)
    name = "blocks.0.attn.weights"
    default = model.run_with_trace(rows)[name].amax(-1)
    sharp = model.run_with_trace(rows, Switches(temperature=0.1))[name].amax(-1)
    flat = model.run_with_trace(rows, Switches(temperature=10))[name].amax(-1)
    assert torch.all(sharp >= default - 1e-6) and torch.all(flat <= default + 1e-6)
    rows_with_choice = slice(1, None)  # row 0 can only attend to itself: always weight 1
    assert sharp[..., rows_with_choice].mean() > default[..., rows_with_choice].mean() + 0.05
    assert flat[..., rows_with_choice].mean() < default[..., rows_with_choice].mean() - 0.01
    # At temperature 10 the last row is close to uniform over its 10 keys.
    assert torch.all((flat[..., -1] - 0.1).abs() < 0.05)


def test_switches_validate_temperature():
    with pytest.raises(ValueError, match="between 0.01 and 100"):
        Switches(temperature=0)
    with pytest.raises(ValueError):
        Switches(temperature=1000)


# -- input checks -------------------------------------------------------------------------------------
def test_batch_longer_than_context_is_a_clear_error():
    model = make()
    with pytest.raises(ValueError, match=r"13 tokens do not fit the context of 12; crop to the last 12"):
        model(random_rows(1, 13))
    with pytest.raises(ValueError, match=r"do not fit the context of 12"):
        model.run_with_trace(random_rows(1, 13))


@pytest.mark.parametrize("shape", [(0,), (1, 0), (2, 3, 4)])
def test_badly_shaped_rows_are_a_clear_error(shape):
    with pytest.raises(ValueError, match=r"Expected token rows shaped \[batch, positions\]"):
        make().run_with_trace(torch.zeros(shape, dtype=torch.long))
