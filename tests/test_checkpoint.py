"""Checkpoints: exact round trips, atomic writes, and broken or hostile files refused with a clear message
(the tutorial's model-ckpt.pt and pickles: tests/test_checkpoint_tutorial.py)."""
from __future__ import annotations

import json
import os
import random
import struct

import pytest
import safetensors.torch
import torch

from minigpt import MiniGPT, ModelConfig, Vocabulary, checkpoint
from minigpt.checkpoint import CheckpointError, from_bytes, load_any, read, to_bytes, write

TRAIN_STATE = {"steps": 40, "losses": [7.1, 6.5, 5.9], "train_config": {"batch_size": 4}, "note": "销售"}


def small(vocab: Vocabulary, **overrides) -> MiniGPT:
    settings = dict(context_length=8, d_model=32, num_heads=4, num_blocks=2, vocab=vocab.mode, seed=21)
    settings.update(overrides)
    model = MiniGPT(ModelConfig(**settings), vocab.size).eval()
    with torch.no_grad():  # move off the initial values so a loader that re-initialises is caught
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
    return model


def rows_for(vocab: Vocabulary, n: int = 8) -> torch.Tensor:
    return torch.randint(0, vocab.size, (3, n), generator=torch.Generator().manual_seed(0))


def parts(data: bytes) -> tuple[dict, dict[str, torch.Tensor]]:
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["minigpt"])
    return meta, safetensors.torch.load(data)


def rebuild(meta: dict, tensors: dict[str, torch.Tensor]) -> bytes:
    return safetensors.torch.save(tensors, metadata={"minigpt": json.dumps(meta)})


@pytest.fixture
def good(compact_vocab) -> bytes:
    return to_bytes(small(compact_vocab), compact_vocab, TRAIN_STATE)


# -- round trips ------------------------------------------------------------------------------------
@pytest.mark.parametrize("vocab_name", ["compact_vocab", "char_vocab"])
@pytest.mark.parametrize("norm", ["post", "pre"])
def test_round_trip_is_exact(request, tmp_path, vocab_name, norm):
    vocab = request.getfixturevalue(vocab_name)
    model = small(vocab, norm=norm, qkv_bias=norm == "post")
    path = write(tmp_path / "run" / "model.safetensors", model, vocab, TRAIN_STATE)
    loaded = read(path)
    rows = rows_for(vocab)
    assert torch.equal(loaded.model(rows)[0], model(rows)[0])
    assert loaded.vocab == vocab and loaded.vocab.mode == vocab.mode
    assert loaded.config == model.config and loaded.train_state == TRAIN_STATE
    assert loaded.source == "minigpt" and not loaded.model.training
    assert load_any(path.read_bytes()).config == model.config
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.safetensors"]


@pytest.mark.parametrize("first_bytes", [b"\x80", b"PK"])
def test_our_checkpoint_is_recognised_whatever_its_header_length(compact_vocab, first_bytes):
    """The header length's low bytes can read 0x80 or "PK", like a pickle or a zip; it is still ours."""
    model = small(compact_vocab, num_blocks=1)
    target, modulus = int.from_bytes(first_bytes, "little"), 1 << (8 * len(first_bytes))
    header_len = struct.unpack("<Q", to_bytes(model, compact_vocab, {"note": ""})[:8])[0]
    guess = (target - header_len) % modulus  # each "x" adds one byte to the header (padded to 8)
    for pad in range(max(0, guess - 16), guess + 16):
        data = to_bytes(model, compact_vocab, {"note": "x" * pad})
        if data[: len(first_bytes)] == first_bytes:
            break
    else:
        pytest.fail("no padding gave the wanted first bytes")
    loaded = load_any(data)
    assert loaded.source == "minigpt" and loaded.train_state == {"note": "x" * pad}


def test_full_vocabulary_round_trip(tmp_path):
    vocab = Vocabulary.from_text("sell the value, not the price", "full")
    model = small(vocab, d_model=16, num_blocks=1)
    loaded = from_bytes(to_bytes(model, vocab))
    assert loaded.vocab == vocab and loaded.train_state == {}
    assert torch.equal(loaded.model(rows_for(vocab, 4))[0], model(rows_for(vocab, 4))[0])


