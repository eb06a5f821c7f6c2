"""ModelConfig / TrainConfig: the notebook's defaults, every validation message, sizes."""
from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from minigpt import ConfigError, MiniGPT, ModelConfig, TrainConfig, parameter_count
from minigpt import config as config_module
from minigpt.config import check_size


def test_defaults_are_the_notebooks():
    c = ModelConfig()
    assert (c.context_length, c.d_model, c.num_heads) == (16, 64, 4)
    assert c.d_k == 16 and c.d_ffn == 256
    assert c.norm == "post" and c.qkv_bias is True and c.dropout == 0.0 and c.num_blocks == 1
    assert TrainConfig().batch_size == 4


def test_configs_are_frozen_and_replace_revalidates():
    c = ModelConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.d_model = 128  # type: ignore[misc]
    assert dataclasses.replace(c, d_model=128).d_k == 32
    with pytest.raises(ConfigError):
        dataclasses.replace(c, d_model=66, num_heads=4)


def test_heads_not_dividing_d_model_names_both_numbers_and_a_fix():
    with pytest.raises(ConfigError) as err:
        ModelConfig(d_model=60, num_heads=8)
    msg = str(err.value)
    assert "60" in msg and "8" in msg and "divisible" in msg
    suggested = int(re.search(r"try d_model (\d+)", msg).group(1))
    assert suggested % 8 == 0 and suggested % 2 == 0
    ModelConfig(d_model=suggested, num_heads=8)  # the suggestion itself is valid


@pytest.mark.parametrize("d_model,heads", [(60, 8), (10, 4), (4, 8), (100, 3)])
def test_every_suggested_d_model_is_valid(d_model, heads):
    with pytest.raises(ConfigError) as err:
        ModelConfig(d_model=d_model, num_heads=heads)
    suggested = int(re.search(r"try d_model (\d+)", str(err.value)).group(1))
    assert ModelConfig(d_model=suggested, num_heads=heads).d_k >= 1


def test_odd_d_model_explains_sin_cos_pairs():
    with pytest.raises(ConfigError, match=r"d_model 63 must be even.*sin/cos"):
        ModelConfig(d_model=63, num_heads=1)


