"""Figure builders: the numbers drawn are the trace's numbers, on the right axes, with the right labels."""
from __future__ import annotations

import io
import json
import math
import re
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minigpt import MiniGPT, ModelConfig, Switches, Vocabulary, figures, sinusoidal_table, tokenize
from minigpt.figures import _esc_all
from minigpt.stages import spec_of

TEXT = "The customer trusts the seller, and the seller trusts the customer. <b>Deals</b> & \"quotes\""


def _heatmaps(fig: go.Figure) -> list:
    return [trace for trace in fig.data if trace.type == "heatmap"]


def _labels_per_row(vocab: Vocabulary, rows: torch.Tensor) -> list[list[str]]:
    return [figures.token_labels([vocab.row_text(r) for r in row]) for row in rows.tolist()]


@pytest.fixture(scope="module")
def batch_rows(compact_vocab) -> torch.Tensor:
    first = list(tokenize(compact_vocab, TEXT, 16).rows)
    assert len(first) == 16
    second = first[::-1]  # a different batch row, so a wrong row's labels would show
    return torch.tensor([first, second])


@pytest.fixture(scope="module", params=["post", "pre"])
def traced(request, compact_vocab, batch_rows):
    config = ModelConfig(num_blocks=2, norm=request.param)
    model = MiniGPT(config, compact_vocab.size).eval()
    return model.run_with_trace(batch_rows)


def _expected_slice(trace, name: str, batch: int, head: int) -> np.ndarray:
    tensor = trace[name]
    axes = spec_of(name).axes
    if axes[0] == "batch":
        tensor = tensor[batch]
    if len(axes) > 1 and axes[1] == "head":
        tensor = tensor[head]
    return tensor.float().numpy()


