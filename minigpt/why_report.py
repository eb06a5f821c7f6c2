"""Print what chapter 6 ("What it learned") shows for a checkpoint: each head's role scores and importance.

    python -m minigpt.why_report                                  # the bundled model, as the app opens it
    python -m minigpt.why_report --checkpoint model.safetensors --corpus sales --batch

The same calls the app makes (ui/why.py): roles.head_roles on the trace of the input (the sidebar's default
text, or with --batch a corpus batch of 4 rows drawn with the default seed), induction on repeated random
sequences of tokens the corpus uses; knockout.head_importance on the corpus's fixed validation batches, in both
modes. Markdown tables on stdout.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from . import checkpoint, corpus, embedding_map, knockout as ko, roles, walkthrough
from .roles import ROLES


def _checkpoint(path: str | None):
    if path is None:
        from . import bundled

        return bundled.load(), "the bundled model"
    return checkpoint.load_any(Path(path).read_bytes()), path  # ours or the tutorial's model-ckpt.pt


def report(ckpt, corpus_name: str = "builtin", source: str = "text") -> dict:
    model, vocab = ckpt.model.eval(), ckpt.vocab
    found, why = corpus.load(corpus_name)
    if why is not None:
        raise SystemExit(f"The {corpus_name} corpus is not available: {why}")
    text = found.text
    rows = corpus.encode_rows(text, vocab)
    c = walkthrough.Controls(source=source, corpus=corpus_name)
    walk = walkthrough.make_input(c, vocab, rows, model.config.context_length)
    trace = model.run_with_trace(walk.rows)
    pool = embedding_map.frequent_rows(rows, vocab.size, vocab.size, exclude=(vocab.unk_row,))
    scores, chance = roles.head_roles(model, trace, pool)
    importance = {mode: ko.head_importance(model, rows, mode) for mode in ko.MODES}
    return {"scores": scores, "chance": chance, "importance": importance, "tokens": walk.rows.shape[1],
            "rows": walk.rows.shape[0]}


def tables(found: dict) -> str:
    scores, chance, imp = found["scores"], found["chance"], found["importance"]
    B, H, _ = scores.shape
    head = ["head"] + [f"{r} (chance {float(c):.2f})" for r, c in zip(ROLES, chance)]
    head += [f"importance, {m} (Δ val loss)" for m in ko.MODES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in range(B):
        for h in range(H):
            cells = [f"block {b} · head {h}"] + [f"{float(v):.2f}" for v in scores[b, h]]
            cells += [("–" if imp[m] is None else f"{float(imp[m].increase[b, h]):+.4f}") for m in ko.MODES]
            lines.append("| " + " | ".join(cells) + " |")
    base = imp["mean"].base_loss if imp["mean"] is not None else math.nan
    lines.append("")
    lines.append(f"validation loss with every head on: {base:.4f} (4 fixed batches of 8 windows); "
                 f"roles on {found['rows']} row(s) of {found['tokens']} tokens")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="a .safetensors or tutorial .pt file (default: the bundled model)")
    p.add_argument("--corpus", default="builtin", choices=("builtin", "sales"))
    p.add_argument("--batch", action="store_true", help="a corpus batch as the input instead of the default text")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ckpt, name = _checkpoint(args.checkpoint)
    print(f"{name}: {ckpt.config}, step {ckpt.steps}; corpus {args.corpus}; input "
          f"{'a corpus batch' if args.batch else 'the default text'}\n")
    print(tables(report(ckpt, args.corpus, "batch" if args.batch else "text")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
