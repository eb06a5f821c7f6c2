"""Background training for the app: a Trainer in a daemon thread, and a process-wide manager that
shares a few training slots fairly between sessions. Nothing here calls Streamlit; a page keeps
the session's id, starts a job through `default_manager()`, and reads `job.snapshot()` on a timer.

    manager = jobs.default_manager()
    job = manager.start(session_id, model_config, train_config, rows, vocab, sample_every=50)
    progress = job.snapshot()        # immutable Progress, safe to read from any thread
    job.pause(); job.resume(); job.stop()
    checkpoint = job.result()        # a copy of the current weights, usable while training goes on
    manager.release(session_id)      # from st.cache_resource(scope="session", on_release=...)

Streamlit forbids st.* calls from other threads: the worker only updates plain fields under a
lock, and `snapshot()` copies them into a frozen object for the page.
"""
from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass
from typing import Callable

import torch

from . import devices
from .checkpoint import Checkpoint, copy_of
from .config import ModelConfig, TrainConfig, parameter_count
from .text import TextError
from .tokenizer import Vocabulary
from .trainer import AttentionSnapshot, EvalReport, SampleReport, Trainer, TrainingDiverged

QUEUED, RUNNING, PAUSED, FINISHED, STOPPED, FAILED = "queued", "running", "paused", "finished", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING, PAUSED)  # these hold a training slot (a paused job keeps its model in memory)
THREAD_PREFIX = "minigpt-train"


def _name_os_thread(name: str) -> None:
    """Give the worker an OS-level name (Linux), so `top -H`, py-spy and /proc/<pid>/task/*/comm show which
    threads train; Python 3.11 names only its own Thread objects. Best effort: elsewhere it does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # 15 = PR_SET_NAME
    except (OSError, AttributeError):
        pass
DEFAULT_MAX_JOBS = 2
DEFAULT_MAX_PARAMS = 20_000_000
DEFAULT_MAX_STEPS = 20_000


class JobRefused(TextError, RuntimeError):
    """A training request over this server's limits, with a message saying what to change or when to retry."""


# -- torch threads ----------------------------------------------------------------------------------
def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


# -- progress ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """What the page shows; built under the job's lock, never changed afterwards."""

    status: str                                  # queued, running, paused, finished, stopped, failed
    step: int                                    # optimizer steps done
    total: int                                   # steps asked for
    loss_steps: tuple[int, ...]                  # x values of the per-step loss curve
    losses: tuple[float, ...]                    # training loss at each of those steps
    lrs: tuple[float, ...]                       # learning rate at each of those steps
    evals: tuple[EvalReport, ...]                # (step, train_loss, val_loss, elapsed) every eval_interval
    tokens: int                                  # tokens seen
    tokens_per_s: float
    elapsed_s: float                             # training time so far (pauses excluded)
    eta_s: float | None                          # seconds to the end at the pace so far; None if unknown/over
    sample: SampleReport | None                  # the latest generated text
    samples: tuple[SampleReport, ...]            # every sample so far (step, prompt, text)
    attention: tuple[AttentionSnapshot, ...]     # (step, weights [blocks, heads, T, T]), at most ~50
    attention_tokens: tuple[str, ...]            # the snapshot sentence's tokens (axis labels)
    failure: TextError | None                    # why it failed (e.g. the NaN explanation), else None

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def error(self) -> str | None:
        """Why it failed, in English (logs, tests); a page shows `text.message(progress.failure, lang)`."""
        return None if self.failure is None else str(self.failure)

    @property
    def latest_eval(self) -> EvalReport | None:
        return self.evals[-1] if self.evals else None


