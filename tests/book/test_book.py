"""The online book: it builds with warnings as errors, and its pages work offline.

One fresh build per test session goes to ``_build/test/_build/html`` (ignored by git).
The browser tests serve it from ``127.0.0.1`` and open it in headless Chromium with
every request to another host blocked and recorded; screenshots for debugging are
written to ``_build/test/screenshots/``.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import OfflinePage

ROOT = Path(__file__).resolve().parents[2]
BUILD_ROOT = ROOT / "_build" / "test"
SCREENSHOTS = BUILD_ROOT / "screenshots"
REPOSITORY = "llm-ecosystem-book/llm-ecosystem"


def _toc_pages() -> list[tuple[str, bool, bool]]:
    """Every page of _toc.yml: (path in the built site, has math, has plotly figures)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    pages = []
    for name in files:
        notebook = ROOT / f"{name}.ipynb"
        if notebook.is_file():
            nb = json.loads(notebook.read_text(encoding="utf-8"))
            text = "".join(
                "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
            )
            has_figures = "application/vnd.plotly.v1+json" in notebook.read_text(encoding="utf-8")
        else:
            text, has_figures = (ROOT / f"{name}.md").read_text(encoding="utf-8"), False
        pages.append((f"{name}.html", "$" in text, has_figures))
    return pages


# Pages the browser tests open: every page of the book, and the search page.
PAGES = [*_toc_pages(), ("search.html", False, False)]


def _jupyter_book() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return str(exe)
    found = shutil.which("jupyter-book")
    if found is None:
        pytest.fail("jupyter-book is not installed; run: bash scripts/setup.sh")
    return found


@pytest.fixture(scope="session")
def book_html() -> Path:
    """Build the whole book once, from scratch, with warnings as errors."""
    # Only the build's own output: BUILD_ROOT also holds the screenshots of other tests,
    # which another pytest-xdist worker may be writing right now.
    shutil.rmtree(BUILD_ROOT / "_build", ignore_errors=True)
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    cmd = [
        _jupyter_book(),
        "build",
        str(ROOT),
        "--path-output",
        str(BUILD_ROOT),
        "--warningiserror",
        "--keep-going",
        "--all",
    ]
    start = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=900, cwd=ROOT, stdin=subprocess.DEVNULL
    )
    log = proc.stdout + proc.stderr
    (BUILD_ROOT / "build.log").write_text(log)
    if proc.returncode != 0:
        pytest.fail(
            f"book build failed (exit {proc.returncode}) after {time.monotonic() - start:.0f} s:"
            f" {' '.join(cmd)}\n--- build log ---\n{log[-20000:]}",
            pytrace=False,
        )
    html = BUILD_ROOT / "_build" / "html"
    assert (html / "index.html").is_file(), f"no index.html in {html}\n{log[-5000:]}"
    return html


class _AssetParser(HTMLParser):
    """Collects what a page loads: script src and stylesheet/preload link href."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.assets.append(("script", a["src"]))
        elif tag == "link" and a.get("href"):
            rel = set(a.get("rel", "").lower().split())
            if rel & {"stylesheet", "preload", "modulepreload", "preconnect", "dns-prefetch"}:
                self.assets.append(("link " + " ".join(sorted(rel)), a["href"]))


def _is_remote(url: str) -> bool:
    return bool(urlsplit(url).scheme in ("http", "https") or url.startswith("//"))


def test_build_has_the_pages(book_html: Path) -> None:
    for page, _, _ in PAGES:
        assert (book_html / page).is_file(), f"{page} missing from the build"
    assert (book_html / "_static" / "plotly.min.js").is_file()
    assert (book_html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


def test_no_external_scripts_or_stylesheets(book_html: Path) -> None:
    pages = sorted(book_html.rglob("*.html"))
    assert pages
    remote = []
    for page in pages:
        parser = _AssetParser()
        parser.feed(page.read_text(encoding="utf-8"))
        remote += [
            f"{page.relative_to(book_html)}: {kind} {url}"
            for kind, url in parser.assets
            if _is_remote(url)
        ]
    # Stylesheets must not pull fonts or other CSS from the network either.
    css_import = re.compile(r"@import\s+(url\()?\s*['\"]?(https?:)?//|url\(\s*['\"]?(https?:)?//")
    for css in sorted((book_html / "_static").rglob("*.css")):
        for match in css_import.finditer(css.read_text(encoding="utf-8", errors="replace")):
            remote.append(f"{css.relative_to(book_html)}: {match.group(0)}")
    assert not remote, "the built book loads assets from the network:\n" + "\n".join(remote)


def test_colab_launch_button(book_html: Path) -> None:
    html = (book_html / "notebooks" / "04_math.html").read_text(encoding="utf-8")
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/04_math.ipynb"
    assert url in html


# --------------------------------------------------------------------- browser


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site_url(book_html: Path) -> Iterator[str]:
    """Serve the built book on 127.0.0.1 (a free port) from a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class PageVisit(OfflinePage):
    """A book page opened offline, after MathJax typeset it and requests settled."""

    def __init__(self, browser: object, site_url: str, path: str) -> None:
        super().__init__(browser, site_url)
        self.page.goto(f"{site_url}/{path}", wait_until="load")
        # MathJax typesets after load (it is deferred) and fetches fonts lazily.
        self.page.evaluate(
            "() => (window.MathJax && MathJax.startup && MathJax.startup.promise)"
            " ? MathJax.startup.promise.then(() => true) : false"
        )
        self.page.evaluate("() => document.fonts.ready.then(() => true)")
        self.wait_until_idle()

    def screenshot(self, name: str) -> Path:  # type: ignore[override]
        return super().screenshot(SCREENSHOTS / f"{name}.png")


