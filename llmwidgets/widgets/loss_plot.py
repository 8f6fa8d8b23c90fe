"""A live loss curve for a training loop: a callback that draws itself in place.

The training loop knows nothing about widgets; it calls a callback (the seam
minGPT's trainer uses)::

    plot = LiveLossPlot(total_steps=2000, smooth=0.9)
    for step in range(1, 2001):
        loss = train_step()
        plot.on_step_end(step, {"train_loss": loss, "lr": sched.get_last_lr()[0]})
        if step % 100 == 0:
            plot(step, {"val_loss": evaluate()})      # the object is callable too
    plot.on_train_end()

* In a notebook kernel the plot is **one** plotly figure, shown with
  ``llmwidgets.show(fig, display_id=True)`` and redrawn in place with
  ``llmwidgets.update`` (no ``FigureWidget``, no pile of outputs). It redraws at most
  every ``every_seconds``, and less often when drawing would take more than
  ``max_overhead`` of the training time. :meth:`LiveLossPlot.on_train_end` always
  redraws, so the final figure stays in the saved notebook and the built book.
* Outside a kernel (scripts, CI logs) it prints one plain line per interval::

      step 200/2000 | train_loss 1.9234 | val_loss 2.0011 | lr 3.0e-04 | 12.1s elapsed, ETA 1m49s

* NaN and inf values are shown, not dropped: a red × at the last finite value and an
  annotation "NaN at step 120".

The numbers live in :class:`llmwidgets.history.MetricHistory` (``plot.history``).
"""

from __future__ import annotations

import html
import math
import numbers
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import numpy as np
import plotly.graph_objects as go

from llmwidgets.training.history import MetricHistory
from llmwidgets.widgets import display

__all__ = ["LiveLossPlot", "format_duration", "format_value"]

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
_MODES = ("auto", "notebook", "text")


def _is_lr(name: str) -> bool:
    """Learning-rate metrics get their own subplot and are never smoothed."""
    low = name.lower()
    return low in ("lr", "learning_rate") or low.endswith("_lr") or low.startswith("lr_")


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