# -- one job ----------------------------------------------------------------------------------------
class TrainingJob:
    """Runs one Trainer in a daemon thread; pause/resume/stop act between steps. before_step(job, steps_done), the
    tests' seam, runs in the worker before each step, outside the lock: it may pause, stop or block the worker at
    an exact step (a test acts there instead of racing a fast loop); a blocking one returns on `stop_requested`."""

    _ids = itertools.count(1)

    def __init__(self, trainer: Trainer, name: str = "", before_step: Callable[[TrainingJob, int], None] | None = None):
        self.id = next(self._ids)
        self._before_step = before_step or (lambda job, steps_done: None)
        self.name = name or f"job{self.id}"
        self.model_config, self.train_config, self.vocab = trainer.model_config, trainer.config, trainer.vocab
        self._trainer: Trainer | None = trainer  # None once freed (model and optimizer dropped)
        self._record = trainer                    # its history, read under the lock, kept after it is freed
        self._lock = threading.Lock()         # guards every field below and the weights during a step
        self._resume = threading.Event()      # set = may run; cleared by pause()
        self._resume.set()
        self._stop = False
        self._status = QUEUED
        self._failure: TextError | None = None
        self._final: Checkpoint | None = None  # kept when the trainer is freed
        self._thread = threading.Thread(target=self._work, name=f"{THREAD_PREFIX}-{self.name}", daemon=True)

    # -- control (any thread) ---------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def pause(self) -> None:
        """Pause after the step in progress: once this returns, no further step starts until resume()."""
        with self._lock:
            if self._status in (QUEUED, RUNNING):
                self._resume.clear()
                self._status = PAUSED

    def resume(self) -> None:
        with self._lock:
            if self._status == PAUSED:
                self._status = RUNNING if self._thread.is_alive() else QUEUED
                self._resume.set()

    def stop(self, wait: float | None = 5.0) -> None:
        """Ask the worker to stop after the current step; wait up to `wait` s for its thread to end."""
        with self._lock:
            self._stop = True
            self._resume.set()
            if not self._thread.is_alive() and self._status in ACTIVE:
                self._status = STOPPED  # never started (or already gone): nothing to wait for
                self._free()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(wait)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True when it has."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def status(self) -> str:
        return self._status

    @property
    def stop_requested(self) -> bool:  # stop() was called: the worker ends before its next step
        return self._stop

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def eta_s(self) -> float | None:
        with self._lock:
            return self._eta()

    def _eta(self) -> float | None:
        return self._record.eta_s() if self._status in (QUEUED, RUNNING) else None

    # -- reading (any thread) --------------------------------------------------------------------
    def snapshot(self) -> Progress:
        with self._lock:
            r = self._record  # the trainer's own history: nothing is mirrored field by field
            return Progress(
                status=self._status, step=r.step_count, total=self.train_config.steps,
                loss_steps=tuple(r.history["step"]), losses=tuple(r.history["loss"]), lrs=tuple(r.history["lr"]),
                evals=tuple(r.evals), tokens=r.tokens, tokens_per_s=r.tokens_per_s,
                elapsed_s=r.elapsed, eta_s=self._eta(),
                sample=r.samples[-1] if r.samples else None, samples=tuple(r.samples),
                attention=tuple(r.attention), attention_tokens=tuple(getattr(r, "attention_tokens", ())),
                failure=self._failure,
            )

    def result(self) -> Checkpoint:
        """A Checkpoint with a copy of the weights as they are now (between two steps); eval mode."""
        with self._lock:
            if self._trainer is not None:
                return self._trainer.checkpoint_copy()
            final = self._final
        if final is None:
            raise RuntimeError("This job has no weights (it was stopped before it was built).")
        return copy_of(final)


    # -- the worker -------------------------------------------------------------------------------
    def _work(self) -> None:
        _name_os_thread(THREAD_PREFIX)
        with self._lock:
            if self._stop:
                self._status = STOPPED
                self._free()
                return
            if self._status == QUEUED:
                self._status = RUNNING
        trainer = self._trainer
        try:
            while True:
                self._before_step(self, trainer.step_count)
                self._resume.wait()
                with self._lock:
                    if self._stop:
                        self._status = STOPPED
                        break
                    if trainer.done:
                        self._status = FINISHED
                        break
                    if not self._resume.is_set():
                        continue  # paused while this thread waited for the lock: no step after pause()
                    trainer.step()  # under the lock: result() never copies half-updated weights
        except TrainingDiverged as exc:
            with self._lock:
                self._status, self._failure = FAILED, exc
        except Exception as exc:  # a worker must never die silently: the page shows why
            with self._lock:
                self._status, self._failure = FAILED, TextError("error.training_failed", kind=type(exc).__name__,
                                                                detail=str(exc))
        finally:
            with self._lock:
                self._free()

    def _free(self) -> None:
        """Drop the optimizer and model (keeping a CPU copy of the weights for result()). Holds the lock."""
        trainer, self._trainer = self._trainer, None
        if trainer is not None:
            self._final = trainer.checkpoint_copy()
            trainer.optimizer = None
            trainer.model = trainer.forward = None


