"""Bad inputs, one table for the whole package: each gives a clear error naming the value.

Every row is ``name: (make, error, message)``: calling ``make()`` must raise ``error``
(or warn, for a Warning class) with a message matching ``message``. Each area of the
package has its own section of the table.
"""

from __future__ import annotations

import math

import pytest
import torch

from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training.history import MetricHistory
from llmwidgets.widgets.attention_viewer import AttentionViewer
from llmwidgets.widgets.display import figure_bundle, update, widget_bundle
from llmwidgets.widgets.loss_figure import loss_figure
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.loss_status import format_duration, status_line
from llmwidgets.widgets.sampling_explorer import SamplingExplorer
from llmwidgets.widgets.token_viewer import TokenViewer, token_spans

LOGITS = torch.tensor([2.0, 1.0, 0.0])
ATTENTION = torch.full((1, 2, 3, 3), 1 / 3)


def _plot_fed_to(step: int) -> LiveLossPlot:
    plot = LiveLossPlot(mode="text", file=open("/dev/null", "w"))  # noqa: SIM115
    plot.on_step_end(step, {"loss": 1.0})
    return plot


BAD_INPUTS = {
    # --- widgets ---
    "explorer: labels of another length": (
        lambda: SamplingExplorer(LOGITS, ["a", "b"]),
        ValueError,
        "labels has 2 entries but logits has 3 values",
    ),
    "explorer: NaN logit": (
        lambda: SamplingExplorer([1.0, math.nan]),
        ValueError,
        r"logits contain 1 NaN value at positions \[1\]",
    ),
    "explorer: top_n 0": (lambda: SamplingExplorer(LOGITS, top_n=0), ValueError, "top_n must be"),
    "explorer: max_new_tokens 0": (
        lambda: SamplingExplorer(LOGITS).set(max_new_tokens=0),
        ValueError,
        "max_new_tokens must be an int >= 1, got 0",
    ),
    "explorer: height 50": (
        lambda: SamplingExplorer(LOGITS, height=50),
        ValueError,
        "height must be an int >= 100, got 50",
    ),
    "explorer: no temperatures": (
        lambda: SamplingExplorer(LOGITS).static_figure(temperatures=()),
        ValueError,
        "temperatures is empty",
    ),
    "explorer: one string of temperatures": (
        lambda: SamplingExplorer(LOGITS).static_figure(temperatures="0.5"),
        ValueError,
        "temperatures must be a list of numbers",
    ),
    "explorer: old name length": (
        lambda: SamplingExplorer(LOGITS, length=5),
        TypeError,
        "unexpected keyword argument 'length'",
    ),
    "attention: tokens of another length": (
        lambda: AttentionViewer(ATTENTION, ["a", "b"]),
        ValueError,
        "attention has T_q=3 query positions but tokens has 2 entries",
    ),
    "attention: layer out of range": (
        lambda: AttentionViewer(ATTENTION, layer=1),
        ValueError,
        r"layer=1 but attention has 1 layers \(0\.\.0\)",
    ),
    "attention: unknown view": (
        lambda: AttentionViewer(ATTENTION).set(view="bars"),
        ValueError,
        "view must be one of",
    ),
    "attention: title not a str": (
        lambda: AttentionViewer(ATTENTION, title=3),
        ValueError,
        "title must be a str, got 3",
    ),
    "loss plot: history not a MetricHistory": (
        lambda: LiveLossPlot(history=[1.0, 2.0]),
        ValueError,
        "history must be a MetricHistory, got list",
    ),
    "loss plot: trainer hands over something else": (
        lambda: LiveLossPlot().on_train_begin({"loss": [1.0]}),
        ValueError,
        "history must be a MetricHistory, got dict",
    ),
    "loss plot: step going backwards": (
        lambda: _plot_fed_to(5).on_step_end(4, {"loss": 1.0}),
        ValueError,
        "step 4 goes backwards",
    ),
    "loss plot: unknown option in set": (
        lambda: LiveLossPlot().set(colour="red"),
        ValueError,
        r"unknown options \['colour'\]",
    ),
    "loss figure: not a history": (
        lambda: loss_figure({"loss": [1.0]}),
        ValueError,
        "history must be a MetricHistory, got dict",
    ),
    "loss figure: smooth 1": (
        lambda: loss_figure(MetricHistory(), smooth=1.0),
        ValueError,
        "smooth must be",
    ),
    "status line: total_steps 0": (
        lambda: status_line(MetricHistory(), 0),
        ValueError,
        "total_steps must be an int >= 1, got 0",
    ),
    "duration: negative": (lambda: format_duration(-1), ValueError, "seconds must be"),
    "token viewer: lone surrogate": (
        lambda: TokenViewer("a\ud800b", list),
        ValueError,
        "lone surrogate U\\+D800 at position 1",
    ),
    "token viewer: character outside a CharTokenizer": (
        lambda: TokenViewer("abz", CharTokenizer("ab")),
        ValueError,
        r"character 'z' \(U\+007A\) at position 2 is not in the vocabulary",
    ),
    "token viewer: unknown color_by": (
        lambda: TokenViewer("a", list, color_by="rainbow"),
        ValueError,
        "color_by must be one of",
    ),
    "token spans: not a tokenizer": (
        lambda: token_spans("ab", 3),
        ValueError,
        "tokenizer must be a tokenizer with token_surfaces",
    ),
    "token spans: pieces that miss the text": (
        lambda: token_spans("hello", lambda t: ["he", "XX"]),
        UserWarning,
        "pieces do not spell the text",
    ),
    "display: not a figure": (
        lambda: figure_bundle({"data": []}),
        ValueError,
        "expected a plotly.graph_objects.Figure, got dict",
    ),
    "display: update without a handle": (
        lambda: update(None, None),
        ValueError,
        r"needs the handle returned by show\(fig, display_id=True\)",
    ),
    "display: widget bundle of a non-widget": (
        lambda: widget_bundle(object(), None),
        ValueError,
        "widget must be an ipywidgets widget, got object",
    ),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gives_a_clear_error(name):
    make, error, message = BAD_INPUTS[name]
    if issubclass(error, Warning):
        with pytest.warns(error, match=message):
            make()
    else:
        with pytest.raises(error, match=message):
            make()
