"""Corpora: the notebook's sales textbook (downloaded once, cached atomically), a built-in text that
works with no network, and the user's own text; plus the notebook's 90/10 split and random batches.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import requests
import torch

from . import text as _text
from .text import TextError

# The notebook's address for the sales textbook, and what the file there is.
SALES_TEXTBOOK_URL = (
    "https://huggingface.co/datasets/goendalf666/sales-textbook_fro_convincing_and_selling"
    "/resolve/main/sales_textbook.txt?download=true"
)
SALES_TEXTBOOK_SHA256 = "1994f20f5becd3f0b3d7a632e5a68513cc38cf6c9737a9f38243f1b652e962da"
SALES_TEXTBOOK_FILE = "sales_textbook.txt"
DOWNLOAD_TIMEOUT_S = 10.0
MAX_DOWNLOAD_BYTES = 5_000_000
MAX_UPLOAD_BYTES = 2_000_000  # also `server.maxUploadSize` in .streamlit/config.toml (MB, rounded up)
TRAIN_FRACTION = 0.9


class CorpusError(TextError, RuntimeError):
    """A corpus that cannot be had or used, with a message for the person using the app (error.corpus_*)."""


@dataclass(frozen=True)
class Corpus:
    name: str       # "sales", "builtin", "user"
    title: str
    text: str


def cache_dir() -> Path:
    """Where downloads are kept: $MINIGPT_CACHE, else ~/.cache/minigpt."""
    return Path(os.environ.get("MINIGPT_CACHE") or Path.home() / ".cache" / "minigpt")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: Path,
    *,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    sha256: str | None = None,
) -> Path:
    """Download url to dest atomically: a temp file in dest's folder, renamed into place only when whole.

    Any failure (offline, timeout, HTTP error, over max_bytes, wrong hash, cut-off transfer) raises
    CorpusError and leaves dest as it was.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as exc:  # a read-only home, a file where the folder should be
        reason = str(exc.strerror or exc)
        raise CorpusError("error.corpus_cannot_save_dir", folder=str(dest.parent), reason=reason) from None
    tmp = Path(tmp_name)
    try:
        try:
            with requests.get(url, stream=True, timeout=timeout) as response:
                if response.status_code != 200:
                    raise CorpusError("error.corpus_http", status=response.status_code, url=url)
                declared = response.headers.get("Content-Length")
                if response.headers.get("Content-Encoding"):
                    declared = None  # compressed on the wire: the length says nothing about the text
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise CorpusError("error.corpus_download_too_big", size=int(declared), limit=max_bytes)
                received = 0
                with os.fdopen(fd, "wb") as out:
                    fd = -1
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        received += len(chunk)
                        if received > max_bytes:
                            raise CorpusError("error.corpus_download_over_limit", limit=max_bytes)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if declared and declared.isdigit() and received != int(declared):
                    raise CorpusError("error.corpus_download_cut", received=received, declared=int(declared))
        except requests.Timeout:
            raise CorpusError("error.corpus_timeout", timeout=timeout) from None
        except requests.exceptions.ChunkedEncodingError:  # the connection closed mid-file
            raise CorpusError("error.corpus_download_cut_early") from None
        except requests.RequestException as exc:
            raise CorpusError("error.corpus_offline", kind=type(exc).__name__) from None
        if sha256 and _sha256(tmp) != sha256:
            raise CorpusError("error.corpus_sha256")
        os.replace(tmp, dest)
        return dest
    except OSError as exc:  # disk full, permissions (requests' own errors were handled above)
        reason = str(exc.strerror or exc)
        raise CorpusError("error.corpus_cannot_save", folder=str(dest.parent), reason=reason) from None
    finally:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)


