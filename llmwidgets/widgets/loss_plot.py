"""A live loss curve for a training loop: a callback that only decides when to draw.

The numbers live in ONE :class:`~llmwidgets.training.history.MetricHistory`: the
trainer's, which :class:`llmwidgets.Trainer` hands over through
``on_train_begin(history)``, or one given as ``LiveLossPlot(history=...)``, or (fed by
hand) one the plot makes itself. The figure and the text line are pure functions of
that history (:func:`~llmwidgets.widgets.loss_figure.loss_figure`,
:func:`~llmwidgets.widgets.loss_status.status_line`), so a resumed run is drawn whole,
with the run's elapsed time, and any saved history can be drawn the same way::

    plot = LiveLossPlot(total_steps=2000, smooth=0.9)
    trainer = Trainer(model, config, batches, callbacks=[plot])   # plot draws trainer.history
    trainer.fit()

    plot = LiveLossPlot(total_steps=100)                          # fed by hand
    for step in range(1, 101):
        plot.on_step_end(step, {"train_loss": train_step()})
    plot.on_train_end()

* In a notebook kernel the plot is **one** output, redrawn in place through
  :class:`~llmwidgets.widgets.display.LiveFigure` (no frame without the plot), at most
  every ``every_seconds`` and less often when drawing would take more than
  ``max_overhead`` of the training time. :meth:`LiveLossPlot.on_train_end` draws the
  final state as a plain figure, which the saved notebook and the built book keep.
  Training again in the same cell (``fit()`` called again) redraws the same output.
* Outside a kernel (scripts, CI logs) it prints one plain line per interval.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import plotly.graph_objects as go

from llmwidgets.core.validate import check_choice, check_real
from llmwidgets.training.history import MetricHistory
from llmwidgets.widgets import display
from llmwidgets.widgets.base import NoControls
from llmwidgets.widgets.loss_figure import loss_figure
from llmwidgets.widgets.loss_status import check_options, status_line

__all__ = ["LiveLossPlot"]

_MODES = ("auto", "notebook", "text")


def _current_cell() -> str | None:
    """The id of the request the kernel is running now (a cell), or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    parent = getattr(get_ipython(), "parent_header", None) or {}
    return (parent.get("header") or {}).get("msg_id")


def _option(name: str) -> property:
    """A read-only attribute for one drawing option (change it with ``set()``)."""
    return property(lambda self: self._options[name], doc=f"The {name} option (see set()).")


