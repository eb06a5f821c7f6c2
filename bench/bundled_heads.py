"""What the bundled model's heads do, measured: mean attention to the previous token, the first token and itself
per head, on random validation windows of the sales textbook (the corpus it was trained on), beside what uniform
attention would give; and what loading the bundled file costs (the app reads it once per server).

    .venv/bin/python bench/bundled_heads.py                       # the cached textbook (python -m minigpt fetch-corpus)
    .venv/bin/python bench/bundled_heads.py --corpus PATH.txt --batches 64
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minigpt import bundled, checkpoint, corpus  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="sales", help="sales (from the cache) or a UTF-8 text file")
    parser.add_argument("--batches", type=int, default=64, help="validation windows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(bundled.THREADS)
    text = corpus.sales_textbook().text if args.corpus == "sales" else Path(args.corpus).read_text(encoding="utf-8")

    times = []
    for _ in range(5):
        started = time.perf_counter()
        ckpt = bundled.load()
        times.append(time.perf_counter() - started)
    print(f"bundled file: {bundled.path().stat().st_size / 1e6:.2f} MB, {ckpt.model.num_parameters():,} parameters, "
          f"{ckpt.vocab.size:,} vocabulary rows; load {statistics.median(times) * 1000:.1f} ms (median of 5)")
    state = ckpt.train_state
    print(f"command: {state.get('command')}; threads {state.get('threads')}, torch {state.get('torch_version')}, "
          f"steps {ckpt.steps}, final val loss {state['evals'][-1]['val_loss']:.3f}, "
          f"train time {state.get('wall_time_s')} s")

    rows = corpus.encode_rows(text, ckpt.vocab)
    _, val = corpus.split(rows)
    x, _, _ = corpus.get_batch(val, args.batches, ckpt.config.context_length, torch.Generator().manual_seed(args.seed))
    patterns = bundled.head_patterns(ckpt.model, x)
    print(f"\n{args.batches} validation windows of {ckpt.config.context_length} tokens; uniform attention would give "
          f"{patterns[0].uniform:.3f} to any one key\n")
    print("| block | head | previous token | first token | itself | reads as |")
    print("|---:|---:|---:|---:|---:|---|")
    for p in patterns:
        print(f"| {p.block} | {p.head} | {p.previous:.3f} | {p.first:.3f} | {p.itself:.3f} | {p.kind} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
