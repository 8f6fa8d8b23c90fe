"""A training run's metric history: steps, values and times, with no display code.

:class:`MetricHistory` records ``(step, {name: value})`` as a training loop reports
them. It is the pure half of :class:`llmwidgets.loss_plot.LiveLossPlot` (the split
livelossplot uses): numbers in, numbers out, no IPython and no plotly, so it can be
tested on values and kept for analysis (:meth:`MetricHistory.to_dict`).

* Metrics may arrive at different steps (``val_loss`` only every N steps); each one
  is its own series.
* A NaN or infinite value is **recorded**, not dropped, and can be listed with
  :meth:`MetricHistory.nan_steps` / :meth:`MetricHistory.inf_steps`: a diverging run
  should show where it diverged.
* A non-numeric value, a name that is not a string, or a step smaller than the last
  one raises ``ValueError`` naming it.
* Elapsed time and the ETA come from an injectable clock (``time.monotonic`` by
  default), so tests can drive time by hand.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from typing import Any

from llmwidgets.core.validate import check_int, check_real, check_str

__all__ = ["MetricHistory"]

#: The ``format`` tag written by :meth:`MetricHistory.to_dict`.
FORMAT = "llmwidgets.MetricHistory/1"

# Strict JSON has no NaN or Infinity; to_dict writes them as these strings
# (``float()`` parses all three back).
_NONFINITE = ("nan", "inf", "-inf")


def _to_float(name: str, value: Any) -> float:
    """Convert a metric value (int, float, numpy scalar, 1-element tensor) to float."""
    if isinstance(value, bool):
        raise ValueError(f"metric {name!r} must be a number, got the bool {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    # numpy scalars, 0-d or one-element arrays and tensors: .item() gives a number
    # (and raises for more than one element).
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        try:
            scalar = item()
        except (TypeError, ValueError, RuntimeError):
            scalar = None
        if isinstance(scalar, numbers.Real) and not isinstance(scalar, bool):
            return float(scalar)
    raise ValueError(f"metric {name!r} must be a number, got {value!r} ({type(value).__name__})")


def _encode(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _decode(name: str, value: Any) -> float:
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise ValueError(f"metric {name!r} has the value {value!r}; expected a number")
        return float(value)
    return _to_float(name, value)


class MetricHistory:
    """Per-metric series of ``(step, value, time)`` recorded during training.

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
        if clock is not None and not callable(clock):
            raise ValueError(f"clock must be a callable returning seconds, got {clock!r}")
        self._clock: Callable[[], float] = clock or time.monotonic
        # name -> (steps, values, times); names in order of first appearance
        self._series: dict[str, tuple[list[int], list[float], list[float]]] = {}
        self._last_step: int | None = None
        self._first: tuple[int, float] | None = None  # (step, time) of the first record
        self._latest: tuple[int, float] | None = None  # (step, time) of the latest record
        self._t0: float | None = None  # start time: start(), else the first record
        self._t_stop: float | None = None

    # ------------------------------------------------------------------ recording
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
        if self._last_step is not None and step < self._last_step:
            raise ValueError(
                f"step {step} goes backwards: the last recorded step is {self._last_step}"
            )
        values = {
            check_str("metric name", name): _to_float(name, value)
            for name, value in metrics.items()
        }
        for name in values:
            series = self._series.get(name)
            if series is not None and series[0] and series[0][-1] == step:
                raise ValueError(f"metric {name!r} was already recorded at step {step}")
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        self._t_stop = None
        for name, value in values.items():
            steps, vals, times = self._series.setdefault(name, ([], [], []))
            steps.append(step)
            vals.append(value)
            times.append(now)
        if self._first is None:
            self._first = (step, now)
        self._latest = (step, now)
        self._last_step = step

    # ------------------------------------------------------------------- reading
    @property
    def names(self) -> list[str]:
        """The metric names, in the order they first appeared."""
        return list(self._series)

    @property
    def step(self) -> int | None:
        """The last recorded step, or ``None`` before the first record."""
        return self._last_step

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
        _, _, times = self._get(name)
        t0 = self._t0 or 0.0
        return [t - t0 for t in times]

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

    # ---------------------------------------------------------------------- time
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
        if self._last_step is not None and self._last_step >= total_steps:
            return 0.0
        rate = self.seconds_per_step()
        if rate is None or self._latest is None:
            return None
        remaining = rate * (total_steps - self._latest[0])
        # Time already spent since the latest record counts against the estimate.
        if self._t_stop is None:
            remaining -= max(0.0, self._clock() - self._latest[1])
        return max(0.0, remaining)

    # ------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy of the history, for saving and for analysis.

        NaN and ±inf values are written as the strings ``"nan"``, ``"inf"`` and
        ``"-inf"`` (strict JSON has no such numbers; ``float()`` parses them).
        Times are seconds since the start.

        Returns:
            ``{"format": ..., "elapsed": seconds, "metrics": {name: {"steps": [...],
            "values": [...], "times": [...]}}}``.
        """
        t0 = self._t0 or 0.0
        return {
            "format": FORMAT,
            "elapsed": self.elapsed(),
            "metrics": {
                name: {
                    "steps": list(steps),
                    "values": [_encode(v) for v in values],
                    "times": [t - t0 for t in times],
                }
                for name, (steps, values, times) in self._series.items()
            },
        }

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
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(f"data must be a dict from MetricHistory.to_dict(), got {got!r}")
        metrics = data.get("metrics")
        if not isinstance(metrics, Mapping):
            raise ValueError("data['metrics'] must be a dict {name: {steps, values, times}}")
        hist = cls(clock)
        elapsed = _to_float("elapsed", data.get("elapsed", 0.0))
        now = hist._clock()
        hist._t0 = now - elapsed
        records: list[tuple[int, float, int, str, float]] = []
        for order, (name, entry) in enumerate(metrics.items()):
            check_str("metric name", name)
            if not isinstance(entry, Mapping):
                raise ValueError(f"data['metrics'][{name!r}] must be a dict")
            steps = entry.get("steps")
            values = entry.get("values")
            times = entry.get("times")
            if not isinstance(steps, list) or not isinstance(values, list):
                raise ValueError(f"metric {name!r} needs lists 'steps' and 'values'")
            if times is None:
                times = [0.0] * len(steps)
            if not isinstance(times, list) or not len(steps) == len(values) == len(times):
                raise ValueError(
                    f"metric {name!r} has {len(steps)} steps, {len(values)} values and "
                    f"{len(times) if isinstance(times, list) else times!r} times"
                )
            hist._series[name] = ([], [], [])  # keep the order of first appearance
            for s, v, t in zip(steps, values, times, strict=True):
                records.append(
                    (check_int("step", s, 0), _to_float("time", t), order, name, _decode(name, v))
                )
        records.sort(key=lambda r: (r[0], r[1], r[2]))
        for step, t, _, name, value in records:
            steps, vals, times_ = hist._series[name]
            if steps and steps[-1] == step:
                raise ValueError(f"metric {name!r} has step {step} twice")
            steps.append(step)
            vals.append(value)
            times_.append(hist._t0 + t)
            if hist._first is None:
                hist._first = (step, hist._t0 + t)
            hist._latest = (step, hist._t0 + t)
            hist._last_step = step
        hist._t_stop = now
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
        return f"MetricHistory(step={self._last_step}, metrics={self.names})"
