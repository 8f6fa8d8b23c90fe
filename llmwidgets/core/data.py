"""Corpora: download once, verify the SHA-256, cache, or read a local mirror.

Three public-domain corpora are pinned by URL (a fixed upstream commit), size and
SHA-256:

* ``tinyshakespeare`` - 1.1 MB of Shakespeare (English, plain text);
* ``lunyu`` - The Analects (论语), simplified Chinese, JSON;
* ``songci300`` - 300 Song ci poems (宋词三百首), simplified Chinese, JSON.

Where a file comes from, in order:

1. ``data_dir=`` or the ``LLMW_DATA_DIR`` environment variable: a local folder
   holding the files under their plain names (tests and CI use ``../shared/data``);
2. the cache (``LLMW_CACHE_DIR``, else ``$XDG_CACHE_HOME/llmwidgets``, else
   ``~/.cache/llmwidgets``), if the cached copy still has the right hash;
3. a download over HTTPS, verified before it is moved into the cache.

A file with the wrong size or hash is never used: a bad cached copy is deleted and
fetched again, a bad local copy is an error that says what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: Folder with local copies of the corpora; takes precedence over cache and download.
DATA_DIR_ENV = "LLMW_DATA_DIR"
#: Overrides the cache folder.
CACHE_DIR_ENV = "LLMW_CACHE_DIR"

_CHAR_RNN = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e"
)
_POETRY = "https://raw.githubusercontent.com/chinese-poetry/chinese-poetry/99ebbef7e1345c0985c44b9fd96a3f9e776f117b"


class CorpusError(RuntimeError):
    """A corpus could not be found, downloaded or verified; the message says what to do."""


@dataclass(frozen=True)
class Corpus:
    """One pinned corpus file.

    Attributes:
        name: short name used by :func:`load_text`.
        filename: the file's name in a local data folder and in the cache.
        url: canonical download URL, pinned to an upstream commit.
        sha256: expected SHA-256 of the file's bytes.
        size: expected size in bytes (catches truncated downloads early).
        kind: "text" (UTF-8 plain text) or a JSON layout ("lunyu", "songci").
    """

    name: str
    filename: str
    url: str
    sha256: str
    size: int
    kind: str


CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            "tinyshakespeare",
            "tinyshakespeare.txt",
            f"{_CHAR_RNN}/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            1115394,
            "text",
        ),
        Corpus(
            "lunyu",
            "lunyu.json",
            f"{_POETRY}/{quote('论语/lunyu.json')}",
            "bc336a3839706377892719db44c48a09794a493190535a42bf1c7d4c4233e96c",
            74799,
            "lunyu",
        ),
        Corpus(
            "songci300",
            "songci300.json",
            f"{_POETRY}/{quote('宋词/宋词三百首.json')}",
            "ca5d74f7fdb9d5a6acc22a7c8b4395228cad4bb8be53df44c19ba83ab6983b20",
            151283,
            "songci",
        ),
    )
}


def cache_dir() -> Path:
    """Return the cache folder (created on first download, not here).

    Returns:
        ``LLMW_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/llmwidgets``, else
        ``~/.cache/llmwidgets``.
    """
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "llmwidgets"


def _checked_cache_dir() -> Path:
    """:func:`cache_dir`, refusing a path that exists but is not a folder."""
    folder = cache_dir()
    if folder.exists() and not folder.is_dir():
        origin = CACHE_DIR_ENV if os.environ.get(CACHE_DIR_ENV) else "the default cache path"
        raise CorpusError(
            f"the cache folder {folder} (from {origin}) is a file, not a folder. Point "
            f"{CACHE_DIR_ENV} at a folder (it is created if missing), or set {DATA_DIR_ENV} "
            "to a folder that holds the corpora"
        )
    return folder


def _get(name: str | Corpus) -> Corpus:
    if isinstance(name, Corpus):
        return name
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {sorted(CORPORA)}")
    return CORPORA[name]


def _problem(path: Path, corpus: Corpus) -> str | None:
    """Say what is wrong with a file, or return None when size and hash match."""
    size = path.stat().st_size
    if size != corpus.size:
        state = "truncated" if size < corpus.size else "too long"
        return f"{state}: {size} bytes, expected {corpus.size}"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != corpus.sha256:
        return f"wrong SHA-256 {digest}, expected {corpus.sha256}"
    return None


def corpus_path(
    name: str | Corpus,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Return the path of a verified copy of a corpus file.

    Args:
        name: a key of :data:`CORPORA` (or a :class:`Corpus`).
        data_dir: a local folder with the file; ``None`` reads ``LLMW_DATA_DIR``.
        download: whether a missing or bad cached file may be downloaded.
        timeout: seconds to wait for the server.

    Returns:
        The path of a file whose size and SHA-256 match the pinned values.

    Raises:
        ValueError: for an unknown corpus name.
        CorpusError: when the file is missing, corrupt, or cannot be downloaded.
    """
    corpus = _get(name)
    local = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if local is not None:
        path = Path(local).expanduser() / corpus.filename
        if not path.is_file():
            raise CorpusError(
                f"{corpus.filename} not found in the local data folder {Path(local)} "
                f"(from {'data_dir' if data_dir is not None else DATA_DIR_ENV}). "
                f"Put the file there, or unset {DATA_DIR_ENV} to download it from {corpus.url}"
            )
        problem = _problem(path, corpus)
        if problem:
            raise CorpusError(
                f"local copy {path} is {problem}. Replace it with the file from {corpus.url}"
            )
        return path

    cached = _checked_cache_dir() / corpus.filename
    if cached.is_file():
        if _problem(cached, corpus) is None:
            return cached
        cached.unlink()  # never use a bad cached file; fetch it again below
    if not download:
        raise CorpusError(
            f"{corpus.filename} is not in the cache {cached.parent} and download=False. "
            f"Download it from {corpus.url} or set {DATA_DIR_ENV} to a folder that has it"
        )
    return _download(corpus, cached, timeout)