def sales_textbook(
    url: str = SALES_TEXTBOOK_URL,
    directory: Path | None = None,
    *,
    sha256: str | None = SALES_TEXTBOOK_SHA256,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> Corpus:
    """The notebook's corpus: read from the cache, downloading it first if it is missing or corrupt."""
    path = Path(directory or cache_dir()) / SALES_TEXTBOOK_FILE
    if path.exists() and sha256 and _sha256(path) != sha256:
        path.unlink()  # truncated or altered: discard and download again
    if not path.exists():
        download(url, path, timeout=timeout, sha256=sha256)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorpusError("error.corpus_cache_not_utf8", path=str(path)) from None
    return Corpus("sales", "Sales textbook", text)


def fetch_sales(url: str | None = None) -> Corpus:
    """`python -m minigpt fetch-corpus`: the sales textbook into the cache (from url, a mirror, if given), checked
    against its SHA-256, so `load("sales")` finds it offline afterwards. CorpusError says what went wrong."""
    return sales_textbook(url or SALES_TEXTBOOK_URL, sha256=SALES_TEXTBOOK_SHA256)


def builtin() -> Corpus:
    """A small text shipped in the package, so the app works with no network at all."""
    text = resources.files("minigpt").joinpath("data/builtin_corpus.txt").read_text(encoding="utf-8")
    return Corpus("builtin", "Built-in sales primer", text)


def load(name: str, **kwargs) -> tuple[Corpus, CorpusError | None]:
    """A corpus by name, falling back to the built-in one when the download fails. The second value says why
    (not raised): str() of it is the English sentence, `.text(lang)` the one a page shows."""
    if name == "sales":
        try:
            return sales_textbook(**kwargs), None
        except CorpusError as exc:
            return builtin(), CorpusError("error.corpus_sales_unavailable", why=exc)
    if name == "builtin":
        return builtin(), None
    raise CorpusError("error.corpus_unknown", name=repr(name))


def decode_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """Text of an uploaded .txt file: UTF-8 (or UTF-16 with a BOM, as Windows Notepad saves "Unicode");
    binary files and other encodings get a clear error."""
    if len(data) > max_bytes:
        raise CorpusError("error.corpus_upload_too_big", size=len(data), limit=max_bytes)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise CorpusError("error.corpus_utf16_broken") from None
        if "\x00" in text:
            raise CorpusError("error.corpus_binary")
        return _non_empty(text)
    if b"\x00" in data[:8192]:
        raise CorpusError("error.corpus_binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError("error.corpus_not_utf8", byte=exc.start) from None
    return _non_empty(text)


def _non_empty(text: str) -> str:
    if not text.strip():
        raise CorpusError("error.corpus_empty_file")
    return text


def rows_of(ids, vocab) -> torch.Tensor:
    """Token ids (already encoded in the vocabulary's mode) as a 1-D LongTensor of the vocabulary's rows."""
    return torch.tensor(vocab.rows(ids), dtype=torch.long)


def encode_rows(text: str, vocab) -> torch.Tensor:
    """A corpus as the 1-D LongTensor of embedding rows the model reads: the one path from text to rows."""
    return rows_of(vocab.encode(text), vocab)


def split(tokens: torch.Tensor, train_fraction: float = TRAIN_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """The notebook's split: the first 90% of tokens train, the last 10% validate."""
    n = int(len(tokens) * train_fraction)
    return tokens[:n], tokens[n:]


def check_length(data: torch.Tensor, context_length: int, what: str = "text") -> None:
    """CorpusError unless data holds a context plus its next token. what names the data: a part of the error
    catalogue ("text", "train", "val", "walk": error.corpus_part_<what>, in the reader's language) or a phrase."""
    if len(data) < context_length + 1:
        key = f"error.corpus_part_{what}"
        part = TextError(key) if key in _text.keys() else what
        raise CorpusError("error.corpus_too_short", what=part, n=len(data), ctx=context_length, need=context_length + 1)


def get_batch(
    data: torch.Tensor, batch_size: int, context_length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The notebook's random batch: x = data[i:i+T], y = data[i+1:i+T+1]. Returns (x, y, starts)."""
    check_length(data, context_length)
    starts = torch.randint(0, len(data) - context_length, (batch_size,), generator=generator)
    offsets = torch.arange(context_length)
    x = data[starts[:, None] + offsets]
    y = data[starts[:, None] + offsets + 1]
    return x, y, starts
