"""AttentionViewer: attention weights behind layer / head / view controls.

The weights are checked once, when the viewer is made
(:func:`~llmwidgets.nn.attention.normalize_attention`); every change of layer, head or
view then draws the checked :class:`~llmwidgets.nn.attention.AttentionData` again with
the figure functions of :mod:`llmwidgets.widgets.attention_figures` and
:mod:`llmwidgets.widgets.attention_lines`.

Shown as the last expression of a cell it is live in a kernel with ipywidgets (controls
above a figure redrawn in place) and its static form elsewhere: a heatmap with a
dropdown over all layer x head pairs that works in the built book with no kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from llmwidgets.core.validate import check_choice
from llmwidgets.nn.attention import check_index
from llmwidgets.widgets.attention_figures import (
    checked,
    grid,
    grid_figure,
    heatmap,
    heatmap_figure,
    static_heatmap,
)
from llmwidgets.widgets.attention_lines import lines, lines_figure
from llmwidgets.widgets.base import UNSET, LiveWidget, check_height, check_title

# grid_figure, heatmap_figure and lines_figure are re-exported for llmwidgets/__init__.py.
__all__ = ["AttentionViewer", "attention_viewer", "grid_figure", "heatmap_figure", "lines_figure"]

#: The view kinds :class:`AttentionViewer` offers.
VIEWS = ("heatmap", "lines", "grid")


class AttentionViewer(LiveWidget):
    """Attention weights behind layer / head / view controls.

    Args:
        attention: weights in any form :func:`normalize_attention` accepts.
        tokens: labels for self-attention.
        source_tokens: cross-attention key labels.
        target_tokens: cross-attention query labels.
        layer: layer shown first.
        head: head shown first.
        view: ``"heatmap"``, ``"lines"`` or ``"grid"``.
        title: title prefix of the figures (``None``: "Attention").
        height: figure height in pixels (``None``: depends on the view).

    Raises:
        ValueError: for weights or tokens :func:`normalize_attention` refuses, or a bad
            option.
    """

    def __init__(
        self,
        attention: Any,
        tokens: Sequence[str] | None = None,
        *,
        source_tokens: Sequence[str] | None = None,
        target_tokens: Sequence[str] | None = None,
        layer: int = 0,
        head: int = 0,
        view: str = "heatmap",
        title: str | None = None,
        height: int | None = None,
    ) -> None:
        super().__init__()
        self.data = checked(attention, tokens, source_tokens, target_tokens)
        self.layer, self.head, self.view = 0, 0, "heatmap"
        self.title, self.height = None, None
        self._controls: Any = None
        self._syncing = False
        self.set(layer=layer, head=head, view=view, title=title, height=height)

    def __repr__(self) -> str:
        n_q, n_k = self.data.weights.shape[2:]
        return (
            f"AttentionViewer(L={self.data.n_layers}, H={self.data.n_heads}, T_q={n_q}, "
            f"T_k={n_k}, layer={self.layer}, head={self.head}, view={self.view!r})"
        )

    def figure(self) -> go.Figure:
        """The figure of the current layer, head and view.

        Returns:
            A new ``go.Figure``.
        """
        options = {"title": self.title, "height": self.height}
        if self.view == "grid":
            return grid(self.data, **options)
        draw = heatmap if self.view == "heatmap" else lines
        return draw(self.data, self.layer, self.head, **options)

    def static_figure(self) -> go.Figure:
        """The static form: one heatmap per layer x head behind a dropdown (no kernel).

        Returns:
            See :func:`~llmwidgets.widgets.attention_figures.static_heatmap`; the current
            layer and head are shown first.
        """
        return static_heatmap(
            self.data, self.layer, self.head, title=self.title, height=self.height
        )

    def set(
        self,
        *,
        layer: int = UNSET,
        head: int = UNSET,
        view: str = UNSET,
        title: str | None = UNSET,
        height: int | None = UNSET,
    ) -> None:
        """Change what is shown (only what is given), then redraw every live display.

        Args:
            layer: layer index.
            head: head index.
            view: ``"heatmap"``, ``"lines"`` or ``"grid"``.
            title: title prefix (``None``: "Attention").
            height: figure height in pixels (``None``: automatic).

        Returns:
            None. All values are checked first: on a ValueError nothing changes.
        """
        new = {
            "layer": self.layer if layer is UNSET else layer,
            "head": self.head if head is UNSET else head,
            "view": self.view if view is UNSET else view,
            "title": self.title if title is UNSET else title,
            "height": self.height if height is UNSET else height,
        }
        new["layer"] = check_index("layer", new["layer"], self.data.n_layers, "layers")
        new["head"] = check_index("head", new["head"], self.data.n_heads, "heads")
        check_choice("view", new["view"], VIEWS)
        check_title(new["title"])
        new["height"] = check_height(new["height"])
        for name, value in new.items():
            setattr(self, name, value)
        self._sync_controls()
        self._redraw()

    def controls(self) -> Any:
        """The ipywidgets controls (layer, head, view), built on first use.

        Returns:
            An ``ipywidgets.HBox``: two dropdowns, then the view buttons on one row.
        """
        if self._controls is None:
            import ipywidgets as widgets

            def dropdown(name: str, size: int) -> Any:
                box = widgets.Dropdown(
                    options=list(range(size)),
                    value=getattr(self, name),
                    description=name,
                    style={"description_width": "40px"},
                    layout={"width": "130px"},
                )
                box.observe(lambda change: self._from_control(name, change["new"]), "value")
                return box

            # The view label is a Label of its own, centred like the dropdowns'; the
            # buttons have a fixed width so the three always fit on one row.
            view = widgets.ToggleButtons(
                options=list(VIEWS),
                value=self.view,
                style={"button_width": "76px"},
                layout={"width": "auto", "flex": "0 0 auto"},
            )
            view.observe(lambda change: self._from_control("view", change["new"]), "value")
            boxes = [dropdown("layer", self.data.n_layers), dropdown("head", self.data.n_heads)]
            label = widgets.Label("view", layout={"margin": "0 4px 0 12px"})
            self._controls = widgets.HBox(
                [*boxes, label, view],
                layout={"align_items": "center", "flex_flow": "row nowrap"},
            )
            self._sync_controls()
        return self._controls

    def _from_control(self, name: str, value: Any) -> None:
        if not self._syncing:
            self.set(**{name: value})

    def _sync_controls(self) -> None:
        """Make the controls show the current state without triggering a redraw."""
        if self._controls is None:
            return
        layer, head, _, view = self._controls.children
        self._syncing = True
        try:
            layer.value, head.value, view.value = self.layer, self.head, self.view
            layer.disabled = head.disabled = self.view == "grid"
        finally:
            self._syncing = False


def attention_viewer(
    attention: Any, tokens: Sequence[str] | None = None, **kwargs: Any
) -> AttentionViewer:
    """Build an :class:`AttentionViewer` (same arguments); end a cell with it to show it.

    Args:
        attention: weights in any form :func:`normalize_attention` accepts.
        tokens: labels for self-attention.
        **kwargs: the keyword arguments of :class:`AttentionViewer`.

    Returns:
        The viewer.
    """
    return AttentionViewer(attention, tokens, **kwargs)