def _download(corpus: Corpus, target: Path, timeout: float) -> Path:
    """Download to a temporary file beside ``target``, verify, then rename."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=corpus.filename + ".", dir=target.parent)
    except OSError as err:  # e.g. a file in the way, or no permission
        raise CorpusError(
            f"cannot write to the cache folder {target.parent}: {err}. Point {CACHE_DIR_ENV} "
            f"at a writable folder, or set {DATA_DIR_ENV} to a folder that holds the corpora"
        ) from err
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(corpus.url, timeout=timeout) as response:
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as err:
                raise CorpusError(
                    f"could not download {corpus.name} from {corpus.url}: {err}. "
                    "Check the internet connection, or download the file by hand and "
                    f"set {DATA_DIR_ENV} to the folder that holds {corpus.filename}"
                ) from err
        problem = _problem(tmp, corpus)
        if problem:
            raise CorpusError(
                f"download of {corpus.name} from {corpus.url} is {problem}; "
                "nothing was cached. Try again; if it persists, the upstream file changed"
            )
        tmp.replace(target)
        return target
    finally:
        tmp.unlink(missing_ok=True)


def _lunyu_text(records: list[dict]) -> str:
    # One block per chapter: the chapter title, then one line per paragraph.
    return "\n\n".join("\n".join([r["chapter"], *r["paragraphs"]]) for r in records)


def _songci_text(records: list[dict]) -> str:
    # One block per poem: "tune title · author", then its lines.
    return "\n\n".join(
        "\n".join([f"{r['rhythmic']} · {r['author']}", *r["paragraphs"]]) for r in records
    )


_JSON_LAYOUTS: dict[str, Callable[[list[dict]], str]] = {
    "lunyu": _lunyu_text,
    "songci": _songci_text,
}


def load_text(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> str:
    """Load a corpus as one plain-text string.

    The Chinese JSON corpora become blocks separated by a blank line: the chapter
    (or "tune · author") on the first line, then one line per paragraph.

    Args:
        name: "tinyshakespeare", "lunyu" or "songci300".
        data_dir: local folder with the files (``None`` reads ``LLMW_DATA_DIR``).
        download: whether the file may be downloaded when it is not cached.

    Returns:
        The corpus text.

    Raises:
        ValueError: for an unknown corpus name.
        CorpusError: see :func:`corpus_path`.
    """
    corpus = _get(name)
    raw = corpus_path(corpus, data_dir, download=download).read_text(encoding="utf-8")
    if corpus.kind == "text":
        return raw
    return _JSON_LAYOUTS[corpus.kind](json.loads(raw))
