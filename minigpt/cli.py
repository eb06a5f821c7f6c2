"""The command line: `python -m minigpt train ...`, `python -m minigpt generate ...`, `python -m minigpt presets`.

Every ModelConfig and TrainConfig field is a flag, generated from the dataclasses (`--d-model 128`,
`--lr-schedule cosine`, `--no-qkv-bias`). `seed` is in both: `--seed` sets both, `--model-seed` /
`--train-seed` set one. Under `torchrun --nproc_per_node N` training is data-parallel
(DistributedDataParallel; gloo on CPU, nccl on CUDA); only rank 0 prints and writes the checkpoint.
Bad input ends with exit code 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from .config import ConfigError, ModelConfig, TrainConfig, LR_SCHEDULES, DEVICES, NORM_PLACEMENTS, VOCAB_MODES

CHOICES = {"norm": NORM_PLACEMENTS, "vocab": VOCAB_MODES, "device": DEVICES, "lr_schedule": LR_SCHEDULES}
HELP = {
    "context_length": "tokens the model sees at once", "d_model": "width of every token vector",
    "num_heads": "attention heads", "num_blocks": "decoder blocks", "ffn_mult": "FFN width = ffn_mult * d_model",
    "dropout": "dropout probability", "norm": "LayerNorm placement", "qkv_bias": "bias in the Q/K/V projection",
    "vocab": "vocabulary mode", "batch_size": "sequences per step", "learning_rate": "AdamW peak learning rate",
    "steps": "optimizer steps", "eval_interval": "evaluate every N steps", "eval_batches": "batches per evaluation",
    "device": "where to train", "grad_clip": "gradient-norm clip (0 = off)", "weight_decay": "AdamW weight decay",
    "warmup_steps": "linear warm-up steps", "lr_schedule": "learning-rate schedule after warm-up",
}
MAX_CORPUS_BYTES = 200_000_000


class UsageError(Exception):
    """Bad flags or files: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{message} (see {self.prog} --help)")


# -- flags from the dataclasses ---------------------------------------------------------------------
def _shared_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(ModelConfig)} & {f.name for f in dataclasses.fields(TrainConfig)}


def _flag_dest(owner: str, name: str) -> str:
    return f"{owner}_{name}" if name in _shared_fields() else name


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    shared = _shared_fields()
    for owner, cls in (("model", ModelConfig), ("train", TrainConfig)):
        group = parser.add_argument_group(f"{cls.__name__} (defaults come from the preset)")
        for field in dataclasses.fields(cls):
            kind = type(field.default)
            flag = f"--{owner}-{field.name}" if field.name in shared else f"--{field.name}"
            flag = flag.replace("_", "-")
            dest = _flag_dest(owner, field.name)
            help_text = HELP.get(field.name, f"{cls.__name__}.{field.name}")
            if kind is bool:
                group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            else:
                group.add_argument(flag, dest=dest, type=kind, default=None, choices=CHOICES.get(field.name),
                                   metavar=None if field.name in CHOICES else kind.__name__.upper(), help=help_text)
    for name in sorted(shared):
        parser.add_argument(f"--{name}".replace("_", "-"), dest=name, type=int, default=None,
                            help=f"sets both the model's and the training's {name}")


def configs_from_args(args: argparse.Namespace, model: ModelConfig, train: TrainConfig) -> tuple[ModelConfig, TrainConfig]:
    """The preset's configs with every flag that was given applied (validated again: ConfigError)."""
    changes = {}
    for owner, config in (("model", model), ("train", train)):
        values = {}
        for field in dataclasses.fields(config):
            value = getattr(args, _flag_dest(owner, field.name), None)
            if value is None and field.name in _shared_fields():
                value = getattr(args, field.name, None)
            if value is not None:
                values[field.name] = value
        changes[owner] = dataclasses.replace(config, **values)
    return changes["model"], changes["train"]


def _add_train_flags(train: argparse.ArgumentParser) -> None:
    train.add_argument("--sample-every", type=int, default=0, metavar="N", help="print a sample every N steps")
    train.add_argument("--sample-prompt", default="The customer", help="prompt for the samples")
    train.add_argument("--compile", action="store_true", help="use torch.compile (see README)")
    train.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                       help="bf16: autocast the forward pass (GPUs with bf16, CPUs with AMX or AVX-512 BF16)")
    train.add_argument("--threads", type=int, default=None, metavar="N",
                       help="torch threads (default: torch's choice); recorded in the train state")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_flags(train)


