"""One text through the three vocabularies side by side (`config.VOCAB_MODES`): the character vocabulary, cl100k
with the notebook's full table, and the compact corpus vocabulary. For each: the tokens, their count, the ones
without a row of their own (`<unk>`), and what the vocabulary costs in parameters; which bytes of a character
cl100k splits across tokens; and a built-in set of English / 中文 sentence pairs (translations of each other)
whose token counts show why the same sentence costs a different number of tokens.

Parameters a vocabulary costs (`config.parameter_count` minus the same model with no vocabulary): the token
embedding, V rows × d_model, and the output layer, V rows × d_model plus V biases.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import VOCAB_MODES, ModelConfig, parameter_count
from .tokenizer import BytePart, Vocabulary, cl100k, encode, token_pieces

# English and 中文 saying the same thing (the sales primer's subjects, and one sentence about attention).
PAIRS: tuple[tuple[str, str], ...] = (
    ("The customer wants a fair price.", "客户想要一个公道的价格。"),
    ("Listen first, then explain the value.", "先倾听，再解释价值。"),
    ("Trust takes time to build.", "建立信任需要时间。"),
    ("Thank you for your time today.", "感谢您今天抽出时间。"),
    ("Attention lets each word look at earlier words.", "注意力让每个词查看前面的词。"),
    ("I like learning about transformers 🤖", "我喜欢学习 Transformer 🤖"),
)
SAMPLE = "Listen to the customer 🤖 倾听客户"
ORDER = ("char", "full", "compact")  # characters, then cl100k ids: the notebook's full table, the corpus's own
assert set(ORDER) == set(VOCAB_MODES)


def vocab_parameters(vocab_size: int, d_model: int) -> tuple[int, int]:
    """(token embedding, output layer) parameters of a vocabulary of vocab_size rows: V·d and V·d + V."""
    return vocab_size * d_model, vocab_size * d_model + vocab_size


@dataclass(frozen=True)
class Tokenized:
    """The text in one vocabulary."""

    mode: str
    ids: tuple[int, ...]        # token ids (cl100k ids, or code points in char mode)
    known: tuple[bool, ...]     # False: no row of its own in this vocabulary (the model reads <unk>)
    rows: int                   # the vocabulary's rows (with <unk>)
    embedding: int              # parameters of the token embedding
    output: int                 # parameters of the output layer
    total: int                  # parameters of the whole model with this vocabulary

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def unknown(self) -> int:
        return self.known.count(False)

    @property
    def share(self) -> float:
        """The part of the model's parameters the vocabulary costs (embedding + output)."""
        return (self.embedding + self.output) / self.total


def tokenized(text: str, vocab: Vocabulary, config: ModelConfig) -> Tokenized:
    ids = tuple(vocab.encode(text))
    emb, out = vocab_parameters(vocab.size, config.d_model)
    return Tokenized(vocab.mode, ids, tuple(vocab.is_known(i) for i in ids), vocab.size, emb, out,
                     parameter_count(config, vocab.size))


def compare(text: str, vocabs: dict[str, Vocabulary], config: ModelConfig) -> list[Tokenized]:
    """The text in each vocabulary of vocabs (mode -> the corpus's vocabulary), in ORDER."""
    return [tokenized(text, vocabs[mode], config) for mode in ORDER if mode in vocabs]


def full_cl100k_rows() -> int:
    """Rows of the complete cl100k table (every id, special tokens included), for comparison."""
    return cl100k().n_vocab


@dataclass(frozen=True)
class CharSplit:
    """One character of the text that cl100k does not keep whole in one token: its UTF-8 bytes, and for each
    token that holds some of them, (token id, first byte, last byte), counted from 1."""

    char: str
    raw: bytes
    tokens: tuple[tuple[int, int, int], ...]

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.char):04X}"


def split_characters(text: str) -> list[CharSplit]:
    """The characters of text that cl100k splits across tokens, in order of appearance (each once)."""
    ids = encode(text, "compact")
    found: dict[str, list[tuple[int, int, int]]] = {}
    complete: set[str] = set()
    for token_id, pieces in zip(ids, token_pieces(ids, "compact")):
        for piece in pieces:
            if isinstance(piece, BytePart) and piece.char and piece.char not in complete:
                found.setdefault(piece.char, []).append((token_id, piece.first, piece.last))
                if piece.last == piece.total:  # its last byte: later occurrences are the same split
                    complete.add(piece.char)
    order = list(found)
    return [CharSplit(c, c.encode("utf-8"), tuple(found[c])) for c in order]


@dataclass(frozen=True)
class PairCount:
    english: str
    chinese: str
    counts: dict[str, tuple[int, int]]    # mode -> (English tokens, 中文 tokens)
    unknown: dict[str, tuple[int, int]]   # mode -> (English <unk>, 中文 <unk>)


def pair_counts(vocabs: dict[str, Vocabulary], pairs=PAIRS) -> list[PairCount]:
    """Token counts of each sentence pair in every vocabulary given."""
    out = []
    for en, zh in pairs:
        counts, unknown = {}, {}
        for mode in ORDER:
            if mode not in vocabs:
                continue
            a, b = vocabs[mode].encode(en), vocabs[mode].encode(zh)
            counts[mode] = (len(a), len(b))
            unknown[mode] = (sum(not vocabs[mode].is_known(i) for i in a), sum(not vocabs[mode].is_known(i) for i in b))
        out.append(PairCount(en, zh, counts, unknown))
    return out
