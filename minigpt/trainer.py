"""One training loop for the app, the command line and the benchmarks (no Streamlit here); its reports,
data preparation and schedule live in minigpt/training.py and are importable from here too.

    vocab, rows = prepare(text, model_config)
    trainer = Trainer(model_config, train_config, rows, vocab)
    trainer.add_callback("eval", lambda r: print(r.step, r.train_loss, r.val_loss))
    trainer.run()                      # or: while not trainer.done: trainer.step()

`step()` does one optimizer step (plus any evaluation, sample or attention snapshot due after it),
so a background worker can pause, resume or stop between steps. Reports go to callbacks
(minGPT style) and, for code that prefers a loop, through `reports()`:

    for report in trainer.reports():   # StepReport, EvalReport, SampleReport, AttentionSnapshot
        ...

The step is the fast path: `model(rows, targets)`, one `.item()`-like sync per step (the loss and
the gradient norm read together), parameters and gradients in one flat buffer per AdamW group
(minigpt/flat.py: fused AdamW, the norm and zeroing touch 2 tensors). A non-finite loss or gradient
stops training *before* the optimizer applies it, so the weights stay those of the last good step.
"""
from __future__ import annotations

import copy
import math
import time
from typing import Callable, Iterator

import torch
import torch.nn as nn

from . import corpus, devices
from .config import ConfigError, ModelConfig, TrainConfig
from .flat import FlatParameters
from .model import MiniGPT
from .sampling import InputError, generate, tokenize
from .tokenizer import Vocabulary
from .gradients import snapshot_extras
from .training import (EVENTS, AttentionSnapshot, EvalReport, SampleReport, StepReport, TrainingDiverged,  # noqa: F401
                       distributed_rank, dropout_rng_state, lr_at, parameter_groups, prepare, rng_state, set_rng_state)  # noqa: F401

MAX_ATTENTION_SNAPSHOTS = 50
DEFAULT_SAMPLE_PROMPT = "The customer"
DEFAULT_ATTENTION_TEXT = "Build trust with the customer before you talk about the price."


