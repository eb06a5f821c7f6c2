"""Training throughput: our Trainer against the tutorial-layout reference, side by side in one run.

    .venv/bin/python bench/throughput.py                        # every preset and lever on the CPU
    .venv/bin/python bench/throughput.py --no-compile           # skip the torch.compile sides (compiling takes a while)
    .venv/bin/python bench/throughput.py --device cuda          # the same on a GPU (fp32 and bf16 autocast sides)

Sides (all AdamW, same hyperparameters per step, same torch threads, windows alternated after a warm-up):
  reference        bench/tutorial_model.py trained by the tutorial's loop: per-head Linear Q/K/V, torch.cat,
                   tril mask buffer, full cl100k vocabulary (100,071 rows), AdamW (default foreach)
  full+fused       minigpt.trainer.Trainer.step(), full vocabulary: fused QKV + SDPA, fused AdamW
  compact          the same at the compact vocabulary (3,771 ids + <unk> on the sales textbook): the Trainer's
                   default, parameters in one flat buffer per AdamW group (minigpt/flat.py)
  compact-per-param  compact with Trainer(flat=False): one AdamW tensor per parameter (the step before issue 16)
  compact-foreach  compact-per-param with AdamW(foreach) instead of fused: what the fused optimizer gives
  compact+bf16     compact with Trainer(precision="bf16"): autocast around the forward pass
  compact+compile  compact with Trainer(compile=True) (torch.compile, inductor)
The `lecture` preset (the app's default run, minigpt.presets) has no reference side: its sides compare
the Trainer's levers with each other. Tokens/s = batch * context / median seconds per step. MFU = tokens/s
x training FLOPs per token (6 x matmul weights + attention's 12 x blocks x context x d_model) / the peak
of a large matmul measured on the same device in the same run.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch

import common  # noqa: F401
from common import add_common_args, alternate, corpus_text, median, set_threads, table, write_json
from minigpt import devices, presets
from minigpt.config import ModelConfig, TrainConfig
from minigpt.tokenizer import encode
from minigpt.trainer import Trainer, parameter_groups, prepare
from bench.reference import ReferenceRun

TUTORIAL_LIKE = dict(dropout=0.1, norm="pre", qkv_bias=False)
TUTORIAL_TRAIN = dict(learning_rate=1e-3, grad_clip=0.0, weight_decay=0.01, lr_schedule="constant")
PRESETS = {
    "tutorial": dict(batch_size=4, context_length=16, d_model=64, num_heads=4, num_blocks=8),
    "larger": dict(batch_size=32, context_length=64, d_model=128, num_heads=4, num_blocks=4),
    "lecture": "minigpt.presets",  # the preset's own configs, no reference
}


def shape_of(name: str) -> dict:
    if name != "lecture":
        return dict(PRESETS[name])
    mc, tc = presets.get(name).model, presets.get(name).train
    return dict(batch_size=tc.batch_size, context_length=mc.context_length, d_model=mc.d_model,
                num_heads=mc.num_heads, num_blocks=mc.num_blocks)


def configs(name: str, shape: dict, vocab: str) -> tuple[ModelConfig, TrainConfig]:
    if name == "lecture":  # the preset's configs (with the --tiny shape when given)
        preset = presets.get("lecture")
        model = {k: v for k, v in shape.items() if k != "batch_size"}
        return dataclasses.replace(preset.model, **model), dataclasses.replace(preset.train, batch_size=shape["batch_size"])
    mc = ModelConfig(context_length=shape["context_length"], d_model=shape["d_model"], num_heads=shape["num_heads"],
                     num_blocks=shape["num_blocks"], vocab=vocab, **TUTORIAL_LIKE)
    return mc, TrainConfig(batch_size=shape["batch_size"], eval_batches=1, **TUTORIAL_TRAIN)


def our_trainer(text, name, shape, vocab, device, *, foreach=False, **options):
    mc, tc = configs(name, shape, vocab)
    tc = TrainConfig(**(tc.to_dict() | dict(steps=1_000_000, eval_interval=1_000_000, eval_batches=1,
                                            warmup_steps=0, device=device)))
    v, rows = prepare(text, mc)
    trainer = Trainer(mc, tc, rows, v, **options)
    if foreach:
        trainer.optimizer = torch.optim.AdamW(parameter_groups(trainer.model, tc.weight_decay), lr=tc.learning_rate,
                                              foreach=True)
    trainer.step()  # the step-0 evaluation happens here, outside the timing
    return trainer


def flops_per_token(mc: ModelConfig, vocab_size: int) -> float:
    """Training FLOPs per token, forward + backward (as bench/scaling.py counts them)."""
    d, T = mc.d_model, mc.context_length
    per_block = 3 * d * d + d * d + 2 * d * mc.ffn_mult * d
    return 6 * (mc.num_blocks * per_block + d * vocab_size) + 12 * mc.num_blocks * T * d


def peak_flops(device: torch.device, dtype=torch.float32, runs: int = 5) -> float:
    """FLOP/s of a large square matmul on the device (2048² on the CPU, 8192² on a GPU): the MFU denominator."""
    n = 2048 if device.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    devices.synchronize(device)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        a @ b
        devices.synchronize(device)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / median(times)


def steps_for(step, seconds: float, device) -> int:
    """Steps per timed window so that one window lasts about `seconds`."""
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < 0.3 or n < 2:
        step()
        n += 1
    devices.synchronize(device)
    per = (time.perf_counter() - t0) / n
    return max(1, round(seconds / per))


def build_sides(text, ids, name, shape, args, device):
    """{side: (step, model config, vocab size, precision)} and notes (compile time, failures)."""
    sides, notes = {}, {}

    def ours(side, vocab="compact", **options):
        trainer = our_trainer(text, name, shape, vocab, args.device, **options)
        sides[side] = (trainer.step, trainer.model_config, trainer.vocab.size, options.get("precision", "fp32"))
        return trainer

    if name != "lecture":
        ref = ReferenceRun(ids, **shape, device=args.device)
        mc, _ = configs(name, shape, "full")
        sides["reference"] = (ref.step, mc, int(ids.max()) + 1, "fp32")
        ours("full+fused", "full")
    ours("compact")
    ours("compact-per-param", flat=False)
    ours("compact-foreach", flat=False, foreach=True)
    if devices.bf16_supported(device) and not args.no_bf16:
        ours("compact+bf16", precision="bf16")
    if args.compile:
        try:
            t0 = time.perf_counter()
            trainer = ours("compact+compile", compile=True)
            for _ in range(3):
                trainer.step()
            notes["compile_s"] = time.perf_counter() - t0
            print(f"  torch.compile: first steps took {notes['compile_s']:.1f} s")
        except Exception as exc:  # a failed compile is a result: report it
            sides.pop("compact+compile", None)
            notes["compile_error"] = f"{type(exc).__name__}: {exc}"[:300]
            print(f"  torch.compile failed: {notes['compile_error']}")
    if args.sides:
        sides = {k: v for k, v in sides.items() if k in args.sides or k == "reference"}
    return sides, notes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"), help="where every side trains")
    p.add_argument("--windows", type=int, default=5, help="timed windows per side (median)")
    p.add_argument("--window-s", type=float, default=1.5, help="about how long one window lasts")
    p.add_argument("--sides", nargs="+", default=None, help="only these sides (and the reference)")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16 autocast side")
    p.add_argument("--tiny", action="store_true", help="tiny shapes (smoke test)")
    args = p.parse_args(argv)
    threads = set_threads(args.threads)
    device = devices.resolve(args.device)
    args.device = device.type
    text, source = corpus_text(args.builtin)
    ids = torch.tensor(encode(text, "full"), dtype=torch.long)
    peaks = {"fp32": peak_flops(device)}
    if devices.bf16_supported(device) and not args.no_bf16:
        peaks["bf16"] = peak_flops(device, torch.bfloat16)
    print(f"corpus: {source}; torch {torch.__version__}; device {devices.describe(device)}; torch threads: {threads} "
          f"(same for every side); measured matmul peak: "
          + ", ".join(f"{k} {v / 1e9:,.0f} GFLOP/s" for k, v in peaks.items()))
    results, rows = {}, []
    for name in args.presets:
        shape = shape_of(name)
        if args.tiny:
            shape.update(batch_size=2, context_length=8, d_model=16, num_blocks=1)
        print(f"\n{name}: {shape}", flush=True)
        sides, notes = build_sides(text, ids, name, shape, args, device)
        windows = {side: steps_for(s[0], args.window_s, device) for side, s in sides.items()}

        def window(step, n):
            for _ in range(n):
                step()
            devices.synchronize(device)

        timed = {side: (lambda s=s[0], n=windows[side]: window(s, n)) for side, s in sides.items()}
        secs = alternate(timed, 1, args.windows, warmup=0)
        tokens = shape["batch_size"] * shape["context_length"]
        base = "reference" if "reference" in sides else next(iter(sides))
        base_tps = tokens / (median(secs[base]) / windows[base])
        side_rows = {}
        for side, (_, mc, vocab_size, precision) in sides.items():
            per_step = median(secs[side]) / windows[side]
            tps = tokens / per_step
            mfu = tps * flops_per_token(mc, vocab_size) / peaks.get(precision, peaks["fp32"])
            spread = [tokens * windows[side] / s for s in secs[side]]
            side_rows[side] = {"tokens_per_s": tps, "ms_per_step": per_step * 1e3, "steps_per_s": 1 / per_step,
                               "x_base": tps / base_tps, "mfu": mfu, "window_tokens_per_s": spread,
                               "steps_per_window": windows[side]}
            if base == "reference":
                side_rows[side]["x_reference"] = tps / base_tps
            rows.append([name, side, per_step * 1e3, 1 / per_step, tps, f"{tps / base_tps:.2f}× {base}",
                         f"{100 * mfu:.1f} %", f"{min(spread):,.0f}–{max(spread):,.0f}"])
        results[name] = {"shape": shape, "base": base, "sides": side_rows, **notes}
        for side, r in side_rows.items():
            print(f"  {side:20s} {r['ms_per_step']:8.2f} ms/step {r['tokens_per_s']:10,.0f} tok/s "
                  f"{r['x_base']:6.2f}x {base}  MFU {100 * r['mfu']:.1f} %")
    print()
    print(table(["preset", "side", "ms/step", "steps/s", "tokens/s", "ratio", "MFU", "window range tok/s"], rows))
    write_json("throughput", {"corpus": source, "threads": threads, "device": devices.describe(device),
                              "peak_flops": peaks, "windows": args.windows, "presets": results, "table": rows},
               args.out)
    return results


if __name__ == "__main__":
    main()
