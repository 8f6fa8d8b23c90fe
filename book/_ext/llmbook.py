"""Sphinx extension that makes the built book self-contained (no CDN, no network).

What it does, for the HTML builder:

* **plotly.js** — copies ``plotly/package_data/plotly.min.js`` from the installed
  ``plotly`` package into ``_static/`` and loads it (synchronously, in the page head)
  on every page that holds a plotly figure. The figures' ``text/html`` parts
  (see ``llmwidgets.display.figure_html``) carry no plotly.js of their own and expect
  ``window.Plotly`` to exist when their inline script runs.
* **MathJax 3** — copies MathJax's ``es5/`` build from the installed
  ``django-static-mathjax`` package (a plain PyPI wheel that ships MathJax 3.2.2;
  Django itself is not needed) into ``_static/mathjax/``. ``mathjax_path`` in
  ``_config.yml`` points Sphinx there instead of jsdelivr.
* **plotly JSON parts** — every figure output is a bundle with both
  ``application/vnd.plotly.v1+json`` and ``text/html``. MyST-NB renders every part
  of a bundle while parsing and only later keeps the one its priority list prefers
  (``text/html``); for the JSON part it has no renderer and warns "skipping unknown
  output mime type", which fails a ``--warningiserror`` build. A small MyST-NB mime
  renderer plugin turns the JSON part into a comment node instead (never
  selected, since the JSON type is not in the priority list), and a check warns
  about any figure output that lacks the ``text/html`` part (e.g. a plain
  ``fig.show()``), because the book could not draw it.
* **sphinx-thebe** — Jupyter Book always loads sphinx-thebe, whose inline
  ``const THEBE_JS_URL = "https://unpkg.com/..."`` script ends up twice in every
  page (sphinx-thebe 0.3.1 under Jupyter Book 1.0.4), so the browser logs
  "Identifier 'THEBE_JS_URL' has already been declared". The book has no thebe
  button (launch_buttons.thebe is off), so that inline script and
  ``sphinx-thebe.js`` are dropped from every page.

Registered in ``_config.yml`` under ``sphinx: local_extensions: llmbook: book/_ext``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

PLOTLY_JS = "plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
MATHJAX_DIR = "mathjax"
# Combined MathJax bundles other than the one the book loads are left out (about
# 13 MB); the component folders stay, so the MathJax menu (renderer, accessibility)
# still finds everything it loads lazily.
MATHJAX_ENTRY = "tex-mml-chtml.js"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the book needs the Python package {name!r}; run: bash scripts/setup.sh"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` shipped inside the installed plotly package."""
    path = _package_dir("plotly") / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise RuntimeError(f"plotly.min.js not found at {path}")
    return path


def mathjax_es5_path() -> Path:
    """MathJax 3's ``es5/`` build shipped inside the ``django-static-mathjax`` wheel."""
    path = _package_dir("mathjax") / "static" / "mathjax" / "es5"
    if not (path / MATHJAX_ENTRY).is_file():
        raise RuntimeError(
            f"MathJax 3 not found at {path}; install django-static-mathjax (bash scripts/setup.sh)"
        )
    return path


def _ignore_other_bundles(directory: str, names: list[str]) -> list[str]:
    if Path(directory).name != "es5":
        return []
    return [n for n in names if n.endswith(".js") and n not in (MATHJAX_ENTRY, "loader.js")]


def copy_assets(app: Sphinx, exception: Exception | None) -> None:
    """Copy plotly.js and MathJax into ``_static`` once the HTML pages are written."""
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    static = Path(app.builder.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js_path(), static / PLOTLY_JS)
    shutil.copytree(
        mathjax_es5_path(), static / MATHJAX_DIR, ignore=_ignore_other_bundles, dirs_exist_ok=True
    )


class PlotlyJsonRenderer:
    """MyST-NB mime renderer plugin (``MimeRenderPlugin`` protocol) for plotly JSON."""

    mime_priority_overrides: tuple = ()

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[nodes.Element] | None:
        if data.mime_type != PLOTLY_MIME:
            return None
        return [nodes.comment("", "plotly figure JSON: the book draws the text/html part")]


def register_plotly_json_renderer() -> None:
    """Add :class:`PlotlyJsonRenderer` to MyST-NB's (cached) list of mime plugins.

    MyST-NB finds plugins through the ``myst_nb.mime_renderers`` entry point group
    and caches the list it loads; appending to that cached list registers a plugin
    without installing a package.
    """
    from myst_nb.core import render

    plugins = render.load_mime_renders()
    if not any(p is PlotlyJsonRenderer for p in plugins):
        plugins.append(PlotlyJsonRenderer)


def check_figure_outputs(app: Sphinx, doctree: nodes.document) -> None:
    """Warn about a plotly figure output the book cannot draw (no text/html part)."""
    for bundle in doctree.findall(nodes.container):
        if bundle.get("nb_element") != "mime_bundle":
            continue
        mimes = {child.get("mime_type") for child in bundle.children}
        if PLOTLY_MIME in mimes and "text/html" not in mimes:
            logger.warning(
                "plotly figure output without a text/html part: the book cannot draw "
                "it; show figures with llmwidgets.show(fig)",
                location=bundle,
            )


def _drop_thebe(context: dict[str, Any]) -> None:
    files = context.get("script_files")
    if not files:
        return
    keep = []
    for js in files:
        filename = str(getattr(js, "filename", js) or "")
        body = str(getattr(js, "attributes", {}).get("body", ""))
        if "sphinx-thebe" not in filename and "THEBE_JS_URL" not in body:
            keep.append(js)
    # In place: Sphinx sorts and renders this very list after the event.
    files[:] = keep


def page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Per page: load plotly.js where a figure is, and drop sphinx-thebe's scripts."""
    _drop_thebe(context)
    body = context.get("body", "")
    if "plotly-graph-div" in body:
        # No defer/async: the figures' inline scripts call Plotly.newPlot while the
        # page is parsed. priority < 500 puts it before the theme's own scripts.
        app.add_js_file(PLOTLY_JS, priority=200)


def check_config(app: Sphinx, config: Any) -> None:
    """Fail early, with a clear message, when an asset package is missing."""
    plotly_js_path()
    mathjax_es5_path()
    path = str(config.mathjax_path or "")
    if "://" in path:
        logger.warning("mathjax_path %r loads MathJax from the network", path)


def setup(app: Sphinx) -> dict[str, Any]:
    register_plotly_json_renderer()
    app.connect("doctree-read", check_figure_outputs)
    app.connect("config-inited", check_config)
    # After sphinx-thebe and myst-nb have added their per-page scripts.
    app.connect("html-page-context", page_context, priority=900)
    app.connect("build-finished", copy_assets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
