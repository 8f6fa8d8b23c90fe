"""The one widget API: the same method names on all four widgets, no name shadowing,
one whitespace-glyph module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import plotly.graph_objects as go
import pytest
import torch

import llmwidgets
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.widgets import glyphs
from llmwidgets.widgets.attention_viewer import AttentionViewer
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.sampling_explorer import SamplingExplorer
from llmwidgets.widgets.token_viewer import TokenViewer

API = ("figure", "static_figure", "controls", "set", "display")


def _widgets():
    plot = LiveLossPlot(mode="text")
    plot.on_step_end(1, {"train_loss": 1.0})
    return {
        "SamplingExplorer": SamplingExplorer(torch.tensor([1.0, 2.0]), ["a", "b"]),
        "AttentionViewer": AttentionViewer(torch.ones(1, 1, 2, 2) / 2, ["a", "b"]),
        "LiveLossPlot": plot,
        "TokenViewer": TokenViewer("ab", CharTokenizer("ab")),
    }


@pytest.mark.parametrize(
    "name", ["SamplingExplorer", "AttentionViewer", "LiveLossPlot", "TokenViewer"]
)
def test_every_widget_has_the_same_methods(name):
    widget = _widgets()[name]
    for method in API:
        assert callable(getattr(widget, method)), f"{name}.{method}"
    assert isinstance(widget.figure(), go.Figure)
    assert isinstance(widget.static_figure(), go.Figure)
    params = inspect.signature(type(widget).set).parameters.values()
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in list(params)[1:]), name
    for option in ("title", "height"):
        assert option in inspect.signature(type(widget)).parameters, (name, option)
    has_controls = name in ("SamplingExplorer", "AttentionViewer")
    if not has_controls:
        assert widget.controls() is None


def _modules(package: types.ModuleType):
    yield package
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        yield importlib.import_module(info.name)


def test_no_function_shadows_a_submodule():
    problems = []
    for module in _modules(llmwidgets):
        if not hasattr(module, "__path__"):
            continue
        subs = {info.name for info in pkgutil.iter_modules(module.__path__)}
        for name in subs:
            value = module.__dict__.get(name)
            if inspect.isfunction(value) or inspect.isclass(value):
                problems.append(f"{module.__name__}.{name} is a {type(value).__name__}")
    assert problems == []
    import llmwidgets.widgets.attention_viewer as av  # the module, not the factory

    assert isinstance(av, types.ModuleType)
    assert callable(llmwidgets.attention_viewer) and callable(llmwidgets.token_viewer)


def test_one_glyph_table_for_every_widget():
    assert glyphs.visible(" \n\t") == "␣↵⇥" and glyphs.visible("") == "∅"
    assert glyphs.label("<b> x") == "&lt;b&gt;␣x"
    assert glyphs.visible("a\u200bb\ud800") == "a\\u200bb\\ud800"
    assert glyphs.axis_labels(["a", "a", " "]) == ["a", "a\u200b", "␣"]
    tokens = [" the", "\n", "<b>"]
    explorer = SamplingExplorer(torch.tensor([3.0, 2.0, 1.0]), tokens)
    viewer = AttentionViewer(torch.ones(1, 1, 3, 3) / 3, tokens)
    chars = TokenViewer(" the\n<b>", lambda t: [" the", "\n", "<b>"])
    expected = ["␣the", "↵", "&lt;b&gt;"]
    assert list(explorer.figure().layout.xaxis.ticktext) == expected
    assert list(viewer.figure().data[0].x) == expected
    assert list(chars.figure().data[0].text) == expected
    assert "␣" in chars.html() and "▁" not in chars.html() and "→" not in chars.html()
