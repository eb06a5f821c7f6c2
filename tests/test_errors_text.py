"""The errors a person can cause read in their language: str(exc) is English, exc.text("zh") is 中文, both from
the [error] table of the catalogues (minigpt/text/en.toml, zh.toml), with every {placeholder} filled."""
from __future__ import annotations

import json
import pickle
import re
import struct

import pytest
import safetensors.torch
import torch

from minigpt import MiniGPT, ModelConfig, TrainConfig, Vocabulary, checkpoint, corpus, devices, presets, text
from minigpt.checkpoint import CheckpointError
from minigpt.config import ConfigError, check_size
from minigpt.corpus import CorpusError
from minigpt.jobs import JobManager, JobRefused
from minigpt.sampling import InputError, tokenize
from minigpt.text import TextError
from minigpt.trainer import Trainer, prepare
from minigpt.walkthrough import Controls, make_input

CJK = re.compile(r"[\u4e00-\u9fff]")
UNFILLED = re.compile(r"\{[A-Za-z_][^{}]*\}")
CHAR_MODEL = ModelConfig(context_length=8, d_model=16, num_heads=2, vocab="char")
CPU_TRAIN = TrainConfig(batch_size=2, steps=2, eval_interval=1, eval_batches=1, device="cpu")


def raised(expected: type, action) -> TextError:
    with pytest.raises(expected) as info:
        action()
    return info.value


def assert_bilingual(exc: TextError) -> str:
    """The Chinese text of exc, after checking it is a filled-in, Chinese rendering of the English message."""
    english, chinese = str(exc), exc.text("zh")
    assert isinstance(exc, TextError) and exc.key.startswith("error.")
    assert CJK.search(chinese), chinese
    assert chinese != english
    assert not UNFILLED.search(english) and not UNFILLED.search(chinese), (english, chinese)
    assert exc.text("en") == english and text.message(exc, "zh") == chinese
    return chinese


def broken_checkpoint_bytes(length: int) -> bytes:
    return struct.pack("<Q", 10**12) + b"x" * length  # a header length far past the end of the file


class _Job:  # what _busy_refusal reads of a running job
    def __init__(self, eta):
        self._eta = eta

    def eta_s(self):
        return self._eta