def test_saving_a_model_with_the_wrong_vocabulary_is_refused(compact_vocab, char_vocab):
    with pytest.raises(CheckpointError, match="rows but the vocabulary"):
        to_bytes(small(compact_vocab), char_vocab)


# -- atomic writes -----------------------------------------------------------------------------------
def test_failed_replace_keeps_the_earlier_file(tmp_path, compact_vocab, monkeypatch):
    path = tmp_path / "model.safetensors"
    write(path, small(compact_vocab), compact_vocab, {"steps": 1})
    before = path.read_bytes()

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "replace", disk_full)
    with pytest.raises(CheckpointError, match=r"No space left on device.*any earlier file is unchanged"):
        write(path, small(compact_vocab, seed=99), compact_vocab, {"steps": 2})
    assert path.read_bytes() == before
    assert read(path).train_state == {"steps": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no .part left behind


def test_failed_write_keeps_the_earlier_file(tmp_path, compact_vocab, monkeypatch):
    path = tmp_path / "model.safetensors"
    write(path, small(compact_vocab), compact_vocab)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(checkpoint.os, "fsync", broken_fsync)
    with pytest.raises(CheckpointError, match="Input/output error"):
        write(path, small(compact_vocab, seed=5), compact_vocab)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path, compact_vocab):
    path = tmp_path / "model.safetensors"
    write(path, small(compact_vocab), compact_vocab)
    before = path.read_bytes()
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(CheckpointError, match="Cannot write a checkpoint"):
            write(path, small(compact_vocab, seed=5), compact_vocab)
    finally:
        tmp_path.chmod(0o755)
    assert path.read_bytes() == before


def test_unwritable_target_is_a_checkpoint_error(tmp_path, compact_vocab):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(CheckpointError, match="Cannot write a checkpoint"):
        write(tmp_path / "a_file" / "model.safetensors", small(compact_vocab), compact_vocab)


# -- the tutorial's model-ckpt.pt ---------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("seed", range(6))
def test_random_bytes(seed):
    rng = random.Random(seed)
    data = bytes(rng.getrandbits(8) for _ in range(rng.choice([3, 64, 5000])))
    if seed == 4:
        data = b"PK" + data  # looks like a zip at first glance
    if seed == 5:
        data = b"\x80" + data  # looks like a pickle at first glance
    with pytest.raises(CheckpointError):
        load_any(data)


@pytest.mark.parametrize("data", [b"", bytearray()])
def test_empty_file(data):
    with pytest.raises(CheckpointError, match="The file is empty"):
        load_any(data)


def test_safetensors_without_metadata():
    data = safetensors.torch.save({"token_embedding.weight": torch.zeros(4, 2)})
    with pytest.raises(CheckpointError, match="has no minigpt metadata"):
        load_any(data)


@pytest.mark.parametrize(
    "minigpt_meta,pattern",
    [
        ("not json {", "metadata is not valid JSON"),
        ("[1, 2]", "not a minigpt checkpoint"),
        (json.dumps({"format": "other"}), "not a minigpt checkpoint"),
        (json.dumps({"format": "minigpt-checkpoint", "version": 99}), "version 99 is not supported"),
    ],
)
def test_broken_metadata(minigpt_meta, pattern):
    data = safetensors.torch.save({"w": torch.zeros(2)}, metadata={"minigpt": minigpt_meta})
    with pytest.raises(CheckpointError, match=pattern):
        load_any(data)


@pytest.mark.parametrize(
    "change,pattern",
    [
        (lambda m: m["config"].update(d_model="64"), r"config is invalid: d_model must be a whole number, got '64'"),
        (lambda m: m["config"].update(heads=4), r"config is invalid: ModelConfig has no setting named heads"),
        (lambda m: m.update(config=[64, 4]), r"config is invalid: ModelConfig must be a JSON object"),
        (lambda m: m.update(config=None), r"config is invalid"),
        (lambda m: m.update(vocab={"mode": "compact", "ids": "1 2 3"}), r"config is invalid: .*list of integers"),
        (lambda m: m.update(vocab=None), r"config is invalid: The vocabulary map must be a JSON object"),
        (lambda m: m.update(train=[1, 2]), r"training state must be a JSON object"),
    ],
)
def test_metadata_with_wrong_json_types(good, change, pattern):
    meta, tensors = parts(good)
    change(meta)
    with pytest.raises(CheckpointError, match=pattern):
        load_any(rebuild(meta, tensors))


