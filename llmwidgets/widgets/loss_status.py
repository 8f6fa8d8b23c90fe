"""The status line of a training run, and the options every loss view checks.

Pure functions over a :class:`~llmwidgets.training.history.MetricHistory`:
:func:`status_line` is what :class:`~llmwidgets.widgets.loss_plot.LiveLossPlot` prints
outside a notebook, and :func:`progress` is the same progress that
:func:`~llmwidgets.widgets.loss_figure.loss_figure` puts in its title::

    step 200/2000 | train_loss 1.9234 | lr 3.0e-04 | 12.1s elapsed, ETA 1m49s

The time is the history's own (the run's, across ``fit()`` calls and across a resume
from a checkpoint); ``done`` appears once the last step reaches ``total_steps``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from llmwidgets.core.validate import check_bool, check_int, check_optional_int, check_real
from llmwidgets.training.history import MetricHistory
from llmwidgets.widgets.base import check_height, check_title

__all__ = [
    "DEFAULTS",
    "check_history",
    "check_options",
    "format_duration",
    "format_value",
    "is_lr",
    "progress",
    "selected",
    "status_line",
]


def is_lr(name: str) -> bool:
    """Whether a metric is a learning rate (own subplot, never smoothed).

    Args:
        name: the metric name.

    Returns:
        True for ``lr``, ``learning_rate``, ``*_lr`` and ``lr_*``.
    """
    low = name.lower()
    return low in ("lr", "learning_rate") or low.endswith("_lr") or low.startswith("lr_")


def format_duration(seconds: float) -> str:
    """Format seconds as ``12.1s``, ``1m49s`` or ``2h05m``.

    Args:
        seconds: a duration >= 0.

    Returns:
        The short text.

    Raises:
        ValueError: for a negative, NaN or non-numeric duration.
    """
    seconds = check_real("seconds", seconds, 0)
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def format_value(name: str, value: float) -> str:
    """Format a metric value for the status line and the title.

    Args:
        name: the metric name (learning rates get ``3.0e-04``).
        value: the value.

    Returns:
        ``"1.9234"``, ``"3.0e-04"``, ``"12346"``, ``"nan"``, ``"inf"``...
    """
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if is_lr(name):
        return f"{value:.1e}"
    size = abs(value)
    if size >= 1e7 or (0 < size < 1e-3):
        return f"{value:.2e}"
    if size >= 1000:
        return f"{value:.0f}"
    return f"{value:.4f}"


#: The drawing options of a loss view and their defaults (see :func:`loss_figure`).
DEFAULTS: dict[str, Any] = {
    "metrics": None,
    "smooth": 0.0,
    "log_y": False,
    "title": None,
    "height": None,
    "max_points": 1000,
    "total_steps": None,
}


def check_options(**options: Any) -> dict[str, Any]:
    """Check the drawing options of a loss view; missing ones get their defaults.

    Args:
        **options: any of :data:`DEFAULTS` (see
            :func:`~llmwidgets.widgets.loss_figure.loss_figure` for each).

    Returns:
        All the options, normalised (``metrics`` as a list, numbers as int/float).

    Raises:
        ValueError: for an unknown option, or naming the first bad value.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown options {unknown}; the options are {sorted(DEFAULTS)}")
    o = {**DEFAULTS, **options}
    metrics = o["metrics"]
    if metrics is not None:
        if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not metrics:
            raise ValueError(f"metrics must be a non-empty list of names or None, got {metrics!r}")
        for name in metrics:
            if not isinstance(name, str) or not name:
                raise ValueError(f"metrics must hold non-empty str names, got {name!r}")
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"metrics has repeated names: {list(metrics)}")
        metrics = list(metrics)
    return {
        "metrics": metrics,
        "smooth": check_real("smooth", o["smooth"], 0.0, 1.0, max_open=True),
        "log_y": check_bool("log_y", o["log_y"]),
        "title": check_title(o["title"]),
        "height": check_height(o["height"]),
        "max_points": check_int("max_points", o["max_points"], 2),
        "total_steps": check_optional_int("total_steps", o["total_steps"], 1),
    }


def progress(history: MetricHistory, total_steps: int | None) -> tuple[str, str]:
    """``("step 200/2000", "12.1s elapsed, ETA 1m49s")``; ``done`` at the last step."""
    step = history.step
    where = f"step {step if step is not None else '-'}"
    if total_steps is not None:
        where += f"/{total_steps}"
    timing = f"{format_duration(history.elapsed())} elapsed"
    if total_steps is not None and step is not None:
        if step >= total_steps:
            timing += ", done"
        else:
            eta = history.eta(total_steps)
            if eta is not None:
                timing += f", ETA {format_duration(eta)}"
    return where, timing


def status_line(
    history: MetricHistory, total_steps: int | None = None, *, metrics: Sequence[str] | None = None
) -> str:
    """One plain line with the progress, the last values and the time of a run.

    Args:
        history: the run's metrics.
        total_steps: the last step of the run (for "step 200/2000", the ETA and
            "done"); ``None`` when unknown.
        metrics: the names to show, in order; ``None`` shows every metric.

    Returns:
        e.g. ``"step 200/2000 | train_loss 1.9234 | lr 3.0e-04 | 12.1s elapsed,
        ETA 1m49s"``; ``"..., done"`` once the last step reaches ``total_steps``.

    Raises:
        ValueError: for a bad ``history``, ``total_steps`` or ``metrics``.
    """
    check_history(history)
    opts = check_options(metrics=metrics, total_steps=total_steps)
    where, timing = progress(history, opts["total_steps"])
    last = history.last()
    values = [f"{n} {format_value(n, last[n])}" for n in selected(history, opts["metrics"])]
    return " | ".join([where, *values, timing])


def check_history(history: Any) -> MetricHistory:
    """Check that ``history`` is a :class:`MetricHistory`; return it."""
    if not isinstance(history, MetricHistory):
        raise ValueError(f"history must be a MetricHistory, got {type(history).__name__}")
    return history


def selected(history: MetricHistory, metrics: list[str] | None) -> list[str]:
    """The recorded metrics to show, in the order asked (all when ``metrics`` is None)."""
    if metrics is None:
        return history.names
    return [m for m in metrics if m in history]
