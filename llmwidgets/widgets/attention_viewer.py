"""Look at attention weights: one head as a heatmap or as lines, or all heads as a grid.

The numbers are checked by :func:`llmwidgets.attention_capture.normalize_attention`; this
module only draws them. Three views, each a function returning a ``go.Figure``:

* :func:`heatmap_figure` - query tokens down the y axis, key tokens along the x axis;
  cells hidden by a causal mask are grey and say "masked" on hover;
* :func:`lines_figure` - queries on the left, keys on the right, one band per pair whose
  thickness is proportional to the weight; one trace per query token, so clicking a
  legend entry hides it, double-clicking isolates it, and the dropdown highlights it;
* :func:`grid_figure` - every layer x head as a small heatmap on one shared colour scale.

:class:`AttentionViewer` puts them behind layer / head / view controls (live form) and
offers :meth:`AttentionViewer.static_figure`, a heatmap with a dropdown over all
layer x head pairs that works in the built book with no kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmwidgets.nn.attention import AttentionData, check_index, normalize_attention
from llmwidgets.widgets.display import live_widgets_available, show, update

__all__ = ["AttentionViewer", "attention_viewer", "grid_figure", "heatmap_figure", "lines_figure"]

#: The view kinds :class:`AttentionViewer` offers.
VIEWS = ("heatmap", "lines", "grid")
COLORSCALE = "Blues"
MASK_COLOR = "#c8c8c8"  # masked cells: the plot background shows through NaN cells
BAND_COLOR = "rgba(31, 119, 180, 0.55)"
_HOVER = "query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"


def _axis_labels(tokens: Sequence[str]) -> list[str]:
    """Printable, unique labels for a categorical axis.

    A repeated token gets invisible zero-width spaces appended, so plotly keeps one
    column per position instead of merging the repeats.
    """
    seen: dict[str, int] = {}
    labels = []
    for token in tokens:
        label = token.replace("\n", "↵").replace("\t", "⇥").replace(" ", "␣") or "∅"
        count = seen.get(label, 0)
        seen[label] = count + 1
        labels.append(label + "\u200b" * count)
    return labels


def _zmax(data: AttentionData) -> float:
    return max(float(data.weights.max()), 1e-9)


def _auto_height(rows: int, per_row: int = 22) -> int:
    return int(min(900, max(320, 140 + per_row * rows)))


def _title(title: str, layer: int, head: int) -> str:
    return f"{title}: layer {layer}, head {head}"


def _head_trace(data: AttentionData, layer: int, head: int, **kwargs: Any) -> go.Heatmap:
    """One head as a heatmap trace; masked cells are NaN (drawn as gaps)."""
    z = data.head(layer, head).astype(np.float32)
    z = np.where(data.mask, np.float32(np.nan), z)
    return go.Heatmap(
        z=z,
        x=_axis_labels(data.key_tokens),
        y=_axis_labels(data.query_tokens),
        name=f"layer {layer}, head {head}",
        hoverongaps=False,
        hovertemplate=_HOVER,
        **kwargs,
    )


def _mask_trace(data: AttentionData) -> go.Heatmap:
    """A grey overlay on the masked cells, so hovering them says "masked"."""
    return go.Heatmap(
        z=np.where(data.mask, 1.0, np.nan).astype(np.float32),
        x=_axis_labels(data.key_tokens),
        y=_axis_labels(data.query_tokens),
        name="masked",
        colorscale=[[0, MASK_COLOR], [1, MASK_COLOR]],
        showscale=False,
        hoverongaps=False,
        hovertemplate="query %{y}<br>key %{x}<br>masked (causal)<extra></extra>",
    )


def _heatmap_layout(fig: go.Figure, data: AttentionData, title: str, height: int | None) -> None:
    fig.update_layout(
        title={"text": title},
        height=height or _auto_height(len(data.query_tokens)),
        plot_bgcolor=MASK_COLOR,
        xaxis={"type": "category", "title": {"text": "key"}, "tickangle": -45, "showgrid": False},
        yaxis={
            "type": "category",
            "title": {"text": "query"},
            "autorange": "reversed",
            "showgrid": False,
        },
    )


def _data(attention: Any, tokens: Any, source_tokens: Any, target_tokens: Any) -> AttentionData:
    return normalize_attention(
        attention, tokens, source_tokens=source_tokens, target_tokens=target_tokens
    )


def heatmap_figure(
    attention: Any,
    tokens: Sequence[str] | None = None,
    layer: int = 0,
    head: int = 0,
    *,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    title: str = "Attention",
    height: int | None = None,
) -> go.Figure:
    """One head's weights as a heatmap: query tokens on y, key tokens on x.

    Args:
        attention: weights in any form :func:`normalize_attention` accepts.
        tokens: labels for self-attention.
        layer: layer index.
        head: head index.
        source_tokens: cross-attention key labels (x axis).
        target_tokens: cross-attention query labels (y axis).
        title: title prefix; the layer and head are appended.
        height: figure height in pixels (default: grows with the number of queries).

    Returns:
        A figure whose first trace holds the weights (NaN where a causal mask hides a key),
        plus a grey "masked" trace over those cells when the pattern is causal.
    """
    data = _data(attention, tokens, source_tokens, target_tokens)
    fig = go.Figure(_head_trace(data, layer, head, colorscale=COLORSCALE, zmin=0, zmax=_zmax(data)))
    if data.causal:
        fig.add_trace(_mask_trace(data))
    _heatmap_layout(fig, data, _title(title, layer, head), height)
    return fig


def static_heatmap_figure(
    data: AttentionData,
    layer: int = 0,
    head: int = 0,
    *,
    title: str = "Attention",
    height: int | None = None,
) -> go.Figure:
    """Every head precomputed as a heatmap trace, with a dropdown showing one at a time.

    Args:
        data: checked weights (see :func:`normalize_attention`).
        layer: layer shown first.
        head: head shown first.
        title: title prefix; the layer and head are appended.
        height: figure height in pixels.

    Returns:
        A figure with ``L * H`` heatmap traces (layer-major: trace ``l * H + h``), then a
        "masked" trace when causal, and one dropdown button per layer x head.
    """
    n_layers, n_heads = data.n_layers, data.n_heads
    shown = check_index("layer", layer, n_layers, "layers") * n_heads
    shown += check_index("head", head, n_heads, "heads")
    fig = go.Figure()
    fig.update_layout(coloraxis={"colorscale": COLORSCALE, "cmin": 0, "cmax": _zmax(data)})
    for index in range(n_layers * n_heads):
        trace = _head_trace(data, *divmod(index, n_heads), coloraxis="coloraxis")
        fig.add_trace(trace.update(visible=index == shown))
    if data.causal:
        fig.add_trace(_mask_trace(data))
    extra = [True] if data.causal else []
    buttons = [
        {
            "label": f"layer {index // n_heads}, head {index % n_heads}",
            "method": "update",
            "args": [
                {"visible": [i == index for i in range(n_layers * n_heads)] + extra},
                {"title.text": _title(title, *divmod(index, n_heads))},
            ],
        }
        for index in range(n_layers * n_heads)
    ]
    _heatmap_layout(fig, data, _title(title, layer, head), height)
    fig.update_layout(
        updatemenus=[
            {
                "buttons": buttons,
                "active": shown,
                "x": 1.0,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ]
    )
    return fig


def _band(query: int, key: int, weight: float) -> list[tuple[float | None, float | None]]:
    """A closed band from query row ``query`` (x=0) to key row ``key`` (x=1)."""
    half = 0.4 * weight  # a weight of 1 fills 80% of the gap between two rows
    return [
        (0.0, query - half),
        (1.0, key - half),
        (1.0, key + half),
        (0.0, query + half),
        (0.0, query - half),
        (None, None),
    ]


def _top(labels: Sequence[str], weights: np.ndarray, count: int = 3) -> str:
    order = np.argsort(-weights, kind="stable")[:count]
    return ", ".join(f"{labels[i]} {weights[i]:.2f}" for i in order if weights[i] > 0)


def lines_figure(
    attention: Any,
    tokens: Sequence[str] | None = None,
    layer: int = 0,
    head: int = 0,
    *,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    title: str = "Attention",
    height: int | None = None,
) -> go.Figure:
    """One head as lines: queries on the left, keys on the right.

    Each query-key pair with a weight above 0 is a band whose thickness is proportional
    to the weight. The bands of one query form one trace (named after the query token):
    click its legend entry to hide it, double-click to show it alone, or pick it in the
    dropdown to highlight it. Hover a token for its strongest links.

    Args:
        attention: weights in any form :func:`normalize_attention` accepts.
        tokens: labels for self-attention.
        layer: layer index.
        head: head index.
        source_tokens: cross-attention key labels (right column).
        target_tokens: cross-attention query labels (left column).
        title: title prefix; the layer and head are appended.
        height: figure height in pixels.

    Returns:
        A figure with ``T_q`` band traces (trace ``i`` for query ``i``) followed by the
        query-token and key-token marker traces.
    """
    data = _data(attention, tokens, source_tokens, target_tokens)
    weights = data.head(layer, head)
    queries, keys = _axis_labels(data.query_tokens), _axis_labels(data.key_tokens)
    fig = go.Figure()
    for i, row in enumerate(weights):
        points = [p for j in np.flatnonzero(row > 0) for p in _band(i, int(j), float(row[j]))]
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in points],
                y=[y for _, y in points],
                mode="lines",
                fill="toself",
                fillcolor=BAND_COLOR,
                line={"width": 0},
                name=f"{i}: {queries[i]}",
                legendgroup=f"query {i}",
                hoveron="fills",
                hoverinfo="text",
                text=f"query {queries[i]} → {_top(keys, row)}",
            )
        )
    marker = {"size": 7, "color": "rgb(31, 119, 180)"}
    fig.add_trace(
        go.Scatter(
            x=[0.0] * len(queries),
            y=list(range(len(queries))),
            mode="markers+text",
            text=queries,
            textposition="middle left",
            hovertext=[
                f"query {q} → {_top(keys, row)}" for q, row in zip(queries, weights, strict=True)
            ],
            hoverinfo="text",
            marker=marker,
            name="queries",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[1.0] * len(keys),
            y=list(range(len(keys))),
            mode="markers+text",
            text=keys,
            textposition="middle right",
            hovertext=[
                f"key {k} ← {_top(queries, col)}" for k, col in zip(keys, weights.T, strict=True)
            ],
            hoverinfo="text",
            marker=marker,
            name="keys",
            showlegend=False,
        )
    )
    n_q = len(queries)
    buttons = [{"label": "all queries", "method": "restyle", "args": [{"opacity": 1.0}]}]
    buttons += [
        {
            "label": f"query {queries[i]}",
            "method": "restyle",
            "args": [{"opacity": [1.0 if k == i else 0.08 for k in range(n_q)]}, list(range(n_q))],
        }
        for i in range(n_q)
    ]
    rows = max(n_q, len(keys))
    fig.update_layout(
        title={"text": _title(title, layer, head)},
        height=height or _auto_height(rows, per_row=30),
        xaxis={"range": [-0.9, 1.9], "visible": False},
        yaxis={"range": [rows - 0.5, -0.5], "visible": False},
        plot_bgcolor="white",
        legend={"title": {"text": "query (click / double-click)"}},
        updatemenus=[
            {"buttons": buttons, "x": 0.0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}
        ],
    )
    return fig


def grid_figure(
    attention: Any,
    tokens: Sequence[str] | None = None,
    *,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    title: str = "Attention",
    height: int | None = None,
) -> go.Figure:
    """Every layer x head as a small heatmap, all on one colour scale.

    Args:
        attention: weights in any form :func:`normalize_attention` accepts.
        tokens: labels for self-attention.
        source_tokens: cross-attention key labels (x axes).
        target_tokens: cross-attention query labels (y axes).
        title: figure title.
        height: figure height in pixels (default: 150 per layer).

    Returns:
        A figure with ``L`` rows and ``H`` columns; trace ``l * H + h`` is layer ``l``,
        head ``h`` (NaN, shown grey, where a causal mask hides a key).
    """
    data = _data(attention, tokens, source_tokens, target_tokens)
    n_layers, n_heads = data.n_layers, data.n_heads
    fig = make_subplots(
        rows=n_layers,
        cols=n_heads,
        subplot_titles=[f"L{i // n_heads} H{i % n_heads}" for i in range(n_layers * n_heads)],
        horizontal_spacing=min(0.06, 0.25 / n_heads),
        vertical_spacing=min(0.12, 0.4 / n_layers),
    )
    for layer in range(n_layers):
        for head in range(n_heads):
            trace = _head_trace(data, layer, head, coloraxis="coloraxis")
            fig.add_trace(trace, row=layer + 1, col=head + 1)
    fig.update_xaxes(type="category", showticklabels=False, showgrid=False)
    fig.update_yaxes(type="category", showticklabels=False, showgrid=False, autorange="reversed")
    fig.update_layout(
        title={"text": f"{title}: all {n_layers} layers x {n_heads} heads"},
        height=height or 100 + 150 * n_layers,
        plot_bgcolor=MASK_COLOR,
        coloraxis={
            "colorscale": COLORSCALE,
            "cmin": 0,
            "cmax": _zmax(data),
            "colorbar": {"title": {"text": "weight"}},
        },
    )
    return fig


class AttentionViewer:
    """Attention weights behind layer / head / view controls.

    Displayed as the last expression of a cell it shows the live form (ipywidgets controls
    above a plotly figure that is redrawn in place) in a kernel with ipywidgets, and the
    static form (:meth:`static_figure`) anywhere else.

    Args:
        attention: weights in any form :func:`normalize_attention` accepts.
        tokens: labels for self-attention.
        source_tokens: cross-attention key labels.
        target_tokens: cross-attention query labels.
        layer: layer shown first.
        head: head shown first.
        view: ``"heatmap"``, ``"lines"`` or ``"grid"``.
        title: title prefix of the figures.
        height: figure height in pixels (default: depends on the view).
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
        title: str = "Attention",
        height: int | None = None,
    ) -> None:
        self.data = _data(attention, tokens, source_tokens, target_tokens)
        self.title = title
        self.height = height
        self.layer, self.head, self.view = 0, 0, "heatmap"
        self._handles: list[Any] = []
        self._controls: Any = None
        self._syncing = False
        self.set(layer=layer, head=head, view=view)

    def __repr__(self) -> str:
        n_q, n_k = self.data.weights.shape[2:]
        return (
            f"AttentionViewer(L={self.data.n_layers}, H={self.data.n_heads}, T_q={n_q}, "
            f"T_k={n_k}, layer={self.layer}, head={self.head}, view={self.view!r})"
        )

    @property
    def figure(self) -> go.Figure:
        """The figure of the current layer, head and view."""
        return self._figure

    def _render(self) -> go.Figure:
        options = {"title": self.title, "height": self.height}
        if self.view == "grid":
            return grid_figure(self.data, **options)
        draw = heatmap_figure if self.view == "heatmap" else lines_figure
        return draw(self.data, layer=self.layer, head=self.head, **options)

    def set(
        self, layer: int | None = None, head: int | None = None, view: str | None = None
    ) -> None:
        """Change what is shown, then redraw every live display of this viewer.

        Args:
            layer: new layer index (``None`` keeps the current one).
            head: new head index (``None`` keeps the current one).
            view: ``"heatmap"``, ``"lines"`` or ``"grid"`` (``None`` keeps the current one).

        Returns:
            None (so a cell ending in ``viewer.set(...)`` displays nothing more).
        """
        layer = self.layer if layer is None else layer
        head = self.head if head is None else head
        view = self.view if view is None else view
        layer = check_index("layer", layer, self.data.n_layers, "layers")
        head = check_index("head", head, self.data.n_heads, "heads")
        if view not in VIEWS:
            raise ValueError(f"view={view!r} is not one of {', '.join(VIEWS)}")
        self.layer, self.head, self.view = layer, head, view
        self._sync_controls()
        self._figure = self._render()
        for handle in self._handles:
            update(handle, self._figure)

    def static_figure(self) -> go.Figure:
        """The static form: one heatmap per layer x head behind a dropdown (no kernel needed).

        Returns:
            See :func:`static_heatmap_figure`; the current layer and head are shown first.
        """
        return static_heatmap_figure(
            self.data, self.layer, self.head, title=self.title, height=self.height
        )

    def controls(self) -> Any:
        """The ipywidgets controls (layer, head, view), built on first use.

        Returns:
            An ``ipywidgets.HBox``.
        """
        if self._controls is None:
            import ipywidgets as widgets

            def dropdown(name: str, size: int) -> Any:
                box = widgets.Dropdown(
                    options=list(range(size)),
                    value=getattr(self, name),
                    description=name,
                    layout={"width": "160px"},
                )
                box.observe(lambda change: self._from_control(name, change["new"]), "value")
                return box

            view = widgets.ToggleButtons(options=list(VIEWS), value=self.view, description="view")
            view.observe(lambda change: self._from_control("view", change["new"]), "value")
            boxes = [dropdown("layer", self.data.n_layers), dropdown("head", self.data.n_heads)]
            self._controls = widgets.HBox([*boxes, view])
            self._sync_controls()
        return self._controls

    def _from_control(self, name: str, value: Any) -> None:
        if not self._syncing:
            self.set(**{name: value})

    def _sync_controls(self) -> None:
        """Make the controls show the current state without triggering a redraw."""
        if self._controls is None:
            return
        layer, head, view = self._controls.children
        self._syncing = True
        try:
            layer.value, head.value, view.value = self.layer, self.head, self.view
            layer.disabled = head.disabled = self.view == "grid"
        finally:
            self._syncing = False

    def display(self) -> None:
        """Show the live form: controls, then the figure outside any ``Output`` widget.

        Returns:
            None.
        """
        from IPython.display import display

        display(self.controls())
        handle = show(self._figure, display_id=True)
        if handle is not None:
            self._handles.append(handle)

    def _ipython_display_(self) -> None:
        if live_widgets_available():
            self.display()
        else:
            show(self.static_figure())


def attention_viewer(
    attention: Any,
    tokens: Sequence[str] | None = None,
    *,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    layer: int = 0,
    head: int = 0,
    view: str = "heatmap",
    title: str = "Attention",
    height: int | None = None,
) -> AttentionViewer:
    """Build an :class:`AttentionViewer`; end a cell with it to display it.

    Args:
        attention: weights in any form :func:`normalize_attention` accepts.
        tokens: labels for self-attention.
        source_tokens: cross-attention key labels.
        target_tokens: cross-attention query labels.
        layer: layer shown first.
        head: head shown first.
        view: ``"heatmap"``, ``"lines"`` or ``"grid"``.
        title: title prefix of the figures.
        height: figure height in pixels.

    Returns:
        The viewer.
    """
    return AttentionViewer(
        attention,
        tokens,
        source_tokens=source_tokens,
        target_tokens=target_tokens,
        layer=layer,
        head=head,
        view=view,
        title=title,
        height=height,
    )
