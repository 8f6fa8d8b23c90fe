"""Widgets: display helpers and the widgets (display code only).

* :mod:`~llmwidgets.widgets.display` - ``show``/``update`` (plotly figures in every
  frontend), ``LiveFigure`` (redrawn in place without a blank frame) and
  ``widget_bundle`` (a widget view that carries its static form);
* :mod:`~llmwidgets.widgets.glyphs` - how every widget shows a token (␣ ↵ ⇥, escaped);
* :mod:`~llmwidgets.widgets.base` - the display logic the live widgets share;
* :mod:`~llmwidgets.widgets.sampling_figure` / :mod:`~llmwidgets.widgets.sampling_explorer`
  - temperature / top-k / top-p over next tokens: the figures, the widget;
* :mod:`~llmwidgets.widgets.attention_figures` / :mod:`~llmwidgets.widgets.attention_lines`
  / :mod:`~llmwidgets.widgets.attention_viewer` - heatmap, grid and line views, the widget;
* :mod:`~llmwidgets.widgets.loss_status` / :mod:`~llmwidgets.widgets.loss_figure` /
  :mod:`~llmwidgets.widgets.loss_plot` - a run's status line and figure (pure functions of
  a ``MetricHistory``), and the live training callback;
* :mod:`~llmwidgets.widgets.token_viewer` - coloured token pieces with their ids (the
  alignment itself is text code: :mod:`llmwidgets.text.spans`);
* :mod:`~llmwidgets.widgets.chat_figure` / :mod:`~llmwidgets.widgets.chat` - a chat
  transcript as a table, and the widget that talks to a ``reply(transcript)`` callable.

The functions ``attention_viewer``, ``sampling_explorer``, ``token_viewer`` and
``loss_figure`` are not imported here: they would hide the modules of the same name
(``from llmwidgets.widgets.loss_figure import loss_figure``; the factories are in
:mod:`llmwidgets`). The conventions every widget follows are in ``docs/widget-conventions.md``.
"""

from llmwidgets.widgets.attention_figures import grid_figure, heatmap_figure
from llmwidgets.widgets.attention_lines import lines_figure
from llmwidgets.widgets.attention_viewer import AttentionViewer
from llmwidgets.widgets.chat import ChatWidget
from llmwidgets.widgets.display import LiveFigure, figure_bundle, show, update, widget_bundle
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.loss_status import status_line
from llmwidgets.widgets.sampling_explorer import SamplingExplorer
from llmwidgets.widgets.token_viewer import TokenViewer

__all__ = [
    "AttentionViewer",
    "ChatWidget",
    "LiveFigure",
    "LiveLossPlot",
    "SamplingExplorer",
    "TokenViewer",
    "figure_bundle",
    "grid_figure",
    "heatmap_figure",
    "lines_figure",
    "show",
    "status_line",
    "update",
    "widget_bundle",
]
