"""Property tests: whatever a student, a URL or an uploaded file throws at the core, it either works or
says why with one of our own errors (ConfigError, InputError, CorpusError, CheckpointError) — never an
IndexError, a shape error, a hang or a huge allocation.

Example counts are kept small so the file runs in well under a minute; `deadline=None` because the first
examples pay for building models and tokenizers.
"""
from __future__ import annotations

import json
import struct

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from minigpt import checkpoint, corpus, walkthrough
from minigpt.checkpoint import CheckpointError
from minigpt.config import ConfigError, ModelConfig, TrainConfig, parameter_count
from minigpt.corpus import CorpusError
from minigpt.model import MiniGPT
from minigpt.sampling import InputError, tokenize
from minigpt.stages import stage_names
from minigpt.tokenizer import Vocabulary
from minigpt.walkthrough import Controls

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any value a form, a JSON file or a typo could put in a config field.
anything = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["post", "pre", "compact", "full", "char", "cpu", "auto", "cosine", "constant", "16", "64"]),
    st.lists(st.integers(), max_size=3),
)
# Mostly plausible numbers, so that successes happen too (not only errors).
plausible_int = st.one_of(st.integers(-3, 1100), anything)
plausible_float = st.one_of(st.floats(-1, 12), anything)
# Unicode including emoji, CJK, control characters, combining marks and lone surrogates.
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60)
mixed_text = st.one_of(
    any_text,
    st.text(alphabet=st.sampled_from("量子注意力机制销售🙂👩‍👩‍👧\u200d\x00\x07\t\n\r é\u0301abc .,!?"), max_size=60),
    st.text(max_size=200),
)


# -- configs ----------------------------------------------------------------------------------------
@FAST
@given(st.fixed_dictionaries({}, optional={
    "context_length": plausible_int, "d_model": plausible_int, "num_heads": plausible_int,
    "num_blocks": plausible_int, "ffn_mult": plausible_int, "dropout": plausible_float, "norm": anything,
    "qkv_bias": anything, "vocab": anything, "seed": plausible_int}))
def test_model_config_accepts_or_explains(fields):
    try:
        config = ModelConfig(**fields)
    except ConfigError as exc:
        assert str(exc).strip()
        return
    # Whatever got through is a model that can be built: whole numbers, even width divisible by the heads.
    assert config.d_model % 2 == 0 and config.d_model % config.num_heads == 0
    assert 0 <= config.dropout < 1 and isinstance(config.qkv_bias, bool)
    assert ModelConfig.from_dict(config.to_dict()) == config


@FAST
@given(st.fixed_dictionaries({}, optional={
    "batch_size": plausible_int, "learning_rate": plausible_float, "steps": plausible_int,
    "eval_interval": plausible_int, "eval_batches": plausible_int, "device": anything,
    "grad_clip": plausible_float, "weight_decay": plausible_float, "warmup_steps": plausible_int,
    "lr_schedule": anything, "seed": plausible_int}))
def test_train_config_accepts_or_explains(fields):
    try:
        config = TrainConfig(**fields)
    except ConfigError as exc:
        assert str(exc).strip()
        return
    assert config.learning_rate > 0 and config.steps >= 1
    assert TrainConfig.from_dict(config.to_dict()) == config


json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@FAST
@given(st.one_of(json_like, st.dictionaries(st.sampled_from(["d_model", "num_heads", "seed", "norm", "x", "1"]),
                                            json_like, max_size=4)))
def test_config_from_dict_accepts_or_explains(data):
    for cls in (ModelConfig, TrainConfig):
        try:
            cls.from_dict(data)
        except ConfigError as exc:
            assert str(exc).strip()


# -- URL parameters --------------------------------------------------------------------------------
url_key = st.one_of(st.sampled_from(sorted(walkthrough.URL_NAMES) + ["stage", "block", "head", "view", ""]),
                    st.text(max_size=6))