class LiveLossPlot(NoControls):
    """Live training curves of one run: a training callback that redraws in place.

    Args:
        total_steps: the last step, for "step 200/2000", the ETA and "done"; ``None``
            when unknown.
        history: the run's :class:`MetricHistory` to draw; ``None`` draws the one the
            trainer passes to :meth:`on_train_begin`, or (fed by hand) a new one.
        metrics: names to plot, in order; ``None`` plots every recorded metric
            (see :func:`~llmwidgets.widgets.loss_figure.loss_figure`).
        every_seconds: redraw (or print) at most this often.
        smooth: exponential smoothing ``0 <= smooth < 1``.
        log_y: logarithmic y axis for the losses.
        title: text at the start of the title; ``None`` is ``"training"``.
        height: figure height in pixels; ``None`` grows with the number of rows.
        max_points: at most about this many points drawn per curve.
        max_overhead: redraw less often than ``every_seconds`` when drawing would
            take more than this fraction of the time (0 disables that).
        mode: ``"auto"`` (a figure in a Jupyter kernel, plain lines elsewhere),
            ``"notebook"`` or ``"text"``.
        clock: seconds for the throttling, for tests; ``None`` uses
            ``time.monotonic``. The elapsed time shown is always the history's.
        file: where plain lines go; ``None`` is ``sys.stdout`` at print time.

    Raises:
        ValueError: naming the first bad option.
    """

    def __init__(
        self,
        total_steps: int | None = None,
        *,
        history: MetricHistory | None = None,
        metrics: Sequence[str] | None = None,
        every_seconds: float = 0.5,
        smooth: float = 0.0,
        log_y: bool = False,
        title: str | None = None,
        height: int | None = None,
        max_points: int = 1000,
        max_overhead: float = 0.01,
        mode: str = "auto",
        clock: Callable[[], float] | None = None,
        file: TextIO | None = None,
    ) -> None:
        self._options = check_options(
            metrics=metrics,
            smooth=smooth,
            log_y=log_y,
            title=title,
            height=height,
            max_points=max_points,
            total_steps=total_steps,
        )
        self.every_seconds = check_real("every_seconds", every_seconds, 0)
        self.max_overhead = check_real("max_overhead", max_overhead, 0, 1, max_open=True)
        self.mode = check_choice("mode", mode, _MODES)
        if clock is not None and not callable(clock):
            raise ValueError(f"clock must be a callable returning seconds, got {clock!r}")
        self._clock: Callable[[], float] = clock or time.monotonic
        self._file = file
        self._owns_history = history is None
        self._history = MetricHistory(clock) if history is None else self._check(history)
        self._notebook = mode == "notebook" or (mode == "auto" and display.in_kernel())
        self._live: Any = None  # the LiveFigure shown in the cell _cell
        self._cell: str | None = None
        self._last_draw = -math.inf
        self._draw_cost = 0.0
        self._redraws = 0

    @staticmethod
    def _check(history: Any) -> MetricHistory:
        if not isinstance(history, MetricHistory):
            raise ValueError(f"history must be a MetricHistory, got {type(history).__name__}")
        return history

    # ---------------------------------------------------------------- options
    total_steps = _option("total_steps")
    metrics = _option("metrics")
    smooth = _option("smooth")
    log_y = _option("log_y")
    title = _option("title")
    height = _option("height")
    max_points = _option("max_points")

    def set(self, **kwargs: Any) -> None:
        """Change drawing options (keyword-only; those of the constructor's figure part).

        Args:
            **kwargs: any of ``total_steps``, ``metrics``, ``smooth``, ``log_y``,
                ``title``, ``height``, ``max_points``.

        Returns:
            None. A figure already shown is redrawn; on a ValueError nothing changes.
        """
        self._options = check_options(**{**self._options, **kwargs})
        if self._live is not None:
            self._live.update(self.figure())

    # ------------------------------------------------------------ the callback
    @property
    def history(self) -> MetricHistory:
        """The run's metrics: the one history this plot draws."""
        return self._history

    @property
    def redraws(self) -> int:
        """How many times the figure was drawn (or a line printed) so far."""
        return self._redraws

    @property
    def notebook(self) -> bool:
        """True when drawing a figure, False when printing plain lines."""
        return self._notebook

    def on_train_begin(self, history: MetricHistory | None = None) -> None:
        """Adopt the trainer's history (the Trainer calls this with it).

        Args:
            history: the run's history; the plot draws it from now on and keeps no
                copy. ``None`` (fed by hand) starts the plot's own clock if nothing was
                recorded yet; a run already under way keeps its clock.

        Returns:
            None.
        """
        if history is not None:
            self._history = self._check(history)
            self._owns_history = False
        elif self._history.step is None:
            self._history.start()

    def on_step_end(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Take the metrics of one step; redraw if enough time has passed.

        Metrics the history already holds at this step (the Trainer records before it
        calls its callbacks) are not recorded again; the others are.

        Args:
            step: the optimiser step (int >= 0, never decreasing).
            metrics: ``{name: number}``; NaN and inf are recorded and marked.

        Returns:
            None.

        Raises:
            ValueError: from :meth:`MetricHistory.record` for a bad step or value.
        """
        if not isinstance(metrics, Mapping):
            raise ValueError(f"metrics must be a dict {{name: number}}, got {metrics!r}")
        h = self._history
        new = {k: v for k, v in metrics.items() if not (k in h and h.last_step_of(k) == step)}
        if new or not metrics:
            h.record(step, new)
        interval = self.every_seconds
        if self.max_overhead > 0:
            interval = max(interval, self._draw_cost / self.max_overhead)
        if self._clock() - self._last_draw >= interval:
            self._draw()

    __call__ = on_step_end

    def on_train_end(self) -> None:
        """Draw the final state (a plain figure in a notebook, a line elsewhere).

        Returns:
            None.
        """
        if self._owns_history:
            self._history.stop()
        wanted = self._options["metrics"]
        missing = [m for m in wanted or () if m not in self._history]
        if missing:
            warnings.warn(
                f"LiveLossPlot: metrics {missing} were never recorded; "
                f"recorded metrics: {self._history.names}",
                stacklevel=2,
            )
        if self._history.step is not None:
            self._draw(final=True)

    def _draw(self, final: bool = False) -> None:
        start = self._clock()
        if self._notebook:
            self._send(self.figure(), final)
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

    def _send(self, fig: go.Figure, final: bool) -> None:
        """One output per cell: redraw the one shown in this cell, else show a new one."""
        cell = _current_cell()
        if self._live is None or cell != self._cell:
            if final:
                display.show(fig)
                return
            self._live, self._cell = display.LiveFigure(fig, transient=True), cell
        elif final:
            self._live.finish(fig)
        else:
            self._live.update(fig)

    # ------------------------------------------------------------------- views
    def status_line(self) -> str:
        """The plain line printed outside a notebook (see :func:`status_line`)."""
        opts = self._options
        return status_line(self._history, opts["total_steps"], metrics=opts["metrics"])

    def figure(self) -> go.Figure:
        """The current figure (a new ``go.Figure`` each call; see :func:`loss_figure`)."""
        return loss_figure(self._history, **self._options)

    def display(self) -> None:
        """Show the current figure as a plain output (a figure outside a kernel's widgets).

        Returns:
            None.
        """
        display.show(self.figure())

    def _ipython_display_(self) -> None:
        self.display()

    def __repr__(self) -> str:
        return (
            f"LiveLossPlot(total_steps={self.total_steps}, step={self._history.step}, "
            f"metrics={self._history.names}, mode={'notebook' if self._notebook else 'text'})"
        )
