"""Checkpoints: safetensors weights with the config, vocabulary map and training state as JSON metadata.

Loading never unpickles anything of ours. The tutorial's `model-ckpt.pt` (a pickled state_dict) is
read with `torch.load(weights_only=True)`, which refuses to run code, and mapped onto our layout.
"""
from __future__ import annotations

import copy
import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import safetensors.torch
import torch

from .config import ConfigError, ModelConfig, parameter_count
from .model import MiniGPT
from .text import TextError
from .tokenizer import Vocabulary

FORMAT = "minigpt-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 1_500_000_000
UNREACHABLE_LOGIT = -100.0  # bias of output rows the tutorial's layout has no logit for


class CheckpointError(TextError, ValueError):
    """A file that is not a usable checkpoint; nothing in it was run (error.checkpoint_*)."""


@dataclass
class Checkpoint:
    model: MiniGPT
    vocab: Vocabulary
    train_state: dict = field(default_factory=dict)  # steps, losses, train config: free-form JSON
    source: str = "minigpt"  # or "tutorial"

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def steps(self) -> int | None:
        """Optimizer steps behind these weights: the Trainer writes train_state["steps"]; other tools' files may say
        "step". None if the file says neither. The one place that reads it (labels, banners, file names)."""
        state = self.train_state if isinstance(self.train_state, dict) else {}
        steps = state.get("steps", state.get("step"))
        return steps if isinstance(steps, int) and not isinstance(steps, bool) else None


def copy_of(source: Checkpoint | MiniGPT, vocab: Vocabulary | None = None, train_state: dict | None = None) -> Checkpoint:
    """A Checkpoint that owns a CPU copy of the weights (eval mode): of a checkpoint, or of a live model (a
    training model on any device) with its vocabulary and train state. Nothing is shared with the source."""
    if isinstance(source, Checkpoint):
        source, vocab, train_state, origin = source.model, source.vocab, source.train_state, source.source
    else:
        origin = "minigpt"
    model = MiniGPT(source.config, vocab.size)
    model.load_state_dict({k: v.detach().to("cpu") for k, v in source.state_dict().items()})
    return Checkpoint(model.eval(), vocab, copy.deepcopy(train_state or {}), origin)


# -- saving ---------------------------------------------------------------------------------------
def to_bytes(model: MiniGPT, vocab: Vocabulary, train_state: dict | None = None) -> bytes:
    if model.vocab_size != vocab.size:
        raise CheckpointError("error.checkpoint_vocab_rows", model_rows=model.vocab_size, vocab_rows=vocab.size)
    meta = {"format": FORMAT, "version": VERSION, "config": model.config.to_dict(),
            "vocab": vocab.to_dict(), "train": train_state or {}}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return safetensors.torch.save(tensors, metadata={"minigpt": json.dumps(meta)})


def write(path: str | Path, model: MiniGPT, vocab: Vocabulary, train_state: dict | None = None) -> Path:
    """Write atomically: a failed write (full or read-only disk) leaves any earlier file intact."""
    path = Path(path)
    data = to_bytes(model, vocab, train_state)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    except OSError as exc:
        reason = str(exc.strerror or exc)
        raise CheckpointError("error.checkpoint_cannot_write", folder=str(path.parent), reason=reason) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        reason = str(exc.strerror or exc)
        raise CheckpointError("error.checkpoint_write_failed", path=str(path), reason=reason) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


# -- loading --------------------------------------------------------------------------------------
def _reason(exc: Exception):
    """An error inside a message: ours renders in the reader's language, a library's keeps its own text."""
    return exc if isinstance(exc, TextError) else str(exc)


def _safetensors_metadata(data: bytes) -> dict:
    if len(data) < 8:
        raise CheckpointError("error.checkpoint_too_short")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(len(data) - 8, 100_000_000):
        raise CheckpointError("error.checkpoint_header_broken")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError("error.checkpoint_header_not_json") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or "minigpt" not in meta:
        raise CheckpointError("error.checkpoint_no_metadata")
    try:
        info = json.loads(meta["minigpt"])
    except (TypeError, json.JSONDecodeError):
        raise CheckpointError("error.checkpoint_metadata_not_json") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError("error.checkpoint_not_minigpt")
    if info.get("version") != VERSION:
        raise CheckpointError("error.checkpoint_version", version=repr(info.get("version")), expected=VERSION)
    return info


