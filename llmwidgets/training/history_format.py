"""A metric history as a JSON-able dict: the ``"llmwidgets.MetricHistory/1"`` format.

:meth:`MetricHistory.to_dict <llmwidgets.training.history.MetricHistory.to_dict>` writes
it, ``from_dict`` and ``load_dict`` read it; checkpoints keep it under ``"history"``::

    {"format": "llmwidgets.MetricHistory/1",
     "elapsed": 12.5,                          # seconds the run has taken
     "metrics": {"train_loss": {"steps": [10, 20],
                                "values": [2.31, "nan"],
                                "times": [0.4, 0.9]}}}   # seconds since the start

* Strict JSON has no NaN or Infinity: such values are written as the strings
  ``"nan"``, ``"inf"`` and ``"-inf"`` (``float()`` parses all three back).
* ``"times"`` may be missing (every time is then 0.0).
* Reading checks the whole layout and raises ``ValueError`` naming what is wrong; the
  records come back in the order they were made, as a history replays them.

:func:`to_float` is also the history's rule for what a metric value may be.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from llmwidgets.core.validate import check_int, check_str

__all__ = ["FORMAT", "Record", "history_dict", "read_history_dict", "to_float"]

#: The ``format`` tag of the dict.
FORMAT = "llmwidgets.MetricHistory/1"

#: One recorded value: ``(step, seconds since the start, metric name, value)``.
Record = tuple[int, float, str, float]

_NONFINITE = ("nan", "inf", "-inf")


def to_float(name: str, value: Any) -> float:
    """A metric value (int, float, numpy scalar, one-element tensor) as a float.

    Args:
        name: the metric's name, for the message.
        value: the value; NaN and ±inf are allowed, ``bool`` is not.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: naming the metric, if ``value`` is not a single real number.
    """
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
    return to_float(name, value)


def history_dict(
    series: Mapping[str, tuple[list[int], list[float], list[float]]], elapsed: float
) -> dict[str, Any]:
    """The dict of a history.

    Args:
        series: ``{name: (steps, values, times)}``, times in seconds since the start,
            names in the order they first appeared.
        elapsed: the seconds the run has taken.

    Returns:
        ``{"format": FORMAT, "elapsed": ..., "metrics": {name: {"steps", "values",
        "times"}}}`` with new lists and NaN/±inf values as strings.
    """
    return {
        "format": FORMAT,
        "elapsed": elapsed,
        "metrics": {
            name: {
                "steps": list(steps),
                "values": [_encode(v) for v in values],
                "times": list(times),
            }
            for name, (steps, values, times) in series.items()
        },
    }


def _entry_records(name: Any, entry: Any, order: int) -> list[tuple[int, float, int, str, float]]:
    """The checked records of one metric, with its order of first appearance."""
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
    return [
        (check_int("step", s, 0), to_float("time", t), order, name, _decode(name, v))
        for s, v, t in zip(steps, values, times, strict=True)
    ]


def read_history_dict(data: Any) -> tuple[float, list[str], list[Record]]:
    """Check a dict written by :func:`history_dict` and read it back.

    Args:
        data: the dict (possibly through ``json``).

    Returns:
        ``(elapsed, names, records)``: the seconds the run took, the metric names in
        order of first appearance, and every :data:`Record` in the order it was made
        (by step, then time, then the metric's first appearance).

    Raises:
        ValueError: if ``data`` does not have that layout, or a metric has one step
            twice.
    """
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(f"data must be a dict from MetricHistory.to_dict(), got {got!r}")
    metrics = data.get("metrics")
    if not isinstance(metrics, Mapping):
        raise ValueError("data['metrics'] must be a dict {name: {steps, values, times}}")
    elapsed = to_float("elapsed", data.get("elapsed", 0.0))
    found = [
        record
        for order, (name, entry) in enumerate(metrics.items())
        for record in _entry_records(name, entry, order)
    ]
    found.sort(key=lambda r: (r[0], r[1], r[2]))
    last: dict[str, int] = {}
    records: list[Record] = []
    for step, t, _, name, value in found:
        if last.get(name) == step:
            raise ValueError(f"metric {name!r} has step {step} twice")
        last[name] = step
        records.append((step, t, name, value))
    return elapsed, list(metrics), records
