"""See how a tokenizer cuts a text: coloured spans, token ids on hover.

* :func:`token_spans` (pure) returns ``[(piece_text, id), ...]``: the pieces of the
  original text, in order, so that ``"".join(t for t, _ in spans) == text`` whenever
  the tokenizer keeps the text recoverable.
* :class:`TokenViewer` / :func:`token_viewer` render them as plain HTML (no
  JavaScript), so the same output works in a kernel, on Colab and in the built book.

Tokenizers understood:

* a sentencepiece ``SentencePieceProcessor`` - pieces come with their place in the
  original text (``encode(out_type="offset_mapping")``; ``"immutable_proto"`` on
  older sentencepiece), so normalisation (``，`` read as ``,``, the dummy ``▁`` at
  the start) never changes the text shown. **Byte-fallback pieces** such as
  ``<0xE4>`` that together spell one character are grouped into one span whose id is
  the tuple of their ids (``("仁", (231, 190, 132))``), never shown as mojibake;
* any object with ``encode(text) -> ids`` and ``decode(ids) -> text`` (tiktoken,
  Hugging Face tokenizers, your own BPE); tokens that end inside a UTF-8 character
  are grouped the same way;
* any callable ``f(text) -> list[str]`` of pieces; ids are then ``None``. Pieces
  written the sentencepiece way (``▁the``, ``<0xE4>``) or the GPT-2 byte-level way
  (``Ġthe``) are turned back into text.

Spaces show as a faint ``▁``, line breaks as ``↵``; hover a token for its id(s) and
piece.
"""

from __future__ import annotations

import html
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["TokenSpan", "TokenViewer", "token_spans", "token_viewer"]

#: One span: the piece of text and its id (an int; a tuple of ints for a group of
#: byte pieces; None when the tokenizer gives no ids).
TokenSpan = tuple[str, "int | tuple[int, ...] | None"]

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_SP_SPACE = "\u2581"  # ▁, sentencepiece's whitespace symbol
# Light backgrounds; dark text stays readable on each, in light and dark themes.
PALETTE = (
    "#ffd6a5",
    "#caffbf",
    "#9bf6ff",
    "#ffc6ff",
    "#fdffb6",
    "#bdb2ff",
    "#ffadad",
    "#a0c4ff",
)
_COLOR_BY = ("position", "id")


@dataclass(frozen=True)
class _Token:
    text: str  # the characters of the original text this token covers
    ids: tuple[int, ...] | None  # one id, several for a byte group, None without ids
    pieces: tuple[str, ...]  # the tokenizer's own spelling of each piece
    is_bytes: bool = False  # made of byte pieces / a partial UTF-8 sequence
    unknown: bool = False  # the tokenizer's <unk>

    @property
    def id(self) -> int | tuple[int, ...] | None:
        if self.ids is None:
            return None
        return self.ids[0] if len(self.ids) == 1 else self.ids


