"""Show plotly figures so one cell renders everywhere, and update them in place.

Where a figure has to appear, and what each place reads:

==================  =============================================================
JupyterLab 4, NB 7  ``application/vnd.plotly.v1+json`` (plotly's own extension)
VS Code             ``application/vnd.plotly.v1+json`` (built-in renderer)
Colab               ``text/html`` that loads plotly.js itself (each output is
                    its own sandboxed frame)
the built book      ``text/html``; the book serves ``plotly.min.js`` from its own
                    ``_static`` folder, so the HTML part carries no plotly.js,
                    no CDN link and no MathJax 2 script
==================  =============================================================

plotly >= 6.1 emits only the JSON part in a kernel, which Jupyter Book v1 drops,
so :func:`show` always sends both parts as one raw mime bundle. The same bundle
goes through a display handle for live updates (:func:`update`): plotly's own
``display(fig, display_id=True).update(fig)`` does not redraw in place (nor does a
plain raw-bundle update in JupyterLab, whose plotly renderer draws only once; see
:func:`update`), and a ``go.FigureWidget`` would store megabytes of widget state in
the notebook.
"""

from __future__ import annotations

import sys
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

PLOTLY_MIME = "application/vnd.plotly.v1+json"
_DEFAULT_HEIGHT = 450  # plotly's own default figure height, in pixels


def _in_colab() -> bool:
    return "google.colab" in sys.modules


def in_kernel() -> bool:
    """Tell whether code runs in a Jupyter kernel (not plain Python, not terminal IPython).

    Returns:
        ``True`` in JupyterLab, Notebook 7, Colab, VS Code and nbclient kernels.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


_colab_widgets_enabled = False


def live_widgets_available() -> bool:
    """Tell whether live ipywidgets can be shown here, preparing Colab if needed.

    Colab renders third-party widgets only through its custom widget manager, so on
    Colab this switches that manager on (once per session) before the first widget.

    Returns:
        ``True`` in a kernel where ipywidgets imports; widgets then show their live
        form, elsewhere their static plotly form.
    """
    global _colab_widgets_enabled
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    if not in_kernel():
        return False
    if _in_colab() and not _colab_widgets_enabled:
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()
        _colab_widgets_enabled = True
    return True


def _check_figure(fig: Any) -> go.Figure:
    if not isinstance(fig, go.Figure):
        raise TypeError(
            f"expected a plotly.graph_objects.Figure, got {type(fig).__name__}"
            + (
                " (a FigureWidget keeps megabytes of state; pass go.Figure(fig))"
                if isinstance(fig, go.FigureWidget)
                else ""
            )
        )
    return fig


def figure_html(fig: go.Figure, *, plotlyjs: bool | str = False) -> str:
    """The ``text/html`` part of a figure: a ``<div>`` plus a script that draws it.

    Args:
        fig: the figure.
        plotlyjs: ``False`` (default) expects ``window.Plotly`` to exist, as in
            the built book; ``"cdn"`` loads plotly.js from a CDN (Colab only).

    Returns:
        An HTML fragment without plotly.js and without MathJax 2.
    """
    _check_figure(fig)
    height = fig.layout.height or _DEFAULT_HEIGHT
    return pio.to_html(
        fig,
        include_plotlyjs=plotlyjs,
        include_mathjax=False,  # MathJax 2 would clash with the book's MathJax 3
        full_html=False,
        default_height=f"{height}px",
        config={"displaylogo": False, "responsive": True},
    )


def figure_bundle(fig: go.Figure) -> dict[str, Any]:
    """The raw mime bundle :func:`show` displays.

    Args:
        fig: the figure.

    Returns:
        ``{"application/vnd.plotly.v1+json": ..., "text/html": ..., "text/plain": ...}``.
    """
    _check_figure(fig)
    bundle = dict(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict()))
    bundle["text/html"] = figure_html(fig, plotlyjs="cdn" if _in_colab() else False)
    title = fig.layout.title.text or "untitled"
    bundle["text/plain"] = f"<plotly figure: {title}>"
    return bundle


def show(fig: go.Figure, *, display_id: bool | str = False) -> Any:
    """Display a figure so it renders in every frontend and in the built book.

    Args:
        fig: the figure.
        display_id: ``True`` (or a string id) to get a handle for :func:`update`.

    Returns:
        An ``IPython.display.DisplayHandle`` when ``display_id`` is set, else
        ``None``. Outside IPython it prints the figure's one-line summary.
    """
    bundle = figure_bundle(fig)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python without IPython
        print(bundle["text/plain"])
        return None
    if get_ipython() is None:
        print(bundle["text/plain"])
        return None
    return display(bundle, raw=True, display_id=display_id or None)


def update(handle: Any, fig: go.Figure) -> None:
    """Redraw a figure shown with ``show(fig, display_id=True)`` in place.

    Args:
        handle: the handle :func:`show` returned.
        fig: the new state of the figure.

    Returns:
        None.
    """
    if handle is None or not hasattr(handle, "update"):
        raise TypeError(
            f"update() needs the handle returned by show(fig, display_id=True), got {handle!r}"
        )
    bundle = figure_bundle(fig)
    # JupyterLab and Notebook 7 reuse an output's renderer when the preferred mime type
    # is unchanged, and plotly's renderer ignores a second renderModel() once it has
    # drawn. A one-line text/plain step in between makes the frontend build a fresh
    # plotly renderer, so the figure really redraws; the final output is the full bundle.
    handle.update({"text/plain": bundle["text/plain"]}, raw=True)
    handle.update(bundle, raw=True)
