import io
import os
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
import sentencepiece as spm

from llmwidgets.core.data import CorpusError, load_text
from llmwidgets.text.tokenizers import CharTokenizer, SentencePieceTokenizer
from llmwidgets.widgets.token_viewer import PALETTE, TokenViewer, token_spans, token_viewer

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

TEXTS = [
    "To be, or not to be: that is the question.",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "  two leading spaces,  two inside  and two after  ",
    "子曰：学而时习之，不亦说乎？",  # full-width punctuation: NFKC would turn it ASCII
    "mixed 子曰 text with 鑫 and\ttabs\n\nand blank lines",
]
OOV = "鑫"  # not in the Analects: must come out as byte pieces


def _lines(name: str) -> list[str]:
    data_dir = None if os.environ.get("LLMW_DATA_DIR") else (SHARED if SHARED.is_dir() else None)
    try:
        text = load_text(name, data_dir)
    except CorpusError as err:
        pytest.skip(f"corpus {name} not available: {err}")
    return [line for line in text.splitlines() if line.strip()]


def _train(byte_fallback: bool) -> spm.SentencePieceProcessor:
    # One sentence per line: sentencepiece drops sentences over 4192 bytes.
    lines = _lines("tinyshakespeare")[:300] + _lines("lunyu")[:60]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=800,
        byte_fallback=byte_fallback,
        character_coverage=0.98,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


@pytest.fixture(scope="module")
def sp() -> spm.SentencePieceProcessor:
    return _train(byte_fallback=True)


def _flat(ids):
    out = []
    for i in ids:
        out.extend(i if isinstance(i, tuple) else [i])
    return out


@pytest.mark.parametrize("text", TEXTS)
def test_sentencepiece_pieces_concatenate_back_to_the_text(sp, text):
    spans = token_spans(text, sp)
    assert "".join(piece for piece, _ in spans) == text
    assert all(piece for piece, _ in spans)
    assert _flat(i for _, i in spans) == sp.encode(text)  # every id, in order


def test_the_model_has_multi_character_pieces(sp):
    spans = token_spans(TEXTS[1], sp)
    assert max(len(piece.strip()) for piece, _ in spans) >= 3
    assert len(spans) < len(TEXTS[1]) / 2


def test_out_of_vocab_chinese_is_grouped_byte_pieces(sp):
    assert sp.piece_to_id(OOV) == sp.unk_id()  # really not in the vocabulary
    assert sp.piece_to_id("子") != sp.unk_id()
    spans = token_spans(f"子曰{OOV}", sp)
    grouped = [s for s in spans if s[0] == OOV]
    assert len(grouped) == 1
    _, ids = grouped[0]
    assert isinstance(ids, tuple) and len(ids) == 3
    pieces = [sp.id_to_piece(i) for i in ids]
    assert pieces == [f"<0x{b:02X}>" for b in OOV.encode("utf-8")]
    # no mojibake and no replacement character anywhere
    html = TokenViewer(f"子曰{OOV}", sp).html()
    assert "\ufffd" not in html and "é" not in html
    assert OOV in html and "&lt;0xE9&gt;&lt;0x91&gt;&lt;0xAB&gt;" in html  # hex on hover