def format_duration(seconds: float) -> str:
    """Format seconds as ``12.1s``, ``1m49s`` or ``2h05m``.

    Args:
        seconds: a duration >= 0.

    Returns:
        The short text.

    Raises:
        ValueError: for a negative, NaN or non-numeric duration.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise ValueError(f"seconds must be a number, got {seconds!r}")
    if not seconds >= 0 or math.isinf(seconds):
        raise ValueError(f"seconds must be finite and >= 0, got {seconds!r}")
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
    if _is_lr(name):
        return f"{value:.1e}"
    size = abs(value)
    if size >= 1e7 or (0 < size < 1e-3):
        return f"{value:.2e}"
    if size >= 1000:
        return f"{value:.0f}"
    return f"{value:.4f}"


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


def _marker_y(values: list[float], i: int, fallback: float) -> float:
    """Where to draw a NaN/inf point: the last finite value before it, else the next."""
    for j in range(i - 1, -1, -1):
        if math.isfinite(values[j]):
            return values[j]
    for j in range(i + 1, len(values)):
        if math.isfinite(values[j]):
            return values[j]
    return fallback


class LiveLossPlot:
    """Live training curves: call it from the training loop, it redraws in place.

    Args:
        total_steps: the last step, for "step 200/2000" and the ETA; ``None``
            when unknown (no ETA then).
        metrics: names to plot, in this order; ``None`` plots every recorded metric.
            Losses (names containing "loss", "ppl" or "perplexity") share the top
            axes; a learning rate (``lr``, ``learning_rate``, ``*_lr``) and every
            other metric get a subplot of their own below.
        every_seconds: redraw (or print) at most this often.
        smooth: exponential smoothing ``0 <= smooth < 1`` (0.9 is typical): the
            smoothed curve is drawn over the faint raw one. Learning rates and
            sparse metrics (recorded on fewer than half of the steps, like a
            periodic val_loss) are never smoothed.
        log_y: logarithmic y axis for the top (loss) axes.
        title: text at the start of the figure title.
        height: figure height in pixels; ``None`` grows with the number of subplots.
        max_points: at most about this many points per curve are drawn (every
            k-th point); the history keeps all of them.
        max_overhead: redraw less often than ``every_seconds`` when drawing would
            otherwise take more than this fraction of the time (0 disables that).
        mode: ``"auto"`` (a figure in a Jupyter kernel, plain lines elsewhere),
            ``"notebook"`` or ``"text"``.
        clock: a function returning seconds, for tests; ``None`` uses
            ``time.monotonic``.
        file: where plain lines go; ``None`` is ``sys.stdout`` at print time.

    Raises:
        ValueError: naming the first bad option.
    """

    def __init__(
        self,
        total_steps: int | None = None,
        *,
        metrics: Sequence[str] | None = None,
        every_seconds: float = 0.5,
        smooth: float = 0.0,
        log_y: bool = False,
        title: str = "training",
        height: int | None = None,
        max_points: int = 1000,
        max_overhead: float = 0.01,
        mode: str = "auto",
        clock: Callable[[], float] | None = None,
        file: TextIO | None = None,
    ) -> None:
        if total_steps is not None and (
            isinstance(total_steps, bool)
            or not isinstance(total_steps, numbers.Integral)
            or total_steps <= 0
        ):
            raise ValueError(f"total_steps must be a positive int or None, got {total_steps!r}")
        if metrics is not None:
            if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not metrics:
                raise ValueError(
                    f"metrics must be a non-empty list of names or None, got {metrics!r}"
                )
            for name in metrics:
                if not isinstance(name, str) or not name:
                    raise ValueError(f"metrics must hold non-empty str names, got {name!r}")
            if len(set(metrics)) != len(metrics):
                raise ValueError(f"metrics has repeated names: {list(metrics)}")
        for opt, val in (("every_seconds", every_seconds), ("max_overhead", max_overhead)):
            if (
                isinstance(val, bool)
                or not isinstance(val, numbers.Real)
                or not 0 <= val < math.inf
            ):
                raise ValueError(f"{opt} must be a finite number >= 0, got {val!r}")
        if max_overhead >= 1:
            raise ValueError(f"max_overhead must be below 1, got {max_overhead!r}")
        if (
            isinstance(smooth, bool)
            or not isinstance(smooth, numbers.Real)
            or not (0.0 <= smooth < 1.0)
        ):
            raise ValueError(f"smooth must be a number in [0, 1), e.g. 0.9; got {smooth!r}")
        if not isinstance(log_y, bool):
            raise ValueError(f"log_y must be True or False, got {log_y!r}")
        if not isinstance(title, str):
            raise ValueError(f"title must be a str, got {title!r}")
        if height is not None and (
            isinstance(height, bool) or not isinstance(height, numbers.Integral) or height < 100
        ):
            raise ValueError(f"height must be an int >= 100 pixels or None, got {height!r}")
        if (
            isinstance(max_points, bool)
            or not isinstance(max_points, numbers.Integral)
            or (max_points < 2)
        ):
            raise ValueError(f"max_points must be an int >= 2, got {max_points!r}")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if clock is not None and not callable(clock):
            raise ValueError(f"clock must be a callable returning seconds, got {clock!r}")

        self.total_steps = None if total_steps is None else int(total_steps)
        self.metrics = None if metrics is None else list(metrics)
        self.every_seconds = float(every_seconds)
        self.smooth = float(smooth)
        self.log_y = log_y
        self.title = title
        self.height = None if height is None else int(height)
        self.max_points = int(max_points)
        self.max_overhead = float(max_overhead)
        self.mode = mode
        self._clock: Callable[[], float] = clock or time.monotonic
        self._file = file
        self._history = MetricHistory(self._clock)
        self._notebook = mode == "notebook" or (mode == "auto" and display.in_kernel())
        self._handle: Any = None
        self._last_draw = -math.inf
        self._draw_cost = 0.0
        self._redraws = 0
        self._ended = False

    # -------------------------------------------------------------- the callback
    @property
    def history(self) -> MetricHistory:
        """The recorded metrics (:class:`~llmwidgets.history.MetricHistory`)."""
        return self._history

    @property
    def redraws(self) -> int:
        """How many times the figure was drawn (or a line printed) so far."""
        return self._redraws

    @property
    def notebook(self) -> bool:
        """True when drawing a figure, False when printing plain lines."""
        return self._notebook

    def on_train_begin(self) -> None:
        """Optional: start the elapsed-time clock now (else at the first step).

        Returns:
            None.
        """
        self._history.start()

    def on_step_end(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Record the metrics of one step; redraw if enough time has passed.

        Args:
            step: the optimiser step (int >= 0, never decreasing).
            metrics: ``{name: number}``, e.g. ``{"train_loss": 2.1, "lr": 3e-4}``;
                NaN and inf are recorded and marked.

        Returns:
            None.

        Raises:
            ValueError: from :meth:`MetricHistory.record` for a bad step or value.
        """
        if self._ended:  # training resumed after on_train_end: a new output
            self._ended = False
            self._handle = None
            self._last_draw = -math.inf
        self._history.record(step, metrics)
        interval = self.every_seconds
        if self.max_overhead > 0:
            interval = max(interval, self._draw_cost / self.max_overhead)
        if self._clock() - self._last_draw >= interval:
            self._draw()

    __call__ = on_step_end

    def on_train_end(self) -> None:
        """Stop the clock and draw the final state (figure or line) once more.

        Returns:
            None.
        """
        self._history.stop()
        if self.metrics is not None:
            missing = [m for m in self.metrics if m not in self._history]
            if missing:
                warnings.warn(
                    f"LiveLossPlot: metrics {missing} were never recorded; "
                    f"recorded metrics: {self._history.names}",
                    stacklevel=2,
                )
        self._ended = True
        if self._history.step is not None:
            self._draw()

    def _draw(self) -> None:
        start = self._clock()
        if self._notebook:
            fig = self.figure()
            if self._handle is None:
                self._handle = display.show(fig, display_id=True)
            else:
                display.update(self._handle, fig)
        else:
            print(self.status_line(), file=self._file or sys.stdout, flush=True)
        self._last_draw = self._clock()
        cost = max(0.0, self._last_draw - start)
        # The first draw pays one-time imports (plotly's validators and templates);
        # later costs are averaged so one slow draw does not stall the updates.
        if self._redraws == 1:
            self._draw_cost = cost
        elif self._redraws > 1:
            self._draw_cost = 0.7 * self._draw_cost + 0.3 * cost
        self._redraws += 1

    # ------------------------------------------------------------------- views
    def _selected(self) -> list[str]:
        names = self._history.names
        if self.metrics is None:
            return names
        return [m for m in self.metrics if m in self._history]

    def _progress(self) -> tuple[str, str]:
        """``("step 200/2000", "12.1s elapsed, ETA 1m49s")``."""
        step = self._history.step
        where = f"step {step if step is not None else '-'}"
        if self.total_steps is not None:
            where += f"/{self.total_steps}"
        timing = f"{format_duration(self._history.elapsed())} elapsed"
        if self._ended:
            timing += ", done"
        elif self.total_steps is not None:
            eta = self._history.eta(self.total_steps)
            if eta is not None:
                timing += f", ETA {format_duration(eta)}"
        return where, timing

    def status_line(self) -> str:
        """The plain line printed outside a notebook.

        Returns:
            e.g. ``"step 200/2000 | train_loss 1.9234 | lr 3.0e-04 | 12.1s elapsed,
            ETA 1m49s"``.
        """
        where, timing = self._progress()
        last = self._history.last()
        values = [f"{n} {format_value(n, last[n])}" for n in self._selected()]
        return " | ".join([where, *values, timing])

    def _title(self) -> str:
        where, timing = self._progress()
        last = self._history.last()
        head = " · ".join(html.escape(p) for p in (self.title, where, timing) if p)
        values = " · ".join(
            f"{html.escape(n)} {format_value(n, last[n])}" for n in self._selected()
        )
        return f"{head}<br><sup>{values}</sup>" if values else head

    def _rows(self) -> list[list[str]]:
        names = self._selected()
        losses = [n for n in names if _is_loss(n) and not _is_lr(n)]
        rest = [n for n in names if n not in losses]
        rows = [losses] if losses else []
        rows += [[n] for n in rest]
        return rows

    def figure(self) -> go.Figure:
        """The current figure (a new ``go.Figure`` each call).

        Returns:
            A plotly figure: one row of axes for the losses, one per other metric,
            a shared step axis; NaN/inf points as red × with an annotation.
        """
        rows = self._rows()
        n_rows = max(1, len(rows))
        has_losses = bool(rows) and any(_is_loss(n) for n in rows[0])
        weights = [3.0 if r == 0 and has_losses and n_rows > 1 else 1.0 for r in range(n_rows)]
        gap = 0.06 if n_rows > 1 else 0.0
        usable = 1.0 - gap * (n_rows - 1)
        total = sum(weights)
        layout: dict[str, Any] = {
            "title": {"text": self._title(), "x": 0.01, "xanchor": "left"},
            "height": self.height or 380 + 150 * (n_rows - 1),
            "margin": {"t": 80, "l": 70, "r": 20, "b": 50},
            "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0,
                       "yanchor": "bottom"},
            "hovermode": "x unified",
        }  # fmt: skip
        traces: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        top = 1.0
        color_of = {n: _COLORS[i % len(_COLORS)] for i, n in enumerate(self._selected())}
        for r in range(n_rows):
            suffix = "" if r == 0 else str(r + 1)
            height = usable * weights[r] / total
            bottom = max(0.0, top - height)
            names = rows[r] if rows else []
            is_lr_row = bool(names) and all(_is_lr(n) for n in names)
            log = self.log_y and r == 0 and not is_lr_row
            last_row = r == n_rows - 1
            xaxis: dict[str, Any] = {"anchor": f"y{suffix}", "showticklabels": last_row}
            if r > 0:
                xaxis["matches"] = "x"
            if last_row:
                xaxis["title"] = {"text": "step"}
            yaxis: dict[str, Any] = {
                "domain": [bottom, top],
                "anchor": f"x{suffix}",
                "title": {"text": "loss" if len(names) > 1 else (names[0] if names else "")},
            }
            if log:
                yaxis["type"] = "log"
            if is_lr_row:
                yaxis["exponentformat"] = "e"
            layout[f"xaxis{suffix}"] = xaxis
            layout[f"yaxis{suffix}"] = yaxis
            top = bottom - gap
            for name in names:
                traces += self._metric_traces(name, color_of[name], suffix, log, annotations)
        if not rows:
            layout["title"]["text"] = html.escape(self.title) + " · no steps recorded yet"
        layout["annotations"] = annotations
        return go.Figure({"data": traces, "layout": layout})

    def static_figure(self) -> go.Figure:
        """The figure as it stands (the same as :meth:`figure`), for the book.

        Returns:
            A plotly figure.
        """
        return self.figure()

    def _metric_traces(
        self, name: str, color: str, suffix: str, log: bool, annotations: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        steps, values = self._history.series(name)
        axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        smooth = self.smooth > 0 and not _is_lr(name) and not _is_sparse(steps)
        mode = "lines+markers" if len(steps) <= 60 else "lines"
        xs, ys = _arrays(*_decimate(steps, values, self.max_points))
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
            _, smoothed = self._history.smoothed(name, self.smooth)
            sx, sy = _arrays(*_decimate(steps, smoothed, self.max_points))
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
        bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            fallback = 1.0 if log else 0.0
            ys_bad = [_marker_y(values, i, fallback) for i in bad]
            labels = [
                f"{'NaN' if math.isnan(values[i]) else f'{values[i]:+}'} at step {steps[i]}"
                for i in bad
            ]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [steps[i] for i in bad],
                    "y": ys_bad,
                    "name": f"{name} NaN/inf",
                    "legendgroup": name,
                    "text": labels,
                    "hovertemplate": f"{html.escape(name)}: %{{text}}<extra></extra>",
                    "marker": {"symbol": "x", "size": 11, "color": _BAD_COLOR},
                    **axes,
                }
            )
            first_y = ys_bad[0]
            if log:
                first_y = math.log10(first_y) if first_y > 0 else 0.0
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

    # ----------------------------------------------------------------- display
    def _ipython_display_(self) -> None:
        """Show the current figure (the static form) when the object ends a cell."""
        display.show(self.figure())

    def __repr__(self) -> str:
        return (
            f"LiveLossPlot(total_steps={self.total_steps}, step={self._history.step}, "
            f"metrics={self._history.names}, mode={'notebook' if self._notebook else 'text'})"
        )
