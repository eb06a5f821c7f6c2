"""Figure build time: one attention-and-output page's figures (six builders of minigpt.views) on one trace.

    .venv/bin/python bench/figure_build.py                 # default config, 20 runs
    .venv/bin/python bench/figure_build.py --runs 50 --threads 1

The figures: the masked scores and the weights of block 0 head 0, block 0's head grid, attention as lines, the
probabilities heatmap (64 vocabulary columns) and the top-10 bars, built from one cached trace of the app's
default model (context 16, d_model 64) on two rows of the built-in corpus. Built as the app builds them (plotly's
property checks off) and as the tests do (checks on, tests/conftest.py); median of --runs after one warm-up.
"""
from __future__ import annotations

import argparse
import time

import torch

import common  # noqa: F401
from common import add_common_args, median, set_threads, table, write_json
from minigpt import MiniGPT, ModelConfig, Vocabulary, corpus, tokenize
from minigpt.views import attention, heatmaps, output, style
from minigpt.views.labels import token_labels


def page_builder(vocab: Vocabulary):
    """A function that builds the page's six figures from one trace."""
    text = corpus.builtin().text
    first = list(tokenize(vocab, text[:400], 16).rows)
    rows = torch.tensor([first, first[::-1]])
    trace = MiniGPT(ModelConfig(), vocab.size).eval().run_with_trace(rows)
    labels = [token_labels([vocab.row_text(r) for r in row]) for row in rows.tolist()]

    def page() -> None:
        heatmaps.stage_heatmap(trace, "blocks.0.attn.masked", labels=labels)
        heatmaps.stage_heatmap(trace, "blocks.0.attn.weights", labels=labels)
        heatmaps.head_grid(trace, 0, labels=labels)
        attention.attention_lines(trace["blocks.0.attn.weights"][0, 0], labels[0])
        heatmaps.stage_heatmap(trace, "probs", labels=labels, vocab=vocab)
        output.topk_bars(trace["probs"][0, -1], vocab)

    return page


def timed(page, runs: int) -> list[float]:
    page()  # the first build imports plotly's validators
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        page()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--runs", type=int, default=20, help="timed builds per side (default 20)")
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    vocab = Vocabulary.from_text(corpus.builtin().text, "compact")
    page = page_builder(vocab)
    results, before = {}, style.VALIDATE
    for side, validate in (("checks off (the app)", False), ("checks on (tests)", True)):
        style.VALIDATE = validate
        try:
            results[side] = timed(page, args.runs)
        finally:
            style.VALIDATE = before  # a caller's setting (the smoke test's checks on) survives
    rows = [[side, 1000 * median(t), 1000 * min(t)] for side, t in results.items()]
    print(f"one page of figures (6 figures, default config), torch threads {threads}, {args.runs} runs")
    print(table(["plotly property checks", "median ms", "fastest ms"], rows))
    data = {"runs": args.runs, "table": rows, "seconds": results}
    write_json("figure_build", data, args.out)
    return data


if __name__ == "__main__":
    main()