def _fill(model: MiniGPT, tensors: dict[str, torch.Tensor]) -> None:
    """Copy tensors into model after checking names, shapes and dtypes: any mismatch is a clear error."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError("error.checkpoint_weights_mismatch", missing=str(missing[:3]), unexpected=str(extra[:3]))
    for name, target in expected.items():
        got = tensors[name]
        if not isinstance(got, torch.Tensor) or got.dtype != torch.float32:
            kind = getattr(got, "dtype", type(got).__name__)
            raise CheckpointError("error.checkpoint_not_float32", name=name, got=str(kind))
        if tuple(got.shape) != tuple(target.shape):
            raise CheckpointError("error.checkpoint_shape", name=name, shape=str(tuple(got.shape)),
                                  needed=str(tuple(target.shape)))
        if not torch.isfinite(got).all():
            raise CheckpointError("error.checkpoint_not_finite", name=name)
    model.load_state_dict(tensors)


def from_bytes(data: bytes) -> Checkpoint:
    """Load our own safetensors checkpoint."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError("error.checkpoint_too_big", size=len(data), limit=MAX_CHECKPOINT_BYTES)
    info = _safetensors_metadata(data)
    try:
        config = ModelConfig.from_dict(info.get("config"))
        vocab = Vocabulary.from_dict(info.get("vocab"))
    except (ConfigError, TypeError) as exc:
        raise CheckpointError("error.checkpoint_config_invalid", reason=_reason(exc)) from None
    train_state = info.get("train", {})
    if not isinstance(train_state, dict):
        raise CheckpointError("error.checkpoint_train_state")
    # A tiny file whose config describes a huge model must not make us allocate that model first.
    needed = parameter_count(config, vocab.size) * 4
    if needed > len(data):
        raise CheckpointError("error.checkpoint_too_small_for_config", size=len(data), needed=needed)
    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # safetensors raises its own error types for broken files
        raise CheckpointError("error.checkpoint_weights_unreadable", reason=str(exc)) from None
    rows = tensors.get("token_embedding.weight")
    if rows is not None and rows.dim() >= 1 and rows.shape[0] != vocab.size:
        raise CheckpointError("error.checkpoint_vocab_embedding", vocab_rows=vocab.size,
                              embedding_rows=int(rows.shape[0]))
    try:
        model = MiniGPT(config, vocab.size)
    except ConfigError as exc:
        raise CheckpointError(exc.key, **exc.values) from None  # the model's own reason, as a CheckpointError
    _fill(model, tensors)
    return Checkpoint(model.eval(), vocab, train_state)


def read(path: str | Path) -> Checkpoint:
    return from_bytes(Path(path).read_bytes())


# -- the tutorial's companion script --------------------------------------------------------------
def _torch_load(data: bytes) -> dict:
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for code, RuntimeError/EOFError for junk
        raise CheckpointError("error.checkpoint_pt_refused", kind=type(exc).__name__) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("error.checkpoint_pt_not_state_dict")
    # torch.save stores tensors uncompressed, so real weights take about as many bytes as the file; stride-0
    # or overlapping views can describe gigabytes in a few bytes, and the import would materialise them.
    described = sum(v.numel() * v.element_size() for v in state.values())
    if described > 2 * len(data) + 1_000_000:
        raise CheckpointError("error.checkpoint_pt_overlapping", size=len(data), described=described)
    return state


