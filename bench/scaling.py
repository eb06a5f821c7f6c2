"""Scaling and headroom: tokens/s, model FLOPs utilisation and attention-page latency as the model grows.

    .venv/bin/python bench/scaling.py                      # context 16..256 at d_model 64; d_model 32..512 at context 32
    .venv/bin/python bench/scaling.py --threads 1

Training: minigpt.trainer.Trainer.step() on the sales textbook's compact vocabulary, batch 8, 2 pre-LN
blocks, 4 heads, AdamW (median seconds per step over --windows windows after a warm-up).
MFU = achieved FLOP/s / peak FLOP/s, where achieved = tokens/s × (6 × matmul parameters + 12 × blocks ×
context × d_model) (matmul parameters: every Linear weight, the output layer included, not the embedding
lookup; the second term is attention's Q·Kᵀ and weights·V, forward and backward) and peak is a 2048²
float32 matmul measured in this script at the same thread count. "lm_head share" and "attention share"
are those parts' fraction of the model FLOPs: where the cost goes.
Page: `run_with_trace` on one row of `context` tokens plus the attention page's figures (one head's
weights heatmap and the head grid of block 0), median of --page-runs.
"""
from __future__ import annotations

import argparse
import time

import torch

import common  # noqa: F401
from common import add_common_args, corpus_text, median, set_threads, table, time_windows, write_json
from minigpt.views import heatmaps
from minigpt.config import ModelConfig, TrainConfig
from minigpt.tokenizer import Vocabulary
from minigpt.trainer import Trainer, prepare

BATCH, BLOCKS, HEADS = 8, 2, 4


def peak_flops(n: int = 2048, runs: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / median(times)


def model_flops_per_token(mc: ModelConfig, vocab_size: int) -> tuple[float, float, float]:
    """(total, lm_head, attention) training FLOPs per token (forward + backward)."""
    d, T = mc.d_model, mc.context_length
    per_block = 3 * d * d + d * d + 2 * d * mc.ffn_mult * d
    lm_head = d * vocab_size
    attention = 12 * mc.num_blocks * T * d
    total = 6 * (mc.num_blocks * per_block + lm_head) + attention
    return total, 6 * lm_head, attention


def point(text, context, d_model, args, peak):
    mc = ModelConfig(context_length=context, d_model=d_model, num_heads=HEADS, num_blocks=BLOCKS, norm="pre",
                     vocab="compact")
    tc = TrainConfig(batch_size=BATCH, learning_rate=1e-3, steps=1_000_000, eval_interval=1_000_000,
                     eval_batches=1, grad_clip=1.0)
    vocab, rows = prepare(text, mc)
    trainer = Trainer(mc, tc, rows, vocab)
    trainer.step()
    t0 = time.perf_counter()
    trainer.step()
    per = time.perf_counter() - t0
    n = max(1, round(args.window_s / max(per, 1e-4)))
    secs = median(time_windows(trainer.step, n, args.windows, warmup=2))
    tps = BATCH * context / secs
    total, lm, attn = model_flops_per_token(mc, vocab.size)
    model = trainer.model.eval()
    row = torch.arange(context).remainder(vocab.size - 1).view(1, context)
    labels = [vocab.row_text(int(r)) for r in row[0]]

    def page():
        trace = model.run_with_trace(row)
        heatmaps.stage_heatmap(trace, "blocks.0.attn.weights", labels=labels)
        heatmaps.head_grid(trace, 0, labels=labels)

    page()
    page_times = []
    for _ in range(args.page_runs):
        t1 = time.perf_counter()
        page()
        page_times.append(time.perf_counter() - t1)
    return {"context": context, "d_model": d_model, "vocab": vocab.size, "ms_per_step": secs * 1e3,
            "tokens_per_s": tps, "gflops": tps * total / 1e9, "mfu": tps * total / peak,
            "lm_head_share": lm / total, "attention_share": attn / total, "page_ms": median(page_times) * 1e3}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--contexts", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--d-models", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--window-s", type=float, default=0.6)
    p.add_argument("--page-runs", type=int, default=5)
    args = p.parse_args(argv)
    threads = set_threads(args.threads)
    text, source = corpus_text(args.builtin)
    peak = peak_flops()
    print(f"corpus: {source}; torch threads: {threads}; measured peak (2048² fp32 matmul): {peak / 1e9:.1f} GFLOP/s",
          flush=True)
    points = []
    for context in args.contexts:
        points.append({"sweep": "context (d_model 64)", **point(text, context, 64, args, peak)})
        print(f"  context {context}: {points[-1]['tokens_per_s']:,.0f} tok/s", flush=True)
    for d in args.d_models:
        points.append({"sweep": "d_model (context 32)", **point(text, 32, d, args, peak)})
        print(f"  d_model {d}: {points[-1]['tokens_per_s']:,.0f} tok/s", flush=True)
    rows = [[q["sweep"], q["context"], q["d_model"], q["ms_per_step"], q["tokens_per_s"], q["gflops"],
             f"{100 * q['mfu']:.1f} %", f"{100 * q['lm_head_share']:.0f} %", f"{100 * q['attention_share']:.0f} %",
             q["page_ms"]] for q in points]
    print()
    print(table(["sweep", "context", "d_model", "ms/step", "tokens/s", "GFLOP/s", "MFU", "lm_head share",
                 "attention share", "page ms"], rows))
    write_json("scaling", {"corpus": source, "threads": threads, "peak_flops": peak, "batch": BATCH,
                           "blocks": BLOCKS, "heads": HEADS, "points": points, "table": rows}, args.out)
    return points


if __name__ == "__main__":
    main()
