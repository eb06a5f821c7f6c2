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


class CorpusError(RuntimeError):
    """A corpus that cannot be had or used, with a message for the person using the app."""


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
        raise CorpusError(f"Cannot save downloads in {dest.parent}: {exc.strerror or exc}.") from None
    tmp = Path(tmp_name)
    try:
        try:
            with requests.get(url, stream=True, timeout=timeout) as response:
                if response.status_code != 200:
                    raise CorpusError(f"The server answered HTTP {response.status_code} for {url}.")
                declared = response.headers.get("Content-Length")
                if response.headers.get("Content-Encoding"):
                    declared = None  # compressed on the wire: the length says nothing about the text
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise CorpusError(f"The file is {int(declared):,} bytes, over the limit of {max_bytes:,}.")
                received = 0
                with os.fdopen(fd, "wb") as out:
                    fd = -1
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        received += len(chunk)
                        if received > max_bytes:
                            raise CorpusError(f"The download passed the limit of {max_bytes:,} bytes; stopped.")
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if declared and declared.isdigit() and received != int(declared):
                    raise CorpusError(f"The download was cut off after {received:,} of {int(declared):,} bytes.")
        except requests.Timeout:
            raise CorpusError(f"No answer from the server within {timeout:g} s (are you offline?).") from None
        except requests.exceptions.ChunkedEncodingError:  # the connection closed mid-file
            raise CorpusError("The download was cut off before the end of the file; try again.") from None
        except requests.RequestException as exc:
            raise CorpusError(f"Could not download the corpus (are you offline?): {type(exc).__name__}.") from None
        if sha256 and _sha256(tmp) != sha256:
            raise CorpusError("The downloaded file is not the expected one (its sha256 differs); discarded.")
        os.replace(tmp, dest)
        return dest
    except OSError as exc:  # disk full, permissions (requests' own errors were handled above)
        raise CorpusError(f"Cannot save the download in {dest.parent}: {exc.strerror or exc}.") from None
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
        raise CorpusError(f"{path} is not UTF-8 text; delete it to download it again.") from None
    return Corpus("sales", "Sales textbook", text)


def builtin() -> Corpus:
    """A small text shipped in the package, so the app works with no network at all."""
    text = resources.files("minigpt").joinpath("data/builtin_corpus.txt").read_text(encoding="utf-8")
    return Corpus("builtin", "Built-in sales primer", text)


def load(name: str, **kwargs) -> tuple[Corpus, str | None]:
    """A corpus by name, falling back to the built-in one with a message when the download fails."""
    if name == "sales":
        try:
            return sales_textbook(**kwargs), None
        except CorpusError as exc:
            return builtin(), f"The sales textbook is not available ({exc}) Using the built-in corpus instead."
    if name == "builtin":
        return builtin(), None
    raise CorpusError(f"Unknown corpus {name!r}.")


def decode_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """Text of an uploaded .txt file: UTF-8 (or UTF-16 with a BOM, as Windows Notepad saves "Unicode");
    binary files and other encodings get a clear error."""
    if len(data) > max_bytes:
        raise CorpusError(f"The file is {len(data):,} bytes; the limit is {max_bytes:,}.")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise CorpusError("The file starts like UTF-16 text but cannot be read. Save it as UTF-8.") from None
        if "\x00" in text:
            raise CorpusError("This looks like a binary file, not text. Upload a UTF-8 .txt file.")
        return _non_empty(text)
    if b"\x00" in data[:8192]:
        raise CorpusError("This looks like a binary file, not text. Upload a UTF-8 .txt file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"The file is not UTF-8 text (byte {exc.start} cannot be read). Save it as UTF-8 and upload it again."
        ) from None
    return _non_empty(text)


def _non_empty(text: str) -> str:
    if not text.strip():
        raise CorpusError("The file holds no text.")
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


def check_length(data: torch.Tensor, context_length: int, what: str = "The training text") -> None:
    if len(data) < context_length + 1:
        raise CorpusError(
            f"{what} has {len(data)} tokens, but a context of {context_length} needs at least "
            f"{context_length + 1} (inputs plus the next token). Use more text or a shorter context_length."
        )


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
