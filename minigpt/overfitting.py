"""When validation loss has been rising: the one definition behind the Train page's notice, and what to try.

A run **overfits** (here) when its last `PATIENCE` evaluations all come after its best validation loss, each is
above that best by more than `MARGIN` nats, and the training loss at the latest evaluation is below the training
loss at the best step: the model keeps fitting its training text better while text it has not seen gets worse
(it memorises). When the training loss rose too, that is not overfitting but an unstable run (the learning rate,
most often): the verdict is "unstable". Pure functions of the evaluations; no torch, no Streamlit.

    v = verdict(progress.evals)          # evals: objects with .step, .train_loss, .val_loss (trainer.EvalReport)
    v.kind, v.best.step, v.rise          # "overfitting", 100, 0.42
    for key, values in advice(v, ...):   # text keys (trainlive.try_*) with their values, true for this run
        t(key, lang, **values)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

PATIENCE = 2    # evaluations in a row above the best
MARGIN = 0.05   # nats: a rise smaller than this is noise on the fixed validation batches
NONE, OVERFITTING, UNSTABLE = "none", "overfitting", "unstable"


@dataclass(frozen=True)
class Verdict:
    kind: str          # NONE, OVERFITTING or UNSTABLE
    best: object       # the evaluation with the lowest validation loss (the first, on a tie); None without evals
    latest: object     # the last evaluation; None without evals
    rising: int        # how many of the latest evaluations in a row are above the best by more than the margin

    @property
    def rise(self) -> float:
        """Latest validation loss minus the best one (0 when the latest is the best)."""
        return 0.0 if self.best is None else self.latest.val_loss - self.best.val_loss

    @property
    def warns(self) -> bool:
        return self.kind != NONE


def best_eval(evals: Sequence):
    """The evaluation with the lowest validation loss (the earliest on a tie), or None."""
    return min(evals, key=lambda e: e.val_loss) if evals else None


def verdict(evals: Sequence, patience: int = PATIENCE, margin: float = MARGIN) -> Verdict:
    """Whether validation loss has been rising: see the module's docstring for the definition."""
    if patience < 1 or margin < 0:
        raise ValueError(f"patience must be >= 1 and margin >= 0, got {patience} and {margin}.")
    if not evals:
        return Verdict(NONE, None, None, 0)
    best, latest = best_eval(evals), evals[-1]
    rising = 0
    for e in reversed(evals):
        if e.step <= best.step or e.val_loss <= best.val_loss + margin:
            break
        rising += 1
    if rising < patience:
        return Verdict(NONE, best, latest, rising)
    kind = OVERFITTING if latest.train_loss < best.train_loss else UNSTABLE
    return Verdict(kind, best, latest, rising)


def advice(v: Verdict, *, steps: int, train_tokens: int, tokens_seen: int, parameters: int, dropout: float,
           learning_rate: float, corpus: str) -> list[tuple[str, dict]]:
    """What to try, as (text key, values) pairs, each true for this run: fewer steps (the best step), more data
    (how often each training token was seen; the sales textbook when the corpus is not it), dropout (when it is
    below 0.2), a smaller model (when it has more parameters than training tokens). An unstable run gets one:
    a smaller learning rate."""
    if not v.warns:
        return []
    if v.kind == UNSTABLE:
        return [("trainlive.try_lower_lr", dict(lr=f"{learning_rate:g}"))]
    tips = [("trainlive.try_fewer_steps", dict(best=v.best.step, steps=steps))]
    epochs = tokens_seen / max(1, train_tokens)
    key = "trainlive.try_more_data" if corpus == "sales" else "trainlive.try_more_data_sales"
    tips.append((key, dict(tokens=train_tokens, epochs=f"{epochs:.0f}")))
    if dropout < 0.2:
        tips.append(("trainlive.try_dropout", dict(dropout=f"{dropout:g}")))
    if parameters > train_tokens:
        tips.append(("trainlive.try_smaller", dict(params=parameters, tokens=train_tokens)))
    return tips
