"""Attention weights as plotly figures: one head as a heatmap or as lines, all heads as a grid.

The numbers are checked once by :func:`llmwidgets.nn.attention.normalize_attention`; the
functions here draw an :class:`~llmwidgets.nn.attention.AttentionData` and nothing else:

* :func:`heatmap` - query tokens down the y axis, key tokens along the x axis; cells
  hidden by a causal mask are grey and say "masked" on hover;
* :func:`~llmwidgets.widgets.attention_lines.lines` (its own module) - queries on the
  left, keys on the right, one band per pair as thick as the weight;
* :func:`grid` - every layer x head as a small heatmap on one shared colour scale, with
  the tokens on the outer axes;
* :func:`static_heatmap` - every head precomputed, one shown at a time by a dropdown
  (the kernel-free form of the viewer).

:func:`heatmap_figure` and :func:`grid_figure` are the same views
for raw weights (a tensor, an array, a list of layers) and token lists: they check them
with ``normalize_attention`` first. Token labels show white space as glyphs and are
HTML-escaped (:mod:`llmwidgets.widgets.glyphs`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmwidgets.nn.attention import AttentionData, check_index, normalize_attention
from llmwidgets.widgets.glyphs import axis_labels

__all__ = [
    "auto_height",
    "checked",
    "head_title",
    "grid",
    "grid_figure",
    "heatmap",
    "heatmap_figure",
    "static_heatmap",
]

#: The view kinds :class:`AttentionViewer` offers.
VIEWS = ("heatmap", "lines", "grid")
COLORSCALE = "Blues"
MASK_COLOR = "#c8c8c8"  # masked cells: the plot background shows through NaN cells
_HOVER = "query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"


def _zmax(data: AttentionData) -> float:
    return max(float(data.weights.max()), 1e-9)


def auto_height(rows: int, per_row: int = 22) -> int:
    """A figure height in pixels for ``rows`` rows of labels (320 to 900)."""
    return int(min(900, max(320, 140 + per_row * rows)))


#: The title prefix used when none is given.
DEFAULT_TITLE = "Attention"


def head_title(title: str | None, layer: int, head: int) -> str:
    """``"Attention: layer 1, head 0"``, the title escaped."""
    return f"{html.escape(title or DEFAULT_TITLE)}: layer {layer}, head {head}"


def _head_trace(data: AttentionData, layer: int, head: int, **kwargs: Any) -> go.Heatmap:
    """One head as a heatmap trace; masked cells are NaN (drawn as gaps)."""
    z = data.head(layer, head).astype(np.float32)
    z = np.where(data.mask, np.float32(np.nan), z)
    return go.Heatmap(
        z=z,
        x=axis_labels(data.key_tokens),
        y=axis_labels(data.query_tokens),
        name=f"layer {layer}, head {head}",
        hoverongaps=False,
        hovertemplate=_HOVER,
        **kwargs,
    )


def _mask_trace(data: AttentionData) -> go.Heatmap:
    """A grey overlay on the masked cells, so hovering them says "masked"."""
    return go.Heatmap(
        z=np.where(data.mask, 1.0, np.nan).astype(np.float32),
        x=axis_labels(data.key_tokens),
        y=axis_labels(data.query_tokens),
        name="masked",
        colorscale=[[0, MASK_COLOR], [1, MASK_COLOR]],
        showscale=False,
        hoverongaps=False,
        hovertemplate="query %{y}<br>key %{x}<br>masked (causal)<extra></extra>",
    )


def _heatmap_layout(fig: go.Figure, data: AttentionData, title: str, height: int | None) -> None:
    fig.update_layout(
        title={"text": title},
        height=height or auto_height(len(data.query_tokens)),
        plot_bgcolor=MASK_COLOR,
        xaxis={"type": "category", "title": {"text": "key"}, "tickangle": -45, "showgrid": False},
        yaxis={
            "type": "category",
            "title": {"text": "query"},
            "autorange": "reversed",
            "showgrid": False,
        },
    )


def checked(
    attention: Any, tokens: Any, source_tokens: Any = None, target_tokens: Any = None
) -> AttentionData:
    """Raw weights and tokens as checked :class:`AttentionData` (for the ``*_figure`` views).

    Args:
        attention: weights in any form
            :func:`~llmwidgets.nn.attention.normalize_attention` accepts.
        tokens: labels for self-attention (``None``: positions 0, 1, ...).
        source_tokens: cross-attention key labels (the x axis, the right column).
        target_tokens: cross-attention query labels (the y axis, the left column).

    Returns:
        The checked data.
    """
    return normalize_attention(
        attention, tokens, source_tokens=source_tokens, target_tokens=target_tokens
    )


def heatmap(
    data: AttentionData,
    layer: int = 0,
    head: int = 0,
    *,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """One head's weights as a heatmap: query tokens on y, key tokens on x.

    Args:
        data: checked weights (see :func:`~llmwidgets.nn.attention.normalize_attention`).
        layer: layer index.
        head: head index.
        title: title prefix (``None``: "Attention"); the layer and head are appended.
        height: figure height in pixels (``None``: grows with the number of queries).

    Returns:
        A figure whose first trace holds the weights (NaN where a causal mask hides a key),
        plus a grey "masked" trace over those cells when the pattern is causal.
    """
    fig = go.Figure(_head_trace(data, layer, head, colorscale=COLORSCALE, zmin=0, zmax=_zmax(data)))
    if data.causal:
        fig.add_trace(_mask_trace(data))
    _heatmap_layout(fig, data, head_title(title, layer, head), height)
    return fig


def heatmap_figure(
    attention: Any,
    tokens: Sequence[str] | None = None,
    layer: int = 0,
    head: int = 0,
    *,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """:func:`heatmap` of raw weights and token lists.

    Args:
        attention, tokens, source_tokens, target_tokens: as for :func:`checked`.
        layer, head, title, height: as for :func:`heatmap`.

    Returns:
        See :func:`heatmap`.
    """
    data = checked(attention, tokens, source_tokens, target_tokens)
    return heatmap(data, layer, head, title=title, height=height)


def static_heatmap(
    data: AttentionData,
    layer: int = 0,
    head: int = 0,
    *,
    title: str | None = None,
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
                {"title.text": head_title(title, *divmod(index, n_heads))},
            ],
        }
        for index in range(n_layers * n_heads)
    ]
    _heatmap_layout(fig, data, head_title(title, layer, head), height)
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


def grid(
    data: AttentionData,
    *,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """Every layer x head as a small heatmap, all on one colour scale.

    Args:
        data: checked weights (see :func:`~llmwidgets.nn.attention.normalize_attention`).
        title: figure title.
        height: figure height in pixels (default: 150 per layer).

    Returns:
        A figure with ``L`` rows and ``H`` columns; trace ``l * H + h`` is layer ``l``,
        head ``h`` (NaN, shown grey, where a causal mask hides a key).
    """
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
    # Token labels on the outer axes only: keys under the last row, queries left of the
    # first column (every small heatmap shares them).
    tick = {"type": "category", "showgrid": False, "tickfont": {"size": 9}}
    fig.update_xaxes(showticklabels=False, tickangle=-90, **tick)
    fig.update_yaxes(showticklabels=False, autorange="reversed", **tick)
    fig.update_xaxes(showticklabels=True, row=n_layers)
    fig.update_yaxes(showticklabels=True, col=1)
    shown = html.escape(title or DEFAULT_TITLE)
    fig.update_layout(
        title={"text": f"{shown}: all {n_layers} layers x {n_heads} heads"},
        height=height or 140 + 150 * n_layers,
        plot_bgcolor=MASK_COLOR,
        coloraxis={
            "colorscale": COLORSCALE,
            "cmin": 0,
            "cmax": _zmax(data),
            "colorbar": {"title": {"text": "weight"}},
        },
    )
    return fig


def grid_figure(
    attention: Any,
    tokens: Sequence[str] | None = None,
    *,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """:func:`grid` of raw weights and token lists.

    Args:
        attention, tokens, source_tokens, target_tokens: as for :func:`checked`.
        title, height: as for :func:`grid`.

    Returns:
        See :func:`grid`.
    """
    data = checked(attention, tokens, source_tokens, target_tokens)
    return grid(data, title=title, height=height)
