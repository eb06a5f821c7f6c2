"""Text to rows (with <unk> for unseen ids) and generation: reproducible, greedy when asked, never <unk>."""
from __future__ import annotations

import pytest
import torch

from minigpt import UNKNOWN_ID, InputError, MiniGPT, ModelConfig, generate, tokenize

PROMPT = "Build trust with every customer"


@pytest.fixture
def model(compact_vocab) -> MiniGPT:
    return MiniGPT(ModelConfig(context_length=8, d_model=32, num_heads=4, num_blocks=2, seed=3), compact_vocab.size).eval()


def greedy_reference(model, vocab, prompt: str, steps: int) -> list[int]:
    """Greedy decoding written out with the fast path: argmax over the last position, <unk> excluded."""
    rows = vocab.rows(vocab.encode(prompt))
    out = []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([rows[-model.config.context_length:]]))[0][0, -1]
            logits[vocab.unk_row] = float("-inf")
            row = int(torch.argmax(logits))
            out.append(vocab.token_id(row))
            rows.append(row)
    return out


# -- tokenize -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   ", "\n\t \r\n"])
def test_empty_or_whitespace_input_is_refused(compact_vocab, text):
    with pytest.raises(InputError, match="empty or only whitespace"):
        tokenize(compact_vocab, text, 16)


def test_non_text_input_is_refused(compact_vocab):
    with pytest.raises(InputError):
        tokenize(compact_vocab, None, 16)  # type: ignore[arg-type]


def test_short_text_is_kept_whole(compact_vocab):
    text = "Trust comes when you listen to every customer"
    t = tokenize(compact_vocab, text, 16)
    ids = compact_vocab.encode(text)
    assert t.ids == tuple(ids) and t.dropped == 0
    assert t.rows == tuple(compact_vocab.rows(ids)) and all(t.known) and t.unknown_count == 0


def test_long_text_keeps_the_last_context_length_tokens(compact_vocab, builtin_text):
    text = builtin_text[:2000]
    ids = compact_vocab.encode(text)
    t = tokenize(compact_vocab, text, 16)
    assert len(t.ids) == 16 and t.ids == tuple(ids[-16:])
    assert t.dropped == len(ids) - 16 > 0
    assert compact_vocab.decode(t.ids) == compact_vocab.decode(ids[-16:])


def test_unseen_chinese_and_emoji_use_the_unk_row(compact_vocab):
    t = tokenize(compact_vocab, "trust 量子 🤖", 16)
    ids = compact_vocab.encode("trust 量子 🤖")
    assert t.ids == tuple(ids)
    unseen = [i for i in ids if not compact_vocab.is_known(i)]
    assert len(unseen) >= 3  # 量, 子 and the emoji's pieces are not in the English primer
    for token_id, row, known in zip(t.ids, t.rows, t.known):
        assert known == compact_vocab.is_known(token_id)
        assert (row == compact_vocab.unk_row) == (not known)
    assert t.known[0] is True and t.unknown_count == len(unseen)


def test_char_vocabulary_tokenizes_characters(char_vocab):
    t = tokenize(char_vocab, "trust 量", 16)
    assert t.ids == tuple(map(ord, "trust 量"))
    assert t.known[-1] is False and t.rows[-1] == char_vocab.unk_row


# -- generate -----------------------------------------------------------------------------------------
def test_fixed_seed_is_reproducible_and_seeds_differ(model, compact_vocab):
    a = generate(model, compact_vocab, PROMPT, max_new_tokens=12, seed=5)
    b = generate(model, compact_vocab, PROMPT, max_new_tokens=12, seed=5)
    c = generate(model, compact_vocab, PROMPT, max_new_tokens=12, seed=6)
    assert a == b and len(a.new_ids) == 12
    assert a.new_ids != c.new_ids
    assert a.prompt_ids == tuple(compact_vocab.encode(PROMPT))


def test_temperature_zero_is_greedy(model, compact_vocab):
    g = generate(model, compact_vocab, PROMPT, max_new_tokens=10, temperature=0, seed=1)
    assert g.new_ids == greedy_reference(model, compact_vocab, PROMPT, 10)
    assert all(step.prob == 1.0 for step in g.steps)
    assert generate(model, compact_vocab, PROMPT, max_new_tokens=10, temperature=0, seed=99) == g


@pytest.mark.parametrize("options", [{"top_k": 1}, {"top_p": 1e-6}, {"top_k": 1, "temperature": 5.0}])
def test_top_k_one_and_tiny_top_p_are_greedy(model, compact_vocab, options):
    g = generate(model, compact_vocab, PROMPT, max_new_tokens=8, seed=2, **options)
    assert g.new_ids == greedy_reference(model, compact_vocab, PROMPT, 8)