# ------------------------------------------------------------------ bytes helpers
def _byte_level_table() -> dict[str, int]:
    """GPT-2's byte-level alphabet: printable stand-in character -> byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


_BYTE_LEVEL = _byte_level_table()


def _group_bytes(items: Sequence[tuple[bytes, int | None, str]]) -> list[_Token]:
    """Join consecutive items until their bytes end on a UTF-8 character boundary.

    Args:
        items: ``(bytes, id, piece)`` per token, in order.

    Returns:
        Tokens whose text is valid UTF-8; a token that cuts a character in two is
        grouped with its neighbours; bytes that never form a character are shown
        escaped (``\\xff``), never as mojibake.
    """
    tokens: list[_Token] = []
    buf = b""
    ids: list[int | None] = []
    pieces: list[str] = []

    def flush(errors: str) -> None:
        nonlocal buf, ids, pieces
        if not pieces:
            return
        text = buf.decode("utf-8", errors=errors)
        known = [i for i in ids if i is not None]
        all_ids = tuple(known) if len(known) == len(ids) else None
        grouped = len(pieces) > 1 or any(_BYTE_PIECE.match(p) for p in pieces)
        tokens.append(_Token(text, all_ids, tuple(pieces), is_bytes=grouped))
        buf, ids, pieces = b"", [], []

    for data, ident, piece in items:
        buf += data
        ids.append(ident)
        pieces.append(piece)
        try:
            buf.decode("utf-8")
        except UnicodeDecodeError as err:
            if err.reason == "unexpected end of data" and len(buf) - err.start < 4:
                continue  # a character continues in the next token
            flush("backslashreplace")
        else:
            flush("strict")
    flush("backslashreplace")
    return tokens


def _sp_piece_bytes(piece: str) -> bytes:
    match = _BYTE_PIECE.match(piece)
    if match:
        return bytes([int(match.group(1), 16)])
    return piece.replace(_SP_SPACE, " ").encode("utf-8")


def _group_empty(raw: Sequence[tuple[str, int, str]], unk: int | None) -> list[_Token]:
    """Tokens from ``(surface, id, piece)``: pieces with an empty surface (the first
    byte pieces of a character) join the next piece that has one."""
    tokens: list[_Token] = []
    pending: list[tuple[int, str]] = []
    for surface, ident, piece in raw:
        pending.append((int(ident), piece))
        if surface == "":
            continue
        ids = tuple(i for i, _ in pending)
        pieces = tuple(p for _, p in pending)
        is_bytes = any(_BYTE_PIECE.match(p) for p in pieces)
        tokens.append(_Token(surface, ids, pieces, is_bytes, unknown=unk in ids))
        pending = []
    if pending:  # empty-surface pieces at the end (e.g. an EOS): attach to the last
        if tokens:
            last = tokens[-1]
            ids = (*(last.ids or ()), *(i for i, _ in pending))
            tokens[-1] = replace(last, ids=ids, pieces=(*last.pieces, *(p for _, p in pending)))
        else:
            tokens.append(_Token("", tuple(i for i, _ in pending), tuple(p for _, p in pending)))
    return tokens


def _fit_to_text(tokens: list[_Token], text: str) -> list[_Token]:
    """Give text the tokenizer skipped (leading or repeated whitespace) to a neighbour.

    Returns the tokens unchanged when their texts are not found in order in ``text``
    (a normalising tokenizer); then the viewer shows what the tokenizer produced.
    """
    if "".join(t.text for t in tokens) == text:
        return tokens
    out: list[_Token] = []
    cursor = 0
    for tok in tokens:
        at = text.find(tok.text, cursor) if tok.text else cursor
        if at < 0 or text[cursor:at].strip():
            return tokens  # not found, or only after non-whitespace: leave as it is
        gap = text[cursor:at]
        if gap and out:
            out[-1] = replace(out[-1], text=out[-1].text + gap)
            out.append(tok)
        else:
            out.append(replace(tok, text=gap + tok.text))
        cursor = at + len(tok.text)
    rest = text[cursor:]
    if rest and out and not rest.strip():
        out[-1] = replace(out[-1], text=out[-1].text + rest)
    return out


# --------------------------------------------------------------- tokenizer kinds
def _is_sentencepiece(tokenizer: Any) -> bool:
    return callable(getattr(tokenizer, "id_to_piece", None)) and callable(
        getattr(tokenizer, "encode", None)
    )


def _sentencepiece_tokens(text: str, sp: Any) -> list[_Token]:
    try:
        unk = int(sp.unk_id())
    except Exception:  # a model without <unk>
        unk = None
    try:  # sentencepiece >= 0.2.1: pieces with character offsets into `text`
        result = sp.encode(text, out_type="offset_mapping")
        ids, pieces, offsets = result["ids"], result["pieces"], result["offsets"]
        raw = [(text[b:e], i, p) for i, p, (b, e) in zip(ids, pieces, offsets, strict=True)]
        return _fit_to_text(_group_empty(raw, unk), text)
    except (ValueError, TypeError, KeyError, RuntimeError):
        pass
    try:  # sentencepiece 0.1.9x / 0.2.0: immutable proto with surfaces
        proto = sp.encode(text, out_type="immutable_proto")
        raw = [(p.surface, p.id, p.piece) for p in proto.pieces]
        return _fit_to_text(_group_empty(raw, unk), text)
    except (ValueError, TypeError, AttributeError, RuntimeError):
        pass
    ids = list(sp.encode(text, out_type=int))  # last resort: the normalised pieces
    pieces = [sp.id_to_piece(i) for i in ids]
    tokens = _from_pieces(text, pieces, ids)
    return [replace(t, unknown=unk in (t.ids or ())) for t in tokens]


def _from_pieces(text: str, pieces: Sequence[str], ids: Sequence[int] | None) -> list[_Token]:
    """Tokens from piece strings: as written, sentencepiece style or GPT-2 byte-level."""
    id_list: list[int | None] = list(ids) if ids is not None else [None] * len(pieces)
    if "".join(pieces) == text and not any(_BYTE_PIECE.match(p) for p in pieces):
        return [
            _Token(p, None if i is None else (i,), (p,))
            for p, i in zip(pieces, id_list, strict=True)
        ]
    candidates = []
    if all(c in _BYTE_LEVEL for p in pieces for c in p) and not any(_SP_SPACE in p for p in pieces):
        level = [
            (bytes(_BYTE_LEVEL[c] for c in p), i, p) for p, i in zip(pieces, id_list, strict=True)
        ]
        candidates.append(_group_bytes(level))
    sp_style = [(_sp_piece_bytes(p), i, p) for p, i in zip(pieces, id_list, strict=True)]
    candidates.append(_group_bytes(sp_style))
    for tokens in candidates:
        joined = "".join(t.text for t in tokens)
        if joined == text:
            return tokens
        if joined == " " + text and tokens and tokens[0].text.startswith(" "):
            # sentencepiece's dummy prefix: "▁Hello" stands for "Hello" at the start
            first = tokens[0]
            return [replace(first, text=first.text[1:]), *tokens[1:]]
    return _align(candidates[-1], text) or candidates[-1]


def _align(tokens: list[_Token], text: str) -> list[_Token] | None:
    """Map normalised token texts back onto ``text``, character by character.

    A token's space matches a whole run of whitespace (sentencepiece turns "\n" and
    runs of spaces into one ``▁``) or nothing (its dummy prefix); other characters
    match themselves or their NFKC form (``，`` read as ``,``).

    Returns:
        Tokens holding the original text, or ``None`` when they do not fit.
    """
    out: list[_Token] = []
    pos = 0
    for tok in tokens:
        start = pos
        i = 0
        while i < len(tok.text):
            c = tok.text[i]
            if pos < len(text) and text[pos] == c and c != " ":
                pos, i = pos + 1, i + 1
                continue
            if c == " ":
                if pos < len(text) and text[pos].isspace():
                    pos += 1
                    if i + 1 == len(tok.text) or not tok.text[i + 1].isspace():
                        while pos < len(text) and text[pos].isspace():
                            pos += 1
                i += 1  # a space with no whitespace in the text: an added prefix
                continue
            norm = unicodedata.normalize("NFKC", text[pos]) if pos < len(text) else ""
            if norm and tok.text.startswith(norm, i):
                pos, i = pos + 1, i + len(norm)
                continue
            return None
        out.append(replace(tok, text=text[start:pos]))
    rest = text[pos:]
    if rest and (rest.strip() or not out):
        return None
    if rest:
        out[-1] = replace(out[-1], text=out[-1].text + rest)
    # A token left with no text (a lone dummy-prefix "▁") joins the next token.
    merged: list[_Token] = []
    carry: _Token | None = None
    for tok in out:
        if carry is not None:
            tok = _join(carry, tok)
            carry = None
        if tok.text:
            merged.append(tok)
        else:
            carry = tok
    if carry is not None:
        if not merged:
            return None
        merged[-1] = _join(merged[-1], carry)
    return merged


def _join(a: _Token, b: _Token) -> _Token:
    ids = None if a.ids is None or b.ids is None else (*a.ids, *b.ids)
    return _Token(
        a.text + b.text,
        ids,
        (*a.pieces, *b.pieces),
        a.is_bytes or b.is_bytes,
        a.unknown or b.unknown,
    )


def _decode_tokens(text: str, tokenizer: Any) -> list[_Token]:
    """Tokens of an encode/decode tokenizer, grouping ids that end inside a character."""
    try:
        ids = tokenizer.encode(text, add_special_tokens=False)  # Hugging Face
    except TypeError:
        ids = tokenizer.encode(text)
    ids = _check_ids(ids)
    single = getattr(tokenizer, "decode_single_token_bytes", None)
    if callable(single):  # tiktoken: the exact bytes of each token
        items = []
        for i in ids:
            data = single(i)
            items.append((data, i, repr(data)[2:-1]))
        return _fit_to_text(_group_bytes(items), text)
    # Decode growing prefixes: the new text of token k is decode(ids[:k+1]) minus
    # decode(ids[:k]); while it ends in U+FFFD the token cut a character, so the
    # next token joins it. Quadratic in the length: fine for the short texts shown.
    tokens: list[_Token] = []
    done = ""
    group: list[int] = []
    for k, ident in enumerate(ids):
        group.append(ident)
        now = tokenizer.decode(ids[: k + 1])
        if not isinstance(now, str):
            raise ValueError(f"tokenizer.decode must return a str, got {type(now).__name__}")
        if now.endswith("\ufffd") and k + 1 < len(ids) and len(group) < 4:
            continue
        if now.startswith(done):
            piece = now[len(done) :]
        else:  # the decoder rewrote earlier text (cleanup of spaces): decode alone
            piece = tokenizer.decode(group)
        tokens.append(_Token(piece, tuple(group), (piece,), is_bytes=len(group) > 1))
        done = now
        group = []
    return _fit_to_text(tokens, text)


def _check_ids(ids: Any) -> list[int]:
    if hasattr(ids, "ids") and not isinstance(ids, (list, tuple)):
        ids = ids.ids  # a Hugging Face `Encoding`
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if not isinstance(ids, (list, tuple)):
        raise ValueError(f"tokenizer.encode must return a list of ids, got {type(ids).__name__}")
    out = []
    for k, i in enumerate(ids):
        if isinstance(i, bool) or not isinstance(i, int):
            raise ValueError(f"tokenizer.encode returned {i!r} at position {k}; ids must be ints")
        out.append(int(i))
    return out


def _tokens(text: Any, tokenizer: Any) -> list[_Token]:
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if _is_sentencepiece(tokenizer):
        kind = "sentencepiece"
    elif callable(getattr(tokenizer, "encode", None)) and callable(
        getattr(tokenizer, "decode", None)
    ):
        kind = "encode/decode"
    elif callable(tokenizer):
        kind = "callable"
    else:
        raise ValueError(
            "tokenizer must be a sentencepiece SentencePieceProcessor, an object with "
            "encode/decode, or a callable text -> list[str]; got "
            f"{type(tokenizer).__name__}"
        )
    if text == "":
        return []
    if kind == "sentencepiece":
        tokens = _sentencepiece_tokens(text, tokenizer)
    elif kind == "encode/decode":
        tokens = _decode_tokens(text, tokenizer)
    else:
        pieces = tokenizer(text)
        if isinstance(pieces, (str, bytes)) or not isinstance(pieces, (list, tuple)):
            raise ValueError(
                f"a callable tokenizer must return a list of str pieces, got "
                f"{type(pieces).__name__}"
            )
        for k, p in enumerate(pieces):
            if not isinstance(p, str):
                raise ValueError(
                    f"a callable tokenizer must return str pieces, got {p!r} at position {k} "
                    "(for ids, pass an object with encode/decode)"
                )
        tokens = _from_pieces(text, list(pieces), None)
    if not tokens:
        raise ValueError(
            f"the tokenizer ({kind}) returned no tokens for a non-empty text of "
            f"{len(text)} characters"
        )
    return tokens


def token_spans(text: str, tokenizer: Any) -> list[TokenSpan]:
    """Cut ``text`` into the pieces ``tokenizer`` produces.

    Args:
        text: the text.
        tokenizer: a ``SentencePieceProcessor``, an object with ``encode``/``decode``,
            or a callable ``text -> list[str]``.

    Returns:
        ``[(piece_text, id), ...]`` in order. ``piece_text`` is the part of
        ``text`` the token covers; ``id`` is an int, a tuple of ints for byte pieces
        grouped into one character, or ``None`` for a callable tokenizer.
        An empty text gives ``[]``.

    Raises:
        ValueError: if ``text`` is not a str, the tokenizer is of no known kind, or
            it returns nothing (or something other than pieces/ids) for a non-empty
            text.

    Example:
        >>> token_spans("low lower", lambda t: ["low", " ", "low", "er"])
        [('low', None), (' ', None), ('low', None), ('er', None)]
    """
    return [(t.text, t.id) for t in _tokens(text, tokenizer)]


# --------------------------------------------------------------------- rendering
def _color(index: int, token: _Token, color_by: str) -> str:
    if color_by == "position":
        return PALETTE[index % len(PALETTE)]
    if token.ids is not None:
        key = token.ids[0] * 2654435761 % 2**32  # Knuth's multiplicative hash
    else:
        key = zlib.crc32(token.text.encode("utf-8"))
    return PALETTE[key % len(PALETTE)]


def _visible(text: str) -> str:
    """HTML for a token's text: escaped, whitespace and control characters visible."""
    out = []
    for ch in text:
        if ch == " ":
            out.append('<span style="color:#8a8a8a">▁</span>')
        elif ch == "\n":
            out.append('<span style="color:#8a8a8a">↵</span>\n')
        elif ch == "\t":
            out.append('<span style="color:#8a8a8a">→</span>\t')
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Zs"):
            out.append(f'<span style="color:#8a8a8a">\\u{ord(ch):04x}</span>')
        else:
            out.append(html.escape(ch))
    return "".join(out)


