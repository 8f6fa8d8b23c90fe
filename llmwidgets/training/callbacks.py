"""Callbacks: how code outside the trainer watches, and stops, a run.

A callback is an object with any of three hooks, or a plain function ``f(step, metrics)``::

    class Printer:
        def on_train_begin(self, history):       # optional; gets the trainer's one
            ...                                  # MetricHistory (or takes no argument)
        def on_step_end(self, step, metrics):    # after every step; metrics is a copy
            print(step, metrics["train_loss"])
        def on_train_end(self):                  # optional; also after an error
            ...

To stop training early, raise :class:`StopTraining` from ``on_step_end`` (or from a
function callback). The step is complete: the weights are updated, the metrics are
recorded and every other callback still gets them; then ``on_train_end`` runs, the
checkpoint is saved as at a normal end, ``Trainer.stop_reason`` holds the message and
``fit()`` returns the history. A later ``fit()`` continues from there.

:class:`llmwidgets.LiveLossPlot` is such a callback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from llmwidgets.training.history import MetricHistory

__all__ = ["Callbacks", "StopTraining"]


class StopTraining(Exception):
    """Raise from a callback to end ``Trainer.fit`` cleanly after the current step.

    Args:
        reason: why (kept in ``Trainer.stop_reason``), e.g. ``"val_loss below 1.5"``.
    """


def _takes_an_argument(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` accepts one positional argument (``on_train_begin(history)``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional or p.kind is p.VAR_POSITIONAL for p in params)


class Callbacks:
    """The trainer's callbacks, each reduced to its three hooks.

    Args:
        callbacks: objects with ``on_step_end(step, metrics)`` (and optionally
            ``on_train_begin`` and ``on_train_end``), or callables ``f(step, metrics)``.

    Raises:
        ValueError: for an object that has no ``on_step_end`` and cannot be called.
    """

    def __init__(self, callbacks: Iterable[Any] = ()) -> None:
        self.items = list(callbacks)
        self._hooks: list[tuple[Callable, Callable | None, Callable | None]] = []
        for callback in self.items:
            step_end = getattr(callback, "on_step_end", None)
            if not callable(step_end):
                if not callable(callback):
                    raise ValueError(
                        f"callback {callback!r} must have on_step_end(step, metrics) or be callable"
                    )
                step_end = callback
            begin = getattr(callback, "on_train_begin", None)
            end = getattr(callback, "on_train_end", None)
            self._hooks.append(
                (step_end, begin if callable(begin) else None, end if callable(end) else None)
            )

    def train_begin(self, history: MetricHistory) -> None:
        """Call every ``on_train_begin``, with the history when it takes an argument."""
        for _, begin, _ in self._hooks:
            if begin is not None:
                begin(history) if _takes_an_argument(begin) else begin()

    def step_end(self, step: int, metrics: dict[str, float]) -> str | None:
        """Give every callback the step's metrics (a copy each).

        Args:
            step: the step just done.
            metrics: its metrics.

        Returns:
            ``None``, or the reason of the first :class:`StopTraining` raised (every
            callback still gets the step).
        """
        reason = None
        for step_end, _, _ in self._hooks:
            try:
                step_end(step, dict(metrics))  # a copy each: a callback cannot alter another's
            except StopTraining as stop:
                if reason is None:
                    reason = str(stop) or type(stop).__name__
        return reason

    def train_end(self) -> None:
        """Call every ``on_train_end``."""
        for _, _, end in self._hooks:
            if end is not None:
                end()

    def __len__(self) -> int:
        return len(self.items)