url_value = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["16", "32", "64", "-5", "0", "7", "1e3", "٣٢", "²", "9" * 5000, " 8 ", "--4", "en", "zh",
                     "../../etc/passwd", "/etc/passwd", "builtin", "sales", "paste", "char", "pre", "x" * 5001]),
    st.integers(-(2**40), 2**40).map(str),
)


@FAST
@given(st.dictionaries(url_key, st.one_of(url_value, st.lists(url_value, max_size=3)), max_size=8))
def test_from_query_never_raises_and_always_gives_valid_controls(params):
    controls, notices = walkthrough.from_query(params)
    assert isinstance(controls, Controls)
    controls.model_config()  # never a ConfigError: conflicting values were reset
    assert controls.lang in walkthrough.LANGUAGES and controls.corpus in walkthrough.CORPORA
    assert controls.source in walkthrough.SOURCES and controls.model in walkthrough.MODELS
    assert isinstance(controls.text, str) and len(controls.text) <= walkthrough.MAX_TEXT_CHARS
    assert 1 <= controls.batch_size <= walkthrough.MAX_BATCH_ROWS
    assert all(isinstance(n, str) and len(n) < 400 for n in notices)  # a notice never echoes a huge value
    for key, raw in params.items():
        if key not in walkthrough.URL_NAMES:
            continue
        raw = raw[-1] if isinstance(raw, list) and raw else ("" if isinstance(raw, list) else raw)
        field, value = walkthrough.URL_NAMES[key], getattr(controls, walkthrough.URL_NAMES[key])
        try:
            taken = value == (int(raw) if isinstance(value, int) else raw)
        except ValueError:
            taken = False
        if not taken and field != "text":
            # The value was not taken as given: the user is told about this parameter (or about the combination).
            assert any(f"URL parameter {key}=" in n or "do not fit together" in n for n in notices), (key, raw, notices)
    # Round trip: the URL the app writes reproduces the controls.
    assert walkthrough.from_query(walkthrough.to_query(controls)) == (controls, [])


@FAST
@given(st.one_of(st.none(), url_value, st.lists(url_value, max_size=3), st.integers(-5, 50)),
       st.one_of(st.builds(range, st.integers(0, 5), st.integers(0, 20)), st.just(("a", "b", "attn.weights"))))
def test_page_param_never_raises(raw, allowed):
    value = walkthrough.parse_page_param(raw, allowed)
    assert value is None or value in allowed


def test_no_url_value_can_name_a_server_file():
    for value in ("/etc/passwd", "../../etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa", "C:\\Windows\\win.ini"):
        controls, notices = walkthrough.from_query({"corpus": value, "vocab": value, "model": value})
        assert (controls.corpus, controls.vocab, controls.model) == ("builtin", "compact", "fresh")
        assert len(notices) == 3


# -- text through the traced model ------------------------------------------------------------------
@pytest.fixture(scope="module")
def vocabularies(builtin_text):
    # "full" from a short text keeps the table small (one row per id up to the largest seen).
    return {"compact": Vocabulary.from_text(builtin_text, "compact"),
            "char": Vocabulary.from_text(builtin_text, "char"),
            "full": Vocabulary.from_text("Build trust, then sell.", "full")}


small_configs = st.builds(
    lambda heads, d_per_head, blocks, ctx, norm, vocab, seed: ModelConfig(
        context_length=ctx, d_model=heads * d_per_head, num_heads=heads, num_blocks=blocks, norm=norm,
        vocab=vocab, seed=seed),
    st.sampled_from([1, 2, 4]), st.sampled_from([2, 4, 8]), st.integers(1, 2), st.integers(1, 16),
    st.sampled_from(["post", "pre"]), st.sampled_from(["compact", "char", "full"]), st.integers(0, 2**31 - 1),
).filter(lambda c: c.d_model <= 32)

_models: dict = {}