@pytest.mark.parametrize(("path", "has_math", "has_figures"), PAGES)
def test_page_works_offline(
    browser: object, site_url: str, book_html: Path, path: str, has_math: bool, has_figures: bool
) -> None:
    visit = PageVisit(browser, site_url, path)
    try:
        page = visit.page
        shot = visit.screenshot(Path(path).stem)
        where = f"{path} (screenshot: {shot})"
        if visit.console_errors:
            pytest.fail(f"{where}: console errors:\n" + "\n".join(visit.console_errors))
        if visit.bad_requests:
            pytest.fail(f"{where}: failed or external requests:\n" + "\n".join(visit.bad_requests))

        # Plotly: every figure div in the HTML was drawn by the local plotly.js.
        n_divs = (book_html / path).read_text(encoding="utf-8").count('class="plotly-graph-div"')
        if has_figures:
            assert n_divs >= 1, f"{where}: expected plotly figures in the page"
        svgs_per_figure = page.evaluate(
            "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".map(d => d.classList.contains('js-plotly-plot')"
            " ? d.querySelectorAll('.main-svg').length : 0)"
        )
        assert len(svgs_per_figure) == n_divs, f"{where}: figure divs in DOM vs HTML"
        assert all(n >= 1 for n in svgs_per_figure), (
            f"{where}: figures not drawn (main-svg per figure: {svgs_per_figure})"
        )
        assert page.locator(".js-plotly-plot .main-svg").count() >= n_divs

        # MathJax 3 typeset the math, without TeX errors.
        if has_math:
            assert page.locator("mjx-container").count() >= 1, f"{where}: math not typeset"
        assert page.locator("mjx-merror").count() == 0, f"{where}: MathJax TeX errors"
    finally:
        visit.close()


def test_hidden_solutions_toggle(browser: object, site_url: str, book_html: Path) -> None:
    """Cells tagged hide-input start collapsed and open with a click."""
    pages = [p for p, _, _ in PAGES if "tag_hide-input" in (book_html / p).read_text("utf-8")]
    if not pages:
        pytest.skip("no cell tagged hide-input in the book yet")
    for path in pages:
        visit = PageVisit(browser, site_url, path)
        try:
            cell = visit.page.locator(".tag_hide-input").first
            details = cell.locator("details").first
            code = details.locator(".cell_input")
            assert details.get_attribute("open") is None, f"{path}: solution not hidden"
            assert not code.is_visible(), f"{path}: solution code visible before the click"
            details.locator("summary").click()
            code.wait_for(state="visible")
            assert visit.page.locator(".tag_hide-input details[open]").count() >= 1
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            cell.screenshot(path=str(SCREENSHOTS / f"{Path(path).stem}-solution-open.png"))
            if visit.console_errors:
                pytest.fail(f"{path}: console errors:\n" + "\n".join(visit.console_errors))
        finally:
            visit.close()


# --------------------------------------------------------------------- mermaid

MERMAID_PAGE = "notebooks/02_core_concepts.html"
# A few node labels of each diagram of chapter 2 (the source's flowchart, the corrected
# decoder-only pipeline, the RLHF stages).
MERMAID_LABELS = [
    ["Preprocess the input text", "Encoder input", "Output the predicted text"],
    ["Tokenizer: text → subword pieces → token ids", "Decoder blocks × L"],
    ["1. Pre-training", "3. Reward model", "4. Policy optimisation"],
]


def _llmbook():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import llmbook
    finally:
        sys.path.pop(0)
    return llmbook


def test_mermaid_served_locally(book_html: Path) -> None:
    """mermaid.min.js sits in _static (the pinned npm build), loaded only where needed."""
    llmbook = _llmbook()
    served = book_html / "_static" / "mermaid" / "mermaid.min.js"
    assert served.is_file(), "mermaid.min.js missing from _static/mermaid"
    assert (book_html / "_static" / "mermaid" / "LICENSE").is_file()
    assert (book_html / "_static" / "mermaid" / "book.css").is_file()
    assert served.read_bytes() == (llmbook.MERMAID_CACHE / "mermaid.min.js").read_bytes()
    tracked = subprocess.run(
        ["git", "ls-files", "*mermaid*.js", "*mermaid*.mjs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert not tracked, f"mermaid's JavaScript is fetched, never committed: {tracked}"

    page = (book_html / MERMAID_PAGE).read_text(encoding="utf-8")
    assert page.count('<pre class="mermaid">') == len(MERMAID_LABELS)
    assert re.search(r'<script defer="defer" src="\.\./_static/mermaid/mermaid\.min\.js', page)
    assert "--&gt;" in page, "diagram source should be HTML-escaped"
    other = (book_html / "notebooks" / "04_math.html").read_text(encoding="utf-8")
    assert "mermaid.min.js" not in other, "pages without diagrams should not load mermaid"


def test_mermaid_diagrams_render(browser: object, site_url: str, book_html: Path) -> None:
    """Chapter 2's diagrams become SVGs with their node labels, offline, without errors."""
    visit = PageVisit(browser, site_url, MERMAID_PAGE)
    try:
        page = visit.page
        page.wait_for_function("() => document.documentElement.dataset.mermaid === 'done'")
        diagrams = page.evaluate(
            "() => Array.from(document.querySelectorAll('pre.mermaid')).map(pre => {"
            "  const svg = pre.querySelector('svg');"
            "  return svg ? Array.from(svg.querySelectorAll('g.node'))"
            "    .map(n => n.textContent.replace(/\\s+/g, ' ').trim()) : null; })"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("pre.mermaid").nth(1).screenshot(path=str(SCREENSHOTS / "mermaid.png"))
        assert len(diagrams) == len(MERMAID_LABELS), diagrams
        for labels, expected in zip(diagrams, MERMAID_LABELS, strict=True):
            assert labels, f"a diagram was not drawn as an SVG with nodes: {diagrams}"
            for text in expected:
                assert any(text in label for label in labels), f"{text!r} not in {labels}"
        assert page.locator("pre.mermaid svg").count() == len(MERMAID_LABELS)
        if visit.console_errors:
            pytest.fail("console errors:\n" + "\n".join(visit.console_errors))
        if visit.bad_requests:
            pytest.fail("failed or external requests:\n" + "\n".join(visit.bad_requests))
    finally:
        visit.close()


# Chapter 1's map of the chapters: one diagram, a node per chapter (1 to 10, with 3a-3e and
# 5a-5b), drawn offline.
MAP_PAGE = "book/01_background.html"
MAP_NODES = 15
MAP_LABELS = ["1 Background", "3e The training loop", "5b Translation project", "10 References"]


def test_chapter_map_renders(browser: object, site_url: str, book_html: Path) -> None:
    visit = PageVisit(browser, site_url, MAP_PAGE)
    try:
        page = visit.page
        page.wait_for_function("() => document.documentElement.dataset.mermaid === 'done'")
        labels = page.evaluate(
            "() => Array.from(document.querySelectorAll('pre.mermaid svg g.node'))"
            ".map(n => n.textContent.replace(/\\s+/g, ' ').trim())"
        )
        assert len(labels) == MAP_NODES, labels
        for text in MAP_LABELS:
            assert any(text in label for label in labels), f"{text!r} not in {labels}"
        if visit.console_errors:
            pytest.fail("console errors:\n" + "\n".join(visit.console_errors))
        if visit.bad_requests:
            pytest.fail("failed or external requests:\n" + "\n".join(visit.bad_requests))
    finally:
        visit.close()