def _hover(token: _Token) -> str:
    shown = token.text.replace("\n", "↵")
    if token.ids is None:
        head = ""
    elif len(token.ids) == 1:
        head = f"id {token.ids[0]}"
    else:
        head = "ids " + " ".join(str(i) for i in token.ids)
    if token.is_bytes and all(_BYTE_PIECE.match(p) for p in token.pieces):
        body = f"bytes {''.join(token.pieces)} = {shown!r}"
    elif token.is_bytes:
        body = f"pieces {' + '.join(repr(p) for p in token.pieces)} = {shown!r}"
    else:
        body = " + ".join(repr(p) for p in token.pieces)
    if token.unknown:
        body += " (unknown)"
    return f"{head} · {body}" if head else body


class TokenViewer:
    """A text with its tokens as coloured spans; hover shows ids and pieces.

    Args:
        text: the text to tokenize.
        tokenizer: see :func:`token_spans`.
        color_by: ``"position"`` (neighbours always differ) or ``"id"`` (the same
            token always gets the same colour).
        title: a line above the tokens; ``None`` for none.

    Raises:
        ValueError: as :func:`token_spans`, or for an unknown ``color_by``.

    Example:
        >>> TokenViewer("Hello", lambda t: ["He", "llo"]).tokens
        ['He', 'llo']
    """

    def __init__(
        self,
        text: str,
        tokenizer: Any,
        *,
        color_by: str = "position",
        title: str | None = None,
    ) -> None:
        if color_by not in _COLOR_BY:
            raise ValueError(f"color_by must be one of {_COLOR_BY}, got {color_by!r}")
        if title is not None and not isinstance(title, str):
            raise ValueError(f"title must be a str or None, got {type(title).__name__}")
        self.text = text
        self.color_by = color_by
        self.title = title
        self._tokens = _tokens(text, tokenizer)

    @property
    def spans(self) -> list[TokenSpan]:
        """``[(piece_text, id), ...]``, as :func:`token_spans` returns."""
        return [(t.text, t.id) for t in self._tokens]

    @property
    def tokens(self) -> list[str]:
        """The text of each token."""
        return [t.text for t in self._tokens]

    @property
    def ids(self) -> list[int | tuple[int, ...] | None]:
        """The id of each token (a tuple for a group of byte pieces)."""
        return [t.id for t in self._tokens]

    def colors(self) -> list[str]:
        """The background colour of each token (deterministic).

        Returns:
            One ``#rrggbb`` string per token.
        """
        return [_color(k, t, self.color_by) for k, t in enumerate(self._tokens)]

    def html(self) -> str:
        """The viewer as an HTML fragment: no JavaScript, inline styles only.

        Returns:
            A ``<div>`` with a summary line and one ``<span>`` per token.
        """
        n_ids = sum(len(t.ids) if t.ids is not None else 1 for t in self._tokens)
        n_bytes = len(self.text.encode("utf-8"))
        summary = f"{n_ids} tokens · {len(self.text)} characters · {n_bytes} UTF-8 bytes" + (
            f" · {n_bytes / n_ids:.2f} bytes/token" if n_ids else ""
        )
        grouped = sum(1 for t in self._tokens if t.is_bytes)
        if grouped:
            summary += f" · {grouped} made of byte pieces (dashed)"
        head = f"<strong>{html.escape(self.title)}</strong> · " if self.title else ""
        spans = []
        for color, tok in zip(self.colors(), self._tokens, strict=True):
            style = f"background:{color};color:#111;border-radius:3px;padding:1px 0;"
            if tok.is_bytes:
                style += "outline:1px dashed #555;outline-offset:-1px;"
            if tok.unknown:
                style += "outline:2px solid #d00;outline-offset:-2px;"
            spans.append(
                f'<span style="{style}" title="{html.escape(_hover(tok), quote=True)}">'
                f"{_visible(tok.text)}</span>"
            )
        body = "".join(spans)
        return (
            '<div class="llmw-token-viewer">'
            f'<div style="font-size:0.85em;color:#666;margin-bottom:4px">{head}{summary}</div>'
            '<div style="font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;'
            'white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.9">'
            f"{body}</div></div>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"TokenViewer({len(self._tokens)} tokens: {self.tokens[:8]!r}...)"


def token_viewer(
    text: str, tokenizer: Any | Callable[[str], list[str]], **kwargs: Any
) -> TokenViewer:
    """Build a :class:`TokenViewer` (shows itself when it ends a cell).

    Args:
        text: the text to tokenize.
        tokenizer: see :func:`token_spans`.
        **kwargs: ``color_by``, ``title`` (see :class:`TokenViewer`).

    Returns:
        The viewer.
    """
    return TokenViewer(text, tokenizer, **kwargs)
