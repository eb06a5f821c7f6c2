"""Checkpoints: safetensors weights with the config, vocabulary map and training state as JSON metadata.

Loading never unpickles anything of ours. The tutorial's `model-ckpt.pt` (a pickled state_dict) is
read with `torch.load(weights_only=True)`, which refuses to run code, and mapped onto our layout.
"""
from __future__ import annotations

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
from .tokenizer import Vocabulary

FORMAT = "minigpt-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 1_500_000_000
UNREACHABLE_LOGIT = -100.0  # bias of output rows the tutorial's layout has no logit for


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; nothing in it was run."""


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
        """Optimizer steps behind these weights (the Trainer's train_state["steps"]); None if the file does not say."""
        steps = self.train_state.get("steps") if isinstance(self.train_state, dict) else None
        return steps if isinstance(steps, int) and not isinstance(steps, bool) else None


# -- saving ---------------------------------------------------------------------------------------
def to_bytes(model: MiniGPT, vocab: Vocabulary, train_state: dict | None = None) -> bytes:
    if model.vocab_size != vocab.size:
        raise CheckpointError(f"The model has {model.vocab_size} rows but the vocabulary {vocab.size}.")
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
        raise CheckpointError(f"Cannot write a checkpoint to {path.parent}: {exc.strerror or exc}.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise CheckpointError(f"Writing {path} failed ({exc.strerror or exc}); any earlier file is unchanged.") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


# -- loading --------------------------------------------------------------------------------------
def _safetensors_metadata(data: bytes) -> dict:
    if len(data) < 8:
        raise CheckpointError("The file is too short to be a checkpoint.")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(len(data) - 8, 100_000_000):
        raise CheckpointError("This is not a safetensors checkpoint (its header is broken).")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError("This is not a safetensors checkpoint (its header is not JSON).") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or "minigpt" not in meta:
        raise CheckpointError("This safetensors file has no minigpt metadata (config and vocabulary).")
    try:
        info = json.loads(meta["minigpt"])
    except (TypeError, json.JSONDecodeError):
        raise CheckpointError("The checkpoint's metadata is not valid JSON.") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError("The checkpoint's metadata is not a minigpt checkpoint.")
    if info.get("version") != VERSION:
        raise CheckpointError(f"Checkpoint version {info.get('version')!r} is not supported (expected {VERSION}).")
    return info


def _fill(model: MiniGPT, tensors: dict[str, torch.Tensor]) -> None:
    """Copy tensors into model after checking names, shapes and dtypes: any mismatch is a clear error."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"The weights do not match the config: missing {missing[:3]}, unexpected {extra[:3]}.")
    for name, target in expected.items():
        got = tensors[name]
        if not isinstance(got, torch.Tensor) or got.dtype != torch.float32:
            raise CheckpointError(f"{name} must be float32, got {getattr(got, 'dtype', type(got).__name__)}.")
        if tuple(got.shape) != tuple(target.shape):
            raise CheckpointError(f"{name} has shape {tuple(got.shape)}; the config needs {tuple(target.shape)}.")
        if not torch.isfinite(got).all():
            raise CheckpointError(f"{name} holds NaN or infinite values.")
    model.load_state_dict(tensors)


def from_bytes(data: bytes) -> Checkpoint:
    """Load our own safetensors checkpoint."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"The file is {len(data):,} bytes, over the limit of {MAX_CHECKPOINT_BYTES:,}.")
    info = _safetensors_metadata(data)
    try:
        config = ModelConfig.from_dict(info.get("config"))
        vocab = Vocabulary.from_dict(info.get("vocab"))
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"The checkpoint's config is invalid: {exc}") from None
    train_state = info.get("train", {})
    if not isinstance(train_state, dict):
        raise CheckpointError("The checkpoint's training state must be a JSON object.")
    # A tiny file whose config describes a huge model must not make us allocate that model first.
    needed = parameter_count(config, vocab.size) * 4
    if needed > len(data):
        raise CheckpointError(
            f"The file is {len(data):,} bytes, too small for the model its config describes ({needed:,} bytes of weights)."
        )
    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # safetensors raises its own error types for broken files
        raise CheckpointError(f"The checkpoint's weights cannot be read: {exc}") from None
    rows = tensors.get("token_embedding.weight")
    if rows is not None and rows.dim() >= 1 and rows.shape[0] != vocab.size:
        raise CheckpointError(
            f"The vocabulary map has {vocab.size:,} rows but the embedding has {rows.shape[0]:,}: they do not belong together."
        )
    try:
        model = MiniGPT(config, vocab.size)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    _fill(model, tensors)
    return Checkpoint(model.eval(), vocab, train_state)


def read(path: str | Path) -> Checkpoint:
    return from_bytes(Path(path).read_bytes())


# -- the tutorial's companion script --------------------------------------------------------------
def _torch_load(data: bytes) -> dict:
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for code, RuntimeError/EOFError for junk
        raise CheckpointError(
            "This is not a plain PyTorch state_dict, or it contains code; it was refused and nothing in it ran "
            f"({type(exc).__name__})."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("The .pt file does not hold a state_dict (a dict of tensors).")
    # torch.save stores tensors uncompressed, so real weights take about as many bytes as the file; stride-0
    # or overlapping views can describe gigabytes in a few bytes, and the import would materialise them.
    described = sum(v.numel() * v.element_size() for v in state.values())
    if described > 2 * len(data) + 1_000_000:
        raise CheckpointError(
            f"The file is {len(data):,} bytes but its tensors describe {described:,} bytes of weights "
            "(repeated or overlapping memory); it was refused."
        )
    return state


def import_tutorial(state: dict, *, num_heads: int | None = None, context_length: int = 16) -> Checkpoint:
    """Map the tutorial's state_dict (per-head Linear layers, pre-LN, full vocabulary) onto MiniGPT.

    num_blocks, d_model, heads and vocabulary come from the shapes; a `tril` buffer, when present,
    gives context_length. The output layer has one logit fewer than the embedding has rows (the
    notebook's quirk); that id, and our `<unk>` row, get a logit of UNREACHABLE_LOGIT.
    """
    def get(name: str) -> torch.Tensor:
        if name not in state:
            raise CheckpointError(f"This is not the tutorial's layout: {name} is missing.")
        return state[name].float()

    emb = get("token_embedding_lookup_table.weight")
    if emb.dim() != 2:
        raise CheckpointError("token_embedding_lookup_table.weight must be a matrix.")
    table_rows, d_model = emb.shape
    num_blocks = sum(1 for k in state if k.startswith("transformer_blocks.") and k.endswith(".layer_norm_1.weight"))
    if num_blocks == 0:
        raise CheckpointError("This is not the tutorial's layout: no transformer_blocks.*.layer_norm_1 found.")
    attn = "transformer_blocks.{}.multi_head_attention_layer."
    heads = sum(1 for k in state if k.startswith(attn.format(0) + "heads.") and k.endswith(".query_layer.weight"))
    if heads == 0:
        raise CheckpointError("This is not the tutorial's layout: no heads.*.query_layer found.")
    if num_heads is not None and num_heads != heads:
        raise CheckpointError(f"The file has {heads} heads per block, not {num_heads}.")
    tril = state.get(attn.format(0) + "heads.0.tril")
    if tril is not None and tril.dim() == 2:
        context_length = int(tril.shape[0])
    hidden = get("transformer_blocks.0.feed_forward_layer.ffn.0.weight")
    try:
        config = ModelConfig(context_length=context_length, d_model=d_model, num_heads=heads,
                             num_blocks=num_blocks, ffn_mult=max(1, hidden.shape[0] // d_model), dropout=0.1,
                             norm="pre", qkv_bias=False, vocab="full", seed=0)
    except (ConfigError, IndexError) as exc:
        raise CheckpointError(f"The tutorial model's shapes do not make a valid config: {exc}") from None
    try:
        vocab = Vocabulary("full", tuple(range(table_rows)))
        model = MiniGPT(config, vocab.size)
    except ConfigError as exc:
        raise CheckpointError(f"The tutorial model cannot be used here: {exc}") from None
    try:
        ours = _tutorial_tensors(state, get, emb, num_blocks, heads, attn, vocab.size)
    except (RuntimeError, IndexError) as exc:  # torch.cat of mismatched shapes, a scalar where a matrix belongs
        raise CheckpointError(f"The tutorial checkpoint's tensors do not fit together ({exc}).") from None
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
        raise CheckpointError(f"language_model_out_linear_layer has shape {tuple(out_w.shape)}; expected ({table_rows - 1}, {d}).")
    ours["lm_head.weight"] = torch.cat([out_w, torch.zeros(pad, d)])
    ours["lm_head.bias"] = torch.cat([out_b, torch.full((pad,), UNREACHABLE_LOGIT)])
    return ours


def load_any(data: bytes, *, num_heads: int | None = None, context_length: int = 16) -> Checkpoint:
    """A checkpoint from an upload: ours (safetensors) or the tutorial's `model-ckpt.pt`, told apart by content."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise CheckpointError("The file is empty.")
    data = bytes(data)
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"The file is {len(data):,} bytes, over the limit of {MAX_CHECKPOINT_BYTES:,}.")
    # safetensors: an 8-byte header length, then JSON. Checked first: that length's low byte can be
    # 0x80 or b"PK", which would otherwise look like a pickle or a zip.
    if len(data) > 8 and data[8:9] == b"{":
        return from_bytes(data)
    if data[:2] == b"PK" or data[:1] == b"\x80":  # torch.save's zip, or a legacy pickle
        return import_tutorial(_torch_load(data), num_heads=num_heads, context_length=context_length)
    return from_bytes(data)
