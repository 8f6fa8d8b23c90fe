import sys

import plotly.graph_objects as go
import pytest

from llmwidgets.widgets import display
from llmwidgets.widgets.display import (
    LIVE_METADATA,
    PLOTLY_MIME,
    WIDGET_MIME,
    LiveFigure,
    figure_bundle,
    figure_html,
    show,
    update,
    widget_bundle,
)


def _fig(title="demo"):
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"title": {"text": title}})


def test_bundle_has_json_html_and_text():
    bundle = figure_bundle(_fig())
    assert set(bundle) == {PLOTLY_MIME, "text/html", "text/plain"}
    assert bundle[PLOTLY_MIME]["data"][0]["y"] == [1, 2]
    assert bundle["text/plain"] == "<plotly figure: demo>"
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html and '"y":[1,2]' in html


def test_html_part_is_self_contained_for_the_book():
    html = figure_html(_fig())
    # No plotly.js inlined (it is ~4.7 MB), no CDN, no MathJax 2 config.
    assert len(html) < 50_000
    assert "cdn.plot.ly" not in html and "<script src" not in html
    assert "MathJax" not in html
    assert "height:450px" in html  # a fixed height: a 100% height collapses in the book


def test_colab_html_loads_plotly_itself(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    html = figure_bundle(_fig())["text/html"]
    assert 'src="https://cdn.plot.ly/plotly-' in html


@pytest.mark.parametrize("bad", [None, {"data": []}, "fig"])
def test_rejects_non_figures(bad):
    with pytest.raises(ValueError, match="expected a plotly.graph_objects.Figure"):
        figure_bundle(bad)


def test_rejects_figurewidget_with_hint():
    # Built without __init__: FigureWidget needs anywidget, which the book does not install.
    widget = object.__new__(go.FigureWidget)
    with pytest.raises(ValueError, match="FigureWidget keeps megabytes of state"):
        figure_bundle(widget)


def test_show_outside_ipython_prints(capsys):
    assert show(_fig("plain")) is None
    assert capsys.readouterr().out.strip() == "<plotly figure: plain>"


def test_update_needs_a_handle():
    with pytest.raises(ValueError, match="display_id=True"):
        update(None, _fig())


@pytest.mark.kernel
def test_show_and_update_in_a_real_kernel(run_in_kernel):
    """In a kernel, show() emits one output with both parts; update() replaces it in place."""
    (outputs,) = run_in_kernel(
        """
import plotly.graph_objects as go
from llmwidgets import show, update
fig = go.Figure(go.Scatter(y=[0]), layout={"title": {"text": "live"}})
handle = show(fig, display_id=True)
for step in range(1, 4):
    fig.data[0].y = list(range(step + 1))
    update(handle, fig)
"""
    )
    assert len(outputs) == 1, [o.output_type for o in outputs]
    data = outputs[0]["data"]
    assert PLOTLY_MIME in data and "text/html" in data
    assert data[PLOTLY_MIME]["data"][0]["y"] == [0, 1, 2, 3]  # the last update
    assert '"y":[0,1,2,3]' in data["text/html"]


def test_not_in_kernel_here():
    from llmwidgets.widgets.display import in_kernel, live_widgets_available

    assert in_kernel() is False
    assert live_widgets_available() is False  # widgets fall back to their static form


def test_colab_custom_widget_manager_enabled_once(monkeypatch):
    import types

    from llmwidgets.widgets import display

    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(display, "in_kernel", lambda: True)
    monkeypatch.setattr(display, "_colab_widgets_enabled", False)
    assert display.live_widgets_available() is True
    assert display.live_widgets_available() is True
    assert calls == [1]


# ------------------------------------------------------- live figures and fallbacks
class _Handle:
    def __init__(self):
        self.updates = []

    def update(self, bundle, raw=False, metadata=None):
        self.updates.append((bundle, metadata))


@pytest.fixture
def displayed(monkeypatch):
    """IPython's display() recorded: (bundle, kwargs) per call; returns a handle."""
    import IPython.display

    log = []

    def fake_display(obj, raw=False, display_id=None, metadata=None):
        assert raw
        handle = _Handle()
        log.append(
            {"bundle": obj, "display_id": display_id, "metadata": metadata, "handle": handle}
        )
        return handle

    monkeypatch.setattr(IPython.display, "display", fake_display)
    return log


def test_widget_bundle_carries_the_static_form():
    ipywidgets = pytest.importorskip("ipywidgets")
    slider = ipywidgets.IntSlider()
    bundle = widget_bundle(slider, _fig("static"))
    assert bundle[WIDGET_MIME]["model_id"] == slider.model_id
    assert bundle[PLOTLY_MIME]["layout"]["title"]["text"] == "static"
    assert "Plotly.newPlot" in bundle["text/html"]
    assert bundle["text/plain"] == "<plotly figure: static>"
    with pytest.raises(ValueError, match="no widget view"):
        widget_bundle(ipywidgets.Widget(), _fig())


def test_live_figure_redraws_by_replacing_the_output_widgets_outputs(displayed):
    pytest.importorskip("ipywidgets")
    live = LiveFigure(_fig("first"), fallback=_fig("static"))
    (shown,) = displayed
    assert shown["display_id"] is True and WIDGET_MIME in shown["bundle"]
    assert shown["bundle"][WIDGET_MIME]["model_id"] == live.output.model_id
    assert shown["bundle"][PLOTLY_MIME]["layout"]["title"]["text"] == "static"
    (out,) = live.output.outputs
    assert out["data"][PLOTLY_MIME]["layout"]["title"]["text"] == "first"
    assert "text/html" not in out["data"]  # inside a widget only the JSON is drawn
    live.update(_fig("second"))
    assert live.output.outputs[0]["data"][PLOTLY_MIME]["layout"]["title"]["text"] == "second"
    assert shown["handle"].updates == []  # no message to the outer output: no flicker
    live.finish(_fig("final"))
    ((final, _),) = shown["handle"].updates
    assert WIDGET_MIME not in final and final[PLOTLY_MIME]["layout"]["title"]["text"] == "final"
    live.update(_fig("again"))  # training again: the widget view comes back
    assert WIDGET_MIME in shown["handle"].updates[-1][0]


def test_live_figure_with_controls_is_one_output(displayed):
    ipywidgets = pytest.importorskip("ipywidgets")
    slider = ipywidgets.IntSlider()
    live = LiveFigure(_fig(), controls=slider, fallback=_fig("static"))
    (shown,) = displayed
    assert shown["bundle"][WIDGET_MIME]["model_id"] == live.view.model_id
    assert list(live.view.children) == [slider, live.output]


def test_on_colab_the_figure_is_its_own_output_next_to_the_controls(displayed, monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.setitem(sys.modules, "google.colab", object())
    slider = ipywidgets.IntSlider()
    live = LiveFigure(_fig("first"), controls=slider, fallback=_fig("static"))
    controls, figure = displayed
    assert controls["bundle"][WIDGET_MIME]["model_id"] == slider.model_id
    assert figure["metadata"] == LIVE_METADATA and live.output is None
    live.update(_fig("second"))
    bundle, metadata = figure["handle"].updates[-1]
    assert bundle[PLOTLY_MIME]["layout"]["title"]["text"] == "second"
    assert metadata == LIVE_METADATA
    assert 'src="https://cdn.plot.ly/plotly-' in bundle["text/html"]


def test_update_on_colab_is_one_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    handle = _Handle()
    update(handle, _fig())
    assert len(handle.updates) == 1 and PLOTLY_MIME in handle.updates[0][0]
    monkeypatch.delitem(sys.modules, "google.colab")
    update(handle, _fig())  # JupyterLab: a text step first, so the renderer is rebuilt
    assert [set(b) for b, _ in handle.updates[1:]] == [{"text/plain"}, set(figure_bundle(_fig()))]


def test_display_module_is_the_only_path(monkeypatch):
    assert display.show is show and display.update is update
