"""The time budget: the plan's arithmetic, and a Trainer on a fake clock (no real timing)."""

import dataclasses

import pytest
from _tiny_training import (
    FakeClock,
    StopAt,
    Ticking,
    make,
    one_thread,  # noqa: F401 - an autouse fixture: one torch thread
)

from llmwidgets.training.budget import TimeBudget
from llmwidgets.training.trainer import lr_at


# ------------------------------------------------------------------ arithmetic
def test_plan_by_hand():
    b = TimeBudget(100.0, margin=0.0)
    for t in (5.0, 1.0, 1.0, 1.0, 1.0):  # a slow first step: the median ignores it
        b.add(t)
    assert b.used == 9.0 and b.seconds_per_step() == 1.0
    assert b.plan(step=5, eval_every=None) == 5 + 91  # 91 s left, 1 s a step
    b.add(1.0, eval_seconds=4.0)  # step 6, with an evaluation of 4 s
    assert b.used == 14.0 and b.eval_time == 4.0
    # n more steps cost n * 1 + (n / 10 + 1) * 4: (86 - 4) / 1.4 = 58.57 -> 58
    assert b.plan(step=6, eval_every=10) == 6 + 58
    assert not b.expired and not b.frozen


def test_plan_estimates_an_evaluation_it_has_not_seen():
    b = TimeBudget(31.0, margin=0.0)
    b.add(1.0)
    # 30 s left; an evaluation of 3 batches is estimated at 3 * 1/3 = 1 s:
    # (30 - 1) / (1 + 1 / 10) = 26.36 -> 26
    assert b.plan(step=1, eval_every=10, eval_batches=3) == 27


def test_margin_expiry_and_the_window():
    b = TimeBudget(10.0)  # 2 % margin: plans for 9.8 s
    b.add(0.5)
    assert b.plan(step=1, eval_every=None) == 1 + 18  # (9.8 - 0.5) / 0.5 = 18.6
    for _ in range(60):
        b.add(0.1)
    assert len(b.step_times) == 50 and b.used == pytest.approx(6.5)
    b.add(4.0)
    assert b.expired and b.frozen and b.plan(step=62, eval_every=None) == 62  # nothing fits


def test_replan_rule():
    b = TimeBudget(100.0, margin=0.0)
    b.add(1.0)
    b.add(1.0)
    assert b.replan(2, warmup_steps=0, evaluated=False, eval_every=None) is None  # 2 measured
    b.add(1.0)
    assert b.replan(3, warmup_steps=5, evaluated=False, eval_every=None) is None  # warm-up
    assert b.replan(5, warmup_steps=5, evaluated=False, eval_every=None) == 5 + 97
    assert b.replan(6, warmup_steps=5, evaluated=False, eval_every=None) is None  # planned
    assert b.replan(6, warmup_steps=5, evaluated=True, eval_every=None) == 6 + 97
    b.used = 95.0
    assert b.replan(7, warmup_steps=5, evaluated=True, eval_every=None) is None  # frozen


def test_state_round_trip_and_bad_values():
    b = TimeBudget(60.0)
    b.add(1.5, eval_seconds=0.5)
    c = TimeBudget(60.0)
    c.load_state_dict(b.state_dict())
    assert (c.used, c.step_times, c.eval_time) == (2.0, [1.5], 0.5)
    with pytest.raises(ValueError, match="seconds must be a finite number > 0, got 0"):
        TimeBudget(0)
    with pytest.raises(ValueError, match=r"margin must be .* in \[0, 1\), got 1"):
        TimeBudget(10, margin=1)
    with pytest.raises(ValueError, match="step_seconds must be a finite number >= 0"):
        b.add(-1.0)
    with pytest.raises(ValueError, match="needs at least one measured step"):
        TimeBudget(5.0).plan(1, None)


# ------------------------------------------------------------ the Trainer's budget
def budgeted(clock, callbacks=(), validate=True, **overrides):
    """1 s per training step, 0.25 s per evaluation batch (2 batches: 0.5 s)."""
    settings = dict(max_steps=1000, warmup_steps=5, eval_every=10, eval_iters=2, max_seconds=60.0)
    settings.update(overrides)
    model = Ticking(clock)
    callbacks = [c(model) if isinstance(c, type) else c for c in callbacks]
    return make(model=model, clock=clock, callbacks=callbacks, validate=validate, **settings)


