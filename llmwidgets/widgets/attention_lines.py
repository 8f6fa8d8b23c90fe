"""One attention head as lines: queries on the left, keys on the right.

Each query-key pair with a weight above 0 is a band as thick as the weight. The bands of
one query form one trace named after the query token, so clicking its legend entry hides
it, double-clicking shows it alone, and the dropdown highlights it. Hover a token for its
strongest links. The heatmap views are in :mod:`llmwidgets.widgets.attention_figures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from llmwidgets.nn.attention import AttentionData
from llmwidgets.widgets.attention_figures import auto_height, checked, head_title
from llmwidgets.widgets.glyphs import axis_labels

__all__ = ["lines", "lines_figure"]

BAND_COLOR = "rgba(31, 119, 180, 0.55)"


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


def _column(x: float, labels: list[str], hover: list[str], name: str) -> go.Scatter:
    """One column of tokens (queries at x=0, labels on the left; keys at x=1, on the right)."""
    return go.Scatter(
        x=[x] * len(labels),
        y=list(range(len(labels))),
        mode="markers+text",
        text=labels,
        textposition="middle left" if x == 0 else "middle right",
        hovertext=hover,
        hoverinfo="text",
        marker={"size": 7, "color": "rgb(31, 119, 180)"},
        name=name,
        showlegend=False,
    )


def lines(
    data: AttentionData,
    layer: int = 0,
    head: int = 0,
    *,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """One head as lines: queries on the left, keys on the right.

    Each query-key pair with a weight above 0 is a band whose thickness is proportional
    to the weight. The bands of one query form one trace (named after the query token):
    click its legend entry to hide it, double-click to show it alone, or pick it in the
    dropdown to highlight it. Hover a token for its strongest links.

    Args:
        data: checked weights (see :func:`~llmwidgets.nn.attention.normalize_attention`).
        layer: layer index.
        head: head index.
        title: title prefix; the layer and head are appended.
        height: figure height in pixels.

    Returns:
        A figure with ``T_q`` band traces (trace ``i`` for query ``i``) followed by the
        query-token and key-token marker traces.
    """
    weights = data.head(layer, head)
    queries, keys = axis_labels(data.query_tokens), axis_labels(data.key_tokens)
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
    query_hover = [f"query {q} → {_top(keys, r)}" for q, r in zip(queries, weights, strict=True)]
    key_hover = [f"key {k} ← {_top(queries, c)}" for k, c in zip(keys, weights.T, strict=True)]
    fig.add_trace(_column(0.0, queries, query_hover, "queries"))
    fig.add_trace(_column(1.0, keys, key_hover, "keys"))
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
        title={"text": head_title(title, layer, head)},
        height=height or auto_height(rows, per_row=30),
        xaxis={"range": [-0.9, 1.9], "visible": False},
        yaxis={"range": [rows - 0.5, -0.5], "visible": False},
        plot_bgcolor="white",
        legend={"title": {"text": "query (click / double-click)"}},
        updatemenus=[
            {"buttons": buttons, "x": 0.0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}
        ],
    )
    return fig


def lines_figure(
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
    """:func:`lines` of raw weights and token lists.

    Args:
        attention, tokens, source_tokens, target_tokens: as for
            :func:`~llmwidgets.widgets.attention_figures.checked`.
        layer, head, title, height: as for :func:`lines`.

    Returns:
        See :func:`lines`.
    """
    data = checked(attention, tokens, source_tokens, target_tokens)
    return lines(data, layer, head, title=title, height=height)
