"""Shared helpers for the headless-Chromium tests (built book and JupyterLab)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Path of the system Chromium; skips the test with a reason when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium binary on PATH (scripts/test.sh installs it with apt-get)")


@dataclass
class PageLog:
    """What a page did that a test may want to assert on."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests to any other host
    failed: list[str] = field(default_factory=list)  # requests that failed


@contextmanager
def local_page(base_url: str, viewport=(1200, 900)) -> Iterator[tuple[object, PageLog]]:
    """A fresh headless page that may only talk to ``base_url``'s host; logs errors."""
    from playwright.sync_api import sync_playwright

    host = urlparse(base_url).netloc
    log = PageLog()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("console", lambda m: m.type == "error" and log.console_errors.append(m.text))
            page.on("pageerror", lambda e: log.page_errors.append(str(e)))
            page.on("requestfailed", lambda r: log.failed.append(f"{r.url} {r.failure}"))

            def route(r):
                url = r.request.url
                if url.startswith(("data:", "blob:")) or urlparse(url).netloc == host:
                    r.continue_()
                else:
                    log.blocked.append(url)
                    r.abort()

            page.route("**/*", route)
            yield page, log
        finally:
            browser.close()
