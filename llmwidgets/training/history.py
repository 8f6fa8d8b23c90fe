"""A training run's metric history: steps, values and times, with no display code.

:class:`MetricHistory` records ``(step, {name: value})`` as a training loop reports
them. It is the pure half of :class:`llmwidgets.widgets.loss_plot.LiveLossPlot` (the
split livelossplot uses): numbers in, numbers out, no IPython and no plotly, so it can
be tested on values and kept for analysis (:meth:`MetricHistory.to_dict`).

* Metrics may arrive at different steps (``val_loss`` only every N steps); each one
  is its own series.
* A NaN or infinite value is **recorded**, not dropped, and can be listed with
  :meth:`MetricHistory.nan_steps` / :meth:`MetricHistory.inf_steps`: a diverging run
  should show where it diverged.
* A non-numeric value, a name that is not a string, or a step smaller than the last
  one raises ``ValueError`` naming it.
* Elapsed time and the ETA come from its base class,
  :class:`~llmwidgets.training.run_timer.RunTimer`, with an injectable clock.
* The dict it saves and loads is described in :mod:`llmwidgets.training.history_format`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from llmwidgets.core.validate import check_int, check_real, check_str
from llmwidgets.training.history_format import history_dict, read_history_dict, to_float
from llmwidgets.training.run_timer import RunTimer

__all__ = ["MetricHistory"]


class MetricHistory(RunTimer):
    """Per-metric series of ``(step, value, time)`` recorded during training.

    The time methods (:meth:`start`, :meth:`stop`, :meth:`elapsed`,
    :meth:`seconds_per_step`, :meth:`eta`) come from
    :class:`~llmwidgets.training.run_timer.RunTimer`.

    Args:
        clock: a function returning seconds (monotonic); ``None`` uses
            ``time.monotonic``. Tests pass a fake clock.

    Example:
        >>> h = MetricHistory()
        >>> h.record(10, {"train_loss": 2.31, "lr": 3e-4})
        >>> h.record(20, {"train_loss": 2.05, "val_loss": 2.12})
        >>> h.series("val_loss")
        ([20], [2.12])
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        super().__init__(clock)
        # name -> (steps, values, times); names in order of first appearance
        self._series: dict[str, tuple[list[int], list[float], list[float]]] = {}

    # ------------------------------------------------------------------ recording
    def record(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Record the metrics reported at one step.

        Several calls may report the same step (e.g. ``train_loss`` then
        ``val_loss``), but one metric only once per step.

        Args:
            step: the optimiser step, an int >= 0, never smaller than the last one.
            metrics: ``{name: number}``; numbers may be int, float, numpy scalars or
                one-element tensors. NaN and ±inf are recorded (and flagged).

        Returns:
            None.

        Raises:
            ValueError: for a bad step, a step going backwards, an empty or
                non-mapping ``metrics``, a non-str name, a non-numeric value, or a
                metric reported twice at one step. Nothing is recorded then.
        """
        step = check_int("step", step, 0)
        if not isinstance(metrics, Mapping):
            raise ValueError(
                f"metrics must be a dict {{name: number}}, got {type(metrics).__name__}"
            )
        if not metrics:
            raise ValueError(f"metrics is empty at step {step}; report at least one value")
        if self.step is not None and step < self.step:
            raise ValueError(f"step {step} goes backwards: the last recorded step is {self.step}")
        values = {
            check_str("metric name", name): to_float(name, value) for name, value in metrics.items()
        }
        for name in values:
            series = self._series.get(name)
            if series is not None and series[0] and series[0][-1] == step:
                raise ValueError(f"metric {name!r} was already recorded at step {step}")
        now = self._tick(step)
        for name, value in values.items():
            self._append(name, step, value, now)

    def _append(self, name: str, step: int, value: float, at: float) -> None:
        """Add one value, made at the clock time ``at``, to the series of ``name``."""
        steps, values, times = self._series.setdefault(name, ([], [], []))
        steps.append(step)
        values.append(value)
        times.append(at)

    # ------------------------------------------------------------------- reading
    @property
    def names(self) -> list[str]:
        """The metric names, in the order they first appeared."""
        return list(self._series)

    @property
    def step(self) -> int | None:
        """The last recorded step, or ``None`` before the first record."""
        return None if self._latest is None else self._latest[0]

    def __len__(self) -> int:
        """The number of distinct recorded steps over all metrics."""
        return len({s for steps, _, _ in self._series.values() for s in steps})

    def __contains__(self, name: object) -> bool:
        return name in self._series

    def _get(self, name: Any) -> tuple[list[int], list[float], list[float]]:
        check_str("metric name", name)
        if name not in self._series:
            raise ValueError(f"no metric named {name!r}; recorded metrics: {self.names}")
        return self._series[name]

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """The steps and values of one metric, NaN and inf included.

        Args:
            name: a recorded metric name.

        Returns:
            ``(steps, values)``, two lists of the same length (copies).

        Raises:
            ValueError: if ``name`` is not a str or was never recorded.
        """
        steps, values, _ = self._get(name)
        return list(steps), list(values)

    def times(self, name: str) -> list[float]:
        """Seconds since the start at which each value of ``name`` was recorded.

        Args:
            name: a recorded metric name.

        Returns:
            A list as long as ``series(name)[0]``.
        """
        return self._since_start(self._get(name)[2])

    def smoothed(self, name: str, alpha: float) -> tuple[list[int], list[float]]:
        """Exponential moving average of one metric, with bias correction.

        ``m = alpha * m + (1 - alpha) * x`` over the finite values in order,
        divided by ``1 - alpha ** n`` (n finite values so far) so the start is not
        pulled towards 0, as in TensorBoard. The average is taken per recorded
        point, not per step. A NaN or inf value does not enter the average, and
        its point keeps the raw value, so it stays visible.

        Args:
            name: a recorded metric name.
            alpha: weight of the past, ``0 <= alpha < 1``; 0 returns the raw values.

        Returns:
            ``(steps, smoothed_values)`` aligned with :meth:`series`.

        Raises:
            ValueError: for an unknown name or ``alpha`` outside ``[0, 1)``.
        """
        alpha = check_real("alpha", alpha, 0, 1, max_open=True)
        steps, values, _ = self._get(name)
        out: list[float] = []
        avg = 0.0
        n = 0
        for x in values:
            if not math.isfinite(x):
                out.append(x)
                continue
            n += 1
            avg = alpha * avg + (1.0 - alpha) * x
            out.append(avg / (1.0 - alpha**n))
        return list(steps), out

    def _steps_where(self, name: str, test: Callable[[float], bool]) -> list[int]:
        steps, values, _ = self._get(name)
        return [s for s, v in zip(steps, values, strict=True) if test(v)]

    def nan_steps(self, name: str) -> list[int]:
        """The steps at which ``name`` was NaN.

        Args:
            name: a recorded metric name.

        Returns:
            A list of steps (empty if none).
        """
        return self._steps_where(name, math.isnan)

    def inf_steps(self, name: str) -> list[int]:
        """The steps at which ``name`` was +inf or -inf.

        Args:
            name: a recorded metric name.

        Returns:
            A list of steps (empty if none).
        """
        return self._steps_where(name, math.isinf)

    def last(self, name: str | None = None) -> Any:
        """The latest value of one metric, or of every metric.

        Args:
            name: a metric name, or ``None`` for all.

        Returns:
            A float for ``name``; else ``{name: latest value}`` for every metric
            (values may come from earlier steps, e.g. the last ``val_loss``).
        """
        if name is not None:
            return self._get(name)[1][-1]
        return {n: vals[-1] for n, (_, vals, _) in self._series.items()}

    def last_step_of(self, name: str) -> int:
        """The step at which ``name`` was last recorded.

        Args:
            name: a recorded metric name.

        Returns:
            The step.
        """
        return self._get(name)[0][-1]

    # ------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy of the history, for saving and for analysis.

        NaN and ±inf values are written as the strings ``"nan"``, ``"inf"`` and
        ``"-inf"`` (strict JSON has no such numbers; ``float()`` parses them).
        Times are seconds since the start. The layout is described in
        :mod:`llmwidgets.training.history_format`.

        Returns:
            ``{"format": ..., "elapsed": seconds, "metrics": {name: {"steps": [...],
            "values": [...], "times": [...]}}}``.
        """
        series = {
            name: (steps, values, self._since_start(times))
            for name, (steps, values, times) in self._series.items()
        }
        return history_dict(series, self.elapsed())

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], clock: Callable[[], float] | None = None
    ) -> MetricHistory:
        """Rebuild a history written by :meth:`to_dict`.

        The result is stopped (its elapsed time is the saved one); recording more
        resumes it.

        Args:
            data: a dict from :meth:`to_dict` (possibly through ``json``).
            clock: as for :class:`MetricHistory`.

        Returns:
            A new :class:`MetricHistory`.

        Raises:
            ValueError: if ``data`` does not have that layout.
        """
        elapsed, names, records = read_history_dict(data)
        hist = cls(clock)
        start = hist._restore(elapsed)
        hist._series = {name: ([], [], []) for name in names}  # order of first appearance
        for step, t, name, value in records:
            hist._append(name, step, value, start + t)
            hist._mark(step, start + t)
        return hist

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Replace this history's contents, in place, with a :meth:`to_dict` copy.

        Everything that holds this object (a live loss plot, a notebook variable) then
        sees the restored run: this is how ``Trainer.resume`` keeps one history.

        Args:
            data: a dict from :meth:`to_dict`.

        Returns:
            None.

        Raises:
            ValueError: as :meth:`from_dict`; the history is unchanged then.
        """
        restored = type(self).from_dict(data, clock=self._clock)
        self.__dict__.update(restored.__dict__)

    def __repr__(self) -> str:
        return f"MetricHistory(step={self.step}, metrics={self.names})"
