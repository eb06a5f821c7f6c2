"""Heatmaps (minigpt.views.heatmaps): the numbers drawn are the trace's numbers, on the right axes, with the
right labels and colour scales."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from minigpt import analysis, MiniGPT, ModelConfig, Vocabulary
from minigpt.stages import spec_of
from minigpt.views import attention, heatmaps, output, style
from minigpt.views.labels import escape_all, token_labels, vocab_label
from tests.views_support import heatmaps_in, labels_per_row


def _expected_slice(trace, name: str, batch: int, head: int) -> np.ndarray:
    tensor = trace[name]
    axes = spec_of(name).axes
    if axes[0] == "batch":
        tensor = tensor[batch]
    if len(axes) > 1 and axes[1] == "head":
        tensor = tensor[head]
    return tensor.float().numpy()


def test_every_stage_has_a_heatmap_of_its_slice(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    batch, head = 1, 2
    shown = escape_all(labels[batch])
    for name in traced:
        fig = heatmaps.stage_heatmap(traced, name, labels=labels, batch=batch, head=head, vocab=compact_vocab)
        main = heatmaps_in(fig)[0]
        expected = _expected_slice(traced, name, batch, head)
        z = np.asarray(main.z)
        axes = spec_of(name).axes
        # the positional table depends on the position alone: its rows are positions, never tokens (issue 12)
        assert list(main.y) == ([str(i) for i in range(len(shown))] if axes[0] == "position" else shown), name
        if axes[-1] == "vocab":
            assert z.shape == (expected.shape[0], 64), name
            columns = analysis.top_vocab_rows(traced["probs"][batch], 64)
            np.testing.assert_array_equal(z, expected[:, columns])
        else:
            assert z.shape == expected.shape, name
            finite = np.isfinite(expected)
            np.testing.assert_array_equal(z[finite], expected[finite])
        if axes[-1] == "key":
            assert list(main.x) == shown, name
        elif axes[-1] != "vocab":
            assert list(main.x) == list(range(expected.shape[1])), name
        title = fig.layout.title.text
        assert spec_of(name).title().split(" ")[0] in title and traced.shape_label(name) in title
        if name.startswith("blocks."):
            assert f"block {name.split('.')[1]}" in title
        if len(axes) > 1 and axes[1] == "head":
            assert f"head {head}" in title
        assert fig.layout.font.size >= 14


def test_single_list_of_labels_is_accepted_and_checked(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    fig = heatmaps.stage_heatmap(traced, "embed.sum", labels=labels[0])
    assert list(fig.data[0].y) == escape_all(labels[0])
    with pytest.raises(ValueError, match="labels"):
        heatmaps.stage_heatmap(traced, "embed.sum", labels=labels[0][:-1])
    with pytest.raises(ValueError, match="Head 9"):
        heatmaps.stage_heatmap(traced, "blocks.0.attn.q", labels=labels, head=9)
    with pytest.raises(ValueError, match="Batch row 5"):
        heatmaps.stage_heatmap(traced, "embed.sum", labels=labels, batch=5)
    with pytest.raises(ValueError, match="vocab"):
        heatmaps.stage_heatmap(traced, "probs", labels=labels)


def test_masked_cells_are_nan_with_a_labelled_grey_layer(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    fig = heatmaps.stage_heatmap(traced, "blocks.1.attn.masked", labels=labels, head=1)
    main, masked = heatmaps_in(fig)
    z = np.asarray(main.z)
    future = np.triu(np.ones((16, 16), dtype=bool), 1)
    assert np.isnan(z[future]).all() and np.isfinite(z[~future]).all()
    layer = np.asarray(masked.z)
    assert (~np.isnan(layer) == future).all()
    assert masked.showlegend and masked.name == "−∞ (masked: the future)"
    assert "−∞ (masked)" in masked.hovertemplate
    assert masked.showscale is False and masked.colorscale[0][1] == style.MASKED_GREY
    zh = heatmaps.stage_heatmap(traced, "blocks.1.attn.masked", labels=labels, lang="zh")
    assert "掩码后的分数" in zh.layout.title.text and "已遮住" in heatmaps_in(zh)[1].name


def test_mask_stage_is_two_labelled_colours(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    fig = heatmaps.stage_heatmap(traced, "blocks.0.attn.mask", labels=labels)
    (trace,) = heatmaps_in(fig)
    np.testing.assert_array_equal(np.asarray(trace.z), traced["blocks.0.attn.mask"].float().numpy())
    assert list(trace.colorbar.ticktext) == ["visible", "masked"]
    assert {c for _, c in trace.colorscale} == {style.MASK_VISIBLE, style.MASKED_GREY}


def test_colour_scales_follow_the_sign_of_the_stage(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    viridis = go.Heatmap(colorscale=style.SEQUENTIAL).colorscale
    assert [c for _, c in viridis] == [c for _, c in go.Heatmap(colorscale="Viridis").colorscale]
    assert [c for _, c in go.Heatmap(colorscale=style.DIVERGING).colorscale] == \
        [c for _, c in go.Heatmap(colorscale="RdBu_r").colorscale]  # resolved in Python: plotly.js lacks "RdBu_r"
    diverging = go.Heatmap(colorscale=style.DIVERGING).colorscale
    for name in ("probs", "blocks.0.attn.weights", "blocks.1.ffn.relu"):
        trace = heatmaps.stage_heatmap(traced, name, labels=labels, vocab=compact_vocab).data[0]
        assert trace.colorscale == viridis and trace.zmin == 0, name
    for name in ("logits", "embed.sum", "blocks.0.attn.scores", "blocks.0.attn.masked", "blocks.1.norm2"):
        trace = heatmaps.stage_heatmap(traced, name, labels=labels, vocab=compact_vocab).data[0]
        assert trace.colorscale == diverging and trace.zmid == 0, name
        assert trace.zmin == -trace.zmax  # white is exactly 0
    assert diverging[0][1] != diverging[-1][1]


def test_logits_never_send_the_full_vocabulary(builtin_text):
    vocab = Vocabulary.from_text(builtin_text, "full")
    assert vocab.size > 90_000
    model = MiniGPT(ModelConfig(d_model=16, num_heads=2, context_length=8, vocab="full"), vocab.size).eval()
    rows = torch.tensor([vocab.rows(vocab.encode("Listen to the customer first."))[:8]])
    trace = model.run_with_trace(rows)
    labels = token_labels([vocab.row_text(r) for r in rows[0].tolist()])
    probs = trace["probs"][0]
    for name in ("logits", "probs"):
        for max_columns in (64, 10):
            fig = heatmaps.stage_heatmap(trace, name, labels=labels, vocab=vocab, max_columns=max_columns)
            main = fig.data[0]
            assert np.asarray(main.z).shape == (rows.shape[1], max_columns)
            assert len(main.x) == max_columns == len(set(main.x))
            best = torch.topk(probs.max(dim=0).values, max_columns).indices.tolist()
            assert list(main.x) == escape_all(vocab_label(vocab, r) for r in best)
            assert all(f"#{vocab.token_id(r)}" in x for r, x in zip(best, main.x))
            assert "of 100," in fig.layout.xaxis.title.text


def test_token_text_that_looks_like_html_is_escaped_for_plotly(traced, compact_vocab, batch_rows):
    labels = token_labels(["<b>", "&nbsp;", "x"])
    fig = heatmaps.heatmap(np.eye(3), x_labels=labels, y_labels=labels, title="<i>t</i>", x_title="key",
                           y_title="query")
    assert list(fig.data[0].y) == ["0 &lt;b&gt;", "1 &amp;nbsp;", "2 x"]
    assert fig.layout.title.text == "&lt;i&gt;t&lt;/i&gt;"


def test_heatmap_handles_minus_infinity_and_checks_shapes():
    values = torch.tensor([[1.0, float("-inf")], [-2.0, 3.0]])
    fig = heatmaps.heatmap(values, x_labels=["a", "b"], y_labels=["c", "d"], title="t", x_title="x", y_title="y")
    main, masked = heatmaps_in(fig)
    assert np.asarray(main.z).dtype == np.float32
    assert np.isnan(main.z[0][1]) and main.z[1][0] == -2.0
    assert masked.z[0][1] == 1 and np.isnan(masked.z[0][0])
    assert main.zmid == 0 and "%{z" in main.hovertemplate and "%{x}" in main.hovertemplate
    positive = heatmaps.heatmap(np.ones((2, 3)), x_labels=[0, 1, 2], y_labels=["a", "b"], title="", x_title="",
                                y_title="", height=500)
    assert positive.data[0].zmin == 0 and len(positive.data) == 1 and positive.layout.height == 500
    as_arrays = heatmaps.heatmap(np.ones((2, 3)), x_labels=np.arange(3), y_labels=np.array(["a", "b"]), title="",
                                 x_title="", y_title="")
    assert list(as_arrays.data[0].y) == ["a", "b"]
    with pytest.raises(ValueError, match="labels"):
        heatmaps.heatmap(np.ones((2, 3)), x_labels=[0, 1], y_labels=["a", "b"], title="", x_title="", y_title="")
    with pytest.raises(ValueError, match="2-D"):
        heatmaps.heatmap(np.ones(3), x_labels=[0, 1, 2], y_labels=[], title="", x_title="", y_title="")


def test_small_matrices_show_their_numbers_in_the_cells():
    small = heatmaps.heatmap(np.arange(9.0).reshape(3, 3), x_labels=["a", "b", "c"], y_labels=["a", "b", "c"],
                             title="", x_title="", y_title="")
    assert small.data[0].texttemplate == "%{z:.2f}"
    big = heatmaps.heatmap(np.zeros((16, 16)), x_labels=list(range(16)), y_labels=[str(i) for i in range(16)],
                           title="", x_title="", y_title="")
    assert big.data[0].texttemplate is None
    forced = heatmaps.heatmap(np.zeros((16, 16)), x_labels=list(range(16)), y_labels=[str(i) for i in range(16)],
                              title="", x_title="", y_title="", annotate=True)
    assert forced.data[0].texttemplate == "%{z:.2f}"


def test_head_grid_shares_one_colour_scale(traced, compact_vocab, batch_rows):
    labels = labels_per_row(compact_vocab, batch_rows)
    heads = traced.config.num_heads
    fig = heatmaps.head_grid(traced, 1, labels=labels, batch=1)
    maps = heatmaps_in(fig)
    assert len(maps) == heads and {m.coloraxis for m in maps} == {"coloraxis"}
    for h, m in enumerate(maps):
        np.testing.assert_array_equal(np.asarray(m.z), traced["blocks.1.attn.weights"][1, h].numpy())
        assert list(m.y) == escape_all(labels[1])
    assert fig.layout.coloraxis.cmin == 0
    assert [a.text for a in fig.layout.annotations] == [f"head {h}" for h in range(heads)]
    masked = heatmaps.head_grid(traced, 0, labels=labels, stage="attn.masked")
    grey = [m for m in heatmaps_in(masked) if m.coloraxis is None]
    assert len(grey) == heads and sum(bool(m.showlegend) for m in grey) == 1
    assert masked.layout.coloraxis.cmid == 0
    assert len(heatmaps_in(heatmaps.head_grid(traced, 0, labels=labels, stage="attn.v"))) == heads
    with pytest.raises(ValueError, match="heads"):
        heatmaps.head_grid(traced, 0, labels=labels, stage="resid1")
    with pytest.raises(ValueError, match="Block 2 does not exist"):
        heatmaps.head_grid(traced, 2, labels=labels)


def test_many_heads_wrap_into_rows_with_keys_labelled_once(compact_vocab, batch_rows):
    trace = MiniGPT(ModelConfig(num_heads=8), compact_vocab.size).eval().run_with_trace(batch_rows)
    fig = heatmaps.head_grid(trace, 0, labels=labels_per_row(compact_vocab, batch_rows))
    assert len(heatmaps_in(fig)) == 8
    assert fig.layout.xaxis.showticklabels is False and fig.layout.xaxis5.showticklabels is not False
    assert fig.layout.yaxis5.domain[1] < fig.layout.yaxis.domain[0]  # heads 4-7 sit below heads 0-3
    assert fig.layout.xaxis5.domain == fig.layout.xaxis.domain


def test_compare_heatmaps_uses_one_scale_for_both(traced):
    a = traced["blocks.0.attn.masked"][0, 0]
    b = traced["blocks.0.attn.masked"][0, 1] * 3
    names = [str(i) for i in range(a.shape[0])]
    fig = heatmaps.compare_heatmaps(a, b, labels_x=names, labels_y=names, titles=("before", "after"))
    maps = [m for m in heatmaps_in(fig) if m.coloraxis == "coloraxis"]
    assert len(maps) == 2 and maps[0].xaxis == "x" and maps[1].xaxis == "x2"
    finite = torch.cat([a[torch.isfinite(a)], b[torch.isfinite(b)]]).abs().max().item()
    assert fig.layout.coloraxis.cmax == pytest.approx(finite) and fig.layout.coloraxis.cmid == 0
    assert [x.text for x in fig.layout.annotations] == ["before", "after"]
    with pytest.raises(ValueError):
        heatmaps.compare_heatmaps(a, b[:3], labels_x=names, labels_y=names, titles=("a", "b"))


def test_the_browser_receives_float32_arrays_of_the_slice_shape(traced, compact_vocab, batch_rows):
    import base64
    import json

    labels = labels_per_row(compact_vocab, batch_rows)
    fig = heatmaps.stage_heatmap(traced, "blocks.0.attn.masked", labels=labels, head=1)
    sent = json.loads(fig.to_json())["data"][0]["z"]
    assert sent["dtype"] == "f4"
    shape = tuple(int(n) for n in str(sent["shape"]).split(","))
    z = np.frombuffer(base64.b64decode(sent["bdata"]), dtype=np.float32).reshape(shape)
    expected = traced["blocks.0.attn.masked"][0, 1].numpy()
    finite = np.isfinite(expected)
    assert shape == expected.shape and np.isnan(z[~finite]).all()
    np.testing.assert_array_equal(z[finite], expected[finite])


def test_one_token_one_head_and_a_character_vocabulary(builtin_text):
    vocab = Vocabulary.from_text(builtin_text[:3000], "char")
    model = MiniGPT(ModelConfig(d_model=8, num_heads=1, context_length=4), vocab.size).eval()
    for text in ("量", "a<&"):
        rows = torch.tensor([vocab.rows(vocab.encode(text))])
        trace = model.run_with_trace(rows)
        labels = token_labels([vocab.row_text(r) for r in rows[0].tolist()])
        for name in trace:
            fig = heatmaps.stage_heatmap(trace, name, labels=labels, vocab=vocab)
            positions = [str(i) for i in range(len(labels))]
            assert list(heatmaps_in(fig)[0].y) == (positions if name == "embed.position" else escape_all(labels))
        grid = heatmaps.head_grid(trace, 0, labels=labels)
        assert len(heatmaps_in(grid)) == 1
        attention.attention_lines(trace["blocks.0.attn.weights"][0, 0], labels)
        output.topk_bars(trace["probs"][0, -1], vocab, k=100)
    assert labels == ["0 a", "1 <unk>", "2 <unk>"]  # characters the corpus lacks share the <unk> row