# -- the loop ---------------------------------------------------------------------------------------
class Trainer:
    """Trains one MiniGPT on a corpus's rows; usable step by step or with run().

    rows: 1-D LongTensor of embedding rows of the whole corpus (see `prepare`); split 90/10 here.
    vocab: the Vocabulary the rows came from (its size sets the model's; needed for samples).
    sample_every / attention_every: 0 turns samples / attention snapshots off.
    attention_text: the fixed sentence whose attention is snapshotted (cropped to the context).
    compile: wrap the model in torch.compile (off by default; see README for whether it helps).
    precision: "fp32" (default) or "bf16" (torch.autocast around the training forward pass; weights,
    gradients, optimizer and evaluations stay fp32).
    flat: keep each optimizer group's parameters in one flat buffer (default; off under DDP). False gives
    the per-parameter layout (the benchmarks compare both).
    Under an initialised torch.distributed process group the model is wrapped in
    DistributedDataParallel and each rank draws its own batches (seed + rank).
    """

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        rows: torch.Tensor,
        vocab: Vocabulary,
        *,
        sample_every: int = 0,
        sample_prompt: str = DEFAULT_SAMPLE_PROMPT,
        sample_tokens: int = 30,
        attention_every: int = 0,
        attention_text: str = DEFAULT_ATTENTION_TEXT,
        max_attention_snapshots: int = MAX_ATTENTION_SNAPSHOTS,
        compile: bool = False,
        precision: str = "fp32",
        flat: bool = True,
    ):
        if not isinstance(rows, torch.Tensor) or rows.dim() != 1 or rows.dtype != torch.long:
            raise TypeError("rows must be a 1-D LongTensor of embedding rows (see minigpt.trainer.prepare).")
        if model_config.vocab != vocab.mode:
            raise ConfigError("error.config_vocab_mismatch", config_vocab=model_config.vocab, rows_vocab=vocab.mode)
        if len(rows) and int(rows.max()) >= vocab.size:
            raise ConfigError("error.config_rows_outside")
        for name, value in (("sample_every", sample_every), ("attention_every", attention_every)):
            if value < 0:
                raise ConfigError("error.config_steps_every", name=name, value=value)
        self.model_config, self.config, self.vocab = model_config, train_config, vocab
        self.precision = devices.check_precision(precision)  # bf16: autocast around the training forward pass
        T, B = model_config.context_length, train_config.batch_size
        self.train_rows, self.val_rows = corpus.split(rows)
        # Refuse a too-short corpus now, with a clear message, rather than at the first evaluation.
        corpus.check_length(self.train_rows, T, "train")
        corpus.check_length(self.val_rows, T, "val")

        self.device = devices.resolve(train_config.device)
        self.rank, self.world_size = distributed_rank()
        if self.world_size > 1 and self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())  # set per rank from LOCAL_RANK
        self.model = MiniGPT(model_config, vocab.size).to(self.device).train()
        self.forward = self.model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward = DistributedDataParallel(self.model, device_ids=ids)
        groups = parameter_groups(self.model, train_config.weight_decay)
        # One flat buffer per group (minigpt/flat.py): AdamW, the norm and zeroing touch 2 tensors, not ~100.
        # Not under DDP, which keeps gradients in its own buckets.
        self._flat = FlatParameters(groups) if flat and self.world_size == 1 else None
        if compile:
            self.forward = torch.compile(self.forward)
        fused = self.device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.AdamW(self._flat.groups if self._flat else groups, lr=lr_at(0, train_config),
                                           fused=fused)
        self.generator = torch.Generator().manual_seed(train_config.seed + self.rank)
        self._dropout_state = (
            dropout_rng_state(self.device, train_config.seed + self.rank) if model_config.dropout > 0 else None
        )
        # Fixed evaluation batches (the same each time: a smoother curve, and eval never moves the
        # training batch stream). Under DDP each rank holds different ones and the means are averaged.
        eval_gen = torch.Generator().manual_seed(train_config.seed + 1_000_003 + self.rank)
        self._eval_batches = {
            split: [corpus.get_batch(data, B, T, eval_gen)[:2] for _ in range(train_config.eval_batches)]
            for split, data in (("train", self.train_rows), ("val", self.val_rows))
        }
        self.sample_every, self.sample_prompt, self.sample_tokens = sample_every, sample_prompt, sample_tokens
        self.attention_every = attention_every
        self._attention_stride = max(1, attention_every)  # doubles each time the snapshots are thinned
        self.max_attention_snapshots = max(2, max_attention_snapshots)
        self._attention_rows = None
        self.attention_tokens: tuple[str, ...] = ()  # the snapshot sentence's tokens (heatmap labels)
        if attention_every:
            try:
                text_rows = tokenize(vocab, attention_text, T).rows
            except InputError as exc:
                raise ConfigError("error.config_attention_text", reason=exc) from None
            self._attention_rows = torch.tensor([text_rows], device=self.device)
            self.attention_tokens = tuple(vocab.row_text(r) for r in text_rows)

        self.step_count = 0
        self.tokens = 0
        self.elapsed = 0.0          # wall time inside step(), evaluations included
        self.train_time = 0.0       # wall time of optimizer steps only (for tokens/s)
        self.history: dict[str, list] = {"step": [], "loss": [], "lr": []}
        self.evals: list[EvalReport] = []
        self.samples: list[SampleReport] = []
        self.attention: list[AttentionSnapshot] = []
        self._callbacks: dict[str, list[Callable]] = {event: [] for event in EVENTS}
        self._outbox: list | None = None
        self._tokens_per_step = B * T * self.world_size
        self._clip = train_config.grad_clip if train_config.grad_clip > 0 else math.inf

    # -- reporting ------------------------------------------------------------------------------
    def add_callback(self, event: str, callback: Callable) -> None:
        """Call callback(report) on 'step' (StepReport), 'eval', 'sample' or 'attention'."""
        if event not in EVENTS:
            raise ValueError(f"Unknown event {event!r}; use one of {', '.join(EVENTS)}.")
        self._callbacks[event].append(callback)

    def _emit(self, event: str, report) -> None:
        for callback in self._callbacks[event]:
            callback(report)
        if self._outbox is not None:
            self._outbox.append(report)

    @property
    def total_steps(self) -> int:
        return self.config.steps

    @property
    def done(self) -> bool:
        return self.step_count >= self.config.steps

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_time if self.train_time > 0 else 0.0

    def eta_s(self) -> float | None:
        """Seconds to the end at the pace so far (None before the first step)."""
        if self.step_count == 0 or self.elapsed <= 0:
            return None
        return (self.config.steps - self.step_count) * self.elapsed / self.step_count

    # -- one step -------------------------------------------------------------------------------
    def step(self) -> StepReport | None:
        """One optimizer step, then whatever evaluation/sample/snapshot is due. None when already done.

        Raises TrainingDiverged (weights unchanged by the bad step) when the loss or gradient is not finite.
        """
        if self.done:
            return None
        started = time.perf_counter()
        if self.step_count == 0 and not self.evals:
            self._scheduled(started)  # the "before training" evaluation and snapshot
            started = time.perf_counter()
        lr = lr_at(self.step_count, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y, _ = corpus.get_batch(self.train_rows, self.config.batch_size, self.model_config.context_length, self.generator)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self._dropout_state is not None:
            outer = rng_state(self.device)
            set_rng_state(self.device, self._dropout_state)
        if self._flat is not None:
            self._flat.attach()
        try:
            with devices.autocast(self.device, self.precision):
                _, loss = self.forward(x, y)
            loss.backward()
        finally:
            if self._dropout_state is not None:
                self._dropout_state = rng_state(self.device)
                set_rng_state(self.device, outer)
        params = self._flat.buffers if self._flat is not None else self.model.parameters()
        if self._clip < math.inf:
            norm = nn.utils.clip_grad_norm_(params, self._clip, foreach=True)
        else:  # no clipping: the norm is still needed to catch an infinite gradient
            norm = nn.utils.get_total_norm([p.grad for p in params if p.grad is not None], foreach=True)
        check = torch.stack([loss.detach(), norm])
        if self.world_size > 1:
            torch.distributed.all_reduce(check)
            check /= self.world_size
        loss_value, norm_value = check.tolist()  # the step's one sync with the device
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
            self._zero_grad()
            what = "loss" if not math.isfinite(loss_value) else "gradient"
            kind = "nan" if math.isnan(loss_value if what == "loss" else norm_value) else "inf"
            raise TrainingDiverged(f"error.diverged_{what}_{kind}", step=self.step_count + 1, lr=lr,
                                   good=self.step_count)
        self.optimizer.step()
        self._zero_grad()
        self.step_count += 1
        self.tokens += self._tokens_per_step
        now = time.perf_counter()
        self.train_time += now - started
        self.elapsed += now - started
        history = self.history
        history["step"].append(self.step_count)
        history["loss"].append(loss_value)
        history["lr"].append(lr)
        report = StepReport(self.step_count, loss_value, lr, self.tokens, self.elapsed, self.tokens_per_s)
        self._emit("step", report)
        self._scheduled(now)
        return report

    def _zero_grad(self) -> None:
        if self._flat is not None:
            self._flat.zero_grad()  # the flat gradients stay (the parameters' .grad are views of them)
        else:
            self.optimizer.zero_grad(set_to_none=True)

    def _scheduled(self, started: float) -> None:
        n, last = self.step_count, self.done
        if n % self.config.eval_interval == 0 or last:
            self._emit("eval", self.evaluate())
        if self.sample_every and (n % self.sample_every == 0 or last) and n > 0:
            self._emit("sample", self.sample())
        if self.attention_every and (n % self._attention_stride == 0 or last):
            self._emit("attention", self.snapshot_attention())
        self.elapsed += time.perf_counter() - started

    def run(self, steps: int | None = None) -> "Trainer":
        """Run to the end (or `steps` more steps). Raises TrainingDiverged on NaN/inf."""
        target = self.config.steps if steps is None else min(self.config.steps, self.step_count + steps)
        while self.step_count < target:
            self.step()
        return self

    def reports(self, steps: int | None = None) -> Iterator:
        """Run like run(), yielding every report (StepReport, EvalReport, SampleReport, AttentionSnapshot)."""
        target = self.config.steps if steps is None else min(self.config.steps, self.step_count + steps)
        self._outbox = []
        try:
            while self.step_count < target:
                self.step()
                outbox, self._outbox = self._outbox, []
                yield from outbox
        finally:
            self._outbox = None

    # -- looking at the model -------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> EvalReport:
        """Mean loss over the fixed train and validation batches (eval mode, no dropout, no grad)."""
        self.model.eval()
        try:
            means = []
            for split in ("train", "val"):
                total = torch.zeros((), device=self.device)
                for x, y in self._eval_batches[split]:
                    total += self.model(x.to(self.device), y.to(self.device))[1]
                means.append(total / len(self._eval_batches[split]))
            both = torch.stack(means)
            if self.world_size > 1:
                torch.distributed.all_reduce(both)
                both /= self.world_size
            train_loss, val_loss = both.tolist()
        finally:
            self.model.train()
        report = EvalReport(self.step_count, train_loss, val_loss, self.elapsed)
        self.evals.append(report)
        return report

    def sample(self, prompt: str | None = None, max_new_tokens: int | None = None, seed: int = 0) -> SampleReport:
        """Text generated from the current weights (minigpt.sampling.generate)."""
        prompt = self.sample_prompt if prompt is None else prompt
        generation = generate(self.model, self.vocab, prompt, max_new_tokens=max_new_tokens or self.sample_tokens,
                              temperature=1.0, top_k=0, seed=seed)
        report = SampleReport(self.step_count, prompt, self.vocab.decode(generation.new_ids))
        self.samples.append(report)
        return report

    def snapshot_attention(self) -> AttentionSnapshot:
        """Attention weights [blocks, heads, T, T] on the fixed sentence; at most max_attention_snapshots kept.

        When the list is full the snapshot interval doubles and every other snapshot is dropped
        (step 0 is kept), so the kept ones stay evenly spaced from step 0 to now.
        """
        if self._attention_rows is None:
            raise ConfigError("error.config_attention_off")
        trace = self.model.run_with_trace(self._attention_rows)
        weights = torch.stack([trace[f"blocks.{i}.attn.weights"][0] for i in range(self.model_config.num_blocks)])
        extras = snapshot_extras(self.model, self._attention_rows, self.train_rows, self.vocab)
        snapshot = AttentionSnapshot(self.step_count, weights.float().cpu().clone(), *extras)
        if len(self.attention) >= self.max_attention_snapshots:
            self._attention_stride *= 2
            self.attention = [s for s in self.attention if s.step % self._attention_stride == 0]
        self.attention.append(snapshot)
        return snapshot

    # -- saving -----------------------------------------------------------------------------------------
    def train_state(self) -> dict:
        """JSON-able summary for checkpoint.write(..., train_state=...)."""
        return {
            "train_config": self.config.to_dict(),
            "steps": self.step_count,
            "tokens": self.tokens,
            "wall_time_s": round(self.elapsed, 3),
            "world_size": self.world_size,
            "history": {"step": list(self.history["step"]), "loss": [round(v, 5) for v in self.history["loss"]]},
            "evals": [{"step": e.step, "train_loss": round(e.train_loss, 5), "val_loss": round(e.val_loss, 5)}
                      for e in self.evals],
        }

    def state_dict(self) -> dict:
        """Everything needed to continue from this step exactly: weights, optimizer, batch RNG, history."""
        return {
            "step": self.step_count,
            "tokens": self.tokens,
            "elapsed": self.elapsed,
            "train_time": self.train_time,
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "generator": self.generator.get_state(),
            "dropout_rng": None if self._dropout_state is None else self._dropout_state.clone(),
            "history": {k: list(v) for k, v in self.history.items()},
            "evals": list(self.evals),
            "samples": list(self.samples),
            "attention": list(self.attention),
            "attention_stride": self._attention_stride,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        if state.get("dropout_rng") is not None:
            self._dropout_state = state["dropout_rng"].clone()
        self.step_count, self.tokens = state["step"], state["tokens"]
        self.elapsed, self.train_time = state["elapsed"], state["train_time"]
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.evals, self.samples = list(state["evals"]), list(state["samples"])
        self.attention = list(state["attention"])
        self._attention_stride = state.get("attention_stride", self._attention_stride)

    def checkpoint_copy(self):
        """A minigpt.checkpoint.Checkpoint holding a deep copy of the current weights (eval mode)."""
        from .checkpoint import copy_of

        return copy_of(self.model, self.vocab, self.train_state())
