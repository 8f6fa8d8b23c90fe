"""book/_ext/llmbook.py without a book build: mermaid's pinned download and the figure check.

``fetch_mermaid`` runs a fake ``npm`` (a shell script first on PATH) that "packs" a
tarball made here, so the integrity check is exercised with no network.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
from pathlib import Path

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import llmbook  # noqa: E402  (the book's Sphinx extension, not part of llmwidgets)

JS = b"/* mermaid.min.js stand-in */ window.mermaid = {};\n"
LICENSE = b"MIT License (stand-in)\n"


def tarball(files: dict[str, bytes]) -> bytes:
    """A .tgz as `npm pack` writes it (everything under package/)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sri(data: bytes) -> str:
    """npm's integrity string (Subresource Integrity, SHA-512) of ``data``."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


GOOD = tarball({"package/dist/mermaid.min.js": JS, "package/LICENSE": LICENSE})


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """Put an ``npm`` on PATH whose ``pack`` copies ``tmp_path/served.tgz``; return that path."""
    served = tmp_path / "served.tgz"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        '[ "$1" = pack ] || exit 2\n'
        'while [ $# -gt 0 ]; do [ "$1" = --pack-destination ] && dest=$2; shift; done\n'
        f'cp "{served}" "$dest/mermaid-{llmbook.MERMAID_VERSION}.tgz"\n'
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return served


def test_a_tarball_with_the_pinned_integrity_is_unpacked(tmp_path, fake_npm, monkeypatch):
    fake_npm.write_bytes(GOOD)
    monkeypatch.setattr(llmbook, "MERMAID_INTEGRITY", sri(GOOD))
    cache = tmp_path / "cache"
    assert llmbook.fetch_mermaid(cache) == cache / "mermaid.min.js"
    assert (cache / "mermaid.min.js").read_bytes() == JS
    assert (cache / "LICENSE").read_bytes() == LICENSE
    assert sorted(p.name for p in cache.iterdir()) == ["LICENSE", "mermaid.min.js"]


def test_a_tampered_tarball_is_refused(tmp_path, fake_npm, monkeypatch):
    monkeypatch.setattr(llmbook, "MERMAID_INTEGRITY", sri(GOOD))
    tampered = tarball({"package/dist/mermaid.min.js": JS + b"steal()", "package/LICENSE": LICENSE})
    fake_npm.write_bytes(tampered)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="does not match the pinned integrity") as err:
        llmbook.fetch_mermaid(cache)
    assert sri(tampered) in str(err.value)  # says what it got
    assert not cache.exists(), "nothing from a refused tarball may reach the cache"


def test_the_real_pin_refuses_any_other_tarball(tmp_path, fake_npm):
    fake_npm.write_bytes(GOOD)
    with pytest.raises(RuntimeError, match=f"mermaid@{llmbook.MERMAID_VERSION}"):
        llmbook.fetch_mermaid(tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_tarball_without_the_bundle_is_refused(tmp_path, fake_npm, monkeypatch):
    incomplete = tarball({"package/LICENSE": LICENSE})
    fake_npm.write_bytes(incomplete)
    monkeypatch.setattr(llmbook, "MERMAID_INTEGRITY", sri(incomplete))
    # tarfile's KeyError names the missing member (llmbook's RuntimeError covers a non-file)
    with pytest.raises((KeyError, RuntimeError), match="mermaid.min.js"):
        llmbook.fetch_mermaid(tmp_path / "cache")
    assert not (tmp_path / "cache" / "mermaid.min.js").exists()


def test_a_filled_cache_needs_no_npm(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mermaid.min.js").write_bytes(JS)
    (cache / "LICENSE").write_bytes(LICENSE)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert llmbook.fetch_mermaid(cache) == cache / "mermaid.min.js"


def test_without_npm_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="install Node.js/npm"):
        llmbook.fetch_mermaid(tmp_path / "cache")


# ------------------------------------------------------------------ check_figure_outputs


def doctree(*bundles: list[str]) -> nodes.document:
    """A document holding one MyST-NB mime bundle per list of mime types."""
    document = new_document("<test>", get_default_settings(Parser))
    for mimes in bundles:
        parts = [nodes.container(nb_element="mime_render", mime_type=m) for m in mimes]
        document += nodes.container("", *parts, nb_element="mime_bundle")
    return document


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    """The warnings llmbook logs (Sphinx's logger is not set up without a build)."""
    logged: list[str] = []

    class Recorder:
        def warning(self, message, *args, **kwargs):
            assert isinstance(kwargs.get("location"), nodes.Node)  # points at the output
            logged.append(message % args if args else message)

    monkeypatch.setattr(llmbook, "logger", Recorder())
    return logged


def test_a_plotly_output_without_html_is_reported(warnings):
    llmbook.check_figure_outputs(None, doctree([llmbook.PLOTLY_MIME, "text/plain"]))
    assert len(warnings) == 1
    assert "without a text/html part" in warnings[0] and "llmwidgets.show(fig)" in warnings[0]


@pytest.mark.parametrize(
    "bundles",
    [
        [[llmbook.PLOTLY_MIME, "text/html", "text/plain"]],  # what llmwidgets.show sends
        [["text/plain"], ["image/png", "text/plain"]],  # no figure at all
        [],
    ],
)
def test_drawable_outputs_pass(warnings, bundles):
    llmbook.check_figure_outputs(None, doctree(*bundles))
    assert warnings == []


def test_every_bad_figure_is_reported(warnings):
    plotly = llmbook.PLOTLY_MIME
    tree = doctree([plotly, "text/html"], [plotly], [plotly, "text/plain"], ["text/html"])
    llmbook.check_figure_outputs(None, tree)
    assert len(warnings) == 2
