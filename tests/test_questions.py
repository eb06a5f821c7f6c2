"""Predict-then-reveal questions (minigpt/questions.py): each answer is the model's own number, questions
survive the store's JSON, and their figures keep honest ranges (minigpt/views/questions.py)."""
from __future__ import annotations

import json

import pytest
import torch

from minigpt import MiniGPT, ModelConfig, questions
from minigpt.text import t
from minigpt.views import questions as qviews
from minigpt.views.labels import token_labels


@pytest.fixture(scope="module")
def setup(compact_vocab, batch_rows):
    model = MiniGPT(ModelConfig(num_blocks=2), compact_vocab.size).eval()
    trace = model.run_with_trace(batch_rows)
    texts = [compact_vocab.row_text(int(r)) for r in batch_rows[0]]
    return trace, compact_vocab, texts, token_labels(texts)


def test_attend_answer_is_the_largest_weight(setup):
    trace, _, _, labels = setup
    q = questions.attend(trace, labels, block=1, head=2, row=0)
    assert q.query == questions.MAX_CHOICES - 1 and len(q.choices) == questions.MAX_CHOICES
    w = trace["blocks.1.attn.weights"][0, 2, q.query, : q.query + 1]
    assert q.answer == int(w.argmax())
    assert q.values == pytest.approx(w.tolist(), abs=1e-6)
    assert q.token == labels[q.query] and q.stage() == "blocks.1.attn.weights"
    short = questions.attend(trace, labels, block=0, head=0, row=0, query=3)
    assert len(short.choices) == 4


def test_next_token_answer_is_the_argmax(setup):
    trace, vocab, texts, _ = setup
    q = questions.next_token(trace, vocab, texts, row=0)
    best = int(trace["probs"][0, -1].argmax())
    assert q.choices[q.answer] == vocab.row_text(best).replace(" ", "␣") or q.values[q.answer] == max(q.values)
    assert q.values[q.answer] == max(q.values) and len(q.choices) == questions.NEXT_CHOICES
    assert questions.next_token(trace, vocab, texts, row=0) == q  # the same numbers, the same order


def test_previous_token_head_scores(setup):
    trace, *_ = setup
    w = trace["blocks.0.attn.weights"][0]
    T = w.shape[-1]
    expected = [float(sum(w[h, i, i - 1] for i in range(1, T)) / (T - 1)) for h in range(w.shape[0])]
    assert questions.previous_token_scores(trace, 0) == pytest.approx(expected, abs=1e-6)
    q = questions.previous_token_head(trace, block=0)
    assert q.answer == max(range(len(expected)), key=expected.__getitem__)
    assert q.labels("zh")[0] == t("poll.head_name", "zh", head=0)


def test_a_trained_like_previous_token_head_is_found(setup):
    trace, *_ = setup
    w = trace["blocks.0.attn.weights"].clone()
    T = w.shape[-1]
    w[:, 3] = 0.0
    w[:, 3, 0, 0] = 1.0
    w[:, 3, torch.arange(1, T), torch.arange(0, T - 1)] = 1.0  # head 3 looks exactly one token back
    fake = {"blocks.0.attn.weights": w}
    assert questions.previous_token_head(fake, block=0).answer == 3


def test_round_trip_and_bad_data(setup):
    trace, vocab, texts, labels = setup
    for kind in questions.KINDS:
        q = questions.make(kind, trace, labels=labels, texts=texts, vocab=vocab, block=1, head=1)
        back = questions.Question.from_dict(json.loads(json.dumps(q.to_dict())))
        assert back == q
        for lang in ("en", "zh"):
            assert "{" not in q.prompt(lang)
    with pytest.raises(ValueError):
        questions.Question.from_dict({**q.to_dict(), "answer": 99})
    with pytest.raises(ValueError):
        questions.make("nope", trace, labels=labels, texts=texts, vocab=vocab)
    assert questions.available(1, 5) == ("attend", "next") and questions.available(4, 1) == ("next",)


def test_figures(setup):
    trace, vocab, texts, labels = setup
    q = questions.attend(trace, labels, block=0, head=1)
    model = qviews.model_bars(q, "en")
    assert list(model.layout.xaxis.range) == [0, 1.15]  # weights on a fixed 0-1 axis
    colours = list(model.data[0].marker.color)
    assert colours[q.answer] == qviews.ANSWER and colours.count(qviews.ANSWER) == 1
    before = qviews.tally_bars(q, [0, 2, 1], "zh", revealed=False)
    assert qviews.ANSWER not in list(before.data[0].marker.color)  # nothing given away before the reveal
    assert list(before.data[0].x)[:3] == [0, 2, 1] and len(before.data[0].x) == len(q.choices)
    after = qviews.tally_bars(q, [0, 2, 1], "en", revealed=True)
    assert list(after.data[0].marker.color)[q.answer] == qviews.ANSWER
    svg = qviews.qr_svg("http://127.0.0.1:8660/?room=ABC234")
    assert svg.startswith("<svg") and "room=ABC234" in svg  # the link, as the title a screen reader reads
    assert "href" not in svg and "<image" not in svg       # drawn paths only: nothing fetched
