"""Server time of each "What it learned" view (issue 14), and of the whole chapter page and its Step stages.

    .venv/bin/python bench/why_latency.py                # every view, default and large config
    .venv/bin/python bench/why_latency.py --runs 7 --no-page

Per view: the numbers (one call into minigpt, as ui/why.py makes it) + the figure (minigpt/views/why.py) + its
JSON (what Streamlit sends), in this process. "cold" = a new seed before every run (a new model: nothing cached,
what a student's control change costs); "warm" = the numbers cached as ui/why.py caches them, the figure rebuilt
(a rerun). Head importance and the induction test are cached per model, so their cold cost is paid once per
model. Inputs: the default text (16 tokens) at the default config, and a corpus batch of 4 rows of the full
context at both configs. Configs: the app's default (context 16, d_model 64, 4 heads, 1 block) and
context 64 / d_model 256 / 4 blocks. Page rows: bench/page_latency.py's AppTest timing of pages/inside.py and of
the Step page on a "What it learned" stage. Medians over --runs runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import time

import common
from common import add_common_args, median, set_threads, table, write_json

CONFIGS = {"default": dict(), "ctx64-d256-4blocks": dict(context_length=64, d_model=256, num_blocks=4)}
INPUTS = {"default": ("text", "batch"), "ctx64-d256-4blocks": ("batch",)}
VIEWS = ("knockout (trace + importance)", "logit lens", "head roles (+ patterns)", "gradients (stage + per layer x3)",
         "embedding map (+ positions)")


def setup(config_kw: dict, source: str, seed: int):
    from minigpt import corpus, walkthrough
    from minigpt.model import MiniGPT
    from minigpt.tokenizer import Vocabulary

    text = corpus.builtin().text
    c = walkthrough.Controls(source=source, seed=seed, **config_kw)
    vocab = Vocabulary.from_text(text, "compact")
    rows = corpus.encode_rows(text, vocab)
    model = MiniGPT(c.model_config(), vocab.size).eval()
    walk = walkthrough.make_input(c, vocab, rows, model.config.context_length)
    return model, vocab, rows, walk


def views(model, vocab, corpus_rows, walk, cache: dict):
    """One function per view: numbers (cached in `cache` the way ui/why.py caches them) + figure + JSON. Head
    importance is timed whether or not the page computes it unasked (it asks above ui/why.AUTO_IMPORTANCE_S)."""
    import torch

    from minigpt import embedding_map, gradients, knockout as ko, lens, roles
    from minigpt.model import Switches
    from minigpt.views import why as v
    from minigpt.views.labels import token_labels

    def once(key, build):
        if key not in cache:
            cache[key] = build()
        return cache[key]

    c = model.config
    labels = token_labels([vocab.row_text(r) for r in walk.rows[0].tolist()])
    T = len(labels)
    trace = once("trace", lambda: model.run_with_trace(walk.rows))
    switches = Switches(knockout=ko.Knockout(frozenset({(0, 0)})))

    def knockout():
        knocked = once("knocked", lambda: model.run_with_trace(walk.rows, switches))
        found = once("importance", lambda: ko.head_importance(model, corpus_rows, "mean"))
        names = ko.affected_stages(list(trace), switches.knockout)
        return [v.importance_heatmap(found), v.stage_changes(trace, knocked, names)]

    def logit_lens():
        targets = walk.targets[0] if walk.targets is not None else None
        view = once("lens", lambda: lens.logit_lens(model, trace, targets=targets))
        figs = [v.lens_grid(view, labels, vocab)]
        if targets is not None:
            figs.append(v.lens_grid(view, labels, vocab, target=True))
        return figs

    def head_roles():
        def build():
            used = embedding_map.frequent_rows(corpus_rows, vocab.size, vocab.size, exclude=(vocab.unk_row,))
            return roles.head_roles(model, trace, used)
        scores, chance = once("roles", build)
        weights = torch.stack([trace[f"blocks.{b}.attn.weights"].mean(0) for b in range(c.num_blocks)])
        return [v.roles_heatmap(scores, chance), v.typical_patterns(weights, labels)]

    def grads():
        target = int(trace["probs"][0, -1].argmax())
        variants = [Switches(), Switches(residual=False), Switches(layer_norm=False)]
        found = [once(("grads", i), lambda s=s: gradients.stage_gradients(model, walk.rows[:1], position=T - 1,
                                                                          target=target, switches=s))
                 for i, s in enumerate(variants)]
        series = [(str(i), [x for _, x in gradients.layer_norms(g)]) for i, g in enumerate(found)]
        return [v.gradient_heatmap(found[0], f"blocks.{c.num_blocks - 1}.attn.weights", labels),
                v.gradient_norm_bars(lens.layer_stages(c), series)]

    def embedding():
        def build():
            used = embedding_map.frequent_rows(corpus_rows, vocab.size, 300, exclude=(vocab.unk_row,))
            return embedding_map.project(model.token_embedding.weight, used), embedding_map.project(model.position)
        tokens, positions = once("maps", build)
        names = [vocab.row_text(int(r)) for r in tokens.rows]
        return [v.embedding_map(tokens, names, labelled=25),
                v.embedding_map(positions, [str(i) for i in range(len(positions.rows))], colour_by_order=True)]

    return dict(zip(VIEWS, (knockout, logit_lens, head_roles, grads, embedding)))


def time_views(config_kw: dict, source: str, runs: int) -> dict:
    def one(seed: int, cache: dict) -> dict[str, float]:
        model, vocab, rows, walk = setup(config_kw, source, seed)
        out = {}
        for name, build in views(model, vocab, rows, walk, cache).items():
            t0 = time.perf_counter()
            for fig in build():
                fig.to_json()
            out[name] = time.perf_counter() - t0
        return out

    one(999, {})  # warm-up: imports, first allocations
    cold = [one(1000 + i, {}) for i in range(runs)]
    cache: dict = {}
    one(2000, cache)
    warm = [one(2000, cache) for _ in range(runs)]
    return {name: {"cold_ms": median([c[name] for c in cold]) * 1e3, "warm_ms": median([w[name] for w in warm]) * 1e3}
            for name in VIEWS}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--no-page", dest="page", action="store_false", help="skip the AppTest page rows")
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = p.parse_args(argv)
    if args.threads:
        set_threads(args.threads)
    else:
        from minigpt.devices import bound_threads

        bound_threads()  # the app's own bound (MINIGPT_TORCH_THREADS, default half the cores)
    import torch

    rows, results = [], {}
    for cfg in args.configs:
        kw = CONFIGS[cfg]
        for source in INPUTS[cfg]:
            r = time_views(kw, source, args.runs)
            results[f"{cfg}/{source}"] = r
            for name, ms in r.items():
                rows.append([cfg, source, name, ms["cold_ms"], ms["warm_ms"]])
                print(f"  {cfg:20s} {source:6s} {name:36s} cold {ms['cold_ms']:7.1f} ms  warm {ms['warm_ms']:7.1f} ms",
                      flush=True)
    page_rows = []
    if args.page:
        import page_latency

        page_latency._share_script_cache()
        for cfg in args.configs:
            kw = page_latency.CONFIGS[cfg]
            for label, page, state in (("inside (text)", "inside", {}),
                                       ("inside (batch)", "inside", {"c_source": "batch"}),
                                       ("step why.grads", "step", {"step_stage": "why.grads"}),
                                       ("step why.lens", "step", {"step_stage": "why.lens"})):
                r = page_latency.time_page(page, {**kw, **state}, args.runs)
                page_rows.append([cfg, label, r["cold_ms"], r["warm_ms"], r["figures"], "; ".join(r["errors"]) or "-"])
                print(f"  page {cfg:20s} {label:16s} cold {r['cold_ms']:7.1f} ms  warm {r['warm_ms']:7.1f} ms", flush=True)
    print(f"\ntorch threads: {torch.get_num_threads()}, {args.runs} runs (median)\n")
    print(table(["config", "input", "view", "cold ms (new seed)", "warm ms (cached numbers)"], rows))
    if page_rows:
        print()
        print(table(["config", "page", "cold ms (new seed)", "warm ms (rerun)", "figures", "errors"], page_rows))
    write_json("why_latency", {"threads": torch.get_num_threads(), "runs": args.runs, "views": results,
                               "table": rows, "pages": page_rows}, args.out)
    return results


if __name__ == "__main__":
    main()
