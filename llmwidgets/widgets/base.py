"""What the live widgets share: checks of the common options and the display logic.

Every widget of :mod:`llmwidgets.widgets` has the same methods (see
``docs/widget-conventions.md``): ``figure()``, ``static_figure()``, ``controls()``,
``set(**kwargs)`` and ``display()``. :class:`LiveWidget` implements ``display()`` once
for the two widgets with controls (:class:`~llmwidgets.widgets.sampling_explorer.SamplingExplorer`
and :class:`~llmwidgets.widgets.attention_viewer.AttentionViewer`): the live form in a
kernel with ipywidgets, the static form elsewhere.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from llmwidgets.core.validate import check_optional_int, check_str
from llmwidgets.widgets.display import LiveFigure, live_widgets_available, show

__all__ = ["UNSET", "LiveWidget", "NoControls", "check_height", "check_title"]

#: Default of ``set()`` arguments: "keep the current value" (``None`` can be a value,
#: e.g. ``top_k=None`` turns top-k off).
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()

#: The smallest figure height accepted, in pixels.
MIN_HEIGHT = 100


def check_title(title: Any) -> str | None:
    """A figure title: a str, or ``None`` for the widget's own default.

    Args:
        title: what the caller passed.

    Returns:
        The title or ``None``.
    """
    return None if title is None else check_str("title", title, allow_empty=True)


def check_height(height: Any) -> int | None:
    """A figure height in pixels (>= 100), or ``None`` for an automatic height.

    Args:
        height: what the caller passed.

    Returns:
        The height or ``None``.
    """
    return check_optional_int("height", height, MIN_HEIGHT)


class LiveWidget:
    """Base of the widgets with controls: shows itself live or static, redraws in place.

    Subclasses implement :meth:`figure`, :meth:`static_figure`, :meth:`controls` and
    ``set(**kwargs)``, and call :meth:`_redraw` after a change.
    """

    def __init__(self) -> None:
        self._live: list[LiveFigure] = []  # one per live display of this widget

    def figure(self) -> go.Figure:
        """The figure of the current state."""
        raise NotImplementedError

    def static_figure(self) -> go.Figure:
        """The kernel-free form (plotly's own sliders or menus)."""
        raise NotImplementedError

    def controls(self) -> Any:
        """The ipywidgets controls."""
        raise NotImplementedError

    def display(self) -> None:
        """Show the widget: live in a kernel with ipywidgets, else its static form.

        The live form is one output: the controls above the figure, which
        :meth:`set` redraws in place; that output also carries :meth:`static_figure`,
        which frontends without widgets (the built book, nbviewer, GitHub) show.

        Returns:
            None.
        """
        if live_widgets_available():
            live = LiveFigure(
                self.figure(), controls=self.controls(), fallback=self.static_figure()
            )
            self._live.append(live)
        else:
            show(self.static_figure())

    def _ipython_display_(self) -> None:
        self.display()

    def _redraw(self) -> None:
        """Redraw every live display of this widget with the current figure."""
        if self._live:
            fig = self.figure()
            for live in self._live:
                live.update(fig)


class NoControls:
    """For the widgets without controls (``LiveLossPlot``, ``TokenViewer``).

    Their static form is the figure itself and :meth:`controls` is ``None``; a subclass
    implements ``figure()``.
    """

    def figure(self) -> go.Figure:
        """The figure of the current state."""
        raise NotImplementedError

    def static_figure(self) -> go.Figure:
        """The kernel-free form: the same figure (there are no controls to replace).

        Returns:
            :meth:`figure`.
        """
        return self.figure()

    def controls(self) -> None:
        """There are no controls.

        Returns:
            None.
        """
        return None