# -- every stage -------------------------------------------------------------------------------
def test_every_stage_has_a_heatmap_of_its_slice(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    batch, head = 1, 2
    shown = _esc_all(labels[batch])
    for name in traced:
        fig = figures.stage_heatmap(traced, name, labels=labels, batch=batch, head=head, vocab=compact_vocab)
        main = _heatmaps(fig)[0]
        expected = _expected_slice(traced, name, batch, head)
        z = np.asarray(main.z)
        assert list(main.y) == shown, name
        axes = spec_of(name).axes
        if axes[-1] == "vocab":
            assert z.shape == (expected.shape[0], 64), name
            columns = figures.top_vocab_rows(traced["probs"][batch], 64)
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
        assert spec_of(name).title.split(" ")[0] in title and traced.shape_label(name) in title
        if name.startswith("blocks."):
            assert f"block {name.split('.')[1]}" in title
        if len(axes) > 1 and axes[1] == "head":
            assert f"head {head}" in title
        assert fig.layout.font.size >= 14


def test_single_list_of_labels_is_accepted_and_checked(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    fig = figures.stage_heatmap(traced, "embed.sum", labels=labels[0])
    assert list(fig.data[0].y) == _esc_all(labels[0])
    with pytest.raises(ValueError, match="labels"):
        figures.stage_heatmap(traced, "embed.sum", labels=labels[0][:-1])
    with pytest.raises(ValueError, match="Head 9"):
        figures.stage_heatmap(traced, "blocks.0.attn.q", labels=labels, head=9)
    with pytest.raises(ValueError, match="Batch row 5"):
        figures.stage_heatmap(traced, "embed.sum", labels=labels, batch=5)
    with pytest.raises(ValueError, match="vocab"):
        figures.stage_heatmap(traced, "probs", labels=labels)


def test_masked_cells_are_nan_with_a_labelled_grey_layer(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    fig = figures.stage_heatmap(traced, "blocks.1.attn.masked", labels=labels, head=1)
    main, masked = _heatmaps(fig)
    z = np.asarray(main.z)
    future = np.triu(np.ones((16, 16), dtype=bool), 1)
    assert np.isnan(z[future]).all() and np.isfinite(z[~future]).all()
    layer = np.asarray(masked.z)
    assert (~np.isnan(layer) == future).all()
    assert masked.showlegend and masked.name == "−∞ (masked: the future)"
    assert "−∞ (masked)" in masked.hovertemplate
    assert masked.showscale is False and masked.colorscale[0][1] == figures.MASKED_GREY
    zh = figures.stage_heatmap(traced, "blocks.1.attn.masked", labels=labels, lang="zh")
    assert "掩码后的分数" in zh.layout.title.text and "已遮住" in _heatmaps(zh)[1].name


def test_mask_stage_is_two_labelled_colours(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    fig = figures.stage_heatmap(traced, "blocks.0.attn.mask", labels=labels)
    (trace,) = _heatmaps(fig)
    np.testing.assert_array_equal(np.asarray(trace.z), traced["blocks.0.attn.mask"].float().numpy())
    assert list(trace.colorbar.ticktext) == ["visible", "masked"]
    assert {c for _, c in trace.colorscale} == {figures.MASK_VISIBLE, figures.MASKED_GREY}


def test_colour_scales_follow_the_sign_of_the_stage(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    viridis = go.Heatmap(colorscale=figures.SEQUENTIAL).colorscale
    assert [c for _, c in viridis] == [c for _, c in go.Heatmap(colorscale="Viridis").colorscale]
    assert [c for _, c in go.Heatmap(colorscale=figures.DIVERGING).colorscale] == \
        [c for _, c in go.Heatmap(colorscale="RdBu_r").colorscale]  # resolved in Python: plotly.js lacks "RdBu_r"
    diverging = go.Heatmap(colorscale=figures.DIVERGING).colorscale
    for name in ("probs", "blocks.0.attn.weights", "blocks.1.ffn.relu"):
        trace = figures.stage_heatmap(traced, name, labels=labels, vocab=compact_vocab).data[0]
        assert trace.colorscale == viridis and trace.zmin == 0, name
    for name in ("logits", "embed.sum", "blocks.0.attn.scores", "blocks.0.attn.masked", "blocks.1.norm2"):
        trace = figures.stage_heatmap(traced, name, labels=labels, vocab=compact_vocab).data[0]
        assert trace.colorscale == diverging and trace.zmid == 0, name
        assert trace.zmin == -trace.zmax  # white is exactly 0
    assert diverging[0][1] != diverging[-1][1]


def test_logits_never_send_the_full_vocabulary(builtin_text):
    vocab = Vocabulary.from_text(builtin_text, "full")
    assert vocab.size > 90_000
    model = MiniGPT(ModelConfig(d_model=16, num_heads=2, context_length=8, vocab="full"), vocab.size).eval()
    rows = torch.tensor([vocab.rows(vocab.encode("Listen to the customer first."))[:8]])
    trace = model.run_with_trace(rows)
    labels = figures.token_labels([vocab.row_text(r) for r in rows[0].tolist()])
    probs = trace["probs"][0]
    for name in ("logits", "probs"):
        for max_columns in (64, 10):
            fig = figures.stage_heatmap(trace, name, labels=labels, vocab=vocab, max_columns=max_columns)
            main = fig.data[0]
            assert np.asarray(main.z).shape == (rows.shape[1], max_columns)
            assert len(main.x) == max_columns == len(set(main.x))
            best = torch.topk(probs.max(dim=0).values, max_columns).indices.tolist()
            assert list(main.x) == _esc_all(figures.vocab_label(vocab, r) for r in best)
            assert all(f"#{vocab.token_id(r)}" in x for r, x in zip(best, main.x))
            assert "of 100," in fig.layout.xaxis.title.text


# -- labels ------------------------------------------------------------------------------------
def test_token_labels_are_unique_visible_and_short():
    texts = [" the", " the", "\n", "the", " ", "量子", "😀", " a-very-long-token-indeed", "\t"] + [" the"] * 12
    labels = figures.token_labels(texts)
    assert len(set(labels)) == len(labels) == len(texts)
    assert labels[0] == "0 ␣the" and labels[2] == "2 ↵" and labels[4] == "4 ␣" and labels[8] == "8 ⇥"
    assert labels[5] == "5 量子" and labels[6] == "6 😀"
    assert all(len(label) <= figures.LABEL_CHARS for label in labels)
    assert labels[7].endswith("…")


def test_token_text_that_looks_like_html_is_escaped_for_plotly(traced, compact_vocab, batch_rows):
    labels = figures.token_labels(["<b>", "&nbsp;", "x"])
    fig = figures.heatmap(np.eye(3), x_labels=labels, y_labels=labels, title="<i>t</i>", x_title="key",
                          y_title="query")
    assert list(fig.data[0].y) == ["0 &lt;b&gt;", "1 &amp;nbsp;", "2 x"]
    assert fig.layout.title.text == "&lt;i&gt;t&lt;/i&gt;"


# -- generic heatmap ---------------------------------------------------------------------------
def test_heatmap_handles_minus_infinity_and_checks_shapes():
    values = torch.tensor([[1.0, float("-inf")], [-2.0, 3.0]])
    fig = figures.heatmap(values, x_labels=["a", "b"], y_labels=["c", "d"], title="t", x_title="x", y_title="y")
    main, masked = _heatmaps(fig)
    assert np.asarray(main.z).dtype == np.float32
    assert np.isnan(main.z[0][1]) and main.z[1][0] == -2.0
    assert masked.z[0][1] == 1 and np.isnan(masked.z[0][0])
    assert main.zmid == 0 and "%{z" in main.hovertemplate and "%{x}" in main.hovertemplate
    positive = figures.heatmap(np.ones((2, 3)), x_labels=[0, 1, 2], y_labels=["a", "b"], title="", x_title="",
                               y_title="", height=500)
    assert positive.data[0].zmin == 0 and len(positive.data) == 1 and positive.layout.height == 500
    as_arrays = figures.heatmap(np.ones((2, 3)), x_labels=np.arange(3), y_labels=np.array(["a", "b"]), title="",
                                x_title="", y_title="")
    assert list(as_arrays.data[0].y) == ["a", "b"]
    with pytest.raises(ValueError, match="labels"):
        figures.heatmap(np.ones((2, 3)), x_labels=[0, 1], y_labels=["a", "b"], title="", x_title="", y_title="")
    with pytest.raises(ValueError, match="2-D"):
        figures.heatmap(np.ones(3), x_labels=[0, 1, 2], y_labels=[], title="", x_title="", y_title="")


def test_head_grid_shares_one_colour_scale(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    heads = traced.config.num_heads
    fig = figures.head_grid(traced, 1, labels=labels, batch=1)
    maps = _heatmaps(fig)
    assert len(maps) == heads and {m.coloraxis for m in maps} == {"coloraxis"}
    for h, m in enumerate(maps):
        np.testing.assert_array_equal(np.asarray(m.z), traced["blocks.1.attn.weights"][1, h].numpy())
        assert list(m.y) == _esc_all(labels[1])
    assert fig.layout.coloraxis.cmin == 0
    assert [a.text for a in fig.layout.annotations] == [f"head {h}" for h in range(heads)]
    masked = figures.head_grid(traced, 0, labels=labels, stage="attn.masked")
    grey = [m for m in _heatmaps(masked) if m.coloraxis is None]
    assert len(grey) == heads and sum(bool(m.showlegend) for m in grey) == 1
    assert masked.layout.coloraxis.cmid == 0
    assert len(_heatmaps(figures.head_grid(traced, 0, labels=labels, stage="attn.v"))) == heads
    with pytest.raises(ValueError, match="heads"):
        figures.head_grid(traced, 0, labels=labels, stage="resid1")
    with pytest.raises(ValueError, match="Block 2 does not exist"):
        figures.head_grid(traced, 2, labels=labels)


def test_many_heads_wrap_into_rows_with_keys_labelled_once(compact_vocab, batch_rows):
    trace = MiniGPT(ModelConfig(num_heads=8), compact_vocab.size).eval().run_with_trace(batch_rows)
    fig = figures.head_grid(trace, 0, labels=_labels_per_row(compact_vocab, batch_rows))
    assert len(_heatmaps(fig)) == 8
    assert fig.layout.xaxis.showticklabels is False and fig.layout.xaxis5.showticklabels is not False
    assert fig.layout.yaxis5.domain[1] < fig.layout.yaxis.domain[0]  # heads 4-7 sit below heads 0-3
    assert fig.layout.xaxis5.domain == fig.layout.xaxis.domain


def test_compare_heatmaps_uses_one_scale_for_both(traced):
    a = traced["blocks.0.attn.masked"][0, 0]
    b = traced["blocks.0.attn.masked"][0, 1] * 3
    names = [str(i) for i in range(a.shape[0])]
    fig = figures.compare_heatmaps(a, b, labels_x=names, labels_y=names, titles=("before", "after"))
    maps = [m for m in _heatmaps(fig) if m.coloraxis == "coloraxis"]
    assert len(maps) == 2 and maps[0].xaxis == "x" and maps[1].xaxis == "x2"
    finite = torch.cat([a[torch.isfinite(a)], b[torch.isfinite(b)]]).abs().max().item()
    assert fig.layout.coloraxis.cmax == pytest.approx(finite) and fig.layout.coloraxis.cmid == 0
    assert [x.text for x in fig.layout.annotations] == ["before", "after"]
    with pytest.raises(ValueError):
        figures.compare_heatmaps(a, b[:3], labels_x=names, labels_y=names, titles=("a", "b"))


# -- positional encoding -----------------------------------------------------------------------
def test_positional_curves_and_similarity():
    table = sinusoidal_table(16, 32)
    fig = figures.positional_curves(table, [0, 1, 9])
    dots = [trace for trace in fig.data if trace.mode == "markers"]
    waves = [trace for trace in fig.data if trace.mode == "lines"]
    assert [trace.name for trace in dots] == ["dimension 0 (sin)", "dimension 1 (cos)", "dimension 9 (cos)"]
    for dim, dot, wave in zip([0, 1, 9], dots, waves):
        np.testing.assert_array_equal(dot.y, table[:, dim].numpy())
        # the drawn wave passes through the table's values at every whole position
        np.testing.assert_allclose(np.interp(np.arange(16), wave.x, wave.y), table[:, dim].numpy(), atol=2e-3)
    with pytest.raises(ValueError, match="32"):
        figures.positional_curves(table, [32])
    sim = np.asarray(figures.position_similarity(table).data[0].z)
    assert sim.shape == (16, 16)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    np.testing.assert_allclose(sim, sim.T, atol=1e-6)
    assert sim[0, 1] > sim[0, 8]  # nearby positions look more alike


# -- attention lines ---------------------------------------------------------------------------
def test_attention_lines_draw_each_weight_once(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)[0]
    weights = traced["blocks.0.attn.weights"][0, 3]
    fig = figures.attention_lines(weights, labels, title="head 3")
    lines = [s for s in fig.data if s.mode == "lines"]
    hover = [s for s in fig.data if s.mode == "markers"][0]
    kept = [(i, j) for i in range(16) for j in range(16) if weights[i, j] >= 0.01]
    assert all(j <= i for i, j in kept)
    assert len(hover.text) == len(kept)
    assert sum(len(s.x) // 3 for s in lines) == len(kept)
    assert all(0 < s.opacity <= 1 for s in lines)
    i, j = kept[-1]
    assert hover.text[-1].endswith(f"{weights[i, j].item():.4f}")
    columns = [s for s in fig.data if s.mode == "markers+text"]
    assert [list(c.text) for c in columns] == [_esc_all(labels)] * 2
    focused = figures.attention_lines(weights, labels, focus=5)
    hover = [s for s in focused.data if s.mode == "markers"][0]
    assert len(hover.text) == int((weights[5] >= 0.01).sum()) and all(x.startswith(_esc_all(labels)[5]) for x in hover.text)
    with pytest.raises(ValueError, match="Position 16"):
        figures.attention_lines(weights, labels, focus=16)


def test_without_the_causal_mask_nothing_is_grey_and_lines_reach_the_future(compact_vocab, batch_rows):
    model = MiniGPT(ModelConfig(), compact_vocab.size).eval()
    trace = model.run_with_trace(batch_rows, Switches(causal_mask=False))
    labels = _labels_per_row(compact_vocab, batch_rows)
    fig = figures.stage_heatmap(trace, "blocks.0.attn.masked", labels=labels)
    assert len(_heatmaps(fig)) == 1 and np.isfinite(np.asarray(fig.data[0].z)).all()
    mask = figures.stage_heatmap(trace, "blocks.0.attn.mask", labels=labels)
    assert (np.asarray(mask.data[0].z) == 0).all()
    lines = figures.attention_lines(trace["blocks.0.attn.weights"][0, 0], labels[0])
    hover = [s for s in lines.data if s.mode == "markers"][0]
    first = _esc_all(labels[0])[0]
    from_first = [text for text in hover.text if text.startswith(first + " → ")]
    assert len(from_first) > 1  # the first token now looks at later tokens too


# -- next-token views --------------------------------------------------------------------------
def test_topk_bars_show_torch_topk(traced, compact_vocab):
    probs = traced["probs"][0, -1]
    fig = figures.topk_bars(probs, compact_vocab, k=7)
    top = torch.topk(probs, 7)
    bar = fig.data[0]
    np.testing.assert_array_equal(np.asarray(bar.x), top.values.numpy())
    assert list(bar.y) == _esc_all(figures.vocab_label(compact_vocab, r) for r in top.indices.tolist())
    assert fig.layout.yaxis.autorange == "reversed"  # the first (largest) bar on top
    assert all(t.endswith("%") for t in bar.text)


def test_topk_table_lists_the_argmax(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)[0]
    probs = traced["probs"][0]
    table = figures.topk_table(probs, compact_vocab, labels, k=3)
    assert isinstance(table, pd.DataFrame) and len(table) == 16
    assert list(table.columns) == ["input token", "next token", "probability", "#1", "#2", "#3"]
    best = probs.argmax(dim=1).tolist()
    assert list(table["next token"]) == [figures.visible_text(compact_vocab.row_text(r)) for r in best]
    np.testing.assert_allclose(table["probability"], probs.max(dim=1).values.numpy(), rtol=1e-6)
    assert table["#1"][0].startswith(table["next token"][0] + " (")
    assert "下一个词" in figures.topk_table(probs, compact_vocab, labels, lang="zh").columns


def test_token_loss_bar_has_the_uniform_reference(compact_vocab):
    losses = torch.tensor([1.0, 2.5, 7.0])
    fig = figures.token_loss_bar(losses, ["0 a", "1 b", "2 c"], [" b", "\n", "<d>"],
                                 uniform_loss=math.log(compact_vocab.size))
    np.testing.assert_array_equal(np.asarray(fig.data[0].y), losses.numpy())
    assert list(fig.data[0].customdata) == ["␣b", "↵", "&lt;d&gt;"]
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(compact_vocab.size))
    assert "ln(V)" in fig.layout.annotations[0].text
    assert not figures.token_loss_bar(losses, ["a", "b", "c"], ["b", "c", "d"]).layout.shapes
    with pytest.raises(ValueError):
        figures.token_loss_bar(losses, ["a"], ["b"])


# -- small summaries ---------------------------------------------------------------------------
def test_layernorm_stats_and_zero_fraction(compact_vocab, batch_rows):
    model = MiniGPT(ModelConfig(num_blocks=1), compact_vocab.size).eval()
    trace = model.run_with_trace(batch_rows)
    before, after = trace["blocks.0.resid1"][0], trace["blocks.0.norm1"][0]
    labels = _labels_per_row(compact_vocab, batch_rows)[0]
    stats = figures.layernorm_stats(before, after, labels)
    np.testing.assert_allclose(stats["std before"], before.std(dim=1, unbiased=False).numpy(), rtol=1e-5)
    np.testing.assert_allclose(stats["mean before"], before.mean(dim=1).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stats["mean after"], 0, atol=1e-5)
    np.testing.assert_allclose(stats["std after"], 1, atol=1e-3)  # an untrained LayerNorm: scale 1, shift 0
    relu = trace["blocks.0.ffn.relu"]
    assert figures.zero_fraction(relu) == pytest.approx((relu == 0).float().mean().item())
    assert 0.2 < figures.zero_fraction(relu) < 0.8
    assert figures.zero_fraction(torch.tensor([0.0, 1.0, 0.0, 2.0])) == 0.5


# -- token chips -------------------------------------------------------------------------------
def test_token_chips_escape_html_and_mark_unknown_tokens():
    texts = ["<script>alert(1)</script>", ' "quoted" & co', "\n", " 量子", "😀"]
    ids = [7890, 330, 198, 5, 9468]
    page = figures.token_chips_html(texts, ids, [True, True, True, False, True])
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "␣&quot;quoted&quot;␣&amp;␣co" in page
    assert "␣量子" in page and "😀" in page and "↵" in page
    assert page.count("dashed") == 1 and "&lt;unk&gt;" in page
    assert all(f">{i}<" in page for i in (7890, 330, 198, 9468))
    bare = figures.token_chips_html(["a", "b"], [64, 65], [True, False], show_ids=False)
    assert ">64<" not in bare and "&lt;unk&gt;" in bare
    with pytest.raises(ValueError):
        figures.token_chips_html(["a"], [1, 2], [True])


# -- downloads ---------------------------------------------------------------------------------
def test_plotly_config_downloads_a_png_with_a_safe_name():
    config = figures.plotly_config("blocks.0/attn weights: 注意力?")
    assert config["displaylogo"] is False
    options = config["toImageButtonOptions"]
    assert options["format"] == "png" and options["scale"] == 2
    assert options["filename"] == "blocks.0_attn_weights"
    assert figures.plotly_config("///")["toImageButtonOptions"]["filename"] == "minigpt"
    assert figures.plotly_config("x", image_format="svg")["toImageButtonOptions"]["format"] == "svg"
    with pytest.raises(ValueError, match="svg"):
        figures.plotly_config("x", image_format="pdf")


def test_csv_and_npy_round_trip(traced):
    masked = traced["blocks.0.attn.masked"][0, 0]
    names = figures.token_labels(["a", " b", "量", "\n"] * 4)
    data = figures.to_csv(masked, names, names)
    frame = pd.read_csv(io.BytesIO(data), index_col=0, encoding="utf-8-sig")
    assert list(frame.index) == names and list(frame.columns) == names
    np.testing.assert_array_equal(frame.to_numpy(dtype=np.float32), masked.numpy())
    assert np.isneginf(frame.to_numpy()).sum() == 16 * 15 // 2
    loaded = np.load(io.BytesIO(figures.to_npy(traced["blocks.0.attn.masked"])))
    np.testing.assert_array_equal(loaded, traced["blocks.0.attn.masked"].numpy())
    assert loaded.dtype == np.float32
    mask = np.load(io.BytesIO(figures.to_npy(traced["blocks.0.attn.mask"])))
    assert mask.dtype == np.bool_


# -- speed (reported, never asserted) ----------------------------------------------------------
def test_a_page_of_figures_is_fast(compact_vocab, batch_rows, capsys):
    model = MiniGPT(ModelConfig(), compact_vocab.size).eval()
    trace = model.run_with_trace(batch_rows)
    labels = _labels_per_row(compact_vocab, batch_rows)
    figures.stage_heatmap(trace, "embed.sum", labels=labels)  # first call imports plotly's validators

    def page():
        figures.stage_heatmap(trace, "blocks.0.attn.masked", labels=labels)
        figures.stage_heatmap(trace, "blocks.0.attn.weights", labels=labels)
        figures.head_grid(trace, 0, labels=labels)
        figures.attention_lines(trace["blocks.0.attn.weights"][0, 0], labels[0])
        figures.stage_heatmap(trace, "probs", labels=labels, vocab=compact_vocab)
        figures.topk_bars(trace["probs"][0, -1], compact_vocab)

    times = []
    for _ in range(5):
        start = time.perf_counter()
        page()
        times.append(time.perf_counter() - start)
    with capsys.disabled():
        print(f"\n[figures] one page (6 figures, default config): median {1000 * sorted(times)[2]:.1f} ms")


def test_stage_csv_is_the_slice_shown(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    data = figures.stage_csv(traced, "blocks.1.attn.weights", labels=labels, batch=1, head=3)
    frame = pd.read_csv(io.BytesIO(data), index_col=0, encoding="utf-8-sig")
    assert list(frame.index) == labels[1] and list(frame.columns) == labels[1]
    np.testing.assert_array_equal(frame.to_numpy(dtype=np.float32), traced["blocks.1.attn.weights"][1, 3].numpy())
    probs = pd.read_csv(io.BytesIO(figures.stage_csv(traced, "probs", labels=labels, vocab=compact_vocab)),
                        index_col=0, encoding="utf-8-sig")
    assert probs.shape == (16, compact_vocab.size)  # a download has every column
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    cut = figures.stage_slice(traced, "blocks.0.attn.q", labels=labels, head=1)
    assert cut.values.shape == (16, traced.config.d_k) and cut.col_labels == list(range(traced.config.d_k))


def test_one_token_one_head_and_a_character_vocabulary(builtin_text):
    vocab = Vocabulary.from_text(builtin_text[:3000], "char")
    model = MiniGPT(ModelConfig(d_model=8, num_heads=1, context_length=4), vocab.size).eval()
    for text in ("量", "a<&"):
        rows = torch.tensor([vocab.rows(vocab.encode(text))])
        trace = model.run_with_trace(rows)
        labels = figures.token_labels([vocab.row_text(r) for r in rows[0].tolist()])
        for name in trace:
            fig = figures.stage_heatmap(trace, name, labels=labels, vocab=vocab)
            assert list(_heatmaps(fig)[0].y) == _esc_all(labels)
        grid = figures.head_grid(trace, 0, labels=labels)
        assert len(_heatmaps(grid)) == 1
        figures.attention_lines(trace["blocks.0.attn.weights"][0, 0], labels)
        figures.topk_bars(trace["probs"][0, -1], vocab, k=100)
    assert labels == ["0 a", "1 <unk>", "2 <unk>"]  # characters the corpus lacks share the <unk> row


def test_loss_curves_and_candidate_bars(compact_vocab):
    from minigpt import generate
    from minigpt.trainer import EvalReport, StepReport

    steps = [StepReport(step=i, loss=7.0 - i * 0.01, lr=1e-3, tokens=64 * i, elapsed=0.1 * i, tokens_per_s=640.0)
             for i in range(1, 201)]
    evals = [EvalReport(step=s, train_loss=7.0 - s * 0.01, val_loss=7.1 - s * 0.009, elapsed=0.0) for s in (0, 100, 200)]
    fig = figures.loss_curves(steps, evals, uniform_loss=math.log(compact_vocab.size))
    names = [trace.name for trace in fig.data]
    assert names == ["loss of each batch", "moving average", "train loss (evaluated)", "validation loss"]
    np.testing.assert_allclose(fig.data[0].y, [r.loss for r in steps], rtol=1e-6)
    np.testing.assert_allclose(fig.data[3].y, [e.val_loss for e in evals], rtol=1e-6)
    assert fig.data[1].y[-1] > steps[-1].loss  # a moving average lags a falling loss
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(compact_vocab.size))
    assert len(figures.loss_curves([], []).data) == 0  # before the first step: an empty chart, no error

    model = MiniGPT(ModelConfig(), compact_vocab.size).eval()
    step = generate(model, compact_vocab, "The customer", max_new_tokens=1, temperature=0.7, top_k=3).steps[0]
    bars = figures.candidate_bars(step.candidates, chosen_id=step.token_id, lang="zh")
    model_bar, sample_bar = bars.data
    np.testing.assert_allclose(model_bar.x, [c.prob for c in step.candidates], rtol=1e-6)
    np.testing.assert_allclose(sample_bar.x, [c.sample_prob for c in step.candidates], rtol=1e-6)
    assert sum(label.endswith("✔") for label in model_bar.y) == 1
    assert model_bar.name == "模型概率"


def test_small_matrices_show_their_numbers_in_the_cells():
    small = figures.heatmap(np.arange(9.0).reshape(3, 3), x_labels=["a", "b", "c"], y_labels=["a", "b", "c"],
                            title="", x_title="", y_title="")
    assert small.data[0].texttemplate == "%{z:.2f}"
    big = figures.heatmap(np.zeros((16, 16)), x_labels=list(range(16)), y_labels=[str(i) for i in range(16)],
                          title="", x_title="", y_title="")
    assert big.data[0].texttemplate is None
    forced = figures.heatmap(np.zeros((16, 16)), x_labels=list(range(16)), y_labels=[str(i) for i in range(16)],
                             title="", x_title="", y_title="", annotate=True)
    assert forced.data[0].texttemplate == "%{z:.2f}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
def test_any_text_gives_unique_labels_safe_chips_and_figures(text, compact_vocab):
    tokens = tokenize(compact_vocab, text, 16)
    texts = [compact_vocab.text(i) for i in tokens.ids]
    labels = figures.token_labels(texts)
    assert len(set(labels)) == len(labels)
    page = figures.token_chips_html(texts, list(tokens.ids), list(tokens.known))
    assert set(re.findall(r"<(/?[^\s>]*)", page)) <= {"div", "/div", "span", "/span"}  # only our own tags
    assert page.count("<span") == page.count("</span>")
    model = _hypothesis_model(compact_vocab.size)
    trace = model.run_with_trace(torch.tensor([tokens.rows]))
    for name in ("blocks.0.attn.masked", "blocks.0.attn.weights", "probs"):
        fig = figures.stage_heatmap(trace, name, labels=labels, vocab=compact_vocab)
        assert list(fig.data[0].y) == _esc_all(labels)


_MODELS: dict[int, MiniGPT] = {}


def _hypothesis_model(vocab_size: int) -> MiniGPT:
    if vocab_size not in _MODELS:
        _MODELS[vocab_size] = MiniGPT(ModelConfig(d_model=16, num_heads=2), vocab_size).eval()
    return _MODELS[vocab_size]


def test_fonts_are_projector_sized_even_under_a_theme(traced, compact_vocab, batch_rows):
    labels = _labels_per_row(compact_vocab, batch_rows)
    table = sinusoidal_table(16, 64)
    built = [
        figures.stage_heatmap(traced, "blocks.0.attn.masked", labels=labels),
        figures.stage_heatmap(traced, "blocks.0.attn.mask", labels=labels),
        figures.head_grid(traced, 0, labels=labels),
        figures.positional_curves(table, [0, 1]),
        figures.position_similarity(table),
        figures.topk_bars(traced["probs"][0, -1], compact_vocab),
        figures.token_loss_bar(torch.ones(16), labels[0], labels[0]),
    ]
    for fig in built:
        layout = fig.to_plotly_json()["layout"]
        axes = [key for key in layout if key.startswith(("xaxis", "yaxis"))]
        assert axes
        for key in axes:
            if layout[key].get("showticklabels", True) and layout[key].get("visible", True):
                assert layout[key]["tickfont"]["size"] >= 14, key
        assert layout["font"]["size"] >= 14


def test_moving_average_matches_its_definition_and_long_runs_are_thinned():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    expected, running = [], x[0]
    for v in x:
        running = 0.9 * running + 0.1 * v
        expected.append(running)
    np.testing.assert_allclose(figures.ema(x, 0.9), expected, rtol=1e-5, atol=1e-6)
    assert figures.ema([], 0.9).size == 0

    class Report:
        def __init__(self, step):
            self.step, self.loss = step, 5.0 + math.sin(step)

    reports = [Report(i) for i in range(1, 20_001)]
    fig = figures.loss_curves(reports)
    assert len(fig.data[0].x) <= figures.MAX_CURVE_POINTS + 1 and fig.data[0].x[-1] == 20_000


def test_the_browser_receives_float32_arrays_of_the_slice_shape(traced, compact_vocab, batch_rows):
    import base64
    import json

    labels = _labels_per_row(compact_vocab, batch_rows)
    fig = figures.stage_heatmap(traced, "blocks.0.attn.masked", labels=labels, head=1)
    sent = json.loads(fig.to_json())["data"][0]["z"]
    assert sent["dtype"] == "f4"
    shape = tuple(int(n) for n in str(sent["shape"]).split(","))
    z = np.frombuffer(base64.b64decode(sent["bdata"]), dtype=np.float32).reshape(shape)
    expected = traced["blocks.0.attn.masked"][0, 1].numpy()
    finite = np.isfinite(expected)
    assert shape == expected.shape and np.isnan(z[~finite]).all()
    np.testing.assert_array_equal(z[finite], expected[finite])


def test_attention_over_training_picks_first_last_and_between(traced):
    from minigpt.trainer import AttentionSnapshot

    weights = torch.stack([traced[f"blocks.{i}.attn.weights"][0] for i in range(2)])  # [blocks, heads, T, T]
    snapshots = [AttentionSnapshot(step=10 * i, weights=weights * (1 + i)) for i in range(11)]
    labels = [f"{i} t" for i in range(16)]
    fig = figures.attention_over_training(snapshots, labels, block=1, head=2, max_panels=4)
    maps = _heatmaps(fig)
    assert [a.text for a in fig.layout.annotations] == ["training step 0", "training step 30", "training step 70",
                                                        "training step 100"]
    np.testing.assert_array_equal(np.asarray(maps[-1].z), (weights[1, 2] * 11).numpy())
    assert fig.layout.coloraxis.cmin == 0
    with pytest.raises(ValueError, match="head 9"):
        figures.attention_over_training(snapshots, labels, head=9)
    with pytest.raises(ValueError, match="No attention snapshots"):
        figures.attention_over_training([], labels)


def _every_builder(trace, vocab, labels):
    from minigpt import sinusoidal_table, train_figures
    from minigpt.trainer import EvalReport

    weights = trace["blocks.0.attn.weights"]
    yield figures.stage_heatmap(trace, "blocks.0.attn.masked", labels=labels)
    yield figures.stage_heatmap(trace, "blocks.0.attn.mask", labels=labels)
    yield figures.stage_heatmap(trace, "probs", labels=labels, vocab=vocab)
    yield figures.head_grid(trace, 0, labels=labels)
    yield figures.attention_lines(weights[0, 0], labels[0])
    yield figures.topk_bars(trace["probs"][0, -1], vocab)
    yield figures.positional_curves(sinusoidal_table(16, 64), [0, 1, 6])
    yield figures.position_similarity(sinusoidal_table(16, 64))
    yield figures.token_loss_bar(np.linspace(1, 9, 16), labels[0], labels[1], uniform_loss=math.log(vocab.size))
    yield figures.loss_curves([], [EvalReport(step=0, train_loss=7.0, val_loss=7.1, elapsed=0.0)])
    yield train_figures.loss_figure([1, 2, 3], [7.0, 6.5, 6.4], tokens_per_step=64)
    yield train_figures.true_token_probs(np.full(16, 0.1), np.full(16, 0.3), labels[0])


def test_figures_built_without_plotly_checks_send_the_same_json(traced, compact_vocab, batch_rows, monkeypatch):
    """The app skips plotly's per-property validation for speed: the browser must get the same figure."""
    import plotly.io as pio

    labels = _labels_per_row(compact_vocab, batch_rows)
    monkeypatch.setattr(figures, "VALIDATE", True)
    checked = [json.loads(pio.to_json(fig, validate=False)) for fig in _every_builder(traced, compact_vocab, labels)]
    monkeypatch.setattr(figures, "VALIDATE", False)
    fast = [json.loads(pio.to_json(fig, validate=False)) for fig in _every_builder(traced, compact_vocab, labels)]
    assert len(checked) == 12
    for a, b in zip(checked, fast):
        assert a == b


def test_the_test_suite_builds_figures_with_plotly_checks_on():
    with pytest.raises(ValueError):  # what an invalid property does with checks on (tests/conftest.py)
        go.Heatmap(_validate=figures.VALIDATE, colorscale="not-a-scale")
