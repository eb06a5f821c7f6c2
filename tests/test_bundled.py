"""The bundled model (minigpt/bundled.py, `python -m minigpt bundle`) and `python -m minigpt fetch-corpus`: the
shipped file is what the recorded command makes, a tiny variant goes through the same command path, the app opens
on the bundled model (its banner, its fixed architecture, its <unk> rows), and the textbook is fetched from a
local HTTP server. Nothing here touches the internet or ../shared."""
from __future__ import annotations

import hashlib
import http.server
import threading

import pytest
import torch
from streamlit.testing.v1 import AppTest

from minigpt import bundled, checkpoint, cli, corpus, explain, walkthrough
from minigpt.text import LANGUAGES, t
from minigpt.tokenizer import Vocabulary, encode
from minigpt.training import prepare

APP = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def shipped() -> checkpoint.Checkpoint:
    return bundled.load()


# -- the shipped file --------------------------------------------------------------------------------------------
def test_the_shipped_file_is_what_the_recorded_command_makes(shipped):
    state = shipped.train_state
    assert state["command"] == bundled.COMMAND == f"python -m minigpt bundle --threads {bundled.THREADS} --quiet"
    args = cli.build_parser().parse_args(bundled.command_of(state))
    assert args.command == "bundle" and args.corpus == "sales" and args.out is None  # the package's own file
    model_config, train_config = cli.configs_from_args(args, bundled.PRESET.model, bundled.PRESET.train)
    assert shipped.config == model_config == bundled.PRESET.model
    assert state["train_config"] == train_config.to_dict() == bundled.PRESET.train.to_dict()
    assert state["model_config"] == model_config.to_dict()
    assert shipped.steps == train_config.steps and state["evals"][-1]["step"] == train_config.steps
    assert state["threads"] == bundled.THREADS and state["seeds"] == {"model": 1337, "train": 1337}
    assert state["torch_version"].split("+")[0] == torch.__version__.split("+")[0]
    assert state["preset"] == "bundled" and state["corpus"] == "sales"
    assert state["corpus_sha256"] == corpus.SALES_TEXTBOOK_SHA256  # the notebook's sales textbook, byte for byte


def test_the_shipped_model_is_small_trained_and_has_the_textbooks_vocabulary(shipped):
    assert bundled.path().stat().st_size < 5_000_000
    assert shipped.vocab.mode == "compact" and shipped.model.vocab_size == shipped.vocab.size
    evals = shipped.train_state["evals"]
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 3  # from ~8.4 (uniform over 3,772 rows) to ~4.5
    # Every token of a typical sentence is in the vocabulary; Chinese and emoji are not (the textbook is ASCII).
    known = encode("The customer wants to build trust, so listen first.", "compact")
    assert all(shipped.vocab.is_known(i) for i in known)
    assert not any(shipped.vocab.is_known(i) for i in encode("我喜欢学习🤖", "compact"))


def test_its_heads_show_the_patterns_the_readme_names(shipped, builtin_text):
    """bench/bundled_heads.py measures this on the sales textbook (README, "The bundled model"); here on the built-in
    primer that ships with the package (the same kind of text): every head leans to the previous token, none to
    the first one, and block 0's head 2 is its clearest previous-token head."""
    _, val = corpus.split(corpus.encode_rows(builtin_text, shipped.vocab))
    x, _, _ = corpus.get_batch(val, 64, shipped.config.context_length, torch.Generator().manual_seed(0))
    patterns = bundled.head_patterns(shipped.model, x)
    assert len(patterns) == shipped.config.num_blocks * shipped.config.num_heads
    for p in patterns:
        assert p.previous > 1.5 * p.uniform and p.first < p.uniform, p
    block0 = [p for p in patterns if p.block == 0]
    assert max(block0, key=lambda p: p.previous).head == 2 and block0[2].kind == "previous"