def test_vocabulary_map_that_does_not_match_the_embedding(good):
    meta, tensors = parts(good)
    meta["vocab"]["ids"] = meta["vocab"]["ids"][:-10]
    with pytest.raises(CheckpointError, match=r"vocabulary map has [\d,]+ rows but the embedding has [\d,]+"):
        load_any(rebuild(meta, tensors))


def test_wrong_shapes(good, compact_vocab):
    narrow = to_bytes(small(compact_vocab, d_model=16), compact_vocab)  # same vocab, half the width
    meta, wide = parts(good)
    narrow_meta, narrow_tensors = parts(narrow)
    with pytest.raises(CheckpointError, match=r"too small for the model its config describes"):
        load_any(rebuild(meta, narrow_tensors))
    rows = compact_vocab.size
    with pytest.raises(CheckpointError, match=rf"token_embedding.weight has shape \({rows}, 32\); the config needs \({rows}, 16\)"):
        load_any(rebuild(narrow_meta, wide))
    meta, tensors = parts(good)
    tensors["blocks.0.ffn.hidden.weight"] = torch.zeros(100, 32)
    with pytest.raises(CheckpointError, match=r"blocks.0.ffn.hidden.weight has shape \(100, 32\); the config needs \(128, 32\)"):
        load_any(rebuild(meta, tensors))


def test_missing_and_extra_tensors(good):
    meta, tensors = parts(good)
    tensors["blocks.9.attn.qkv.weight"] = tensors.pop("blocks.1.attn.qkv.weight")
    with pytest.raises(CheckpointError, match=r"missing \['blocks.1.attn.qkv.weight'\], unexpected \['blocks.9.attn.qkv.weight'\]"):
        load_any(rebuild(meta, tensors))


def test_scalar_embedding_is_a_checkpoint_error(good):
    meta, tensors = parts(good)
    tensors["token_embedding.weight"] = torch.tensor(1.0)
    with pytest.raises(CheckpointError):
        load_any(rebuild(meta, tensors))


def test_float64_tensors(good):
    meta, tensors = parts(good)
    with pytest.raises(CheckpointError, match=r"must be float32, got torch.float64"):
        load_any(rebuild(meta, {k: v.double() for k, v in tensors.items()}))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights(good, value):
    meta, tensors = parts(good)
    tensors["blocks.1.attn.out.weight"][3, 4] = value
    with pytest.raises(CheckpointError, match=r"blocks.1.attn.out.weight holds NaN or infinite values"):
        load_any(rebuild(meta, tensors))


def test_a_tiny_file_claiming_a_huge_model_is_refused_before_allocating(good, monkeypatch):
    meta, tensors = parts(good)
    meta["config"].update(d_model=1024, num_heads=16, num_blocks=20, context_length=1024)

    def must_not_build(*args, **kwargs):
        raise AssertionError("the model was allocated before the file was checked")

    monkeypatch.setattr(checkpoint, "MiniGPT", must_not_build)
    with pytest.raises(CheckpointError, match="too small for the model its config describes"):
        load_any(rebuild(meta, tensors))


def test_truncated_checkpoint(good):
    with pytest.raises(CheckpointError):
        load_any(good[: len(good) // 2])


def test_a_dtype_error_names_the_tensor(good):
    meta, tensors = parts(good)
    tensors["blocks.0.norm1.weight"] = tensors["blocks.0.norm1.weight"].double()
    with pytest.raises(CheckpointError) as err:
        load_any(rebuild(meta, tensors))
    message = str(err.value)
    assert message == "blocks.0.norm1.weight must be float32, got torch.float64."
    assert isinstance(err.value, ValueError)
