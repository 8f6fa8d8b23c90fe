import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from llmwidgets.core import data
from llmwidgets.core.data import CORPORA, Corpus, CorpusError, corpus_path, load_text

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PAYLOAD = b"hello corpus\n" * 100


def _local_dir():
    import os

    d = os.environ.get(data.DATA_DIR_ENV)
    if d and Path(d).is_dir():
        return Path(d)
    if SHARED.is_dir():
        return SHARED
    pytest.skip("no local copy of the corpora (set LLMW_DATA_DIR)")


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server serving tmp_path/www (stopped after the test)."""
    www = tmp_path / "www"
    www.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(www), **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _fake(url: str, payload: bytes = PAYLOAD) -> Corpus:
    return Corpus(
        "fake", "fake.txt", url, hashlib.sha256(payload).hexdigest(), len(payload), "text"
    )


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_local_copies_verify_and_parse(name):
    text = load_text(name, _local_dir())
    assert len(text) > 20_000
    assert "\ufffd" not in text


def test_corpus_contents():
    d = _local_dir()
    shakespeare = load_text("tinyshakespeare", d)
    assert len(shakespeare) == 1115394
    assert shakespeare.startswith("First Citizen:\nBefore we proceed any further")
    lunyu = load_text("lunyu", d)
    assert lunyu.startswith("学而篇\n子曰：“学而时习之，不亦说乎？")
    assert lunyu.count("\n\n") == 19  # 20 chapters (篇), one blank line between each
    songci = load_text("songci300", d)
    assert songci.splitlines()[0] == "湘春夜月 · 黄孝迈"
    assert "{" not in songci and '"paragraphs"' not in songci


def test_env_var_local_dir(monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(_local_dir()))
    assert corpus_path("lunyu").parent == _local_dir()


def test_unknown_corpus():
    with pytest.raises(ValueError, match="'wikipedia'.*lunyu"):
        corpus_path("wikipedia")


def test_local_dir_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="lunyu.json not found in the local data folder"):
        corpus_path("lunyu", tmp_path)


def test_local_truncated_file_rejected(tmp_path):
    src = _local_dir() / "lunyu.json"
    (tmp_path / "lunyu.json").write_bytes(src.read_bytes()[:1000])
    with pytest.raises(CorpusError, match="truncated: 1000 bytes, expected 74799"):
        load_text("lunyu", tmp_path)


def test_local_wrong_hash_rejected(tmp_path):
    raw = bytearray((_local_dir() / "lunyu.json").read_bytes())
    raw[100] ^= 1  # same size, one bit flipped
    (tmp_path / "lunyu.json").write_bytes(bytes(raw))
    with pytest.raises(CorpusError, match="wrong SHA-256"):
        corpus_path("lunyu", tmp_path)


def test_download_verifies_and_caches(server, isolated):
    www, base = server
    (www / "fake.txt").write_bytes(PAYLOAD)
    corpus = _fake(f"{base}/fake.txt")
    path = corpus_path(corpus)
    assert path == isolated / "fake.txt"
    assert path.read_bytes() == PAYLOAD
    (www / "fake.txt").unlink()  # second call must come from the cache
    assert corpus_path(corpus).read_bytes() == PAYLOAD
    assert [p.name for p in isolated.iterdir()] == ["fake.txt"]  # no temp files left


def test_download_truncated_is_not_cached(server, isolated):
    www, base = server
    (www / "fake.txt").write_bytes(PAYLOAD[:-7])
    with pytest.raises(
        CorpusError, match=r"truncated: 1293 bytes, expected 1300; nothing was cached"
    ):
        corpus_path(_fake(f"{base}/fake.txt"))
    assert list(isolated.iterdir()) == []


def test_download_wrong_hash_is_not_cached(server, isolated):
    www, base = server
    (www / "fake.txt").write_bytes(PAYLOAD.upper())
    with pytest.raises(CorpusError, match="wrong SHA-256"):
        corpus_path(_fake(f"{base}/fake.txt"))
    assert list(isolated.iterdir()) == []


def test_bad_cached_file_is_replaced(server, isolated):
    www, base = server
    (www / "fake.txt").write_bytes(PAYLOAD)
    isolated.mkdir(parents=True)
    (isolated / "fake.txt").write_bytes(PAYLOAD[:10])  # a truncated earlier download
    assert corpus_path(_fake(f"{base}/fake.txt")).read_bytes() == PAYLOAD


def test_bad_cached_file_not_used_without_download(isolated):
    isolated.mkdir(parents=True)
    (isolated / "fake.txt").write_bytes(PAYLOAD[:10])
    with pytest.raises(CorpusError, match="download=False"):
        corpus_path(_fake("http://127.0.0.1:9/fake.txt"), download=False)
    assert not (isolated / "fake.txt").exists()


def test_offline_gives_clear_error(isolated):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    with pytest.raises(CorpusError, match=r"could not download fake .*LLMW_DATA_DIR"):
        corpus_path(_fake("http://127.0.0.1:9/fake.txt"), timeout=5)


def test_http_404_gives_clear_error(server, isolated):
    _, base = server
    with pytest.raises(CorpusError, match="404"):
        corpus_path(_fake(f"{base}/missing.txt"))


def test_urls_are_pinned_and_encoded():
    for corpus in CORPORA.values():
        assert corpus.url.startswith("https://raw.githubusercontent.com/")
        assert corpus.url.isascii(), corpus.url
    assert "%E8%AE%BA%E8%AF%AD/lunyu.json" in CORPORA["lunyu"].url


def test_cache_dir_that_is_a_regular_file_gives_a_corpus_error(isolated):
    isolated.parent.mkdir(parents=True, exist_ok=True)
    isolated.write_text("not a folder")
    with pytest.raises(CorpusError, match=r"the cache folder .*cache \(from LLMW_CACHE_DIR\) is a"):
        load_text("lunyu")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        corpus_path(_fake("http://127.0.0.1:9/fake.txt"), download=False)
    assert isolated.read_text() == "not a folder"  # left alone


def test_cache_folder_that_cannot_be_created_gives_a_corpus_error(isolated, monkeypatch):
    blocker = isolated.parent / "blocker"
    blocker.write_text("a file where a parent folder should be")
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(blocker / "cache"))
    with pytest.raises(CorpusError, match=r"cannot write to the cache folder .*blocker/cache"):
        corpus_path(_fake("http://127.0.0.1:9/fake.txt"))