# -- the manager ------------------------------------------------------------------------------------
class JobManager:
    """Process-wide and thread-safe: one job per session, at most max_jobs active at once.

    Limits come from the environment when not given: MINIGPT_MAX_JOBS (2), MINIGPT_MAX_PARAMS
    (20,000,000) and MINIGPT_MAX_STEPS (20,000). Starting a job for a session that already has one
    stops and replaces the old one (the person pressed Train again with new settings).
    """

    def __init__(self, max_jobs: int | None = None, max_params: int | None = None, max_steps: int | None = None):
        self.before_step = None  # given to every job started here (TrainingJob's test seam)
        self.max_jobs = max_jobs or _env_int("MINIGPT_MAX_JOBS", DEFAULT_MAX_JOBS)
        self.max_params = max_params or _env_int("MINIGPT_MAX_PARAMS", DEFAULT_MAX_PARAMS)
        self.max_steps = max_steps or _env_int("MINIGPT_MAX_STEPS", DEFAULT_MAX_STEPS)
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}

    def check(self, model_config: ModelConfig, train_config: TrainConfig, vocab_size: int) -> None:
        """Raise JobRefused when a request is over the size or step limits (slots are checked in start)."""
        n = parameter_count(model_config, vocab_size)
        if n > self.max_params:
            raise JobRefused("error.job_too_many_parameters", n=n, limit=self.max_params)
        if train_config.steps > self.max_steps:
            raise JobRefused("error.job_too_many_steps", steps=train_config.steps, limit=self.max_steps)

    def start(self, session_id: str, model_config: ModelConfig, train_config: TrainConfig, rows: torch.Tensor,
              vocab: Vocabulary, **trainer_options) -> TrainingJob:
        """Build a Trainer and start it in the background for this session.

        Raises JobRefused (limits, busy slots), ConfigError (bad settings) or CorpusError (text too short)
        before anything runs. A job this session already has is stopped and replaced.
        """
        self.check(model_config, train_config, vocab.size)
        devices.bound_threads()
        with self._lock:
            old = self._jobs.pop(session_id, None)
        if old is not None:
            old.stop(wait=5.0)
        with self._lock:
            busy = [job for job in self._jobs.values() if job.status in ACTIVE]
            if len(busy) >= self.max_jobs:
                raise self._busy_refusal(busy)
            trainer = Trainer(model_config, train_config, rows, vocab, **trainer_options)
            job = TrainingJob(trainer, name=str(session_id)[:12], before_step=self.before_step)
            self._jobs[session_id] = job
            job.start()
        return job

    def _busy_refusal(self, busy: list[TrainingJob]) -> JobRefused:
        etas = [eta for eta in (job.eta_s() for job in busy) if eta is not None]
        if etas:
            return JobRefused("error.job_busy_eta", busy=len(busy), slots=self.max_jobs, eta=max(1, round(min(etas))))
        return JobRefused("error.job_busy_wait", busy=len(busy), slots=self.max_jobs)

    def get(self, session_id: str) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(session_id)

    def release(self, session_id: str, wait: float | None = 5.0) -> None:
        """Stop and forget this session's job (for st.cache_resource(scope="session", on_release=...))."""
        with self._lock:
            job = self._jobs.pop(session_id, None)
        if job is not None:
            job.stop(wait=wait)

    def active_count(self) -> int:
        with self._lock:
            return sum(job.status in ACTIVE for job in self._jobs.values())

    def sessions(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def shutdown(self, wait: float | None = 5.0) -> None:
        for session_id in self.sessions():
            self.release(session_id, wait=wait)


_default_lock = threading.Lock()
_default: JobManager | None = None


def default_manager() -> JobManager:
    """The process-wide manager (limits read from the environment on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JobManager()
        return _default
