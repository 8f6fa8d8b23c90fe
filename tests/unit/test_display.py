import sys

import nbformat
import plotly.graph_objects as go
import pytest
from nbclient import NotebookClient

from llmwidgets.widgets.display import PLOTLY_MIME, figure_bundle, figure_html, show, update


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
    with pytest.raises(TypeError, match="expected a plotly.graph_objects.Figure"):
        figure_bundle(bad)


def test_rejects_figurewidget_with_hint():
    # Built without __init__: FigureWidget needs anywidget, which the book does not install.
    widget = object.__new__(go.FigureWidget)
    with pytest.raises(TypeError, match="FigureWidget keeps megabytes of state"):
        figure_bundle(widget)


def test_show_outside_ipython_prints(capsys):
    assert show(_fig("plain")) is None
    assert capsys.readouterr().out.strip() == "<plotly figure: plain>"


def test_update_needs_a_handle():
    with pytest.raises(TypeError, match="display_id=True"):
        update(None, _fig())


@pytest.mark.kernel
def test_show_and_update_in_a_real_kernel():
    """In a kernel, show() emits one output with both parts; update() replaces it in place."""
    code = """
import plotly.graph_objects as go
from llmwidgets import show, update
fig = go.Figure(go.Scatter(y=[0]), layout={"title": {"text": "live"}})
handle = show(fig, display_id=True)
for step in range(1, 4):
    fig.data[0].y = list(range(step + 1))
    update(handle, fig)
"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
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
