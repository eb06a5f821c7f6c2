"""Time to quality: training wall time until the validation loss first reaches the reference's own loss.

    .venv/bin/python bench/time_to_quality.py                       # reference 5,000 steps (~12 min), then ours
    .venv/bin/python bench/time_to_quality.py --ref-steps 1000      # a shorter reference run sets the target
    .venv/bin/python bench/time_to_quality.py --target 4.9          # fixed target; the reference stops on reaching it

Both sides are scored by the same evaluator: fixed validation windows (32 windows of 64 tokens from the
last 10 % of the text; the same target tokens for every model, each model reading them in chunks of its
own context). The target is the reference's loss after `--ref-steps` steps (tutorial preset, tutorial
loop, AdamW lr 1e-3). Times count optimizer steps only (evaluation is the benchmark's instrument and
is excluded for both). Our presets run before and after the reference; the slower run is reported.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

import torch
import torch.nn.functional as F

import common  # noqa: F401  (puts the repository on sys.path)
from common import add_common_args, corpus_text, set_threads, table, write_json
from minigpt import presets
from minigpt.tokenizer import encode
from minigpt.trainer import Trainer, prepare
from bench.reference import TUTORIAL, ReferenceRun

WINDOW = 64


def eval_windows(n_tokens: int, count: int, seed: int = 7) -> torch.Tensor:
    """Start offsets (into the validation split) of `count` fixed windows of WINDOW+1 tokens."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n_tokens - WINDOW - 1, (count,), generator=g)


@torch.no_grad()
def val_loss(forward, val: torch.Tensor, starts: torch.Tensor, context: int) -> float:
    """Mean next-token loss over the windows' WINDOW targets, read in chunks of `context`."""
    offsets = torch.arange(WINDOW + 1)
    windows = val[starts[:, None] + offsets]  # [N, WINDOW+1]
    chunk = min(context, WINDOW)
    x = windows[:, :-1].reshape(-1, chunk)
    y = windows[:, 1:].reshape(-1, chunk)
    total, n = 0.0, 0
    for i in range(0, len(x), 64):  # bounded memory with the 100k-wide output layer
        logits = forward(x[i:i + 64])
        logits = logits[0] if isinstance(logits, tuple) else logits
        total += F.cross_entropy(logits.flatten(0, 1).float(), y[i:i + 64].flatten(), reduction="sum").item()
        n += y[i:i + 64].numel()
    return total / n


def run_reference(ids, starts, steps, target, eval_every, log, progress=None):
    ref = ReferenceRun(ids, **TUTORIAL)
    curve, train_time, reached = [], 0.0, None
    model = ref.model
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        ref.step()
        train_time += time.perf_counter() - t0
        if step % eval_every == 0 or step == steps:
            model.eval()
            loss = val_loss(model, ref.val_data, starts, ref.context_length)
            model.train()
            curve.append((step, train_time, loss))
            if step % (eval_every * 10) == 0 or step == steps:
                log(f"  reference step {step}: val {loss:.3f}, {train_time:.1f} s")
                if progress is not None:  # the curve so far, in case a long run is cut short
                    progress.parent.mkdir(parents=True, exist_ok=True)
                    progress.write_text(json.dumps(curve))
            if target is not None and reached is None and loss <= target:
                reached = (step, train_time, loss)
                break
    return curve, train_time


def first_reach(curve, target):
    for step, t, loss in curve:
        if loss <= target:
            return step, t, loss
    return None


