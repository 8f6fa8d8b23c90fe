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

Live widgets redraw through :class:`LiveFigure` instead, which never leaves a frame
without the plot (see its docstring), and whose output carries the widget's static
form as the fallback that every frontend without a widget manager shows
(:func:`widget_bundle`): the built book, nbviewer, GitHub's preview.
"""

from __future__ import annotations

import sys
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Output metadata that marks a live view a saved notebook drops
#: (book/tools/static_outputs.py): the figure shown next to its controls on Colab (the
#: widget's static form stands for it), and a training plot not finished yet.
LIVE_METADATA = {"llmwidgets": {"live_figure": True}}
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
        raise ValueError(
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
        raise ValueError(
            f"update() needs the handle returned by show(fig, display_id=True), got {handle!r}"
        )
    bundle = figure_bundle(fig)
    if _in_colab():  # each output is its own frame, drawn afresh on every update
        handle.update(bundle, raw=True)
        return
    # JupyterLab and Notebook 7 reuse an output's renderer when the preferred mime type
    # is unchanged, and plotly's renderer ignores a second renderModel() once it has
    # drawn. A one-line text/plain step in between makes the frontend build a fresh
    # plotly renderer, so the figure really redraws; the final output is the full bundle.
    # The plot is missing for a frame or two then: live widgets use LiveFigure instead.
    handle.update({"text/plain": bundle["text/plain"]}, raw=True)
    handle.update(bundle, raw=True)


def widget_bundle(widget: Any, fallback: go.Figure) -> dict[str, Any]:
    """One output for a live widget that still shows a figure where widgets cannot run.

    Args:
        widget: an ``ipywidgets`` widget (the live view).
        fallback: the static form, shown by frontends without a widget manager.

    Returns:
        :func:`figure_bundle` of ``fallback`` plus the widget-view part. JupyterLab,
        Notebook 7, VS Code and Colab render the widget; the built book, nbviewer and
        GitHub render the figure's ``text/html`` part.
    """
    if not callable(getattr(widget, "_repr_mimebundle_", None)):
        raise ValueError(f"widget must be an ipywidgets widget, got {type(widget).__name__}")
    view = widget._repr_mimebundle_() or {}
    if WIDGET_MIME not in view:
        raise ValueError(f"{type(widget).__name__} has no widget view to display")
    bundle = figure_bundle(fallback)
    bundle[WIDGET_MIME] = view[WIDGET_MIME]
    return bundle


def figure_output(fig: go.Figure) -> dict[str, Any]:
    """The figure as an nbformat ``display_data`` output for an ``ipywidgets.Output``.

    Only the plotly JSON part: inside a widget only a frontend with a widget manager
    draws it, and all of them render plotly's JSON (the HTML part would double the size
    of every redraw).

    Args:
        fig: the figure.

    Returns:
        ``{"output_type": "display_data", "data": {plotly JSON, text/plain}, "metadata": {}}``.
    """
    _check_figure(fig)
    data = dict(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict()))
    data["text/plain"] = f"<plotly figure: {fig.layout.title.text or 'untitled'}>"
    return {"output_type": "display_data", "data": data, "metadata": {}}


class LiveFigure:
    """A figure shown once, under optional controls, and redrawn in place without flicker.

    Why not a display handle: JupyterLab 4 and Notebook 7 draw a plotly output once and
    reuse its renderer while the mime type stays the same, so :func:`update` has to
    swap the figure for a text line and back, and the plot is missing for a frame or
    two on every redraw. Here the figure lives in an ``ipywidgets.Output`` whose
    ``outputs`` are replaced in one message: JupyterLab removes the old plot and draws
    the new one in the same task (it also keeps the area's height while it swaps), so
    no frame is painted without a plot. VS Code renders ``Output`` widgets the same way.
    Colab does not draw plotly inside an ``Output`` widget, so there the figure is its
    own output next to the controls, redrawn through a display handle (Colab draws
    every output afresh in its own frame).

    The whole view is one output whose bundle carries ``fallback`` (see
    :func:`widget_bundle`). Needs a kernel with ipywidgets
    (:func:`live_widgets_available`).

    Args:
        fig: the figure to show now.
        controls: an ipywidgets widget shown above the figure, or ``None``.
        fallback: the static form carried for frontends without widgets; ``None``
            carries ``fig``.
        transient: the live view is marked (:data:`LIVE_METADATA`) so that a saved
            notebook drops it unless :meth:`finish` made it a plain figure: a training
            plot's fallback is its first figure, out of date by the end.
    """

    def __init__(
        self,
        fig: go.Figure,
        *,
        controls: Any = None,
        fallback: go.Figure | None = None,
        transient: bool = False,
    ) -> None:
        import ipywidgets
        from IPython.display import display

        self._controls = controls
        self._fallback = fig if fallback is None else fallback
        self._metadata = LIVE_METADATA if transient else {}
        self._finished = False
        if _in_colab():
            self.output = None
            self._handle = None
            if controls is not None:
                display(widget_bundle(controls, self._fallback), raw=True)
            self._figure_handle = display(
                figure_bundle(fig), raw=True, display_id=True, metadata=LIVE_METADATA
            )
            return
        self.output = ipywidgets.Output()
        self.output.outputs = (figure_output(fig),)
        self._handle = display(self._bundle(), raw=True, display_id=True, metadata=self._metadata)

    def _bundle(self) -> dict[str, Any]:
        self.view = self.output  # the widget shown: the figure, under the controls if any
        if self._controls is not None:
            import ipywidgets

            self.view = ipywidgets.VBox([self._controls, self.output])
        return widget_bundle(self.view, self._fallback)

    def update(self, fig: go.Figure) -> None:
        """Redraw the figure in place.

        Args:
            fig: the new state of the figure.

        Returns:
            None.
        """
        if self.output is None:
            self._figure_handle.update(figure_bundle(fig), raw=True, metadata=LIVE_METADATA)
            return
        self.output.outputs = (figure_output(fig),)
        if self._finished:  # live again after finish(): the widget view comes back
            self._finished = False
            self._handle.update(self._bundle(), raw=True, metadata=self._metadata)

    def finish(self, fig: go.Figure) -> None:
        """Replace the live view by a plain figure output (nothing is live any more).

        A training plot calls this at the end: the saved notebook then holds an ordinary
        figure, which every frontend draws, instead of a widget view.

        Args:
            fig: the final figure.

        Returns:
            None.
        """
        self._fallback = fig
        if self.output is None:
            self._figure_handle.update(figure_bundle(fig), raw=True)
            return
        self.output.outputs = (figure_output(fig),)
        self._handle.update(figure_bundle(fig), raw=True, metadata={})
        self._finished = True
