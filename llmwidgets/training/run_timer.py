"""The clock of a training run: elapsed time, seconds per step and the ETA.

:class:`RunTimer` is the time half of :class:`~llmwidgets.training.history.MetricHistory`
(its base class). It knows when the run started and when it was stopped, and the step
and time of the first and the latest record; nothing about metric values.

* The elapsed time starts at :meth:`RunTimer.start`, else at the first record, and is
  frozen by :meth:`RunTimer.stop` until the next record.
* The speed is the average over the whole run: the seconds between the first and the
  latest record divided by the steps between them.
* Times come from an injectable clock (``time.monotonic`` by default), so tests can
  drive time by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from llmwidgets.core.validate import check_int

__all__ = ["RunTimer"]


class RunTimer:
    """When a run started and stopped, and how fast its steps go.

    Args:
        clock: a function returning seconds (monotonic); ``None`` uses
            ``time.monotonic``. Tests pass a fake clock.

    Raises:
        ValueError: if ``clock`` is not callable.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        if clock is not None and not callable(clock):
            raise ValueError(f"clock must be a callable returning seconds, got {clock!r}")
        self._clock: Callable[[], float] = clock or time.monotonic
        self._t0: float | None = None  # start time: start(), else the first record
        self._t_stop: float | None = None  # when stop() froze the elapsed time
        self._first: tuple[int, float] | None = None  # (step, time) of the first record
        self._latest: tuple[int, float] | None = None  # (step, time) of the latest record

    def start(self) -> None:
        """Start the elapsed-time clock now (else it starts at the first record).

        Returns:
            None.
        """
        self._t0 = self._clock()
        self._t_stop = None

    def stop(self) -> None:
        """Freeze the elapsed time (training ended); a later record resumes it.

        Returns:
            None.
        """
        if self._t0 is not None:
            self._t_stop = self._clock()

    # ------------------------------------------------- for the recording subclass
    def _tick(self, step: int) -> float:
        """Note a record at ``step`` now: the clock starts or resumes; returns the time."""
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        self._t_stop = None
        self._mark(step, now)
        return now

    def _mark(self, step: int, at: float) -> None:
        """Note a record at ``step`` made at the time ``at`` (records come in order)."""
        if self._first is None:
            self._first = (step, at)
        self._latest = (step, at)

    def _restore(self, elapsed: float) -> float:
        """Set the clock of a run stopped after ``elapsed`` seconds; returns its start."""
        now = self._clock()
        self._t0 = now - elapsed
        self._t_stop = now
        return self._t0

    def _since_start(self, times: list[float]) -> list[float]:
        """Clock times as seconds since the start."""
        t0 = self._t0 or 0.0
        return [t - t0 for t in times]

    # -------------------------------------------------------------------- reading
    def elapsed(self) -> float:
        """Seconds since :meth:`start` (or the first record); frozen by :meth:`stop`.

        Returns:
            Elapsed seconds, 0.0 before anything was recorded.
        """
        if self._t0 is None:
            return 0.0
        end = self._t_stop if self._t_stop is not None else self._clock()
        return max(0.0, end - self._t0)

    def seconds_per_step(self) -> float | None:
        """Average seconds per step between the first and the latest record.

        Returns:
            Seconds per step, or ``None`` until two different steps were recorded.
        """
        if self._first is None or self._latest is None:
            return None
        (s0, t0), (s1, t1) = self._first, self._latest
        if s1 <= s0:
            return None
        return max(0.0, t1 - t0) / (s1 - s0)

    def eta(self, total_steps: int) -> float | None:
        """Estimated seconds until ``total_steps``, from the average step time.

        Args:
            total_steps: the step at which training ends (an int > 0).

        Returns:
            Seconds left (0.0 once the last step reaches ``total_steps``), or
            ``None`` while the speed is unknown (fewer than two different steps).

        Raises:
            ValueError: if ``total_steps`` is not a positive int.
        """
        total_steps = check_int("total_steps", total_steps, 1)
        if self._latest is not None and self._latest[0] >= total_steps:
            return 0.0
        rate = self.seconds_per_step()
        if rate is None or self._latest is None:
            return None
        remaining = rate * (total_steps - self._latest[0])
        # Time already spent since the latest record counts against the estimate.
        if self._t_stop is None:
            remaining -= max(0.0, self._clock() - self._latest[1])
        return max(0.0, remaining)
