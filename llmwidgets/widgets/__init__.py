"""Widgets: display helpers and the four widgets (display code only).

* :mod:`~llmwidgets.widgets.display` - ``show``/``update``: plotly figures in every frontend;
* :mod:`~llmwidgets.widgets.sampling_explorer` - temperature / top-k / top-p over next tokens;
* :mod:`~llmwidgets.widgets.attention_viewer` - heatmap, line and grid views of attention;
* :mod:`~llmwidgets.widgets.loss_plot` - a live loss plot fed by a training callback;
* :mod:`~llmwidgets.widgets.token_viewer` - coloured token pieces with their ids.

The conventions every widget follows are in ``docs/widget-conventions.md``.
"""

from llmwidgets.widgets.attention_viewer import (
    AttentionViewer,
    grid_figure,
    heatmap_figure,
    lines_figure,
)
from llmwidgets.widgets.display import figure_bundle, show, update
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.sampling_explorer import SamplingExplorer
from llmwidgets.widgets.token_viewer import TokenViewer

__all__ = [
    "AttentionViewer",
    "LiveLossPlot",
    "SamplingExplorer",
    "TokenViewer",
    "figure_bundle",
    "grid_figure",
    "heatmap_figure",
    "lines_figure",
    "show",
    "update",
]
