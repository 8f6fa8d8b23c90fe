"""The loss figure and the status line of a training run, drawn from a MetricHistory.

Pure functions (a history in, a figure or a line out), the output half of the split
livelossplot uses: :class:`~llmwidgets.training.history.MetricHistory` keeps the
numbers, these functions draw any history - the live one of a run, one restored from a
checkpoint, one rebuilt from ``to_dict()`` - and
:class:`~llmwidgets.widgets.loss_plot.LiveLossPlot` only decides when to call them.

* :func:`loss_figure` - losses on the top axes, a learning rate and every other metric
  on axes of their own below, one shared step axis; optional smoothing and log scale;
* the title carries the progress of :func:`~llmwidgets.widgets.loss_status.status_line`
  (``step 200/2000 · 12.1s elapsed, ETA 1m49s``), with ``done`` at the last step.

Points that cannot be drawn are marked, never silently dropped: NaN and ±inf, and on a
log axis zero and negative values, get a red × at the last drawable value and an
annotation such as "NaN at step 120".
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from llmwidgets.training.history import MetricHistory
from llmwidgets.widgets.loss_status import (
    check_history,
    check_options,
    format_value,
    is_lr,
    progress,
    selected,
)

__all__ = ["loss_figure"]

#: The title used when none is given.
DEFAULT_TITLE = "training"
# plotly's default colour sequence, so raw and smoothed traces of one metric share it
_COLORS = (
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
    "#ff97ff",
    "#fecb52",
)
_BAD_COLOR = "crimson"


def _is_sparse(steps: Sequence[int]) -> bool:
    """A metric recorded on fewer than half of its steps (e.g. val_loss every 100 steps).

    Exponential smoothing works per recorded point, so on a sparse metric it would lag
    by hundreds of steps; such metrics are drawn raw.
    """
    if len(steps) < 2:
        return False
    return len(steps) < 0.5 * (steps[-1] - steps[0] + 1)


def _is_loss(name: str) -> bool:
    low = name.lower()
    return "loss" in low or "ppl" in low or "perplexity" in low


def _decimate(steps: list[int], values: list[float], max_points: int) -> tuple[list, list]:
    """Every k-th point (and the last) so at most about ``max_points`` are drawn."""
    n = len(steps)
    if n <= max_points:
        return steps, values
    stride = math.ceil(n / max_points)
    idx = list(range(0, n, stride))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return [steps[i] for i in idx], [values[i] for i in idx]


def _arrays(steps: list[int], values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    # numpy arrays travel as base64 in plotly's JSON: several times faster to encode
    # than lists, which matters for redraws during training.
    big = bool(steps) and max(steps) > np.iinfo(np.int32).max
    x = np.asarray(steps, dtype=np.int64 if big else np.int32)
    return x, np.asarray(values, dtype=np.float64)


def _drawable(value: float, log: bool) -> bool:
    """Whether plotly can draw the value: finite, and > 0 on a log axis."""
    return math.isfinite(value) and (value > 0 or not log)


def _marker_y(values: list[float], i: int, log: bool) -> float:
    """Where to mark an undrawable point: the last drawable value before it, else the next."""
    for j in [*range(i - 1, -1, -1), *range(i + 1, len(values))]:
        if _drawable(values[j], log):
            return values[j]
    return 1.0 if log else 0.0


def _bad_label(value: float, step: int) -> str:
    if math.isnan(value):
        return f"NaN at step {step}"
    if math.isinf(value):
        return f"{value:+} at step {step}"
    return f"{value:g} at step {step} (not drawn on a log axis)"


def _rows(names: list[str]) -> list[list[str]]:
    """The losses share the first row of axes; every other metric gets its own row."""
    losses = [n for n in names if _is_loss(n) and not is_lr(n)]
    rest = [n for n in names if n not in losses]
    rows = [losses] if losses else []
    rows += [[n] for n in rest]
    return rows


def _title(history: MetricHistory, names: list[str], opts: dict[str, Any]) -> str:
    where, timing = progress(history, opts["total_steps"])
    title = DEFAULT_TITLE if opts["title"] is None else opts["title"]
    last = history.last()
    head = " · ".join(html.escape(p) for p in (title, where, timing) if p)
    values = " · ".join(f"{html.escape(n)} {format_value(n, last[n])}" for n in names)
    return f"{head}<br><sup>{values}</sup>" if values else head


def loss_figure(
    history: MetricHistory,
    *,
    metrics: Sequence[str] | None = None,
    smooth: float = 0.0,
    log_y: bool = False,
    title: str | None = None,
    height: int | None = None,
    max_points: int = 1000,
    total_steps: int | None = None,
) -> go.Figure:
    """Draw a run's metrics: losses on top, a learning rate and other metrics below.

    Args:
        history: the run's metrics (steps, values, times).
        metrics: names to plot, in this order; ``None`` plots every recorded metric.
            Losses (names containing "loss", "ppl" or "perplexity") share the top
            axes; a learning rate (``lr``, ``learning_rate``, ``*_lr``) and every other
            metric get axes of their own below.
        smooth: exponential smoothing ``0 <= smooth < 1`` (0.9 is typical), drawn over
            the faint raw curve. Learning rates and sparse metrics (recorded on fewer
            than half of the steps, like a periodic val_loss) are never smoothed.
        log_y: a logarithmic y axis for the top (loss) axes.
        title: the text at the start of the title; ``None`` is ``"training"``.
        height: figure height in pixels; ``None`` grows with the number of rows.
        max_points: at most about this many points per curve (every k-th point);
            the history keeps all of them.
        total_steps: the last step of the run, for "step 200/2000", the ETA and
            "done"; ``None`` when unknown.

    Returns:
        A new ``go.Figure``. Its title holds the progress, the elapsed time of the run
        (the history's clock) and the last values.

    Raises:
        ValueError: for a bad history or option.
    """
    check_history(history)
    opts = check_options(
        metrics=metrics,
        smooth=smooth,
        log_y=log_y,
        title=title,
        height=height,
        max_points=max_points,
        total_steps=total_steps,
    )
    names = selected(history, opts["metrics"])
    rows = _rows(names)
    n_rows = max(1, len(rows))
    has_losses = bool(rows) and any(_is_loss(n) for n in rows[0])
    weights = [3.0 if r == 0 and has_losses and n_rows > 1 else 1.0 for r in range(n_rows)]
    gap = 0.06 if n_rows > 1 else 0.0
    usable = 1.0 - gap * (n_rows - 1)
    layout: dict[str, Any] = {
        "title": {"text": _title(history, names, opts), "x": 0.01, "xanchor": "left"},
        "height": opts["height"] or 380 + 150 * (n_rows - 1),
        "margin": {"t": 80, "l": 70, "r": 20, "b": 50},
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0,
                   "yanchor": "bottom"},
        "hovermode": "x unified",
    }  # fmt: skip
    traces: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    top = 1.0
    color_of = {n: _COLORS[i % len(_COLORS)] for i, n in enumerate(names)}
    for r in range(n_rows):
        suffix = "" if r == 0 else str(r + 1)
        bottom = max(0.0, top - usable * weights[r] / sum(weights))
        row = rows[r] if rows else []
        is_lr_row = bool(row) and all(is_lr(n) for n in row)
        log = opts["log_y"] and r == 0 and not is_lr_row
        last_row = r == n_rows - 1
        xaxis: dict[str, Any] = {"anchor": f"y{suffix}", "showticklabels": last_row}
        if r > 0:
            xaxis["matches"] = "x"
        if last_row:
            xaxis["title"] = {"text": "step"}
        yaxis: dict[str, Any] = {
            "domain": [bottom, top],
            "anchor": f"x{suffix}",
            "title": {"text": "loss" if len(row) > 1 else (row[0] if row else "")},
        }
        if log:
            yaxis["type"] = "log"
        if is_lr_row:
            yaxis["exponentformat"] = "e"
        layout[f"xaxis{suffix}"] = xaxis
        layout[f"yaxis{suffix}"] = yaxis
        top = bottom - gap
        for name in row:
            traces += _metric_traces(history, name, color_of[name], suffix, log, opts, annotations)
    if not rows:
        shown = DEFAULT_TITLE if opts["title"] is None else opts["title"]
        layout["title"]["text"] = html.escape(shown) + " · no steps recorded yet"
    layout["annotations"] = annotations
    return go.Figure({"data": traces, "layout": layout})


def _metric_traces(
    history: MetricHistory,
    name: str,
    color: str,
    suffix: str,
    log: bool,
    opts: dict[str, Any],
    annotations: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The raw (and smoothed) curve of one metric, plus its marked bad points."""
    steps, values = history.series(name)
    axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
    smooth = opts["smooth"] > 0 and not is_lr(name) and not _is_sparse(steps)
    mode = "lines+markers" if len(steps) <= 60 else "lines"
    xs, ys = _arrays(*_decimate(steps, values, opts["max_points"]))
    raw: dict[str, Any] = {
        "type": "scatter",
        "mode": mode,
        "x": xs,
        "y": ys,
        "name": f"{name} (raw)" if smooth else name,
        "legendgroup": name,
        "showlegend": not smooth,
        "line": {"color": color, "width": 1 if smooth else 2},
        "marker": {"size": 4},
        **axes,
    }
    if smooth:
        raw["opacity"] = 0.3
        raw["hoverinfo"] = "skip"
    traces = [raw]
    if smooth:
        _, smoothed = history.smoothed(name, opts["smooth"])
        sx, sy = _arrays(*_decimate(steps, smoothed, opts["max_points"]))
        traces.append(
            {
                "type": "scatter",
                "mode": mode,
                "x": sx,
                "y": sy,
                "name": name,
                "legendgroup": name,
                "line": {"color": color, "width": 2},
                "marker": {"size": 4},
                **axes,
            }
        )
    bad = [i for i, v in enumerate(values) if not _drawable(v, log)]
    if bad:
        ys_bad = [_marker_y(values, i, log) for i in bad]
        labels = [_bad_label(values[i], steps[i]) for i in bad]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [steps[i] for i in bad],
                "y": ys_bad,
                "name": f"{name} not drawn",
                "legendgroup": name,
                "text": labels,
                "hovertemplate": f"{html.escape(name)}: %{{text}}<extra></extra>",
                "marker": {"symbol": "x", "size": 11, "color": _BAD_COLOR},
                **axes,
            }
        )
        first_y = math.log10(ys_bad[0]) if log else ys_bad[0]
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        annotations.append(
            {
                "x": steps[bad[0]],
                "y": first_y,
                "xref": f"x{suffix}",
                "yref": f"y{suffix}",
                "text": f"{html.escape(name)}: {labels[0]}{more}",
                "showarrow": True,
                "arrowcolor": _BAD_COLOR,
                "font": {"color": _BAD_COLOR},
                "ay": -30,
            }
        )
    return traces