def test_spaces_and_newlines_are_visible_markers(sp):
    html = TokenViewer("to be\nor", sp).html()
    assert "␣" in html and "↵" in html
    assert "&#x27;▁" in html  # sentencepiece's own piece, on hover


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.titled = 0
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.titled += any(name == "title" for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize(
    "tokenizer",
    ["sp", lambda t: re.findall(r"<[^>]*>|\w+|\s+|[^\w\s]", t)],
    ids=["sentencepiece", "callable"],
)
def test_html_in_the_text_is_escaped(sp, tokenizer):
    tokenizer = sp if tokenizer == "sp" else tokenizer
    text = "<script>alert(\"x\")</script> & <b onclick='y'>"
    viewer = TokenViewer(text, tokenizer)
    html = viewer.html()
    assert "<script" not in html.lower() and "<b " not in html
    parsed = _Structure()
    parsed.feed(html)
    assert set(parsed.tags) <= {"div", "span", "strong"}
    assert parsed.titled == len(viewer.spans)  # one hover per token, none broken
    shown = "".join(parsed.text).replace("␣", " ")
    assert shown.endswith(text)


def test_output_has_no_javascript(sp):
    html = token_viewer(TEXTS[1], sp)._repr_html_()
    assert "<script" not in html and "require" not in html and "onclick" not in html.lower()


def test_colours_are_deterministic(sp):
    a = TokenViewer(TEXTS[0], sp)
    b = TokenViewer(TEXTS[0], sp)
    assert a.colors() == b.colors() and a.html() == b.html()
    colors = a.colors()
    assert colors[:3] == list(PALETTE[:3])  # by position: the palette in order
    assert all(x != y for x, y in zip(colors, colors[1:], strict=False))  # neighbours differ
    by_id = TokenViewer("be be be", sp, color_by="id")
    same = {c for (piece, _), c in zip(by_id.spans, by_id.colors(), strict=True) if "be" in piece}
    assert len(same) == 1 or len({i for _, i in by_id.spans}) > 2
    assert by_id.colors() == TokenViewer("be be be", sp, color_by="id").colors()


def test_callable_tokenizer():
    def words(text):
        return re.findall(r"\w+|\s+|[^\w\s]", text)

    spans = token_spans("Hello, world!", words)
    assert spans == [("Hello", None), (",", None), (" ", None), ("world", None), ("!", None)]
    viewer = token_viewer("Hello, world!", words, title="words")
    assert viewer.tokens == ["Hello", ",", " ", "world", "!"]
    assert "<strong>words</strong>" in viewer.html()


def test_callable_with_sentencepiece_pieces(sp):
    text = f"Hello {OOV} world"
    spans = token_spans(text, sp.encode_as_pieces)  # '▁Hello', '<0xE9>', ...
    assert "".join(p for p, _ in spans) == text
    assert (OOV, None) in spans


def test_callable_with_gpt2_byte_level_pieces():
    # GPT-2's byte-level BPE writes bytes as printable characters: ' ' is 'Ġ'.
    from llmwidgets.text.pieces import _BYTE_LEVEL

    to_char = {b: c for c, b in _BYTE_LEVEL.items()}
    raw = [b"Hello", b" \xe9", b"\x91\xab", b" world"]  # 鑫 cut across two tokens
    pieces = ["".join(to_char[b] for b in chunk) for chunk in raw]
    assert pieces[0] == "Hello" and pieces[3] == "Ġworld"
    spans = token_spans(f"Hello {OOV} world", lambda _: pieces)
    assert spans == [("Hello", None), (f" {OOV}", None), (" world", None)]


class ByteTokenizer:
    """encode/decode over UTF-8 bytes, like a byte-level model without merges."""

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(ids).decode("utf-8", errors="replace")


def test_encode_decode_object_groups_cut_characters():
    spans = token_spans(f"a{OOV}b", ByteTokenizer())
    assert spans == [("a", 97), (OOV, tuple(OOV.encode("utf-8"))), ("b", 98)]


def test_tiktoken_style_single_token_bytes():
    class Tik(ByteTokenizer):
        def decode_single_token_bytes(self, i):
            return bytes([i])

    spans = token_spans(f"x {OOV}", Tik())
    assert spans == [("x", 120), (" ", 32), (OOV, (233, 145, 171))]


class _Sp020(spm.SentencePieceProcessor):
    """sentencepiece 0.2.0's API: no offset_mapping, an immutable proto with surfaces."""

    def encode(self, text, out_type=int, **kwargs):
        if out_type == "offset_mapping":
            raise AssertionError("0.2.0 has no offset_mapping")
        if out_type != "immutable_proto":
            return super().encode(text, out_type=out_type, **kwargs)
        r = super().encode(text, out_type="offset_mapping")
        pieces = [
            SimpleNamespace(id=i, piece=p, surface=text[b:e])
            for i, p, (b, e) in zip(r["ids"], r["pieces"], r["offsets"], strict=True)
        ]
        return SimpleNamespace(pieces=pieces)


def test_sentencepiece_020_api(sp, monkeypatch):
    from llmwidgets.text import tokenizers

    text = f"To be, or not {OOV}.\nAye"
    expected = token_spans(text, sp)
    monkeypatch.setattr(tokenizers, "_has_offset_mapping", lambda: False)
    old = _Sp020(model_proto=sp.serialized_model_proto())
    spans = token_spans(text, old)
    assert "".join(p for p, _ in spans) == text
    assert any(p == OOV and isinstance(i, tuple) for p, i in spans)
    assert spans == expected


def test_unknown_pieces_without_byte_fallback_keep_the_text():
    sp = _train(byte_fallback=False)
    text = f"be {OOV}!"
    viewer = TokenViewer(text, sp)
    assert "".join(viewer.tokens) == text
    assert any(OOV in piece and i == sp.unk_id() for piece, i in viewer.spans)
    assert "(unknown)" in viewer.html()


def test_empty_text_gives_no_spans(sp):
    assert token_spans("", sp) == []
    assert "0 tokens" in TokenViewer("", lambda t: []).html()


@pytest.mark.parametrize("text", [None, b"bytes", 3, ["a"]])
def test_non_str_text_raises(sp, text):
    with pytest.raises(ValueError, match="text must be a str, got"):
        token_spans(text, sp)


def test_empty_tokenizer_output_for_non_empty_text_raises(sp):
    with pytest.raises(ValueError, match="returned no tokens for a non-empty text of 3"):
        token_spans("abc", lambda t: [])
    with pytest.raises(ValueError, match="returned no tokens"):
        token_spans("   ", sp)  # sentencepiece drops whitespace-only text


@pytest.mark.parametrize(
    "tokenizer, match",
    [
        (3, "tokenizer must be a tokenizer with token_surfaces.*got int"),
        (None, "got NoneType"),
        (lambda t: [1, 2], "must return str pieces, got 1 at position 0"),
        (lambda t: t, "must return a list of str pieces, got str"),
    ],
)
def test_bad_tokenizers_raise(tokenizer, match):
    with pytest.raises(ValueError, match=match):
        token_spans("ab", tokenizer)


def test_bad_encode_output_raises():
    class Bad(ByteTokenizer):
        def encode(self, text):
            return ["a"]

    with pytest.raises(ValueError, match="returned 'a' at position 0; ids must be ints"):
        token_spans("a", Bad())


def test_bad_viewer_options_raise():
    with pytest.raises(ValueError, match="color_by must be one of"):
        TokenViewer("a", list, color_by="rainbow")
    with pytest.raises(ValueError, match="title must be a str, got 3"):
        TokenViewer("a", list, title=3)


# --------------------------------------------------- the book's tokenizers, bad text
def test_char_tokenizer_is_read_by_its_surfaces_not_taken_for_sentencepiece():
    tok = CharTokenizer("hello world\n")
    viewer = TokenViewer("hello\nworld", tok)
    assert viewer.tokens == list("hello\nworld")
    assert viewer.ids == tok.encode("hello\nworld")
    assert "↵" in viewer.html()
    with pytest.raises(ValueError, match=r"character 'z' \(U\+007A\) at position 0"):
        TokenViewer("z", tok)


def test_sentencepiece_tokenizer_wrapper(sp):
    tok = SentencePieceTokenizer(sp)
    text = f"To be, or not {OOV}.\nAye"
    viewer = TokenViewer(text, tok)
    assert "".join(viewer.tokens) == text
    assert viewer.spans == token_spans(text, sp)  # the raw processor is wrapped the same way
    byte_group = [i for piece, i in viewer.spans if piece == OOV]
    assert byte_group and isinstance(byte_group[0], tuple) and len(byte_group[0]) == 3


def test_lone_surrogate_is_a_clear_error(sp):
    for tokenizer in (sp, list, CharTokenizer("ab")):
        with pytest.raises(ValueError, match="lone surrogate U\\+D800 at position 1"):
            TokenViewer("a\ud800b", tokenizer)


def test_pieces_that_do_not_cover_the_text_warn():
    with pytest.warns(UserWarning, match="pieces do not spell the text"):
        viewer = TokenViewer("hello", lambda t: ["he", "XX"])
    assert viewer.tokens == ["he", "XX"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TokenViewer("hello", lambda t: ["he", "llo"])  # covering pieces: no warning


def test_figure_shows_every_token_with_its_id():
    tok = CharTokenizer("ab <>\n")
    viewer = TokenViewer("a <b>\nab", tok, title="chars")
    fig = viewer.figure()
    (bar,) = fig.data
    assert list(bar.text) == ["a", "␣", "&lt;", "b", "&gt;", "↵", "a", "b"]
    assert list(bar.base) == [0, 1, 2, 3, 4, 5, 0, 1] and list(bar.y) == [0] * 6 + [1, 1]
    assert list(bar.x) == [1] * 8
    assert bar.hovertext[0] == f"id {tok.encode('a')[0]} · &#x27;a&#x27;"
    assert list(bar.marker.color) == viewer.colors()
    assert fig.layout.title.text.startswith("chars · <sup>8 tokens")
    assert viewer.static_figure().to_dict() == fig.to_dict()
    assert viewer.controls() is None


def test_set_is_keyword_only_and_checked():
    viewer = TokenViewer("be be", lambda t: ["be", " ", "be"])
    viewer.set(color_by="id", title="t", height=200)
    assert (viewer.color_by, viewer.title, viewer.height) == ("id", "t", 200)
    assert viewer.figure().layout.height == 200
    with pytest.raises(TypeError):
        viewer.set("id")
    with pytest.raises(ValueError, match="height must be an int >= 100"):
        viewer.set(height=5)
    assert viewer.height == 200
