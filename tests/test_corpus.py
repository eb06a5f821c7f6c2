"""Corpora: the atomic, cached download (against a local HTTP server), uploads, the split and batches."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest
import torch

from minigpt import corpus
from minigpt.corpus import CorpusError, decode_upload, get_batch, sales_textbook, split

BODY = ("A sale begins with listening. 倾听是销售的开始。\n" * 40).encode("utf-8")
BODY_SHA = hashlib.sha256(BODY).hexdigest()


class Server:
    """A local HTTP server whose answer depends on the path; it counts requests per path."""

    def __init__(self):
        self.requests: dict[str, int] = {}
        self.release = threading.Event()  # wakes handlers that sleep, at teardown
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                server.requests[path] = server.requests.get(path, 0) + 1
                getattr(server, "route_" + path.strip("/").replace("-", "_"))(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    # -- routes --------------------------------------------------------------------------------
    @staticmethod
    def _send(h, body: bytes, length: int | None = None, status: int = 200):
        h.send_response(status)
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.end_headers()
        h.wfile.write(body)

    def route_ok(self, h):
        self._send(h, BODY, len(BODY))

    def route_other(self, h):
        self._send(h, b"not the textbook", 16)

    def route_slow(self, h):
        self.release.wait(10)  # far longer than the timeout the test passes

    def route_missing(self, h):
        h.send_error(404, "Not Found")

    def route_big_declared(self, h):
        self._send(h, b"x" * 100, 10_000_000)

    def route_no_length(self, h):
        self._send(h, b"x" * 50_000, None)  # HTTP/1.0: the body ends when the connection closes

    def route_lying(self, h):
        self._send(h, b"y" * 50_000, 50)  # declares 50 bytes, sends far more

    def route_gzip(self, h):
        packed = gzip.compress(BODY)
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(packed)))
        h.end_headers()
        h.wfile.write(packed)

    def route_gzip_bomb(self, h):
        packed = gzip.compress(b"\0" * 2_000_000)  # about 2 KB on the wire
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(packed)))
        h.end_headers()
        h.wfile.write(packed)

    def route_cut(self, h):
        self._send(h, b"z" * 10, 100_000)
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def server():
    s = Server()
    s.thread.start()
    yield s
    s.release.set()
    s.httpd.shutdown()
    s.httpd.server_close()


def dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/sales_textbook.txt"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in Path(directory).iterdir()) if Path(directory).exists() else []


# -- the sales textbook download --------------------------------------------------------------------
def test_download_is_cached_atomically_then_read_without_a_request(server, tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((Path(src), Path(dst)))
        assert not Path(dst).exists()  # nothing at the final name until the file is whole
        assert Path(src).read_bytes() == BODY
        real_replace(src, dst)

    monkeypatch.setattr(corpus.os, "replace", spy)
    first = sales_textbook(url=server.url("/ok"), directory=tmp_path, sha256=BODY_SHA)
    assert first.text == BODY.decode("utf-8") and first.name == "sales"
    assert len(replaced) == 1
    src, dst = replaced[0]
    assert src.parent == dst.parent == tmp_path and src.name.endswith(".part")
    assert dst == tmp_path / corpus.SALES_TEXTBOOK_FILE
    assert leftovers(tmp_path) == [corpus.SALES_TEXTBOOK_FILE]

    second = sales_textbook(url=server.url("/ok"), directory=tmp_path, sha256=BODY_SHA)
    assert second.text == first.text
    assert server.requests == {"/ok": 1}  # the second read came from the cache


def test_timeout_gives_a_clear_error_and_no_file(server, tmp_path):
    with pytest.raises(CorpusError, match=r"No answer from the server within 0.3 s"):
        sales_textbook(url=server.url("/slow"), directory=tmp_path, sha256=None, timeout=0.3)
    assert leftovers(tmp_path) == []


def test_http_404(server, tmp_path):
    with pytest.raises(CorpusError, match=r"HTTP 404"):
        sales_textbook(url=server.url("/missing"), directory=tmp_path, sha256=None)
    assert leftovers(tmp_path) == []


def test_declared_size_over_the_limit_is_refused(server, tmp_path):
    with pytest.raises(CorpusError, match=r"10,000,000 bytes, over the limit of 1,000"):
        corpus.download(server.url("/big-declared"), tmp_path / "f.txt", max_bytes=1000)
    assert leftovers(tmp_path) == []


def test_body_without_length_over_the_limit_is_stopped(server, tmp_path):
    with pytest.raises(CorpusError, match=r"passed the limit of 1,000 bytes"):
        corpus.download(server.url("/no-length"), tmp_path / "f.txt", max_bytes=1000)
    assert leftovers(tmp_path) == []


def test_lying_length_never_writes_more_than_declared_and_the_hash_catches_it(server, tmp_path):
    with pytest.raises(CorpusError, match="sha256 differs"):
        corpus.download(server.url("/lying"), tmp_path / "f.txt", max_bytes=1000,
                        sha256=hashlib.sha256(b"y" * 50_000).hexdigest())
    assert leftovers(tmp_path) == []
    path = corpus.download(server.url("/lying"), tmp_path / "g.txt", max_bytes=1000)
    assert path.read_bytes() == b"y" * 50  # the declared length, never the 50,000 sent


def test_compressed_transfer_is_unpacked_and_checked(server, tmp_path):
    result = sales_textbook(url=server.url("/gzip"), directory=tmp_path, sha256=BODY_SHA)
    assert result.text == BODY.decode("utf-8")


def test_compressed_body_is_limited_by_its_unpacked_size(server, tmp_path):
    with pytest.raises(CorpusError, match=r"passed the limit of 100,000 bytes"):
        corpus.download(server.url("/gzip-bomb"), tmp_path / "f.txt", max_bytes=100_000)
    assert leftovers(tmp_path) == []


def test_interrupted_download_leaves_no_file_and_no_temp_file(server, tmp_path):
    with pytest.raises(CorpusError, match="cut off"):
        sales_textbook(url=server.url("/cut"), directory=tmp_path, sha256=None)
    assert leftovers(tmp_path) == []


def test_wrong_sha256_is_discarded(server, tmp_path):
    with pytest.raises(CorpusError, match=r"not the expected one \(its sha256 differs\); discarded"):
        sales_textbook(url=server.url("/other"), directory=tmp_path, sha256=BODY_SHA)
    assert leftovers(tmp_path) == []


def test_a_failed_download_keeps_the_earlier_file(server, tmp_path):
    dest = tmp_path / "keep.txt"
    dest.write_bytes(b"earlier")
    with pytest.raises(CorpusError):
        corpus.download(server.url("/missing"), dest)
    assert dest.read_bytes() == b"earlier"
    assert leftovers(tmp_path) == ["keep.txt"]


def test_a_cache_folder_that_cannot_be_written_is_a_corpus_error(server, tmp_path):
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    with pytest.raises(CorpusError, match="Cannot save downloads in"):
        sales_textbook(url=server.url("/ok"), directory=tmp_path / "blocked" / "cache", sha256=BODY_SHA)
    fallback, message = corpus.load("sales", url=server.url("/ok"), directory=tmp_path / "blocked" / "cache")
    assert fallback.name == "builtin" and "Cannot save downloads" in str(message)


def test_a_disk_full_while_saving_is_a_corpus_error(server, tmp_path, monkeypatch):
    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(corpus.os, "fsync", disk_full)
    with pytest.raises(CorpusError, match="No space left on device"):
        sales_textbook(url=server.url("/ok"), directory=tmp_path, sha256=BODY_SHA)
    assert leftovers(tmp_path) == []


def test_corrupt_cached_file_is_detected_and_downloaded_again(server, tmp_path):
    (tmp_path / corpus.SALES_TEXTBOOK_FILE).write_bytes(BODY[: len(BODY) // 2])  # a truncated copy
    result = sales_textbook(url=server.url("/ok"), directory=tmp_path, sha256=BODY_SHA)
    assert result.text == BODY.decode("utf-8")
    assert server.requests == {"/ok": 1}
    assert (tmp_path / corpus.SALES_TEXTBOOK_FILE).read_bytes() == BODY


def test_load_falls_back_to_the_builtin_corpus_with_a_message(tmp_path):
    text, message = corpus.load("sales", url=dead_url(), directory=tmp_path, timeout=2)
    assert text == corpus.builtin()
    assert text.name == "builtin" and len(text.text) > 10_000
    assert message and "built-in corpus" in str(message) and "not available" in str(message)
    assert leftovers(tmp_path) == []


def test_cached_file_that_is_not_utf8_is_a_corpus_error(tmp_path):
    (tmp_path / corpus.SALES_TEXTBOOK_FILE).write_bytes("Café".encode("latin-1"))
    with pytest.raises(CorpusError, match="is not UTF-8 text; delete it"):
        sales_textbook(url=dead_url(), directory=tmp_path, sha256=None)
    fallback, message = corpus.load("sales", url=dead_url(), directory=tmp_path, sha256=None)
    assert fallback.name == "builtin" and "not UTF-8" in str(message)


def test_load_by_name():
    builtin, message = corpus.load("builtin")
    assert builtin.name == "builtin" and message is None
    with pytest.raises(CorpusError, match="Unknown corpus 'poems'"):
        corpus.load("poems")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGPT_CACHE", str(tmp_path))
    assert corpus.cache_dir() == tmp_path


# -- uploads ---------------------------------------------------------------------------------------
def test_upload_utf8_and_bom():
    text = "销售 is selling.\n"
    assert decode_upload(text.encode("utf-8")) == text
    assert decode_upload(b"\xef\xbb\xbf" + text.encode("utf-8")) == text  # the BOM is dropped


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_upload_utf16_with_bom_is_read(codec):
    # Windows Notepad's "Unicode" is UTF-16 with a BOM; it is text, not a binary file.
    text = "销售 is selling.\n"
    data = text.encode(codec)
    if codec != "utf-16":  # the plain codec writes its own BOM
        data = ("\ufeff" + text).encode(codec)
    assert decode_upload(data) == text


def test_upload_broken_utf16():
    with pytest.raises(CorpusError, match="UTF-16 text but cannot be read"):
        decode_upload(b"\xff\xfe" + "\ud800".encode("utf-16-le", "surrogatepass"))
    with pytest.raises(CorpusError, match="holds no text"):
        decode_upload(" ".encode("utf-16"))


def test_upload_binary_file_is_refused():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
    with pytest.raises(CorpusError, match="binary file, not text"):
        decode_upload(png)


def test_upload_latin1_names_the_byte():
    data = "Café crème".encode("latin-1")
    with pytest.raises(CorpusError, match=r"not UTF-8 text \(byte 3 cannot be read\).*Save it as UTF-8"):
        decode_upload(data)


@pytest.mark.parametrize("data", [b"", b"   \n\t  \r\n", b"\xef\xbb\xbf  "])
def test_upload_empty_or_whitespace(data):
    with pytest.raises(CorpusError, match="holds no text"):
        decode_upload(data)


def test_upload_over_the_limit():
    with pytest.raises(CorpusError, match=r"101 bytes; the limit is 100"):
        decode_upload(b"a" * 101, max_bytes=100)
    assert decode_upload(b"a" * 100, max_bytes=100) == "a" * 100


# -- split and batches ------------------------------------------------------------------------------
def test_split_is_the_notebooks_90_10():
    tokens = torch.arange(1000)
    train, val = split(tokens)
    assert len(train) == 900 and len(val) == 100
    assert torch.equal(torch.cat([train, val]), tokens)
    train, val = split(torch.arange(11))
    assert len(train) == int(11 * 0.9) == 9 and len(val) == 2


def test_get_batch_shapes_and_shift():
    data = torch.arange(100, 300)
    x, y, starts = get_batch(data, 4, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16) and starts.shape == (4,)
    assert torch.equal(y, x + 1)  # y is x shifted by one token
    for i, s in enumerate(starts.tolist()):
        assert torch.equal(x[i], data[s : s + 16]) and torch.equal(y[i], data[s + 1 : s + 17])
        assert 0 <= s < len(data) - 16


def test_get_batch_is_reproducible_per_seed():
    data = torch.randint(0, 50, (500,), generator=torch.Generator().manual_seed(3))
    a = get_batch(data, 8, 10, torch.Generator().manual_seed(42))
    b = get_batch(data, 8, 10, torch.Generator().manual_seed(42))
    c = get_batch(data, 8, 10, torch.Generator().manual_seed(43))
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[2], c[2])


def test_get_batch_on_a_corpus_too_short_is_a_corpus_error():
    with pytest.raises(CorpusError, match=r"has 16 tokens, but a context of 16 needs at least 17"):
        get_batch(torch.arange(16), 4, 16, torch.Generator().manual_seed(0))
    x, y, starts = get_batch(torch.arange(17), 2, 16, torch.Generator().manual_seed(0))
    assert starts.tolist() == [0, 0] and torch.equal(y[0], torch.arange(1, 17))


def test_builtin_corpus_is_long_enough_for_the_default_context(builtin_text):
    from minigpt import Vocabulary

    tokens = torch.tensor(Vocabulary.from_text(builtin_text, "compact").encode(builtin_text))
    train, val = split(tokens)
    corpus.check_length(val, 16, "The validation text")
    assert len(tokens) > 5000