def _model(config: ModelConfig, vocab: Vocabulary) -> MiniGPT:
    key = (config, vocab.fingerprint)
    if key not in _models:
        _models[key] = MiniGPT(config, vocab.size).eval()
    return _models[key]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=mixed_text, config=small_configs)
def test_any_text_tokenizes_and_traces_or_says_why(vocabularies, text, config):
    vocab = vocabularies[config.vocab]
    try:
        tokens = tokenize(vocab, text, config.context_length)
    except InputError as exc:
        assert str(exc).strip() and not text.strip()  # only empty input is refused
        return
    assert 1 <= len(tokens.ids) <= config.context_length
    assert all(0 <= r < vocab.size for r in tokens.rows)
    trace = _model(config, vocab).run_with_trace(torch.tensor([tokens.rows]))
    T = len(tokens.ids)
    assert tuple(trace["logits"].shape) == (1, T, vocab.size)
    assert torch.isfinite(trace["logits"]).all()
    weights = trace[f"blocks.{config.num_blocks - 1}.attn.weights"]
    assert tuple(weights.shape) == (1, config.num_heads, T, T)
    assert torch.allclose(weights.sum(-1), torch.ones(1, config.num_heads, T), atol=1e-5)
    assert set(stage_names(config.num_blocks, config.norm)) <= set(trace)
    labels = [vocab.text(i) for i in tokens.ids]
    assert all(isinstance(s, str) for s in labels)
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        # Labels go to the browser as UTF-8; a lone surrogate can only come from Python code, not a page.
        for label in labels:
            label.encode("utf-8")


@SLOW
@given(text=mixed_text)
def test_walkthrough_text_input_any_text(vocabularies, text):
    try:
        walk = walkthrough.text_input(vocabularies["compact"], text, 16)
    except InputError as exc:
        assert str(exc).strip()
        return
    assert walk.rows.shape == (1, len(walk.token_ids[0])) and walk.rows.shape[1] <= 16


# -- uploads ---------------------------------------------------------------------------------------
@FAST
@given(st.one_of(st.binary(max_size=300), any_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
                 st.text(max_size=100).map(lambda s: s.encode("utf-16")),
                 st.text(max_size=100).map(lambda s: b"\xef\xbb\xbf" + s.encode("utf-8"))))
def test_decode_upload_returns_text_or_explains(data):
    try:
        text = corpus.decode_upload(data)
    except CorpusError as exc:
        assert str(exc).strip()
        return
    assert isinstance(text, str) and text.strip()
    text.encode("utf-8")  # strict: a decoded upload never carries surrogates into the app


def test_decode_upload_refuses_oversized_without_decoding():
    with pytest.raises(CorpusError, match="limit"):
        corpus.decode_upload(b"a" * 11, max_bytes=10)


# -- vocabulary maps and checkpoints ---------------------------------------------------------------
@FAST
@given(st.one_of(json_like, st.fixed_dictionaries(
    {"mode": st.one_of(st.sampled_from(["compact", "full", "char", "words"]), json_like)},
    optional={"ids": st.one_of(st.lists(st.integers(-(2**33), 2**33), max_size=20), json_like),
              "max_token_value": st.one_of(st.integers(-5, 2**40), json_like)})))
def test_vocabulary_from_dict_accepts_or_explains(data):
    try:
        vocab = Vocabulary.from_dict(data)
    except ConfigError as exc:
        assert str(exc).strip()
        return
    assert vocab.size == len(vocab.ids) + 1 <= 100_300
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab


@pytest.fixture(scope="module")
def real_checkpoint(vocabularies) -> bytes:
    vocab = Vocabulary.from_text("Build trust. Listen first, then explain the value.", "compact")
    config = ModelConfig(context_length=8, d_model=8, num_heads=2, num_blocks=1, seed=3)
    return checkpoint.to_bytes(MiniGPT(config, vocab.size), vocab, {"step": 1})


def _header_length(data: bytes) -> int:
    return 8 + struct.unpack("<Q", data[:8])[0]


