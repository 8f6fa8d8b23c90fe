"""llmwidgets.text: tokenizers and sentencepiece training; round trips, vocab sizes, errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sentencepiece as spm
import torch

from llmwidgets.core.data import CorpusError, load_text
from llmwidgets.text.sentencepiece_training import MAX_SENTENCE_BYTES, train_sentencepiece
from llmwidgets.text.spans import token_spans
from llmwidgets.text.tokenizers import CharTokenizer, SentencePieceTokenizer, tokens_per_char

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

ENGLISH = """To be, or not to be, that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles
And by opposing end them. To die: to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to, 'tis a consummation
Devoutly to be wish'd. To die, to sleep;
To sleep: perchance to dream: ay, there's the rub;
"""
CHINESE = """子曰：学而时习之，不亦说乎？有朋自远方来，不亦乐乎？人不知而不愠，不亦君子乎？
有子曰：其为人也孝弟，而好犯上者，鲜矣；不好犯上而好作乱者，未之有也。
君子务本，本立而道生。孝弟也者，其为仁之本与！
子曰：巧言令色，鲜矣仁！
曾子曰：吾日三省吾身：为人谋而不忠乎？与朋友交而不信乎？传不习乎？
"""
CORPUS = (ENGLISH + CHINESE) * 6  # ~5 kB: enough pairs for a few hundred merges
VOCAB = 400

ROUND_TRIPS = {
    "english": "To be, or not to be: that is the question.",
    "chinese": "子曰：学而时习之，不亦说乎？",  # full-width punctuation stays full-width
    "mixed": "The Master said 子曰 and then: 不亦乐乎!",
    "newlines": "First line\nsecond line\n\n  indented after a blank line\n",
    "spaces": "  two leading,  two inside  and two after  ",
    "rare": "emoji 🦜 and 鑫, tab\tand CR\r\nend",  # never seen: byte pieces
    "edges": "\n",
}


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def sp(request) -> spm.SentencePieceProcessor:
    return train_sentencepiece(CORPUS, VOCAB, request.param)


# ------------------------------------------------------------------ CharTokenizer
def test_char_tokenizer_sorted_vocabulary_and_round_trip():
    tok = CharTokenizer("hello world")
    assert tok.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.vocab_size == 8
    assert tok.encode("hello") == [3, 2, 4, 4, 5]
    assert tok.encode("hello", out_type=str) == list("hello")
    assert tok.decode(tok.encode("lower hold")) == "lower hold"
    assert tok.decode(torch.tensor([3, 2])) == "he"  # tensors from a model work too
    assert tok.id_to_piece(0) == " "
    assert repr(tok) == "CharTokenizer(vocab_size=8)"


def test_char_tokenizer_errors_name_the_offending_value():
    tok = CharTokenizer("abc\n")
    with pytest.raises(ValueError, match=r"character 'z' \(U\+007A\) at position 3"):
        tok.encode("ab\nz")
    with pytest.raises(ValueError, match="id 4 at position 1 is outside the vocabulary 0..3"):
        tok.decode([0, 4])
    with pytest.raises(ValueError, match="id -1 at position 0"):
        tok.decode([-1])
    with pytest.raises(ValueError, match=r"ints, got 1\.0 at position 1"):
        tok.decode([0, 1.0])
    with pytest.raises(ValueError, match="out_type"):
        tok.encode("a", out_type="offset_mapping")
    for bad in ("", None, ["a"]):
        with pytest.raises(ValueError, match="non-empty str"):
            CharTokenizer(bad)


def test_char_tokenizer_state_dict_survives_a_checkpoint():
    tok = CharTokenizer(ENGLISH + CHINESE)
    buffer = io.BytesIO()
    torch.save({"tokenizer": tok.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)["tokenizer"]
    again = CharTokenizer.from_state_dict(state)
    assert again.chars == tok.chars
    assert again.encode(CHINESE) == tok.encode(CHINESE)
    with pytest.raises(ValueError, match="not a CharTokenizer state: type='sentencepiece'"):
        CharTokenizer.from_state_dict({"type": "sentencepiece", "model": b""})
    with pytest.raises(ValueError, match="sorted and distinct"):
        CharTokenizer.from_state_dict({"type": "char", "chars": ["b", "a"]})
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer.from_state_dict({"type": "char", "chars": ["ab"]})


# ---------------------------------------------------------- train_sentencepiece
@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip_is_exact(sp, name):
    text = ROUND_TRIPS[name]
    assert sp.decode(sp.encode(text)) == text


def test_vocab_size_is_honoured_and_newline_is_one_piece(sp):
    assert sp.vocab_size() == VOCAB
    newline = sp.piece_to_id("\n")
    assert sp.encode("a\nb").count(newline) == 1
    assert sp.encode("\n\n") == [newline, newline]
    # the pieces really merge: fewer tokens than characters on the training text
    assert tokens_per_char(sp, ENGLISH) < 0.7


def test_unseen_characters_become_utf8_byte_pieces(sp):
    for ch in ("🦜", "鑫"):
        pieces = sp.encode(ch, out_type=str)
        expected = [f"<0x{b:02X}>" for b in ch.encode("utf-8")]
        assert pieces == expected
        assert sp.decode(sp.encode(ch)) == ch
    assert sp.encode("学", out_type=str) == ["学"]  # a seen character keeps its own piece


def test_sentencepiece_defaults_lose_newlines_and_full_width_punctuation():
    sp = train_sentencepiece(CORPUS, VOCAB, keep_newlines=False, normalization="nmt_nfkc")
    assert sp.decode(sp.encode("one\ntwo  three")) == "one two three"
    assert sp.decode(sp.encode("子曰：")) == "子曰:"
    assert sp.piece_to_id("\n") == sp.unk_id()  # there is no newline piece


def test_without_byte_fallback_unseen_characters_are_unknown():
    sp = train_sentencepiece(CORPUS, 150, byte_fallback=False)
    ids = sp.encode("鑫")
    assert sp.unk_id() in ids
    assert sp.decode(ids) != "鑫"


def test_long_lines_are_split_with_a_warning_not_dropped():
    long_line = "ж" * 3000  # 6000 UTF-8 bytes: sentencepiece would drop the whole line
    with pytest.warns(UserWarning, match="1 line\\(s\\) longer than 4192 UTF-8 bytes were split"):
        sp = train_sentencepiece([ENGLISH, long_line], 300, character_coverage=1.0)
    assert "ж" in {sp.id_to_piece(i) for i in range(sp.vocab_size())}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model_type": "word"}, "model_type must be one of \\('bpe', 'unigram'\\), got 'word'"),
        ({"vocab_size": 3}, "vocab_size must be an int >= 4, got 3"),
        ({"vocab_size": 300.0}, "vocab_size must be an int >= 4, got 300.0"),
        ({"character_coverage": 0}, "character_coverage must be in \\(0, 1\\], got 0"),
        ({"model_writer": io.BytesIO()}, "\\['model_writer'\\] cannot be set"),
        ({"vocab_size": 280}, "vocab_size=280 is too small: .* need 3\\d\\d; raise vocab_size"),
        (
            {"vocab_size": 5000, "model_type": "unigram"},
            "vocab_size=5000 is too large for this corpus with model_type='unigram': at most \\d+",
        ),
    ],
)
def test_training_errors_name_the_offending_value(kwargs, message):
    args = {"vocab_size": VOCAB, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_sentencepiece(CORPUS, **args)


def test_training_input_errors():
    with pytest.raises(ValueError, match="every line is empty"):
        train_sentencepiece("\n\n", VOCAB)
    with pytest.raises(ValueError, match="lines must be str, got bytes at position 1"):
        train_sentencepiece(["ok", b"bytes"], VOCAB)


def _corpus_lines(name: str) -> list[str]:
    data_dir = None if os.environ.get("LLMW_DATA_DIR") else (SHARED if SHARED.is_dir() else None)
    try:
        return load_text(name, data_dir, download=False).split("\n")
    except CorpusError as err:
        pytest.skip(f"corpus {name} not available: {err}")


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_chinese_corpora_train_deterministically(model_type):
    lines = _corpus_lines("lunyu") + _corpus_lines("songci300")
    runs = [train_sentencepiece(lines, 4000, model_type) for _ in range(2)]
    pieces = [[sp.id_to_piece(i) for i in range(sp.vocab_size())] for sp in runs]
    assert pieces[0] == pieces[1]
    assert len(pieces[0]) == 4000
    poem = "\n".join(lines[:5])
    assert runs[0].decode(runs[0].encode(poem)) == poem
    assert tokens_per_char(runs[0], poem) < 1.0  # some pieces span several characters


# -------------------------------------------------------- SentencePieceTokenizer
@pytest.fixture(scope="module")
def tok(sp) -> SentencePieceTokenizer:
    return SentencePieceTokenizer(sp)


def test_wrapper_matches_the_char_tokenizer_interface(tok):
    for name in ("encode", "decode", "id_to_piece", "state_dict", "from_state_dict"):
        assert callable(getattr(tok, name)) and callable(getattr(CharTokenizer, name))
    text = ROUND_TRIPS["mixed"] + "\n" + ROUND_TRIPS["rare"]
    ids = tok.encode(text)
    assert ids == tok.processor.encode(text)
    assert tok.decode(torch.tensor(ids)) == text
    assert tok.vocab_size == VOCAB
    assert tok.id_to_piece(tok.processor.piece_to_id("\n")) == "\n"
    assert "".join(tok.encode("abc", out_type=str)) == "abc"
    assert repr(tok) == f"SentencePieceTokenizer(vocab_size={VOCAB})"


def test_wrapper_state_dict_survives_a_checkpoint(tok):
    buffer = io.BytesIO()
    torch.save(tok.state_dict(), buffer)
    buffer.seek(0)
    again = SentencePieceTokenizer.from_state_dict(torch.load(buffer, weights_only=True))
    text = ROUND_TRIPS["newlines"] + CHINESE
    assert again.encode(text) == tok.encode(text)
    assert SentencePieceTokenizer(tok.model_bytes).encode(text) == tok.encode(text)
    with pytest.raises(ValueError, match="not a SentencePieceTokenizer state: type='char'"):
        SentencePieceTokenizer.from_state_dict({"type": "char", "chars": ["a"]})


def test_wrapper_errors(tok):
    with pytest.raises(ValueError, match=f"id {VOCAB} at position 2 is outside"):
        tok.decode([5, 6, VOCAB])
    with pytest.raises(
        ValueError, match=f"id -1 at position 0 is outside the vocabulary 0..{VOCAB - 1}"
    ):
        tok.id_to_piece(-1)
    with pytest.raises(ValueError, match="text must be a str, got list"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match="SentencePieceProcessor or model bytes, got str"):
        SentencePieceTokenizer("model.model")


def test_trained_through_the_wrapper():
    tok = SentencePieceTokenizer.train(CORPUS, 380, model_type="unigram")
    assert tok.vocab_size == 380
    assert tok.decode(tok.encode(CHINESE)) == CHINESE


@pytest.mark.parametrize("which", ["char", "sentencepiece"])
def test_token_viewer_shows_both_tokenizers(tok, which):
    text = ROUND_TRIPS["mixed"] + "\n" + ROUND_TRIPS["rare"]
    tokenizer = CharTokenizer(text) if which == "char" else tok
    spans = token_spans(text, tokenizer)
    assert "".join(piece for piece, _ in spans) == text
    if which == "char":
        assert len(spans) == len(text)
    else:  # the emoji is one span made of its four byte pieces
        assert ("🦜", tuple(tok.encode("🦜"))) in spans


# ------------------------------------------------------------------ tokens_per_char
def test_tokens_per_char():
    char = CharTokenizer(CHINESE)
    assert tokens_per_char(char, CHINESE) == 1.0
    pairs = type("Pairs", (), {"encode": staticmethod(lambda t: list(range(0, len(t), 2)))})()
    assert tokens_per_char(pairs, "abcd") == 0.5
    with pytest.raises(ValueError, match="non-empty str"):
        tokens_per_char(char, "")


def test_char_tokenizer_works_without_sentencepiece():
    """sentencepiece is imported lazily, so `import llmwidgets` never needs it."""
    code = (
        "import sys; sys.modules['sentencepiece'] = None\n"
        "import llmwidgets as lw\n"
        "print(lw.CharTokenizer('ba').encode('ab'))\n"
        "try:\n    lw.train_sentencepiece('ab', 300)\n"
        "except ImportError:\n    print('needs sentencepiece')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[0, 1]", "needs sentencepiece"]


def test_names_of_version_01_still_import():
    """Notebooks of version 0.1 import these from ``llmwidgets.tokenizers``."""
    import llmwidgets.text as text
    import llmwidgets.tokenizers as old
    from llmwidgets.text import spans, tokenizers

    assert old is tokenizers
    assert (old.CharTokenizer, old.SentencePieceTokenizer, old.tokens_per_char) == (
        CharTokenizer,
        SentencePieceTokenizer,
        tokens_per_char,
    )
    assert old.train_sentencepiece is text.train_sentencepiece is train_sentencepiece
    assert old.MAX_SENTENCE_BYTES == MAX_SENTENCE_BYTES == 4192
    assert text.token_spans is spans.token_spans
    assert text.SurfaceTokenizer is tokenizers.SurfaceTokenizer
    assert isinstance(CharTokenizer("ab"), text.SurfaceTokenizer)
