"""The next-token distribution as a bar chart, live or behind a temperature slider.

Pure figure code over logits (the numbers come from :mod:`llmwidgets.nn.sampling`):
the ``top_n`` most likely tokens, fixed whatever the settings, as bars. Blue bars are
the probabilities actually used for sampling; tokens cut by top-k, top-p or greedy are
grey hatched bars at the probability they had before the cut, marked ✂. The title gives
the settings and the entropy of the sampling distribution.

* :func:`bars_figure` - one temperature (the live figure of the explorer);
* :func:`temperature_figure` - one precomputed pair of traces per temperature behind a
  plotly slider, so it works with no kernel (the explorer's static form).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import torch

from llmwidgets.nn.sampling import check_settings, kept_mask, sampling_probs
from llmwidgets.nn.sampling import entropy as _entropy
from llmwidgets.widgets.glyphs import label as shown_label

__all__ = ["DEFAULT_TEMPERATURES", "NextTokens", "bars_figure", "temperature_figure"]

KEPT_COLOR = "#1f77b4"
CUT_COLOR = "#b5b5b5"
DEFAULT_HEIGHT = 450
DEFAULT_TEMPERATURES = (0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3)


class NextTokens:
    """The tokens a figure shows: logits, the ``top_n`` largest and their labels.

    Args:
        logits: checked 1-D logits ``(V,)``.
        top_ids: the ids shown, most likely first.
        labels: the text of each shown token (not yet escaped).
        title: the first line of the title (already HTML).
        height: the bar chart's height in pixels.
    """

    def __init__(
        self,
        logits: torch.Tensor,
        top_ids: Sequence[int],
        labels: Sequence[str],
        title: str,
        height: int = DEFAULT_HEIGHT,
    ) -> None:
        self.logits = logits
        self.top_ids = list(top_ids)
        self.ticks = [shown_label(text) for text in labels]  # escaped, white space shown
        self.title = title
        self.height = height

    def traces(
        self, temperature: float, top_k: int | None, top_p: float, visible: bool = True
    ) -> tuple[list[go.Bar], str]:
        """The kept and the cut bars at one temperature, and the matching title."""
        probs = sampling_probs(self.logits, temperature, top_k, top_p)
        kept = kept_mask(self.logits, temperature, top_k, top_p)[self.top_ids].tolist()
        before = sampling_probs(self.logits, temperature)[self.top_ids].tolist()  # no cut
        x = list(range(len(self.top_ids)))
        hover = [f"{tick} (id {i})" for tick, i in zip(self.ticks, self.top_ids, strict=True)]
        kept_bar = go.Bar(
            x=x,
            y=probs[self.top_ids].tolist(),
            name="kept: probability used for sampling",
            marker_color=KEPT_COLOR,
            customdata=self.top_ids,
            hovertext=hover,
            hovertemplate="%{hovertext}<br>p = %{y:.4f}<extra>kept</extra>",
            visible=visible,
        )
        cut_bar = go.Bar(
            x=x,
            y=[None if keep else b for keep, b in zip(kept, before, strict=True)],
            name="✂ cut by top-k / top-p / greedy (grey: probability before the cut)",
            marker={"color": CUT_COLOR, "pattern": {"shape": "/"}},
            text=["" if keep else "✂" for keep in kept],
            textposition="outside",
            cliponaxis=False,
            customdata=self.top_ids,
            hovertext=hover,
            hovertemplate="%{hovertext}<br>cut (p before the cut = %{y:.4f})<extra>cut</extra>",
            visible=visible,
        )
        return [kept_bar, cut_bar], self._title(temperature, top_k, top_p, probs)

    def _title(self, temperature: float, top_k: int | None, top_p: float, probs: Any) -> str:
        nats = float(_entropy(probs))
        settings = [
            f"T = {temperature:g}" + (" (greedy)" if temperature == 0 else ""),
            f"top-k = {top_k if top_k is not None else 'off'}",
            f"top-p = {top_p:g}" + (" (off)" if top_p == 1 else ""),
            f"entropy = {nats:.3f} nats = {nats / math.log(2):.3f} bits",
        ]
        return f"{self.title}<br><sup>{' · '.join(settings)}</sup>"

    def layout(self, fig: go.Figure, title: str, height: int) -> go.Figure:
        """Axes, legend and title shared by both figures."""
        n = len(self.top_ids)
        fig.update_layout(
            title={"text": title},
            height=height,
            barmode="overlay",
            xaxis={
                "tickvals": list(range(n)),
                "ticktext": self.ticks,
                "title": {"text": f"top {n} of {self.logits.shape[0]} tokens, by logit"},
            },
            yaxis={"range": [0, 1.1], "title": {"text": "probability"}},
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
            margin={"t": 110},
        )
        return fig


def bars_figure(
    tokens: NextTokens, temperature: float, top_k: int | None, top_p: float
) -> go.Figure:
    """The bar chart for one setting.

    Args:
        tokens: what to show (see :class:`NextTokens`).
        temperature: 0 is greedy.
        top_k: ``None`` is off.
        top_p: 1.0 is off.

    Returns:
        A figure with two bar traces: kept (blue) and cut (grey, hatched).
    """
    traces, title = tokens.traces(temperature, top_k, top_p)
    return tokens.layout(go.Figure(traces), title, tokens.height)


def temperature_figure(
    tokens: NextTokens,
    temperatures: Sequence[float],
    active: float,
    top_k: int | None,
    top_p: float,
) -> go.Figure:
    """One figure with a plotly slider over ``temperatures`` (fixed top-k and top-p).

    Each slider step shows its own precomputed pair of traces, so the figure works
    without a kernel.

    Args:
        tokens: what to show.
        temperatures: the slider's steps.
        active: the temperature shown first (the nearest step is chosen).
        top_k: ``None`` is off.
        top_p: 1.0 is off.

    Returns:
        A figure with ``2 * len(temperatures)`` bar traces and one slider.

    Raises:
        ValueError: for an empty list or a bad temperature.
    """
    if isinstance(temperatures, (str, bytes)) or not isinstance(temperatures, Sequence):
        raise ValueError(f"temperatures must be a list of numbers, got {temperatures!r}")
    temps = [check_settings(t, top_k, top_p)[0] for t in temperatures]
    if not temps:
        raise ValueError("temperatures is empty: give at least one temperature")
    first = min(range(len(temps)), key=lambda i: abs(temps[i] - active))
    fig, titles = go.Figure(), []
    for i, t in enumerate(temps):
        traces, title = tokens.traces(t, top_k, top_p, visible=i == first)
        fig.add_traces(traces)
        titles.append(title)
    steps = [
        {
            "method": "update",
            "label": f"{t:g}",
            "args": [
                {"visible": [j // 2 == i for j in range(2 * len(temps))]},
                {"title.text": titles[i]},
            ],
        }
        for i, t in enumerate(temps)
    ]
    slider = {
        "active": first,
        "steps": steps,
        "currentvalue": {"prefix": "temperature = "},
        "pad": {"t": 70},
    }
    tokens.layout(fig, titles[first], tokens.height + 120)
    fig.update_layout(sliders=[slider], margin={"b": 140})
    return fig