def import_tutorial(state: dict, *, num_heads: int | None = None, context_length: int = 16) -> Checkpoint:
    """Map the tutorial's state_dict (per-head Linear layers, pre-LN, full vocabulary) onto MiniGPT.

    num_blocks, d_model, heads and vocabulary come from the shapes; a `tril` buffer, when present,
    gives context_length. The output layer has one logit fewer than the embedding has rows (the
    notebook's quirk); that id, and our `<unk>` row, get a logit of UNREACHABLE_LOGIT.
    """
    def get(name: str) -> torch.Tensor:
        if name not in state:
            raise CheckpointError("error.checkpoint_tutorial_missing", name=name)
        return state[name].float()

    emb = get("token_embedding_lookup_table.weight")
    if emb.dim() != 2:
        raise CheckpointError("error.checkpoint_tutorial_embedding_matrix")
    table_rows, d_model = emb.shape
    num_blocks = sum(1 for k in state if k.startswith("transformer_blocks.") and k.endswith(".layer_norm_1.weight"))
    if num_blocks == 0:
        raise CheckpointError("error.checkpoint_tutorial_no_blocks")
    attn = "transformer_blocks.{}.multi_head_attention_layer."
    heads = sum(1 for k in state if k.startswith(attn.format(0) + "heads.") and k.endswith(".query_layer.weight"))
    if heads == 0:
        raise CheckpointError("error.checkpoint_tutorial_no_heads")
    if num_heads is not None and num_heads != heads:
        raise CheckpointError("error.checkpoint_tutorial_heads", heads=heads, num_heads=num_heads)
    tril = state.get(attn.format(0) + "heads.0.tril")
    if tril is not None and tril.dim() == 2:
        context_length = int(tril.shape[0])
    hidden = get("transformer_blocks.0.feed_forward_layer.ffn.0.weight")
    try:
        config = ModelConfig(context_length=context_length, d_model=d_model, num_heads=heads,
                             num_blocks=num_blocks, ffn_mult=max(1, hidden.shape[0] // d_model), dropout=0.1,
                             norm="pre", qkv_bias=False, vocab="full", seed=0)
    except (ConfigError, IndexError) as exc:
        raise CheckpointError("error.checkpoint_tutorial_config", reason=_reason(exc)) from None
    try:
        vocab = Vocabulary("full", tuple(range(table_rows)))
        model = MiniGPT(config, vocab.size)
    except ConfigError as exc:
        raise CheckpointError("error.checkpoint_tutorial_unusable", reason=exc) from None
    try:
        ours = _tutorial_tensors(state, get, emb, num_blocks, heads, attn, vocab.size)
    except (RuntimeError, IndexError) as exc:  # torch.cat of mismatched shapes, a scalar where a matrix belongs
        raise CheckpointError("error.checkpoint_tutorial_tensors", reason=str(exc)) from None
    _fill(model, ours)
    return Checkpoint(model.eval(), vocab, {}, source="tutorial")


def _tutorial_tensors(state, get, emb, num_blocks, heads, attn, vocab_size) -> dict[str, torch.Tensor]:
    """The tutorial's tensors renamed and stacked into MiniGPT's layout (shapes are checked by _fill)."""
    table_rows, d = emb.shape
    ours = {"token_embedding.weight": torch.cat([emb, torch.zeros(1, d)])}  # + the <unk> row
    for i in range(num_blocks):
        block, a = f"transformer_blocks.{i}.", attn.format(i)
        qkv = [torch.cat([get(f"{a}heads.{h}.{kind}_layer.weight") for h in range(heads)]) for kind in ("query", "key", "value")]
        ours[f"blocks.{i}.attn.qkv.weight"] = torch.cat(qkv)
        for ours_name, theirs in (("attn.out", a + "projection_layer"), ("ffn.hidden", block + "feed_forward_layer.ffn.0"),
                                  ("ffn.out", block + "feed_forward_layer.ffn.2"), ("norm1", block + "layer_norm_1"),
                                  ("norm2", block + "layer_norm_2")):
            ours[f"blocks.{i}.{ours_name}.weight"] = get(theirs + ".weight")
            ours[f"blocks.{i}.{ours_name}.bias"] = get(theirs + ".bias")
    ours["final_norm.weight"] = get(f"transformer_blocks.{num_blocks}.weight")
    ours["final_norm.bias"] = get(f"transformer_blocks.{num_blocks}.bias")
    out_w, out_b = get("language_model_out_linear_layer.weight"), get("language_model_out_linear_layer.bias")
    pad = vocab_size - out_w.shape[0]
    if out_w.shape[1] != d or not 1 <= pad <= 2:
        raise CheckpointError("error.checkpoint_tutorial_out_shape", shape=str(tuple(out_w.shape)),
                              rows=table_rows - 1, d=d)
    ours["lm_head.weight"] = torch.cat([out_w, torch.zeros(pad, d)])
    ours["lm_head.bias"] = torch.cat([out_b, torch.full((pad,), UNREACHABLE_LOGIT)])
    return ours


def load_any(data: bytes, *, num_heads: int | None = None, context_length: int = 16) -> Checkpoint:
    """A checkpoint from an upload: ours (safetensors) or the tutorial's `model-ckpt.pt`, told apart by content."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise CheckpointError("error.checkpoint_empty")
    data = bytes(data)
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError("error.checkpoint_too_big", size=len(data), limit=MAX_CHECKPOINT_BYTES)
    # safetensors: an 8-byte header length, then JSON. Checked first: that length's low byte can be
    # 0x80 or b"PK", which would otherwise look like a pickle or a zip.
    if len(data) > 8 and data[8:9] == b"{":
        return from_bytes(data)
    if data[:2] == b"PK" or data[:1] == b"\x80":  # torch.save's zip, or a legacy pickle
        return import_tutorial(_torch_load(data), num_heads=num_heads, context_length=context_length)
    return from_bytes(data)