def test_top_k_restricts_choices_to_the_k_most_likely(model, compact_vocab):
    g = generate(model, compact_vocab, PROMPT, max_new_tokens=6, top_k=3, seed=4, num_candidates=5)
    for step in g.steps:
        top3 = sorted(step.candidates, key=lambda c: -c.prob)[:3]
        assert step.token_id in [c.token_id for c in top3]
        assert sum(c.sample_prob for c in top3) == pytest.approx(1.0, abs=1e-5)


def test_never_emits_the_unk_row(model, compact_vocab):
    with torch.no_grad():
        model.lm_head.bias[compact_vocab.unk_row] = 1000.0  # <unk> would win every step if allowed
    for options in ({"temperature": 1.0}, {"temperature": 0}, {"top_k": 1}, {"temperature": 10.0}):
        g = generate(model, compact_vocab, PROMPT, max_new_tokens=5, seed=0, **options)
        assert UNKNOWN_ID not in g.new_ids
        assert all(c.token_id != UNKNOWN_ID or c.sample_prob == 0 for s in g.steps for c in s.candidates)


def test_candidates_contain_the_chosen_token(model, compact_vocab):
    g = generate(model, compact_vocab, PROMPT, max_new_tokens=15, temperature=2.0, seed=8, num_candidates=4)
    for step in g.steps:
        assert len(step.candidates) == 4
        chosen = [c for c in step.candidates if c.token_id == step.token_id]
        assert len(chosen) == 1
        assert chosen[0].sample_prob == pytest.approx(step.prob)
        assert step.text == compact_vocab.text(step.token_id)
        assert 0 < step.prob <= 1


@pytest.mark.parametrize("num_candidates", [0, 1, 10**6])
def test_any_number_of_candidates_still_shows_the_chosen_token(model, compact_vocab, num_candidates):
    g = generate(model, compact_vocab, PROMPT, max_new_tokens=3, seed=1, num_candidates=num_candidates)
    for step in g.steps:
        assert step.token_id in [c.token_id for c in step.candidates]
        assert 1 <= len(step.candidates) <= compact_vocab.size - 1


def test_a_prompt_longer_than_the_context_is_cropped(model, compact_vocab, builtin_text):
    prompt = builtin_text[:1500]
    assert len(compact_vocab.encode(prompt)) > 3 * model.config.context_length
    g = generate(model, compact_vocab, prompt, max_new_tokens=12, temperature=0)
    assert g.new_ids == greedy_reference(model, compact_vocab, prompt, 12)
    assert len(g.prompt_ids) == len(compact_vocab.encode(prompt))


def test_generation_restores_training_mode(model, compact_vocab):
    model.train()
    generate(model, compact_vocab, PROMPT, max_new_tokens=2)
    assert model.training
    model.eval()
    generate(model, compact_vocab, PROMPT, max_new_tokens=2)
    assert not model.training


def test_zero_new_tokens(model, compact_vocab):
    assert generate(model, compact_vocab, PROMPT, max_new_tokens=0).new_ids == []


@pytest.mark.parametrize(
    "options,pattern",
    [
        ({"temperature": -0.5}, "temperature must be between 0 and 10"),
        ({"temperature": 11}, "temperature must be between 0 and 10"),
        ({"top_p": 0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        ({"top_k": -1}, "top_k must be"),
        ({"max_new_tokens": 5000}, "max_new_tokens between 0 and 2000"),
    ],
)
def test_bad_sampling_settings(model, compact_vocab, options, pattern):
    with pytest.raises(InputError, match=pattern):
        generate(model, compact_vocab, PROMPT, **options)


def test_empty_prompt_is_refused(model, compact_vocab):
    with pytest.raises(InputError):
        generate(model, compact_vocab, "  ")


# -- the top-k / top-p filter on a known distribution ----------------------------------------------------
@pytest.mark.parametrize(
    "top_k,top_p,expected",
    [
        (0, 1.0, [0.5, 0.3, 0.15, 0.05]),
        (2, 1.0, [0.625, 0.375, 0.0, 0.0]),
        (1, 1.0, [1.0, 0.0, 0.0, 0.0]),
        (0, 0.5, [1.0, 0.0, 0.0, 0.0]),       # the first token alone reaches 0.5
        (0, 0.8, [0.625, 0.375, 0.0, 0.0]),   # 0.5 + 0.3 reaches 0.8
        (0, 0.81, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0]),
        (3, 0.6, [0.625, 0.375, 0.0, 0.0]),
    ],
)
def test_filter_keeps_the_smallest_set_reaching_top_p(top_k, top_p, expected):
    from minigpt.sampling import _filter

    probs = torch.tensor([0.3, 0.05, 0.5, 0.15])  # shuffled so the filter has to sort
    order = [2, 0, 3, 1]  # most to least likely
    got = _filter(probs.clone(), top_k, top_p)[order]
    torch.testing.assert_close(got, torch.tensor(expected), atol=1e-6, rtol=0)
