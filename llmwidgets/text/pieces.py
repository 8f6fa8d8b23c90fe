"""Token pieces back to the text they cover: bytes, sentencepiece and GPT-2 spellings.

The helpers of :mod:`llmwidgets.text.spans`, pure text code (no tokenizer calls):

* :class:`Token` - the characters of the text a token covers, its id(s) and pieces;
* :func:`group_bytes` - joins tokens until their bytes end on a UTF-8 character
  boundary, so byte pieces (``<0xE4>``) or byte-level tokens that cut a character in
  two become one token holding that character, never mojibake;
* :func:`group_empty` - the same for pieces with an empty surface (sentencepiece's
  leading byte pieces of a character);
* :func:`from_pieces` - piece strings as written, sentencepiece style (``▁the``) or
  GPT-2 byte-level style (``Ġthe``) turned back into text;
* :func:`fit_to_text` / :func:`align` - give skipped white space to a neighbour, or map
  normalised pieces (``，`` read as ``,``) back onto the original characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

__all__ = [
    "BYTE_PIECE",
    "Token",
    "align",
    "fit_to_text",
    "from_pieces",
    "group_bytes",
    "group_empty",
]

#: A sentencepiece byte piece such as ``<0xE4>``.
BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_SP_SPACE = "\u2581"  # ▁, sentencepiece's whitespace symbol


@dataclass(frozen=True)
class Token:
    """One token: the text it covers, its id(s) and the tokenizer's own pieces."""

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


def group_bytes(items: Sequence[tuple[bytes, int | None, str]]) -> list[Token]:
    """Join consecutive items until their bytes end on a UTF-8 character boundary.

    Args:
        items: ``(bytes, id, piece)`` per token, in order.

    Returns:
        Tokens whose text is valid UTF-8; a token that cuts a character in two is
        grouped with its neighbours; bytes that never form a character are shown
        escaped (``\\xff``), never as mojibake.
    """
    tokens: list[Token] = []
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
        grouped = len(pieces) > 1 or any(BYTE_PIECE.match(p) for p in pieces)
        tokens.append(Token(text, all_ids, tuple(pieces), is_bytes=grouped))
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


def sp_piece_bytes(piece: str) -> bytes:
    match = BYTE_PIECE.match(piece)
    if match:
        return bytes([int(match.group(1), 16)])
    return piece.replace(_SP_SPACE, " ").encode("utf-8")


def group_empty(raw: Sequence[tuple[str, int, str]], unk: int | None) -> list[Token]:
    """Tokens from ``(surface, id, piece)``: pieces with an empty surface (the first
    byte pieces of a character) join the next piece that has one."""
    tokens: list[Token] = []
    pending: list[tuple[int, str]] = []
    for surface, ident, piece in raw:
        pending.append((int(ident), piece))
        if surface == "":
            continue
        ids = tuple(i for i, _ in pending)
        pieces = tuple(p for _, p in pending)
        is_bytes = any(BYTE_PIECE.match(p) for p in pieces)
        tokens.append(Token(surface, ids, pieces, is_bytes, unknown=unk in ids))
        pending = []
    if pending:  # empty-surface pieces at the end (e.g. an EOS): attach to the last
        if tokens:
            last = tokens[-1]
            ids = (*(last.ids or ()), *(i for i, _ in pending))
            tokens[-1] = replace(last, ids=ids, pieces=(*last.pieces, *(p for _, p in pending)))
        else:
            tokens.append(Token("", tuple(i for i, _ in pending), tuple(p for _, p in pending)))
    return tokens


def fit_to_text(tokens: list[Token], text: str) -> list[Token]:
    """Give text the tokenizer skipped (leading or repeated whitespace) to a neighbour.

    Returns the tokens unchanged when their texts are not found in order in ``text``
    (a normalising tokenizer); then the viewer shows what the tokenizer produced.
    """
    if "".join(t.text for t in tokens) == text:
        return tokens
    out: list[Token] = []
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
def from_pieces(text: str, pieces: Sequence[str], ids: Sequence[int] | None) -> list[Token]:
    """Tokens from piece strings: as written, sentencepiece style or GPT-2 byte-level."""
    id_list: list[int | None] = list(ids) if ids is not None else [None] * len(pieces)
    if "".join(pieces) == text and not any(BYTE_PIECE.match(p) for p in pieces):
        return [
            Token(p, None if i is None else (i,), (p,))
            for p, i in zip(pieces, id_list, strict=True)
        ]
    candidates = []
    if all(c in _BYTE_LEVEL for p in pieces for c in p) and not any(_SP_SPACE in p for p in pieces):
        level = [
            (bytes(_BYTE_LEVEL[c] for c in p), i, p) for p, i in zip(pieces, id_list, strict=True)
        ]
        candidates.append(group_bytes(level))
    sp_style = [(sp_piece_bytes(p), i, p) for p, i in zip(pieces, id_list, strict=True)]
    candidates.append(group_bytes(sp_style))
    for tokens in candidates:
        joined = "".join(t.text for t in tokens)
        if joined == text:
            return tokens
        if joined == " " + text and tokens and tokens[0].text.startswith(" "):
            # sentencepiece's dummy prefix: "▁Hello" stands for "Hello" at the start
            first = tokens[0]
            return [replace(first, text=first.text[1:]), *tokens[1:]]
    return align(candidates[-1], text) or candidates[-1]


def align(tokens: list[Token], text: str) -> list[Token] | None:
    """Map normalised token texts back onto ``text``, character by character.

    A token's space matches a whole run of whitespace (sentencepiece turns "\n" and
    runs of spaces into one ``▁``) or nothing (its dummy prefix); other characters
    match themselves or their NFKC form (``，`` read as ``,``).

    Returns:
        Tokens holding the original text, or ``None`` when they do not fit.
    """
    out: list[Token] = []
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
    merged: list[Token] = []
    carry: Token | None = None
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


def _join(a: Token, b: Token) -> Token:
    ids = None if a.ids is None or b.ids is None else (*a.ids, *b.ids)
    return Token(
        a.text + b.text,
        ids,
        (*a.pieces, *b.pieces),
        a.is_bytes or b.is_bytes,
        a.unknown or b.unknown,
    )