def _load_and_check(data: bytes):
    """load_any either works (a usable model) or raises CheckpointError; and it never builds a model bigger
    than the file could hold, so a few hostile bytes cannot make the server allocate gigabytes."""
    built = []
    original_init = MiniGPT.__init__

    def spy(self, config, vocab_size):
        built.append(parameter_count(config, vocab_size))
        original_init(self, config, vocab_size)

    MiniGPT.__init__ = spy
    try:
        ckpt = checkpoint.load_any(data)
    except CheckpointError as exc:
        assert str(exc).strip()
        ckpt = None
    finally:
        MiniGPT.__init__ = original_init
    for n in built:
        assert n * 4 <= 2 * len(data) + 1_100_000, f"a {len(data)}-byte file made the loader build {n:,} parameters"
    if ckpt is not None:
        rows = torch.zeros(1, 1, dtype=torch.long)
        logits = ckpt.model.run_with_trace(rows)["logits"]
        assert logits.shape == (1, 1, ckpt.vocab.size)


@SLOW
@given(st.binary(max_size=400))
def test_load_any_arbitrary_bytes(data):
    _load_and_check(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_load_any_mutated_real_checkpoint(real_checkpoint, data):
    blob = bytearray(real_checkpoint)
    header_end = _header_length(real_checkpoint)
    # Most flips land in the header (the JSON and metadata), where they change meaning, not just a weight.
    positions = data.draw(st.lists(st.one_of(st.integers(0, header_end - 1), st.integers(0, len(blob) - 1)),
                                   min_size=1, max_size=4))
    for pos in positions:
        blob[pos] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(blob))))
    if cut is not None:
        blob = blob[:cut]
    _load_and_check(bytes(blob))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_load_any_hostile_metadata(real_checkpoint, data):
    """Well-formed safetensors whose minigpt metadata says anything at all (huge models, odd vocabularies)."""
    header = json.loads(real_checkpoint[8:_header_length(real_checkpoint)])
    info = json.loads(header["__metadata__"]["minigpt"])
    info["config"] = data.draw(st.one_of(
        json_like,
        st.fixed_dictionaries({}, optional={"d_model": st.sampled_from([8, 1024, 7]),
                                            "num_heads": st.sampled_from([2, 64]),
                                            "num_blocks": st.sampled_from([1, 24]),
                                            "context_length": st.sampled_from([8, 1024]),
                                            "vocab": st.sampled_from(["compact", "full"])}).map(
            lambda extra: {**info["config"], **extra})))
    info["vocab"] = data.draw(st.one_of(
        st.just(info["vocab"]), json_like,
        st.builds(lambda top: {"mode": "full", "max_token_value": top}, st.integers(0, 100_300))))
    if data.draw(st.booleans()):  # a file with no weights at all, only the metadata
        header = {"__metadata__": header["__metadata__"]}
        body = b""
    else:
        body = real_checkpoint[_header_length(real_checkpoint):]
    header["__metadata__"] = {"minigpt": json.dumps(info)}
    raw = json.dumps(header).encode()
    _load_and_check(struct.pack("<Q", len(raw)) + raw + body)


def test_tiny_tutorial_file_cannot_claim_a_huge_model():
    """A torch file whose tensors are stride-0 views: a few bytes on disk, 100k x 1024 once materialised."""
    import io

    d, rows = 1024, 100_000
    one = torch.zeros(1)
    state = {"token_embedding_lookup_table.weight": one.expand(rows, d)}
    a = "transformer_blocks.0.multi_head_attention_layer."
    state[a + "heads.0.query_layer.weight"] = one.expand(d, d)
    state["transformer_blocks.0.layer_norm_1.weight"] = one.expand(d)
    state["transformer_blocks.0.feed_forward_layer.ffn.0.weight"] = one.expand(4 * d, d)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    assert len(data) < 20_000
    _load_and_check(data)