FAILURES = {
    "config: heads do not divide d_model": (ConfigError, lambda: ModelConfig(d_model=60, num_heads=8)),
    "config: not a whole number": (ConfigError, lambda: ModelConfig(d_model="64")),
    "config: out of range": (ConfigError, lambda: TrainConfig(learning_rate=0.0)),
    "config: not a choice": (ConfigError, lambda: ModelConfig(norm="middle")),
    "config: too many parameters": (ConfigError, lambda: check_size(ModelConfig(d_model=1024, num_blocks=24), 100_000)),
    "config: unknown setting": (ConfigError, lambda: ModelConfig.from_dict({"heads": 4})),
    "config: unknown preset": (ConfigError, lambda: presets.get("enormous")),
    "config: bad precision": (ConfigError, lambda: devices.check_precision("fp16")),
    "vocabulary: beyond cl100k": (ConfigError, lambda: Vocabulary.from_dict({"mode": "full", "max_token_value": 10**9})),
    "corpus: binary upload": (CorpusError, lambda: corpus.decode_upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")),
    "corpus: not UTF-8": (CorpusError, lambda: corpus.decode_upload("café".encode("latin-1"))),
    "corpus: upload too big": (CorpusError, lambda: corpus.decode_upload(b"a" * 2_000, max_bytes=1_000)),
    "corpus: empty upload": (CorpusError, lambda: corpus.decode_upload(b"  \n ")),
    "corpus: unknown name": (CorpusError, lambda: corpus.load("wikipedia")),
    "corpus: too short": (CorpusError, lambda: corpus.check_length(torch.arange(5), 16, "val")),
    "corpus: nothing to train on": (CorpusError, lambda: prepare("", CHAR_MODEL)),
    "checkpoint: empty file": (CheckpointError, lambda: checkpoint.load_any(b"")),
    "checkpoint: too short": (CheckpointError, lambda: checkpoint.load_any(b"\x01\x02\x03")),
    "checkpoint: broken header": (CheckpointError, lambda: checkpoint.load_any(broken_checkpoint_bytes(64))),
    "checkpoint: a .pt file that is no pickle": (CheckpointError, lambda: checkpoint.load_any(b"\x80\x02junk, not a pickle")),
    "input: empty text": (InputError, lambda: tokenize(Vocabulary.from_text("abc", "char"), "   ", 8)),
    "input: no corpus for a batch": (InputError, lambda: make_input(Controls(source="batch"), None, None, 16)),
    "jobs: over the parameter limit": (JobRefused, lambda: JobManager(max_params=50_000).check(
        ModelConfig(d_model=128), TrainConfig(), 1_000)),
    "jobs: over the step limit": (JobRefused, lambda: JobManager(max_steps=500).check(
        ModelConfig(), TrainConfig(steps=1_000), 100)),
}


@pytest.mark.parametrize("name", FAILURES)
def test_a_real_failure_reads_in_chinese(name):
    expected, action = FAILURES[name]
    assert_bilingual(raised(expected, action))


def test_device_not_available_reads_in_chinese(monkeypatch):
    monkeypatch.setattr(devices, "available", lambda: ["cpu"])
    exc = raised(ConfigError, lambda: devices.resolve("cuda"))
    assert str(exc) == "Device 'cuda' is not available here; this machine has cpu."
    assert "'cuda'" in assert_bilingual(exc)


def test_busy_training_slots_read_in_chinese():
    manager = JobManager(max_jobs=2)
    with_eta = manager._busy_refusal([_Job(1234.4), _Job(None)])
    assert str(with_eta) == "2 of 2 training slots are busy; the next frees in about 1,234 s."
    assert "1,234" in assert_bilingual(with_eta)
    waiting = manager._busy_refusal([_Job(None)])
    assert str(waiting).startswith("1 of 2 training slots are busy; they are paused")
    assert_bilingual(waiting)


def test_numbers_keep_their_thousands_separators_in_both_languages():
    exc = raised(CorpusError, lambda: corpus.decode_upload(b"a" * 2_000, max_bytes=1_000))
    assert str(exc) == "The file is 2,000 bytes; the limit is 1,000."
    assert "2,000" in exc.text("zh") and "1,000" in exc.text("zh")


def test_a_checkpoint_with_an_invalid_config_gives_the_inner_reason_in_chinese_too(compact_vocab):
    model = MiniGPT(ModelConfig(context_length=8, d_model=16, num_heads=2), compact_vocab.size)
    data = checkpoint.to_bytes(model, compact_vocab)
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["minigpt"])
    meta["config"].update(d_model=60, num_heads=8)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    broken = safetensors.torch.save(tensors, metadata={"minigpt": json.dumps(meta)})

    exc = raised(CheckpointError, lambda: checkpoint.from_bytes(broken))
    assert str(exc).startswith("The checkpoint's config is invalid: d_model 60 is not divisible by 8 heads")
    inner = ConfigError("error.config_heads_divide", d_model=60, num_heads=8, suggest=64)
    chinese = assert_bilingual(exc)
    assert chinese.endswith(inner.text("zh")) and "注意力头" in chinese and "is not divisible" not in chinese
    assert pickle.loads(pickle.dumps(exc)).text("zh") == chinese


def test_attention_text_that_is_empty_gives_the_inner_reason_in_chinese():
    vocab, rows = prepare("abcde fghij " * 20, CHAR_MODEL)
    exc = raised(ConfigError, lambda: Trainer(CHAR_MODEL, CPU_TRAIN, rows, vocab, attention_every=1,
                                              attention_text="  "))
    assert str(exc) == "attention_text: Type some text first: the input is empty or only whitespace."
    assert exc.text("zh").endswith(InputError("error.input_empty").text("zh"))
    assert_bilingual(exc)


def test_a_config_error_survives_pickling():
    exc = raised(ConfigError, lambda: ModelConfig(d_model=60, num_heads=8))
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is ConfigError and isinstance(copy, ValueError)
    assert (copy.key, copy.values, str(copy), copy.text("zh")) == (exc.key, exc.values, str(exc), exc.text("zh"))


def test_the_error_table_matches_between_languages():
    keys = {k for k in text.keys("en") if k.startswith("error.")}
    assert keys and keys == {k for k in text.keys("zh") if k.startswith("error.")}
    for key in keys:
        en, zh = text.t(key, "en"), text.t(key, "zh")
        assert text.placeholders(en) == text.placeholders(zh), key
        assert CJK.search(zh) or text.placeholders(zh), key