def test_the_run_ends_on_time_with_the_cosine_and_a_final_evaluation():
    clock = FakeClock()
    trainer = budgeted(clock)
    history = trainer.fit()
    # Planned after the warm-up (step 5) from the measured speed, re-planned after each
    # evaluation: steps 1..55 and 6 evaluations take 55 + 6 * 0.5 = 58 s, within the
    # 58.8 s left by the 2 % margin (one step more would need 59 s).
    assert trainer.step == trainer.last_step == 55 and trainer.stop_reason is None
    assert trainer.budget.used == clock.now == 58.0 <= 60.0
    assert history.series("val_loss")[0] == [10, 20, 30, 40, 50, 55]
    steps, lrs = history.series("lr")
    assert lrs[-1] == pytest.approx(trainer.config.min_lr)  # the cosine ended on time
    assert lrs[:5] == [lr_at(s, trainer.config) for s in range(1, 6)]  # the warm-up
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:], strict=False))  # then only down
    assert history.series("tokens_per_sec")[1][0] == 32.0  # 4 x 8 tokens in 1 fake second
    trainer.fit()  # nothing more to do
    assert trainer.step == 55


class SlowDown:
    """From step 30 on, a step takes 5 s instead of 1 s (another program woke up)."""

    def __init__(self, model):
        self.model = model

    def on_step_end(self, step, metrics):
        if step == 30:
            self.model.train_cost = 5.0


def test_a_slowdown_stops_the_run_when_the_time_is_spent():
    clock = FakeClock()
    trainer = budgeted(clock, callbacks=[SlowDown])
    trainer.fit()
    assert trainer.stop_reason == "time budget of 60 s spent"
    assert trainer.step < trainer.last_step
    assert 60.0 <= trainer.budget.used < 60.0 + 5.5  # stopped by the first step past it
    steps_done = trainer.step
    trainer.fit()  # the budget is spent: no more steps
    assert trainer.step == steps_done and trainer.stop_reason.startswith("time budget")


class SpeedUp:
    """From step 50 on, a step takes 0.1 s instead of 1 s (another program went quiet)."""

    def __init__(self, model):
        self.model = model

    def on_step_end(self, step, metrics):
        if step == 50:
            self.model.train_cost = 0.1


def test_the_planned_last_step_ends_the_run_even_if_time_is_left():
    # Planned at step 50 to end at 55 (1 s a step). The last steps run fast, so after the
    # final evaluation at step 55 time is left; a re-plan there would go on past the
    # evaluation that was meant to be the last (an evaluation at a step that is neither a
    # multiple of eval_every nor the run's last). The run ends where it was planned to.
    clock = FakeClock()
    trainer = budgeted(clock, callbacks=[SpeedUp])
    history = trainer.fit()
    assert trainer.step == trainer.last_step == 55 and trainer.stop_reason is None
    assert history.series("val_loss")[0] == [10, 20, 30, 40, 50, 55]
    assert history.series("lr")[1][-1] == pytest.approx(trainer.config.min_lr)


def test_max_steps_still_bounds_a_budgeted_run():
    trainer = budgeted(FakeClock(), max_steps=30)
    trainer.fit()
    assert trainer.step == 30 and trainer.last_step == 30 and trainer.budget.used == 31.5


def test_a_budgeted_run_resumes_with_the_time_it_has_left(tmp_path):
    straight = budgeted(FakeClock())
    straight.fit()
    clock = FakeClock()
    first = budgeted(clock, callbacks=[StopAt(20, "pause")])
    first.fit()
    path = first.save_checkpoint(tmp_path / "budget.pt")
    later = FakeClock()
    later.now = 1000.0  # another day: the clock has moved, the budget has not
    second = budgeted(later)
    assert second.resume(path) == 20
    assert second.budget.used == first.budget.used == 21.0 and second.last_step == 55
    second.fit()
    assert second.step == straight.step == 55 and second.budget.used == 58.0
    assert second.history.series("lr") == straight.history.series("lr")


def test_without_validation_the_plan_counts_no_evaluations():
    clock = FakeClock()
    trainer = budgeted(clock, validate=False)
    trainer.fit()
    # (60 * 0.98 - 5) / 1 = 53.8 more after the warm-up: 58 steps in all
    assert trainer.step == 58 and trainer.budget.used == 58.0
    assert dataclasses.asdict(trainer.config)["max_seconds"] == 60.0
