"""Sphinx extension that makes the built book self-contained (no CDN, no network).

What it does, for the HTML builder:

* **plotly.js** — copies ``plotly/package_data/plotly.min.js`` from the installed
  ``plotly`` package into ``_static/`` and loads it (synchronously, in the page head)
  on every page that holds a plotly figure. The figures' ``text/html`` parts
  (see ``llmwidgets.widgets.display.figure_html``) carry no plotly.js of their own and expect
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
* **Widget outputs** — a live widget's output carries the widget's static plotly figure
  next to the widget view (``llmwidgets.widgets.display.widget_bundle``). MyST-NB
  prefers the widget view, which the book cannot draw (it keeps no widget state and
  loads no widget manager), so the same plugin takes the widget view out of MyST-NB's
  priority list: the figure's ``text/html`` part is shown instead of an empty space.
* **Mermaid** — a ``mermaid`` directive (and, through ``myst_fence_as_directive``,
  every ```` ```mermaid ```` fence, which JupyterLab and GitHub draw natively too)
  becomes ``<pre class="mermaid">`` with the diagram's source. On pages that hold one,
  mermaid's classic (IIFE) bundle ``mermaid.min.js`` is loaded from ``_static/mermaid/``
  and draws every diagram as an SVG once the page is parsed. The IIFE bundle, not the
  ESM one, because ES modules do not load from ``file://`` pages in Chromium, and the
  book must also work opened straight from disk. The bundle comes from the npm package
  ``mermaid`` (version and tarball integrity pinned below): ``npm pack`` fetches the
  tarball once into the ignored ``.cache/mermaid/<version>/`` (``bash
  scripts/setup.sh`` does it, and so does the first build that lacks it), its SHA-512
  is checked against the pin, and only ``dist/mermaid.min.js`` and the licence are
  kept. Mermaid's JavaScript is never committed.
* **Student version in Colab** — on every chapter notebook's page the launch menu
  (the rocket) gets a second Colab entry, "Colab (student version)", which opens the
  same notebook from the ``student`` branch: the student notebooks that
  ``book/tools/student.py`` writes with nbgrader, published on that branch by
  ``.github/workflows/book.yml``. The entry reuses the theme's own Colab link
  (repository and path from ``_config.yml``), with the branch replaced.
* **sphinx-thebe** — Jupyter Book always loads sphinx-thebe, whose inline
  ``const THEBE_JS_URL = "https://unpkg.com/..."`` script ends up twice in every
  page (sphinx-thebe 0.3.1 under Jupyter Book 1.0.4), so the browser logs
  "Identifier 'THEBE_JS_URL' has already been declared". The book has no thebe
  button (launch_buttons.thebe is off), so that inline script and
  ``sphinx-thebe.js`` are dropped from every page.

Registered in ``_config.yml`` under ``sphinx: local_extensions: llmbook: book/_ext``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

PLOTLY_JS = "plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MATHJAX_DIR = "mathjax"
# Combined MathJax bundles other than the one the book loads are left out (about
# 13 MB); the component folders stay, so the MathJax menu (renderer, accessibility)
# still finds everything it loads lazily.
MATHJAX_ENTRY = "tex-mml-chtml.js"

# Mermaid, from the npm registry: the package version and npm's integrity string
# (SHA-512 of the tarball, as `npm view mermaid@VERSION dist.integrity` prints it).
MERMAID_VERSION = "11.12.1"
MERMAID_INTEGRITY = (
    "sha512-UlIZrRariB11TY1RtTgUWp65tphtBv4CSq7vyS2ZZ2TgoM"
    "js2nloq+wFqxiwcxlhHUvs7DPGgMjs2aeQxz5h9g=="
)
MERMAID_DIR = "mermaid"  # in _static
MERMAID_JS = "mermaid.min.js"
#: Files kept from the tarball: (path in the tarball, name in the cache and _static).
MERMAID_FILES = (("package/dist/mermaid.min.js", MERMAID_JS), ("package/LICENSE", "LICENSE"))
MERMAID_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "mermaid" / MERMAID_VERSION
MERMAID_CSS = "book.css"  # written into _static/mermaid/ by copy_assets
# Diagrams centred on the page's background, not in a grey code box.
MERMAID_STYLE = "pre.mermaid { background: none; border: none; padding: 0; text-align: center; }\n"
# Runs once the deferred mermaid.min.js has run (DOMContentLoaded comes after deferred
# scripts). A failed diagram is reported as a console error, which the browser tests catch.
MERMAID_INIT = """document.addEventListener("DOMContentLoaded", () => {
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default" });
  mermaid
    .run({ querySelector: "pre.mermaid" })
    .then(() => { document.documentElement.dataset.mermaid = "done"; })
    .catch((err) => console.error("Mermaid could not draw a diagram:", err));
});"""


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


def _npm_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def fetch_mermaid(cache: Path = MERMAID_CACHE) -> Path:
    """Make sure ``cache`` holds mermaid's ``mermaid.min.js`` (and licence); fetch if not.

    Fetching runs ``npm pack mermaid@MERMAID_VERSION`` (the tarball alone, none of the
    package's dependencies, no install scripts), checks the tarball against
    :data:`MERMAID_INTEGRITY` and extracts :data:`MERMAID_FILES`.

    Returns:
        The path of ``mermaid.min.js``.

    Raises:
        RuntimeError: npm is missing, ``npm pack`` failed, or the tarball differs from the pin.
    """
    target = cache / MERMAID_JS
    if all((cache / name).is_file() for _, name in MERMAID_FILES):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"the book needs mermaid@{MERMAID_VERSION} from the npm registry, fetched once "
            f"with npm into {cache}; install Node.js/npm (e.g. apt-get install npm), then "
            "run: bash scripts/setup.sh"
        )
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [npm, "pack", f"mermaid@{MERMAID_VERSION}", "--ignore-scripts", "--silent"]
        proc = subprocess.run(
            [*cmd, "--pack-destination", tmp],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        tarballs = sorted(Path(tmp).glob("mermaid-*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            raise RuntimeError(
                f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
        data = tarballs[0].read_bytes()
        if _npm_integrity(data) != MERMAID_INTEGRITY:
            raise RuntimeError(
                f"{tarballs[0].name} does not match the pinned integrity of "
                f"mermaid@{MERMAID_VERSION}: got {_npm_integrity(data)}"
            )
        cache.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarballs[0]) as tar:
            for member, name in MERMAID_FILES:
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise RuntimeError(f"{member} missing from {tarballs[0].name}")
                partial = cache / f"{name}.partial"
                partial.write_bytes(extracted.read())
                partial.replace(cache / name)  # atomic: never a half-written file
    return target


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
    (static / MERMAID_DIR).mkdir(exist_ok=True)
    for _, name in MERMAID_FILES:
        shutil.copyfile(MERMAID_CACHE / name, static / MERMAID_DIR / name)
    (static / MERMAID_DIR / MERMAID_CSS).write_text(MERMAID_STYLE, encoding="utf-8")


class MermaidDirective(SphinxDirective):
    """A Mermaid diagram, drawn in the browser by the book's own ``mermaid.min.js``.

    MyST's ``myst_fence_as_directive = ["mermaid"]`` (set in ``_config.yml``) turns
    every ```` ```mermaid ```` fence into this directive.
    """

    has_content = True
    required_arguments = 0
    optional_arguments = 0

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content).strip()
        if not code:
            raise self.error("a mermaid diagram needs its source as the directive's content")
        # mermaid decodes HTML entities in the element before parsing, so the
        # escaped source (--> becomes --&gt;) reaches it unchanged.
        raw = nodes.raw("", f'<pre class="mermaid">\n{html.escape(code)}\n</pre>\n', format="html")
        self.set_source_info(raw)
        return [nodes.container("", raw, classes=["mermaid-diagram"])]


class PlotlyJsonRenderer:
    """MyST-NB mime renderer plugin (``MimeRenderPlugin`` protocol) for plotly JSON.

    It also drops the widget view from every builder's priority list, so a widget's
    output shows the static figure it carries.
    """

    mime_priority_overrides: tuple = (("*", WIDGET_MIME, None),)

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


#: The branch that holds the student notebooks (``notebooks/<chapter>.ipynb``).
STUDENT_BRANCH = "student"
_COLAB_NOTEBOOK = re.compile(
    r"^(?P<head>https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/)[^/]+"
    r"/(?P<path>notebooks/[^/]+\.ipynb)$"
)


def student_colab_url(colab_url: str) -> str | None:
    """The Colab link of a chapter's student version, from the theme's Colab link.

    Args:
        colab_url: ``https://colab.research.google.com/github/ORG/REPO/blob/BRANCH/notebooks/X.ipynb``.

    Returns:
        The same link on :data:`STUDENT_BRANCH`, or ``None`` for a link to anything
        other than a notebook of ``notebooks/`` (which has no student version).
    """
    match = _COLAB_NOTEBOOK.match(colab_url)
    if match is None:
        return None
    return f"{match['head']}{STUDENT_BRANCH}/{match['path']}"


def add_student_colab_button(context: dict[str, Any]) -> None:
    """Add "Colab (student version)" to the launch menu that the theme put in ``context``."""
    for group in context.get("header_buttons", []):
        if not isinstance(group, dict) or group.get("label") != "launch-buttons":
            continue
        buttons = group.get("buttons", [])
        colab = next((b for b in buttons if b.get("text") == "Colab"), None)
        url = student_colab_url(colab.get("url", "")) if colab else None
        if url and not any(b.get("url") == url for b in buttons):
            buttons.append(
                {
                    "type": "link",
                    "text": "Colab (student version)",
                    "tooltip": "Open the student version in Colab (exercises to do)",
                    "icon": colab.get("icon", ""),
                    "url": url,
                }
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
    """Per page: load plotly.js where a figure is, drop sphinx-thebe's scripts, and add
    the student version's Colab link to a notebook's launch menu."""
    _drop_thebe(context)
    add_student_colab_button(context)
    body = context.get("body", "")
    if "plotly-graph-div" in body:
        # No defer/async: the figures' inline scripts call Plotly.newPlot while the
        # page is parsed. priority < 500 puts it before the theme's own scripts.
        app.add_js_file(PLOTLY_JS, priority=200)
    if '<pre class="mermaid">' in body:
        # Deferred (2.7 MB need not block the page); the inline script waits for
        # DOMContentLoaded, which fires after every deferred script has run.
        app.add_js_file(f"{MERMAID_DIR}/{MERMAID_JS}", priority=210, defer="defer")
        app.add_js_file(None, body=MERMAID_INIT, priority=211)
        app.add_css_file(f"{MERMAID_DIR}/{MERMAID_CSS}")


def check_config(app: Sphinx, config: Any) -> None:
    """Fail early, with a clear message, when an asset package is missing."""
    plotly_js_path()
    mathjax_es5_path()
    fetch_mermaid()  # a no-op once .cache/mermaid/<version>/ holds it
    path = str(config.mathjax_path or "")
    if "://" in path:
        logger.warning("mathjax_path %r loads MathJax from the network", path)


def setup(app: Sphinx) -> dict[str, Any]:
    register_plotly_json_renderer()
    app.add_directive("mermaid", MermaidDirective)
    app.connect("doctree-read", check_figure_outputs)
    app.connect("config-inited", check_config)
    # After sphinx-thebe and myst-nb have added their per-page scripts.
    app.connect("html-page-context", page_context, priority=900)
    app.connect("build-finished", copy_assets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    # bash scripts/setup.sh runs: python book/_ext/llmbook.py fetch-mermaid
    if sys.argv[1:] != ["fetch-mermaid"]:
        sys.exit("usage: python book/_ext/llmbook.py fetch-mermaid")
    print(f"mermaid@{MERMAID_VERSION}: {fetch_mermaid()}")
