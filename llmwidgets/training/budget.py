"""A time budget: how many steps fit in the seconds that are left?

A learner with three minutes wants the cosine schedule to end when the time does. The
number of steps that fit depends on the machine and on what else runs on it, so it is
measured, not guessed: :class:`TimeBudget` keeps the time of every training step (with
its callbacks) and of every evaluation, and :meth:`TimeBudget.plan` turns them into the
last step that fits::

    per_step = median of the last 50 step times      # robust to a slow first step
    per_eval = the last evaluation's time
    left     = seconds * (1 - margin) - used
    n        = (left - per_eval) / (per_step + per_eval / eval_every)
    #          n more steps cost n * per_step plus one evaluation every eval_every
    #          steps, and one more at the very end

The :class:`~llmwidgets.training.trainer.Trainer` (``TrainerConfig.max_seconds``)
re-plans after the warm-up (whose learning rates do not depend on the end) and after
every evaluation until 90 % of the budget is spent, and stops when the budget runs out
(a sudden slowdown). All times come from the trainer's clock, which tests replace by a
fake one.
"""

from __future__ import annotations

import statistics
from typing import Any

from llmwidgets.core.validate import check_int, check_optional_int, check_real

__all__ = ["TimeBudget"]

#: Step times the plan looks at (the median of the most recent ones).
WINDOW = 50
#: Re-planning stops once this share of the budget is spent: the end of the cosine
#: should not move any more near the end of the run.
FREEZE = 0.9
#: A no-grad evaluation batch costs about a third of a training step (forward only).
EVAL_BATCH_COST = 1 / 3
#: Steps measured before the first plan.
MEASURED_BEFORE_PLAN = 3


class TimeBudget:
    """Seconds spent so far, the measured step and evaluation times, and the plan.

    Args:
        seconds: the budget, > 0.
        margin: share of the budget kept free for the unexpected (2 %).

    Example:
        >>> b = TimeBudget(10.0, margin=0.0)
        >>> for _ in range(4):
        ...     b.add(0.5)  # four steps of half a second each
        >>> b.plan(step=4, eval_every=None)  # 8 s left: 16 more steps
        20
    """

    def __init__(self, seconds: float, margin: float = 0.02) -> None:
        self.seconds = check_real("seconds", seconds, 0, min_open=True)
        self.margin = check_real("margin", margin, 0, 1, max_open=True)
        self.used = 0.0  # seconds spent in training so far, evaluations included
        self.step_times: list[float] = []  # the last WINDOW training steps, seconds each
        self.eval_time: float | None = None  # the last evaluation's seconds
        self.planned = False  # whether replan() has planned a last step yet

    def add(self, step_seconds: float, eval_seconds: float | None = None) -> None:
        """Count one step: its training time and, if it evaluated, the evaluation's.

        Args:
            step_seconds: the step without its evaluation (callbacks included), >= 0.
            eval_seconds: the evaluation's time, or ``None`` when the step had none.

        Returns:
            None.
        """
        step_seconds = check_real("step_seconds", step_seconds, 0)
        self.step_times = [*self.step_times[-(WINDOW - 1) :], step_seconds]
        self.used += step_seconds
        if eval_seconds is not None:
            self.eval_time = check_real("eval_seconds", eval_seconds, 0)
            self.used += self.eval_time

    @property
    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.used >= self.seconds

    @property
    def frozen(self) -> bool:
        """Whether so much is spent (90 %) that the plan should no longer move."""
        return self.used >= FREEZE * self.seconds

    def seconds_per_step(self) -> float | None:
        """The median of the recent step times, or ``None`` before the first step."""
        return statistics.median(self.step_times) if self.step_times else None

    def plan(self, step: int, eval_every: int | None, eval_batches: int = 0) -> int:
        """The last step that fits in the budget, its final evaluation included.

        Args:
            step: the step just done.
            eval_every: steps between evaluations, or ``None`` when there are none.
            eval_batches: batches per evaluation; used to estimate an evaluation's cost
                (a third of a step per batch) until one has been measured.

        Returns:
            A step >= ``step`` (``step`` itself when nothing more fits).

        Raises:
            ValueError: before any step was measured, or for bad arguments.
        """
        step = check_int("step", step, 0)
        eval_every = check_optional_int("eval_every", eval_every, 1)
        eval_batches = check_int("eval_batches", eval_batches, 0)
        per_step = self.seconds_per_step()
        if per_step is None:
            raise ValueError("plan() needs at least one measured step; call add() first")
        per_eval = 0.0
        if eval_every is not None:
            per_eval = self.eval_time
            if per_eval is None:
                per_eval = eval_batches * EVAL_BATCH_COST * per_step
        left = self.seconds * (1.0 - self.margin) - self.used
        per_more = per_step + (per_eval / eval_every if eval_every else 0.0)
        if per_more <= 0:  # a clock that did not move: nothing to plan with yet
            return step
        return step + max(int((left - per_eval) / per_more), 0)

    def replan(
        self, step: int, warmup_steps: int, evaluated: bool, eval_every: int | None,
        eval_batches: int = 0,
    ) -> int | None:  # fmt: skip
        """The trainer's rule: when to (re-)plan the last step, and the plan.

        Not during the warm-up (its learning rates do not depend on the end), not before
        a few steps were measured, then once and after every evaluation, and no more once
        90 % of the budget is spent (the end of the cosine stays put near the end).

        Args:
            step: the step just done.
            warmup_steps: the config's warm-up.
            evaluated: whether the step ended with an evaluation.
            eval_every: steps between evaluations, or ``None`` without any.
            eval_batches: batches per evaluation (for the first estimate of its cost).

        Returns:
            The new last step (> ``step``), or ``None`` when the plan stays as it is.
        """
        if (
            step < warmup_steps
            or len(self.step_times) < MEASURED_BEFORE_PLAN
            or (self.planned and not evaluated)
            or self.frozen
        ):
            return None
        self.planned = True
        return max(self.plan(step, eval_every, eval_batches), step + 1)

    def state_dict(self) -> dict[str, Any]:
        """The budget's state, for checkpoints (plain numbers and lists).

        Returns:
            ``{"seconds", "margin", "used", "step_times", "eval_time", "planned"}``.
        """
        return {
            "seconds": self.seconds,
            "margin": self.margin,
            "used": self.used,
            "step_times": list(self.step_times),
            "eval_time": self.eval_time,
            "planned": self.planned,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue a budget saved with :meth:`state_dict` (the time already used counts).

        Args:
            state: a dict from :meth:`state_dict`.

        Returns:
            None.
        """
        self.used = check_real("used", state["used"], 0)
        self.step_times = [check_real("step time", t, 0) for t in state["step_times"]]
        eval_time = state.get("eval_time")
        self.eval_time = None if eval_time is None else check_real("eval_time", eval_time, 0)
        self.planned = bool(state.get("planned", False))

    def __repr__(self) -> str:
        return f"TimeBudget(seconds={self.seconds:g}, used={self.used:.1f})"
