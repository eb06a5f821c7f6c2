"""Training throughput: our Trainer against the tutorial-layout reference, side by side in one run.

    .venv/bin/python bench/throughput.py                   # tutorial and larger presets, every lever
    .venv/bin/python bench/throughput.py --no-compile      # skip torch.compile (its compile takes a while)

Sides (all AdamW, same hyperparameters, same torch threads, windows alternated after a warm-up):
  reference      bench/tutorial_model.py trained by the tutorial's loop: per-head Linear Q/K/V, torch.cat,
                 tril mask buffer, full cl100k vocabulary (100,071 rows), AdamW (default foreach)
  full+fused     minigpt.trainer.Trainer.step(), full vocabulary: fused QKV + SDPA, fused AdamW
  compact        the same at the compact vocabulary (3,771 ids + <unk> on the sales textbook)
  compact-foreach  compact with AdamW(foreach) instead of fused: what the fused optimizer gives
  compact+compile  compact with Trainer(compile=True) (torch.compile, inductor on CPU)
Tokens/s = batch * context / median seconds per step.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch

import common  # noqa: F401
from common import add_common_args, alternate, corpus_text, median, set_threads, table, write_json
from minigpt.config import ModelConfig, TrainConfig
from minigpt.tokenizer import encode
from minigpt.trainer import Trainer, parameter_groups, prepare
from bench.reference import ReferenceRun

PRESETS = {
    "tutorial": dict(batch_size=4, context_length=16, d_model=64, num_heads=4, num_blocks=8),
    "larger": dict(batch_size=32, context_length=64, d_model=128, num_heads=4, num_blocks=4),
}


def our_trainer(text, shape, vocab, *, compile=False, fused=True, dropout=0.1):
    mc = ModelConfig(context_length=shape["context_length"], d_model=shape["d_model"], num_heads=shape["num_heads"],
                     num_blocks=shape["num_blocks"], dropout=dropout, norm="pre", qkv_bias=False, vocab=vocab)
    tc = TrainConfig(batch_size=shape["batch_size"], learning_rate=1e-3, steps=1_000_000, eval_interval=1_000_000,
                     eval_batches=1, grad_clip=0.0, weight_decay=0.01, lr_schedule="constant")
    v, rows = prepare(text, mc)
    trainer = Trainer(mc, tc, rows, v, compile=compile)
    if not fused:
        trainer.optimizer = torch.optim.AdamW(parameter_groups(trainer.model, tc.weight_decay), lr=1e-3,
                                              foreach=True)
    trainer.step()  # the step-0 evaluation happens here, outside the timing
    return trainer


def steps_for(step, seconds: float) -> int:
    """Steps per timed window so that one window lasts about `seconds`."""
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < 0.3 or n < 2:
        step()
        n += 1
    per = (time.perf_counter() - t0) / n
    return max(1, round(seconds / per))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    p.add_argument("--windows", type=int, default=5, help="timed windows per side (median)")
    p.add_argument("--window-s", type=float, default=1.5, help="about how long one window lasts")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--tiny", action="store_true", help="tiny shapes (smoke test)")
    args = p.parse_args(argv)
    threads = set_threads(args.threads)
    text, source = corpus_text(args.builtin)
    ids = torch.tensor(encode(text, "full"), dtype=torch.long)
    print(f"corpus: {source}; torch {torch.__version__}; torch threads: {threads} (same for every side)")
    results, rows = {}, []
    for name in args.presets:
        shape = dict(PRESETS[name])
        if args.tiny:
            shape.update(batch_size=2, context_length=8, d_model=16, num_blocks=1)
        print(f"\n{name}: {shape}", flush=True)
        sides, notes = build_sides(text, ids, shape, args)
        per_step = {}
        windows = {}
        for side, step in sides.items():
            windows[side] = steps_for(step, args.window_s)
        timed = {side: (lambda step=step, n=windows[side]: [step() for _ in range(n)]) for side, step in sides.items()}
        secs = alternate(timed, 1, args.windows, warmup=0)
        tokens = shape["batch_size"] * shape["context_length"]
        ref_tps = tokens / (median(secs["reference"]) / windows["reference"])
        side_rows = {}
        for side in sides:
            per_step[side] = median(secs[side]) / windows[side]
            tps = tokens / per_step[side]
            spread = [tokens * windows[side] / s for s in secs[side]]
            side_rows[side] = {"tokens_per_s": tps, "ms_per_step": per_step[side] * 1e3, "x_reference": tps / ref_tps,
                               "window_tokens_per_s": spread, "steps_per_window": windows[side]}
            rows.append([name, side, per_step[side] * 1e3, tps, tps / ref_tps, f"{min(spread):,.0f}–{max(spread):,.0f}"])
        results[name] = {"shape": shape, "sides": side_rows, **notes}
        for side, r in side_rows.items():
            print(f"  {side:16s} {r['ms_per_step']:8.2f} ms/step {r['tokens_per_s']:10,.0f} tok/s  {r['x_reference']:6.2f}x")
    print()
    print(table(["preset", "side", "ms/step", "tokens/s", "× reference", "window range tok/s"], rows))
    write_json("throughput", {"corpus": source, "threads": threads, "windows": args.windows, "presets": results,
                              "table": rows}, args.out)
    return results


def build_sides(text, ids, shape, args):
    sides, notes = {}, {}
    sides["reference"] = ReferenceRun(ids, **shape).step
    sides["full+fused"] = our_trainer(text, shape, "full").step
    sides["compact"] = our_trainer(text, shape, "compact").step
    sides["compact-foreach"] = our_trainer(text, shape, "compact", fused=False).step
    if args.compile:
        try:
            t0 = time.perf_counter()
            trainer = our_trainer(text, shape, "compact", compile=True)
            for _ in range(3):
                trainer.step()
            notes["compile_s"] = time.perf_counter() - t0
            print(f"  torch.compile: first steps took {notes['compile_s']:.1f} s")
            sides["compact+compile"] = trainer.step
        except Exception as exc:  # a failed compile is a result: report it
            notes["compile_error"] = f"{type(exc).__name__}: {exc}"[:300]
            print(f"  torch.compile failed: {notes['compile_error']}")
    return sides, notes


if __name__ == "__main__":
    main()