def build_parser() -> argparse.ArgumentParser:
    from . import presets

    prog = "minigpt" if Path(sys.argv[0]).name == "minigpt" else "python -m minigpt"  # the installed command
    parser = _Parser(prog=prog, description="Train and sample minigpt models from the terminal.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = commands.add_parser("train", help="train a model and write a checkpoint",
                                description="Train a model and write a checkpoint the app can open.")
    train.add_argument("--preset", default="lecture", choices=presets.names(), help="starting configs (default lecture)")
    train.add_argument("--corpus", default="sales", metavar="sales|builtin|PATH.txt",
                       help="the sales textbook (downloaded once; built-in text when offline), the built-in text, "
                            "or a UTF-8 text file")
    train.add_argument("--out", default=None, help="checkpoint path (default checkpoints/<preset>.safetensors)")
    _add_train_flags(train)
    bundle = commands.add_parser("bundle", help="train the bundled model (minigpt/data/bundled.safetensors)",
                                 description="Train the model the app opens on: the bundled preset on the sales "
                                             "textbook (run fetch-corpus first when offline), written into the "
                                             "package. The command line is recorded in the file's train state.")
    bundle.add_argument("--corpus", default="sales", metavar="sales|PATH.txt",
                        help="the sales textbook from the cache (no built-in fallback), or a UTF-8 text file")
    bundle.add_argument("--out", default=None, help="checkpoint path (default: the package's bundled file)")
    _add_train_flags(bundle)

    fetch = commands.add_parser("fetch-corpus", help="download and cache the sales textbook (before class)",
                                description="Download the notebook's sales textbook once and cache it, so the app "
                                            "and --corpus sales work offline afterwards.")
    fetch.add_argument("--url", default=None, help="another address for the same file (a mirror); it is checked "
                                                   "against the textbook's SHA-256")

    gen = commands.add_parser("generate", help="print text from a checkpoint",
                              description="Print text sampled from a checkpoint (ours, or the tutorial's model-ckpt.pt).")
    gen.add_argument("--checkpoint", required=True, help="a .safetensors checkpoint or the tutorial's .pt file")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--max-new-tokens", type=int, default=50)
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=0)
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--context-length", type=int, default=16,
                     help="context of a tutorial .pt file without a causal-mask buffer (default 16)")

    commands.add_parser("presets", help="list the presets", description="List the training presets.")
    return parser


# -- train ------------------------------------------------------------------------------------------
def load_corpus_text(spec: str, say, *, fallback: bool = True) -> tuple[str, str]:
    """(name, text) for --corpus: 'sales', 'builtin' or a path to a UTF-8 text file. fallback=False: the sales
    textbook or an error (the bundled model is trained on it and nothing else)."""
    from . import corpus

    if spec == "sales" and not fallback:
        try:
            return "sales", corpus.sales_textbook().text
        except corpus.CorpusError as exc:
            raise UsageError(f"the sales textbook is not available ({exc}); run `python -m minigpt fetch-corpus` "
                             "first, or pass --corpus PATH.txt") from None
    if spec in ("sales", "builtin"):
        loaded, message = corpus.load(spec)
        if message:
            say(str(message))
        return loaded.name, loaded.text
    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"--corpus {spec}: no such file (use sales, builtin or a path to a .txt file).")
    try:
        text = corpus.decode_upload(path.read_bytes(), max_bytes=MAX_CORPUS_BYTES)
    except corpus.CorpusError as exc:
        raise UsageError(f"--corpus {spec}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--corpus {spec}: {exc.strerror or exc}") from None
    return path.name, text


def _ddp_env() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) when launched by torchrun with more than one process."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    except (KeyError, ValueError):
        raise UsageError("RANK/WORLD_SIZE are set but not usable: launch with torchrun --nproc_per_node N.") from None


