"""AppTest of the Train page as a run is watched (issue 12, item 6): the overfitting notice appears once validation
loss has been rising, and not while it falls; the validation metric's delta is against the best evaluation; what
was trained is what the sidebar shows; Compare's untrained side is the trained model's own architecture and seed.

Runs are short and held at exact steps (tests/step_gate.py), so what the page shows is known at each rerun."""
from __future__ import annotations

import json

import pytest

from minigpt import jobs, overfitting, presets
from tests.step_gate import StepGate
from tests.test_train_page import _figure, _page, no_leftover_jobs  # noqa: F401 (a fixture)

pytestmark = pytest.mark.timeout(180)


def _job(manager) -> jobs.TrainingJob:
    (session,) = manager.sessions()
    return manager.get(session)


def _notices(at, word: str) -> list[str]:
    return [w.value for w in at.warning if word in w.value]


def _metric(at, label: str):
    return next(m for m in at.metric if m.label == label)


def _change_sidebar(at) -> None:
    for name, value in (("num_blocks", 1), ("norm", "post"), ("seed", 7)):
        at.session_state["c_" + name] = value


def test_the_overfitting_notice_appears_once_validation_loss_rises(no_leftover_jobs):
    at = _page("pages/train.py")
    # The sidebar's model (the notebook's: one post-LN block, context 16) at a high constant learning rate on the
    # 7k-token primer: validation loss is lowest near step 50, and far above it from step 70 on.
    at.selectbox(key="train_preset").set_value("custom").run()
    for key, value in (("train_steps", 90), ("train_learning_rate", 0.01), ("train_eval_interval", 10),
                       ("train_warmup_steps", 0)):
        at.number_input(key=key).set_value(value).run()
    at.radio(key="train_lr_schedule").set_value("constant").run()
    no_leftover_jobs.before_step = gate = StepGate(hold=40)
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    gate.wait_held(40)
    at.run()
    job = _job(no_leftover_jobs)
    falling = job.snapshot().evals
    assert [e.step for e in falling] == [0, 10, 20, 30, 40] and falling[-1].val_loss < falling[1].val_loss
    assert not _notices(at, "Overfitting")  # validation loss still falling: no notice
    assert _metric(at, "validation loss").delta == "the best so far"

    gate.release(None)
    assert job.join(120) and job.status == jobs.FINISHED
    at.run()
    assert not at.exception
    evals = job.snapshot().evals
    v = overfitting.verdict(evals)
    assert v.kind == overfitting.OVERFITTING, [(e.step, e.train_loss, e.val_loss) for e in evals]
    (notice,) = _notices(at, "Overfitting")
    assert f"({v.best.val_loss:.3f} at step {v.best.step})" in notice and f"now {v.latest.val_loss:.3f}" in notice
    assert f"lowest at step {v.best.step} of 90" in notice and "sales textbook" in notice  # what to try, for this run
    val = _metric(at, "validation loss")  # against the best evaluation, not the first
    assert val.value == f"{v.latest.val_loss:.3f}"
    assert val.delta == f"{v.latest.val_loss - v.best.val_loss:+.3f} vs best (step {v.best.step})"
    assert v.latest.val_loss < evals[0].val_loss  # the first evaluation would have shown a fall
    spec = _figure(at, "Loss during training")
    star = [d for d in spec["data"] if d.get("name", "").startswith("best validation loss")]
    assert star and star[0]["x"] == [v.best.step]


def test_the_sidebar_shows_what_was_trained_and_compare_shows_its_untrained_twin(no_leftover_jobs):
    at = _page("pages/train.py")
    assert at.session_state["train_preset"] == "offline"  # the built-in corpus: the preset that does not overfit it
    # The sidebar shows its default (one post-LN block), and the page says what Start will change there.
    assert any("Start also sets the sidebar" in c.value and "num_blocks 1 → 2, norm post → pre" in c.value
               for c in at.caption)
    at.number_input(key="train_steps").set_value(4).run()
    at.number_input(key="train_eval_interval").set_value(2).run()
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    job = _job(no_leftover_jobs)
    assert job.join(120) and job.status == jobs.FINISHED
    at.run()
    trained = at.session_state["trained_checkpoint"].config
    assert (trained.num_blocks, trained.norm, trained.context_length) == (2, "pre", 32)
    # Start copied the preset's model into the sidebar; the page checks the sidebar against the trained config in
    # the same run (AppTest's view of session state drops the sidebar's keys after switch_page, see
    # tests/test_train_page.py), and says so only when every field matches.
    assert any("The sidebar's hyperparameters now show the model being trained (context_length 16 → 32, "
               "num_blocks 1 → 2, norm post → pre" in c.value for c in at.caption)
    (ready,) = [s.value for s in at.success]
    assert "The sidebar still shows fresh random weights" in ready  # true: its model is still the fresh one

    # Compare, before "Look at it" and with the sidebar changed meanwhile: the trained model against its own
    # untrained twin (2 pre-LN blocks, seed 1337), not a model built from the sidebar (1 block, seed 7).
    _change_sidebar(at)
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert (at.session_state["cmp_a"], at.session_state["cmp_b"]) == ("trained", "trained_untrained")
    right = at.selectbox(key="cmp_b")
    assert right.value == "trained_untrained" and "untrained (step 0, seed 1337)" in right.format_func(right.value)
    stages = at.selectbox(key="cmp_stage").options
    assert any(s.endswith("· block 1") for s in stages), stages  # both sides have the trained model's 2 blocks

    at.switch_page("pages/train.py").run()
    _change_sidebar(at)  # still changed
    at.button(key="train_open_walkthrough").click().run()  # "Look at it": the sidebar switches to the trained model
    assert not at.exception and at.session_state["c_model"] == "trained"
    for name in presets.SIDEBAR_FIELDS:  # ...and its hyperparameters to the trained model's
        assert at.session_state["c_" + name] == getattr(trained, name), name
    at.session_state["c_model"] = "trained"  # AppTest drops the unrendered sidebar key (see tests/test_train_page.py)
    at.switch_page("pages/compare.py").run()
    assert (at.session_state["cmp_a"], at.session_state["cmp_b"]) == ("current", "untrained")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "this model untrained (step 0, seed 1337)" in json.dumps(spec["layout"], ensure_ascii=False)
