"""Generation with and without the KV cache (minigpt.kv_cache): seconds per generated token, measured and
counted in FLOPs, for a few model sizes. The two sides alternate window by window (common.alternate), so a busy
machine slows both alike; the same tokens come out of both (checked here too, and in tests/test_kv_cache.py).

    python bench/kv_cache.py                     # notebook, lecture-like and tutorial-like sizes, 2 threads
    python bench/kv_cache.py --builtin --tiny    # the smoke test's size
"""
from __future__ import annotations

import argparse

from common import add_common_args, alternate, corpus_text, median, set_threads, table, write_json

from minigpt import MiniGPT, ModelConfig, Vocabulary, generate, kv_cache

SIZES = {  # name -> (context_length, d_model, heads, blocks)
    "notebook": (16, 64, 4, 1),
    "ctx64-d128-4blocks": (64, 128, 4, 4),
    "ctx256-d256-6blocks": (256, 256, 8, 6),
}
TINY = {"tiny": (8, 16, 2, 1)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--tiny", action="store_true", help="one tiny size (smoke tests)")
    parser.add_argument("--windows", type=int, default=5)
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    text, source = corpus_text(args.builtin)
    vocab = Vocabulary.from_text(text, "compact")
    rows, points = [], {}
    for name, (ctx, d, heads, blocks) in (TINY if args.tiny else SIZES).items():
        config = ModelConfig(context_length=ctx, d_model=d, num_heads=heads, num_blocks=blocks, seed=1)
        model = MiniGPT(config, vocab.size).eval()
        new = ctx - 4  # fill the window from a 4-token prompt: every cached step, no rebuild
        prompt = vocab.decode(vocab.encode(text)[:4])

        def side(use_cache: bool):
            return lambda: generate(model, vocab, prompt, max_new_tokens=new, temperature=0.0, use_cache=use_cache)

        same = side(False)().new_ids == side(True)().new_ids
        times = alternate({"without": side(False), "with": side(True)}, 1, args.windows, warmup=1)
        plain, cached = median(times["without"]) / new, median(times["with"]) / new
        work = kv_cache.work_series(config, vocab.size, len(vocab.encode(prompt)), new)
        flops_plain, flops_cached = sum(p.uncached for p in work), sum(p.cached for p in work)
        points[name] = dict(context_length=ctx, d_model=d, heads=heads, blocks=blocks, new_tokens=new,
                            s_per_token_without=plain, s_per_token_with=cached, speedup=plain / cached,
                            flops_without=flops_plain, flops_with=flops_cached, flops_ratio=flops_plain / flops_cached,
                            cache_bytes_full_window=kv_cache.cache_bytes(config, ctx), same_tokens=same)
        rows.append([name, new, f"{plain * 1e3:.2f}", f"{cached * 1e3:.2f}", f"{plain / cached:.2f}x",
                     f"{flops_plain / flops_cached:.1f}x", f"{kv_cache.cache_bytes(config, ctx) / 1024:,.0f} KB",
                     "yes" if same else "NO"])
    headers = ["size", "new tokens", "ms/token without", "ms/token with", "measured", "FLOPs ratio",
               "cache (full window)", "same tokens"]
    print(f"KV cache, greedy generation filling the window ({source}, {threads} threads, "
          f"median of {args.windows} alternating windows)")
    printed = table(headers, rows)
    print(printed)
    write_json("kv_cache", {"table": printed, "points": points, "corpus": source, "threads": threads}, args.out)
    return points


if __name__ == "__main__":
    main()