def test_its_untrained_twin_is_where_its_training_started(shipped, builtin_text):
    """Compare's and Output's "untrained" side (Workspace.untrained: MiniGPT(config, vocab rows)) is exactly the
    model the Trainer starts from for the bundled recipe."""
    from minigpt.model import MiniGPT
    from minigpt.trainer import Trainer

    rows = corpus.encode_rows(builtin_text, shipped.vocab)
    start = Trainer(shipped.config, bundled.PRESET.train, rows, shipped.vocab).checkpoint_copy().model.state_dict()
    twin = MiniGPT(shipped.config, shipped.vocab.size).state_dict()
    assert all(torch.equal(start[name], twin[name]) for name in twin)


# -- the command path (a tiny variant) ---------------------------------------------------------------------------
@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


TINY = ["--steps", "2", "--eval-interval", "1", "--eval-batches", "1", "--batch-size", "2", "--context-length", "8",
        "--threads", "1", "--quiet"]


def test_a_tiny_variant_through_the_same_command_records_how_it_was_made(tmp_path, builtin_text, threads):
    text_file = tmp_path / "tiny.txt"
    text_file.write_text(builtin_text, encoding="utf-8")
    outs = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for out in outs:
        assert cli.main(["bundle", "--corpus", str(text_file), *TINY, "--out", str(out)]) == 0
    a, b = (checkpoint.read(out) for out in outs)
    state = a.train_state
    assert state["command"] == ("python -m minigpt bundle --corpus " + str(text_file) + " " + " ".join(TINY)
                                + " --out " + str(outs[0]))
    assert state["threads"] == 1 and state["torch_version"] == torch.__version__
    assert state["seeds"] == {"model": bundled.PRESET.model.seed, "train": bundled.PRESET.train.seed}
    assert state["corpus_sha256"] == hashlib.sha256(builtin_text.encode("utf-8")).hexdigest()
    assert a.steps == 2 and state["preset"] == "bundled" and [e["step"] for e in state["evals"]] == [0, 1, 2]
    assert a.config.context_length == 8 and a.config.d_model == bundled.PRESET.model.d_model
    assert a.vocab.to_dict() == prepare(builtin_text, a.config)[0].to_dict()
    # Same command, same seeds, same thread count: the same weights.
    for name, tensor in a.model.state_dict().items():
        assert torch.equal(tensor, b.model.state_dict()[name]), name