def weights_sha256(model) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run_record(args: argparse.Namespace, model_config: ModelConfig, train_config: TrainConfig, text: str) -> dict:
    """What reproduces a run, for its train state: the command line, seeds, torch's threads and version, the
    corpus's SHA-256 and the model config."""
    import shlex

    import torch

    return {"command": shlex.join(["python", "-m", "minigpt", *args.argv]), "threads": torch.get_num_threads(),
            "torch_version": torch.__version__, "seeds": {"model": model_config.seed, "train": train_config.seed},
            "corpus_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "model_config": model_config.to_dict()}


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from . import bundled, checkpoint, devices, presets
    from .trainer import EvalReport, SampleReport, StepReport, Trainer, TrainingDiverged, prepare

    is_bundle = args.command == "bundle"
    preset = bundled.PRESET if is_bundle else presets.get(args.preset)
    model_config, train_config = configs_from_args(args, preset.model, preset.train)
    if args.sample_every < 0:
        raise UsageError("--sample-every must be 0 (off) or a positive number of steps.")
    if args.threads is not None:
        if not 1 <= args.threads <= 256:
            raise UsageError("--threads must be between 1 and 256.")
        torch.set_num_threads(args.threads)
    out = Path(args.out or (bundled.path() if is_bundle else f"checkpoints/{preset.name}.safetensors"))
    ddp = _ddp_env()
    rank, world, local_rank = ddp or (0, 1, 0)
    main = rank == 0
    say = (lambda message: print(message, file=sys.stderr, flush=True)) if main else (lambda message: None)
    device = devices.resolve(train_config.device)  # ConfigError now, before any process group exists
    corpus_name, text = load_corpus_text(args.corpus, say, fallback=not is_bundle)
    vocab, rows = prepare(text, model_config)

    if ddp:
        import torch.distributed as dist

        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        trainer = Trainer(model_config, train_config, rows, vocab, compile=args.compile, precision=args.precision,
                          sample_every=args.sample_every if main else 0, sample_prompt=args.sample_prompt)
        say(f"preset {preset.name}: {trainer.model.num_parameters():,} parameters, vocabulary {vocab.size:,} rows "
            f"({model_config.vocab}), corpus {corpus_name} ({len(rows):,} tokens), device {trainer.device}"
            + (f", {world} processes (DistributedDataParallel)" if ddp else ""))
        bar = None
        if main and not args.quiet:
            from tqdm import tqdm

            bar = tqdm(total=train_config.steps, unit="step", dynamic_ncols=True, file=sys.stderr)
        # Evaluations and samples are results: stdout (tqdm.write keeps the bar on stderr intact).
        write = (lambda m: bar.write(m, file=sys.stdout)) if bar is not None else (lambda m: print(m, flush=True))
        last_postfix = [0.0]

        def on_step(r: StepReport) -> None:
            bar.update(1)
            now = time.monotonic()
            if now - last_postfix[0] > 0.25 or r.step == train_config.steps:
                last_postfix[0] = now
                bar.set_postfix_str(f"loss {r.loss:.3f}, {r.tokens_per_s:,.0f} tok/s", refresh=False)

        def on_eval(r: EvalReport) -> None:
            write(f"step {r.step:>6}: train loss {r.train_loss:.4f}, val loss {r.val_loss:.4f}")

        def on_sample(r: SampleReport) -> None:
            write(f"sample at step {r.step}: {r.prompt}{r.text}")

        if main:
            if bar is not None:
                trainer.add_callback("step", on_step)
            trainer.add_callback("eval", on_eval)
            trainer.add_callback("sample", on_sample)
        failure = None
        try:
            trainer.run()
        except TrainingDiverged as exc:
            failure = str(exc)
        except KeyboardInterrupt:
            if ddp:
                raise
            failure = f"Interrupted at step {trainer.step_count}."
        finally:
            if bar is not None:
                bar.close()
        hash_dir = os.environ.get("MINIGPT_DDP_HASH_DIR")
        if hash_dir:  # lets a test check that every rank ends with the same weights
            Path(hash_dir).mkdir(parents=True, exist_ok=True)
            record = {"weights_sha256": weights_sha256(trainer.model), "batch_seed": trainer.generator.initial_seed(),
                      "steps": trainer.step_count, "world_size": world}
            (Path(hash_dir) / f"rank{rank}.json").write_text(json.dumps(record))
        if main:
            state = trainer.train_state()
            state.update(preset=preset.name, corpus=corpus_name, **run_record(args, model_config, train_config, text))
            if failure:
                state["stopped"] = failure
            checkpoint.write(out, trainer.model, vocab, state)
            last = trainer.evals[-1] if trainer.evals else None
            summary = f"{trainer.step_count:,} steps in {trainer.elapsed:.1f} s ({trainer.tokens_per_s:,.0f} tokens/s)"
            if last is not None:
                summary += f"; final train loss {last.train_loss:.4f}, val loss {last.val_loss:.4f}"
            if failure:
                say(f"{failure} The weights of the last good step were written to {out}.")
                return 1
            say(f"{summary}. Wrote {out}")
        return 0
    finally:
        if ddp:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


# -- generate ---------------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    from . import checkpoint
    from .sampling import generate

    path = Path(args.checkpoint)
    if not path.is_file():
        raise UsageError(f"--checkpoint {path}: no such file.")
    try:
        ckpt = checkpoint.load_any(path.read_bytes(), context_length=args.context_length)
    except checkpoint.CheckpointError as exc:
        raise UsageError(f"--checkpoint {path}: {exc}") from None
    generation = generate(ckpt.model, ckpt.vocab, args.prompt, max_new_tokens=args.max_new_tokens,
                          temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    print(args.prompt + ckpt.vocab.decode(generation.new_ids))
    return 0


def cmd_fetch_corpus(args: argparse.Namespace) -> int:
    from . import corpus

    path = corpus.cache_dir() / corpus.SALES_TEXTBOOK_FILE
    had = path.is_file()
    found = corpus.fetch_sales(args.url) if args.url else corpus.fetch_sales()
    verb = "was already cached" if had else "downloaded and cached"
    print(f"The sales textbook {verb} at {path} ({len(found.text):,} characters, SHA-256 checked). "
          "The app and `--corpus sales` now work offline.")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from . import presets

    for preset in presets.PRESETS.values():
        print(f"{preset.name:10} {preset.description('en')}\n{'':10} {preset.description('zh')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .config import ConfigError
    from .corpus import CorpusError
    from .sampling import InputError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        commands = {"train": cmd_train, "bundle": cmd_train, "generate": cmd_generate, "presets": cmd_presets,
                    "fetch-corpus": cmd_fetch_corpus}
        return commands[args.command](args)
    except (UsageError, ConfigError, CorpusError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
