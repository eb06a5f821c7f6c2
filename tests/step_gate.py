"""StepGate: hold a background training job at an exact step, so a test acts mid-run without racing it.

    gate = StepGate(hold=10)
    job = TrainingJob(trainer, before_step=gate).start()    # or manager.before_step = gate
    gate.wait_held(10)          # the worker waits before step 11, status still "running"
    job.pause()                 # ...the test acts at step 10, however fast or slow the machine is
    gate.release(hold=20)       # go on, and wait again once 20 steps are done (None: run freely)

A held worker also goes on once the job is asked to stop, so stop() (and the page's Stop button, and a
manager replacing or releasing the job) ends it as it would a running one.
"""
from __future__ import annotations

import threading
import time

HOLD_LIMIT_S = 300.0  # a test that failed while the worker was held never leaves it waiting for good
WAIT_LIMIT_S = 120.0  # how long wait_held waits for the worker (a slow, busy machine is still fine)


class StepGate:
    """A TrainingJob before_step hook (see minigpt.jobs.TrainingJob) that the test opens and closes."""

    def __init__(self, hold: int | None = None):
        self._changed = threading.Condition()
        self._hold = hold                   # the worker waits once this many steps are done; None = never
        self._held_at: int | None = None    # steps done where the worker waits now

    def __call__(self, job, steps_done: int) -> None:
        with self._changed:
            if self._hold is None or steps_done < self._hold:
                return
            self._held_at = steps_done
            self._changed.notify_all()
            give_up = time.monotonic() + HOLD_LIMIT_S
            while self._hold is not None and steps_done >= self._hold and not job.stop_requested:
                if time.monotonic() > give_up:
                    break
                self._changed.wait(0.01)  # stop() notifies nobody: look at stop_requested again soon
            self._held_at = None
            self._changed.notify_all()

    def wait_held(self, steps: int, timeout_s: float = WAIT_LIMIT_S) -> None:
        """Return once the worker waits with exactly `steps` steps done."""
        with self._changed:
            held = self._changed.wait_for(lambda: self._held_at is not None, timeout_s)
            assert held, f"the worker never reached step {steps} within {timeout_s:.0f} s"
            assert self._held_at == steps, f"the worker waits at step {self._held_at}, not {steps}"

    def release(self, hold: int | None = None) -> None:
        """Let the worker go on, to wait again once `hold` steps are done (None: never again)."""
        with self._changed:
            self._hold = hold
            self._held_at = None  # until the worker waits again (wait_held must not see the old hold)
            self._changed.notify_all()