@pytest.mark.parametrize(
    "field,value,pattern",
    [
        ("context_length", 0, r"context_length must be at least 1, got 0"),
        ("context_length", -5, r"context_length must be at least 1, got -5"),
        ("d_model", 0, r"d_model must be at least 2, got 0"),
        ("num_heads", 0, r"num_heads must be at least 1, got 0"),
        ("num_blocks", -1, r"num_blocks must be at least 1, got -1"),
        ("ffn_mult", 0, r"ffn_mult must be at least 1, got 0"),
        ("seed", -1, r"seed must be at least 0, got -1"),
        ("context_length", 10**9, r"context_length 1000000000 is too large: the limit is 1,024"),
        ("d_model", 4096, r"d_model 4096 is too large: the limit is 1,024"),
        ("num_heads", 128, r"num_heads 128 is too large"),
        ("num_blocks", 1000, r"num_blocks 1000 is too large: the limit is 24"),
        ("ffn_mult", 100, r"ffn_mult 100 is too large"),
        ("dropout", 1.0, r"dropout must be in \[0.0, 1.0\), got 1.0"),
        ("dropout", -0.1, r"dropout must be in \[0.0, 1.0\), got -0.1"),
        ("dropout", float("nan"), r"dropout must be a number, got nan"),
        ("dropout", "0.1", r"dropout must be a number, got '0.1'"),
        ("norm", "middle", r"norm must be one of post, pre; got 'middle'"),
        ("vocab", "bytes", r"vocab must be one of compact, full, char; got 'bytes'"),
        ("d_model", True, r"d_model must be a whole number, got True"),
        ("num_heads", 4.0, r"num_heads must be a whole number, got 4.0"),
        ("context_length", "16", r"context_length must be a whole number, got '16'"),
        ("qkv_bias", 1, r"qkv_bias must be true or false, got 1"),
    ],
)
def test_model_config_messages(field, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        ModelConfig(**{field: value})


@pytest.mark.parametrize(
    "field,value,pattern",
    [
        ("batch_size", 0, r"batch_size must be at least 1, got 0"),
        ("batch_size", 10**6, r"batch_size 1000000 is too large: the limit is 512"),
        ("batch_size", False, r"batch_size must be a whole number, got False"),
        ("learning_rate", 0.0, r"learning_rate must be in \(0.0, 10.0\], got 0.0"),
        ("learning_rate", -1e-3, r"learning_rate must be in \(0.0, 10.0\]"),
        ("steps", 0, r"steps must be at least 1"),
        ("device", "tpu", r"device must be one of auto, cpu, cuda, mps; got 'tpu'"),
        ("weight_decay", 2.0, r"weight_decay must be in \[0.0, 1.0\], got 2.0"),
        ("lr_schedule", "linear", r"lr_schedule must be one of constant, cosine"),
        ("warmup_steps", -1, r"warmup_steps must be at least 0"),
        ("eval_interval", 0, r"eval_interval must be at least 1"),
        ("eval_batches", 5000, r"eval_batches 5000 is too large: the limit is 1,000"),
        ("grad_clip", -1.0, r"grad_clip must be in \[0.0, 1000000.0\], got -1.0"),
        ("learning_rate", float("inf"), r"learning_rate must be in \(0.0, 10.0\], got inf"),
        ("seed", 2**31, r"seed 2147483648 is too large"),
    ],
)
def test_train_config_messages(field, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        TrainConfig(**{field: value})


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("cls", [ModelConfig, TrainConfig])
def test_dict_round_trip(cls):
    c = cls()
    assert cls.from_dict(c.to_dict()) == c


def test_from_dict_rejects_unknown_keys_by_name():
    with pytest.raises(ConfigError, match=r"ModelConfig has no setting named colour, size"):
        ModelConfig.from_dict({"d_model": 64, "size": 3, "colour": "red"})
    with pytest.raises(ConfigError, match=r"TrainConfig has no setting named epochs"):
        TrainConfig.from_dict({"epochs": 3})


def test_from_dict_rejects_non_string_keys_without_crashing():
    with pytest.raises(ConfigError, match="no setting named"):
        ModelConfig.from_dict({1: 2, "x": 3})


@pytest.mark.parametrize("data", [None, [], "d_model=64", 64])
def test_from_dict_rejects_non_objects(data):
    with pytest.raises(ConfigError, match="must be a JSON object"):
        ModelConfig.from_dict(data)


@pytest.mark.parametrize(
    "data,pattern",
    [
        ({"d_model": "64"}, r"d_model must be a whole number, got '64'"),
        ({"d_model": 64.0}, r"d_model must be a whole number, got 64.0"),
        ({"qkv_bias": "yes"}, r"qkv_bias must be true or false"),
        ({"dropout": None}, r"dropout must be a number, got None"),
        ({"norm": 1}, r"norm must be one of post, pre"),
        ({"vocab": ["compact"]}, r"vocab must be one of"),
    ],
)
def test_from_dict_rejects_wrong_types(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        ModelConfig.from_dict(data)


@pytest.mark.parametrize(
    "kwargs,vocab_size",
    [
        ({}, 50),
        ({"norm": "pre"}, 50),
        ({"qkv_bias": False, "num_blocks": 3}, 123),
        ({"d_model": 48, "num_heads": 6, "ffn_mult": 2, "norm": "pre", "qkv_bias": False}, 7),
        ({"d_model": 8, "num_heads": 2, "num_blocks": 4}, 2),
    ],
)
def test_parameter_count_matches_the_model(kwargs, vocab_size):
    config = ModelConfig(**kwargs)
    assert parameter_count(config, vocab_size) == MiniGPT(config, vocab_size).num_parameters()


def test_parameter_count_of_the_notebook_layout():
    # One post-LN block, d_model 64, the notebook's full cl100k table (100,070 rows incl. <unk>).
    d, v = 64, 100_070
    expected = v * d + (3 * d * d + 3 * d + d * d + d) + (d * 4 * d + 4 * d + 4 * d * d + d) + 4 * d + d * v + v
    assert parameter_count(ModelConfig(), v) == expected


def test_check_size_refuses_giants_before_allocating(monkeypatch):
    giant = ModelConfig(d_model=1024, num_heads=16, num_blocks=24, context_length=1024)

    def must_not_allocate(*args, **kwargs):
        raise AssertionError("a layer was allocated before the size check")

    monkeypatch.setattr(torch.nn, "Embedding", must_not_allocate)
    monkeypatch.setattr(torch.nn, "Linear", must_not_allocate)
    with pytest.raises(ConfigError) as err:
        check_size(giant, 100_278)
    msg = str(err.value)
    assert f"{parameter_count(giant, 100_278):,}" in msg and "300,000,000" in msg
    with pytest.raises(ConfigError, match="over the limit"):
        MiniGPT(giant, 100_278)


def test_check_size_accepts_a_model_at_the_limit():
    config = ModelConfig()
    n = parameter_count(config, 1000)
    check_size(config, 1000, limit=n)
    with pytest.raises(ConfigError):
        check_size(config, 1000, limit=n - 1)
    assert config_module.MAX_PARAMETERS == 300_000_000