def run_ours(name, text, starts_for, eval_every, target, max_steps=None):
    preset = presets.get(name)
    mc = preset.model
    steps = min(preset.train.steps, max_steps or preset.train.steps)
    tc = dataclasses.replace(preset.train, steps=steps, eval_interval=steps, eval_batches=1,
                             warmup_steps=min(preset.train.warmup_steps, steps - 1))
    vocab, rows = prepare(text, mc)
    trainer = Trainer(mc, tc, rows, vocab)
    val = trainer.val_rows
    starts = starts_for(len(val))
    curve, reached = [], None
    while not trainer.done:
        trainer.step()
        if trainer.step_count % eval_every == 0 or trainer.done:
            trainer.model.eval()
            loss = val_loss(trainer.model, val, starts, mc.context_length)
            trainer.model.train()
            curve.append((trainer.step_count, trainer.train_time, loss))
            if target is not None and loss <= target and reached is None:
                reached = curve[-1]
                break
    return {"preset": name, "curve": curve, "reached": reached, "train_time": trainer.train_time,
            "steps": trainer.step_count, "best": min(c[2] for c in curve)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--ref-steps", type=int, default=5000, help="reference steps (its loss then is the target)")
    p.add_argument("--target", type=float, default=None, help="fixed target loss (the reference stops on reaching it)")
    p.add_argument("--presets", nargs="+", default=["fast-cpu", "lecture"], help="our presets to time")
    p.add_argument("--ref-eval-every", type=int, default=50)
    p.add_argument("--eval-every", type=int, default=5, help="our evaluation interval (steps)")
    p.add_argument("--windows", type=int, default=32, help="validation windows of 64 tokens")
    p.add_argument("--ours-max-steps", type=int, default=None, help="cap our presets' steps (smoke tests)")
    args = p.parse_args(argv)
    threads = set_threads(args.threads)
    text, source = corpus_text(args.builtin)
    ids = torch.tensor(encode(text, "full"), dtype=torch.long)
    n_val = len(ids) - int(len(ids) * 0.9)
    starts = eval_windows(n_val, args.windows)
    starts_for = lambda n: starts if n == n_val else eval_windows(n, args.windows)  # noqa: E731
    print(f"corpus: {source} ({len(ids):,} tokens); torch threads: {threads}")

    before = {name: run_ours(name, text, starts_for, args.eval_every, args.target, args.ours_max_steps) for name in args.presets}
    print(f"reference (tutorial layout): up to {args.ref_steps} steps ...", flush=True)
    t0 = time.perf_counter()
    ref_curve, ref_time = run_reference(ids, starts, args.ref_steps, args.target, args.ref_eval_every,
                                        lambda s: print(s, flush=True),
                                        (args.out or common.RESULTS / "time_to_quality.json").with_suffix(".progress.json"))
    ref_wall = time.perf_counter() - t0
    target = args.target if args.target is not None else ref_curve[-1][2]
    ref_hit = first_reach(ref_curve, target)
    after = {name: run_ours(name, text, starts_for, args.eval_every, target, args.ours_max_steps) for name in args.presets}

    rows, results = [], {}
    ref_t = ref_hit[1] if ref_hit else float("nan")
    rows.append(["reference (tutorial layout, tutorial preset)", ref_hit[0] if ref_hit else "-", ref_t,
                 ref_hit[2] if ref_hit else float("nan"), 1.0])
    for name in args.presets:
        runs = []
        for run in (before[name], after[name]):
            hit = first_reach(run["curve"], target)
            runs.append(hit)
        times = [h[1] for h in runs if h]
        slow = max(runs, key=lambda h: h[1] if h else math.inf) if all(runs) else None
        results[name] = {"runs": [{"reached": h, "best_val": r["best"], "steps_run": r["steps"]}
                                  for h, r in zip(runs, (before[name], after[name]))]}
        if slow:
            rows.append([f"ours: {name}", slow[0], slow[1], slow[2], slow[1] / ref_t if ref_hit else float("nan")])
        else:
            rows.append([f"ours: {name}", "not reached", float("nan"),
                         min(before[name]["best"], after[name]["best"]), float("nan")])
        results[name]["times_s"] = times
    print(f"\ntarget: validation loss {target:.3f} "
          f"({'given' if args.target is not None else f'reference after {ref_curve[-1][0]} steps'})")
    print(table(["model", "steps to target", "train s to target", "val loss then", "time / reference"], rows))
    write_json("time_to_quality", {
        "corpus": source, "threads": threads, "target": target,
        "target_source": "given" if args.target is not None else f"reference after {ref_curve[-1][0]} steps",
        "reference": {"curve": ref_curve, "train_time_s": ref_time, "wall_s": ref_wall, "reached": ref_hit},
        "ours": results, "table": rows,
    }, args.out)
    return rows


if __name__ == "__main__":
    main()
