"""Shared fixtures and the test layers.

Layers, as pytest markers (``pytest -m unit`` runs the fast ones in about a minute):

==============  =====================================================================
``unit``        ``tests/unit/`` and ``tests/checks/``: the package, no kernel, no browser
``kernel``      tests that start a real Jupyter kernel (marked one by one)
``notebooks``   every notebook under nbval, in quick mode
``book``        ``tests/book/``: notebook hygiene, student versions, the book build
``browser``     tests that drive headless Chromium (the built book, JupyterLab)
==============  =====================================================================

The README's test command runs them all. Fixtures: :func:`run_in_kernel` executes code
cells in one fresh kernel; :func:`browser` is one headless Chromium per session, and every
page is opened through :class:`OfflinePage`, which blocks and records any request to
another host, and records console errors, page errors, failed requests and HTTP errors,
so each test can assert that a page works with no network.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # tests/_helpers.py, shared by the test folders

_FOLDER_MARKERS = {"unit": "unit", "checks": "unit", "book": "book"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its layer: by folder, nbval items as ``notebooks``."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if "run_in_kernel" in fixtures:
            item.add_marker(pytest.mark.kernel)
        path = Path(str(item.fspath)).resolve()
        if path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
            continue
        try:
            folder = path.relative_to(TESTS).parts[0]
        except ValueError:
            continue
        marker = _FOLDER_MARKERS.get(folder)
        kernel_or_browser = item.get_closest_marker("kernel") or item.get_closest_marker("browser")
        if marker == "unit" and kernel_or_browser:
            continue  # a kernel test in tests/unit/ is not a fast unit test
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture
def run_in_kernel() -> Callable[..., list]:
    """Execute code cells in one fresh Python kernel; return each cell's outputs.

    Usage: ``outputs = run_in_kernel("x = 1", "print(x)")`` gives a list with one list
    of output dicts per cell. An error in a cell fails the test with its traceback.
    """
    import nbformat
    from nbclient import NotebookClient

    def run(*cells: str, timeout: int = 120) -> list:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        NotebookClient(nb, timeout=timeout, kernel_name="python3").execute()
        return [cell.outputs for cell in nb.cells]

    return run


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The system Chromium (installed by scripts/test.sh), or None."""
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole session (Playwright's sync API allows one per thread)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium binary (/usr/bin/chromium or chromium on PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class OfflinePage:
    """A fresh browser context whose page may only talk to one origin.

    Attributes:
        page: the Playwright page.
        console_errors: console errors and uncaught page errors.
        bad_requests: blocked external requests, failed requests and HTTP >= 400.
        pending: requests still in flight.
    """

    def __init__(self, browser: object, origin_url: str, viewport=(1280, 900)) -> None:
        self.console_errors: list[str] = []
        self.bad_requests: list[str] = []
        self.pending: set[object] = set()
        origin = urlsplit(origin_url).netloc
        self.context = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block"
        )

        def route(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc != origin:
                self.bad_requests.append(f"external request (blocked): {url}")
                route.abort("blockedbyclient")  # type: ignore[attr-defined]
            else:
                route.continue_()  # type: ignore[attr-defined]

        self.context.route("**/*", route)
        page = self.page = self.context.new_page()
        page.set_default_timeout(30_000)
        page.on(
            "console",
            lambda msg: (
                self.console_errors.append(f"console.error: {msg.text} ({msg.location})")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        page.on("request", lambda req: self.pending.add(req))
        page.on("requestfinished", lambda req: self.pending.discard(req))
        page.on("requestfailed", lambda req: self.pending.discard(req))
        page.on(
            "requestfailed",
            lambda req: self.bad_requests.append(f"failed: {req.url} ({req.failure})"),
        )
        page.on(
            "response",
            lambda resp: (
                self.bad_requests.append(f"HTTP {resp.status}: {resp.url}")
                if resp.status >= 400
                else None
            ),
        )

    def wait_until_idle(self, quiet_s: float = 0.5, timeout_s: float = 30.0) -> None:
        """Wait until no request has been in flight for ``quiet_s`` seconds.

        Playwright's own "networkidle" relies on a Chromium lifecycle event that the
        Debian Chromium does not always send; counting requests is deterministic.
        """
        start = last_busy = time.monotonic()
        while True:
            self.page.wait_for_timeout(100)  # lets Playwright deliver the events
            now = time.monotonic()
            if self.pending:
                last_busy = now
            elif now - last_busy >= quiet_s:
                return
            if now - start > timeout_s:
                urls = sorted(r.url for r in self.pending)  # type: ignore[attr-defined]
                pytest.fail(f"requests still in flight after {timeout_s:.0f} s: {urls}")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> OfflinePage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