def test_bundle_needs_the_real_textbook(tmp_path, monkeypatch, capsys, threads):
    def offline(*args, **kwargs):
        raise corpus.CorpusError("error.corpus_timeout", timeout=10)

    monkeypatch.setattr(corpus, "sales_textbook", offline)
    out = tmp_path / "never.safetensors"
    assert cli.main(["bundle", *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "fetch-corpus" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_thread_count_is_one_line(capsys):
    assert cli.main(["bundle", "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


# -- fetch-corpus against a local server -------------------------------------------------------------------------
BODY = ("Listen first, then explain the value.\n" * 200).encode("utf-8")


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/book"):
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)
            else:
                self.send_error(404, "Not Found")

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGPT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(corpus, "SALES_TEXTBOOK_SHA256", hashlib.sha256(BODY).hexdigest())
    return tmp_path / "cache" / corpus.SALES_TEXTBOOK_FILE


def test_fetch_corpus_downloads_once_and_then_works_offline(server, cache, capsys):
    assert cli.main(["fetch-corpus", "--url", server + "/book"]) == 0
    assert cache.read_bytes() == BODY
    assert "downloaded and cached" in capsys.readouterr().out
    assert cli.main(["fetch-corpus", "--url", server + "/gone"]) == 0  # cached: no download needed
    assert "already cached" in capsys.readouterr().out
    found, why = corpus.load("sales", url=server + "/gone", sha256=corpus.SALES_TEXTBOOK_SHA256)
    assert why is None and found.name == "sales" and found.text == BODY.decode("utf-8")


@pytest.mark.parametrize("path, words", [("/gone", "404"), ("/book-but-wrong", None)])
def test_fetch_corpus_failures_are_one_clear_line(server, cache, monkeypatch, capsys, path, words):
    if words is None:  # the right address, the wrong file
        monkeypatch.setattr(corpus, "SALES_TEXTBOOK_SHA256", "0" * 64)
    assert cli.main(["fetch-corpus", "--url", server + path]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert (words or "sha256") in err
    assert not cache.exists()


def test_fetch_corpus_offline_says_so(cache, capsys):
    with __import__("socket").socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert cli.main(["fetch-corpus", "--url", f"http://127.0.0.1:{port}/x"]) == 2
    assert "offline" in capsys.readouterr().err


# -- the app opens on it -----------------------------------------------------------------------------------------
def run_app(params: dict | None = None) -> AppTest:
    """The entry page, opened by a link with these URL values."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str, **controls) -> AppTest:
    """A chapter with these sidebar controls. After switch_page AppTest runs the page without the entry point (a
    pages/ folder), so the controls are set in session state for that run (as tests/test_pages.py does)."""
    at = run_app()
    for name, value in controls.items():
        at.session_state["c_" + name] = value
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_model_kind_has_its_banner(lang, shipped):
    step, loss = shipped.steps, explain.val_loss_of(shipped.train_state)
    text = explain.banner("bundled", lang, seed=1337, step=step, val_loss=loss)
    assert t("banner.fact_step", lang, step=step) in text and f"{loss:.3f}" in text
    for kind in ("fresh", "trained", "loaded"):
        assert explain.banner(kind, lang, seed=1, step=2) != text
    assert not explain.is_random("bundled") and explain.is_random("fresh")


def test_the_app_opens_on_the_bundled_model(shipped):
    assert run_app().session_state["c_model"] == "bundled"
    at = open_page("pages/attention.py")
    banner = explain.banner("bundled", "en", seed=1337, step=shipped.steps,
                            val_loss=explain.val_loss_of(shipped.train_state))
    assert at.info[0].value == banner  # above the first figure
    assert not any("random weights" in w.value for w in at.warning)


def test_fresh_weights_are_one_url_value_away_and_old_links_keep_working():
    assert walkthrough.from_query({})[0].model == "bundled"
    assert walkthrough.from_query({"model": "fresh"})[0].model == "fresh"
    assert walkthrough.from_query({"ctx": "32", "d": "128"})[0].model == "fresh"  # a link from before: fresh
    assert walkthrough.from_query({"ctx": "32", "model": "bundled"})[0].model == "bundled"
    assert walkthrough.to_query(walkthrough.Controls()) == {}
    assert walkthrough.to_query(walkthrough.Controls(model="fresh")) == {"model": "fresh"}
    assert run_app({"model": "fresh"}).session_state["c_model"] == "fresh"
    at = open_page("pages/attention.py", model="fresh")
    assert at.warning[0].value.startswith(t("banner.fresh", "en", seed=1337, details="")[:30])


def test_the_sidebar_shows_the_fixed_architecture_and_the_way_to_change_it(shipped):
    at = run_app()
    shown = " ".join(m.value for m in at.sidebar.markdown)
    assert f"context_length **{shipped.config.context_length}**" in shown
    assert f"num_blocks **{shipped.config.num_blocks}**" in shown
    assert not at.sidebar.number_input  # nothing to edit that would not change the model on screen
    at.button(key="bundled_edit_arch").click().run()
    assert at.session_state["c_model"] == "fresh"
    for name in walkthrough.ARCHITECTURE:
        assert at.session_state["c_" + name] == getattr(shipped.config, name), name
    assert [toast.value for toast in at.toast] == [t("bundled.switched", "en")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_chinese_and_emoji_are_unk_rows_for_the_bundled_model_and_the_page_says_so(lang, shipped):
    text = "我喜欢学习 Transformer 🤖🎉"
    unknown = sum(not shipped.vocab.is_known(i) for i in encode(text, "compact"))
    assert unknown >= 5
    at = open_page("pages/embedding.py", text=text, lang=lang)
    assert t("bundled.unknown", lang, n=unknown) in [i.value for i in at.info]
    fresh = open_page("pages/embedding.py", text=text, lang=lang, model="fresh")
    assert t("bundled.unknown", lang, n=unknown) not in [i.value for i in fresh.info]  # fresh: rows of their own
