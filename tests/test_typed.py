"""Rows for typed tokens (minigpt.typed): under fresh weights every token of a typed text has a row of its own,
drawn from the seed and the token id alone, and no other weight changes."""
from __future__ import annotations

import dataclasses

import torch

from minigpt import MiniGPT, ModelConfig, checkpoint, typed, walkthrough
from minigpt.sampling import generate

SENTENCE = "我喜欢学习 Transformer 🤖🎉，注意力机制真有趣！"


def build(vocab, text=SENTENCE, config=ModelConfig()):
    extended = typed.for_text(vocab, text, config.context_length)
    model = typed.with_typed_rows(MiniGPT(config, vocab.size).eval(), extended)
    return model, extended


def test_a_fresh_model_gives_every_typed_token_its_own_row(compact_vocab):
    model, vocab = build(compact_vocab)
    walk = walkthrough.text_input(vocab, SENTENCE, 16)
    ids = walk.token_ids[0]
    assert len(ids) == 16 and all(walk.known[0]) and vocab.typed == 16
    trace = model.run_with_trace(walk.rows)
    distinct = len(set(ids))
    assert torch.unique(trace["embed.token"][0], dim=0).shape[0] == distinct
    q = trace["blocks.0.attn.q"][0]  # [head, position, d_k]
    for head in range(q.shape[0]):
        assert torch.unique(q[head], dim=0).shape[0] == distinct
    assert any("own random row" in n for n in walk.notices)


def test_without_typed_rows_the_sentence_collapses_to_one_row(compact_vocab):
    """What the issue saw: the corpus's vocabulary alone reads all 16 tokens through <unk>."""
    walk = walkthrough.text_input(compact_vocab, SENTENCE, 16)
    assert not any(walk.known[0])
    trace = MiniGPT(ModelConfig(), compact_vocab.size).eval().run_with_trace(walk.rows)
    assert torch.unique(trace["embed.token"][0], dim=0).shape[0] == 1
    assert any("all share its single <unk> row" in n for n in walk.notices)


def test_typed_rows_change_no_other_weight(compact_vocab):
    base = MiniGPT(ModelConfig(), compact_vocab.size).eval()
    model, vocab = build(compact_vocab)
    known = len(compact_vocab.ids)
    ours, theirs = model.state_dict(), base.state_dict()
    for name, value in theirs.items():
        if name in ("token_embedding.weight", "lm_head.weight", "lm_head.bias"):
            assert torch.equal(ours[name][:known], value[:known])      # every corpus row
            assert torch.equal(ours[name][-1], value[-1])              # <unk>
            assert ours[name].shape[0] == vocab.size
        else:
            assert torch.equal(ours[name], value), name
    assert vocab.rows(compact_vocab.ids) == list(range(known))  # the corpus's rows keep their numbers
    assert model.vocab_size == vocab.size and base.vocab_size == compact_vocab.size


def test_a_typed_row_comes_from_the_seed_and_the_token_id_alone(compact_vocab):
    robot = compact_vocab.encode("🤖")[-1]
    a, va = build(compact_vocab, "🤖 and 量子")
    b, vb = build(compact_vocab, "注意 🤖")
    again, _ = build(compact_vocab, "🤖 and 量子")
    row = lambda m, v: m.token_embedding.weight[v.row(robot)]  # noqa: E731
    assert torch.equal(row(a, va), row(b, vb)) and torch.equal(row(a, va), row(again, va))
    other, vo = build(compact_vocab, "🤖 and 量子", dataclasses.replace(ModelConfig(), seed=7))
    assert not torch.equal(row(a, va), row(other, vo))
    spread = a.token_embedding.weight.detach()[len(compact_vocab.ids):-1]
    assert 0.5 < float(spread.std()) < 1.5  # drawn like the other embedding rows: N(0, 1)


def test_a_text_the_corpus_covers_adds_no_row(compact_vocab):
    vocab = typed.for_text(compact_vocab, walkthrough.DEFAULT_TEXT, 16)
    assert vocab is compact_vocab and typed.with_typed_rows(m := MiniGPT(ModelConfig(), vocab.size), vocab) is m
    assert typed.for_text(compact_vocab, "   ", 16) is compact_vocab  # empty text: the walkthrough says so


def test_typed_models_generate_and_round_trip_through_a_checkpoint(compact_vocab):
    model, vocab = build(compact_vocab)
    gen = generate(model, vocab, SENTENCE, max_new_tokens=3, seed=1)
    assert len(gen.steps) == 3
    loaded = checkpoint.load_any(checkpoint.to_bytes(model, vocab, {}), num_heads=None, context_length=16)
    assert loaded.vocab == vocab and loaded.vocab.typed == vocab.typed
    assert torch.equal(loaded.model.token_embedding.weight, model.token_embedding.weight)
