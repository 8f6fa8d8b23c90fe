"""Cut a text into the pieces a tokenizer produces: ``token_spans``.

:func:`token_spans` returns ``[(piece_text, id), ...]``: the pieces of the original
text, in order, so that ``"".join(t for t, _ in spans) == text`` whenever the tokenizer
keeps the text recoverable. Pure text code; :class:`~llmwidgets.widgets.token_viewer.TokenViewer`
draws it. Tokenizers understood, each recognised by what it is, not by trial and error:

* a :class:`~llmwidgets.text.tokenizers.SurfaceTokenizer` - anything with
  ``token_surfaces(text) -> [(id, piece, surface), ...]``, such as the book's
  ``CharTokenizer`` and ``SentencePieceTokenizer``: each token says which characters of
  the text it covers. A raw sentencepiece ``SentencePieceProcessor`` is wrapped in a
  ``SentencePieceTokenizer``. Byte-fallback pieces (``<0xE4>``) that together spell one
  character become one span whose id is the tuple of their ids
  (``("仁", (231, 190, 132))``);
* any object with ``encode(text) -> ids`` and ``decode(ids) -> text`` (tiktoken, Hugging
  Face tokenizers, your own BPE); tokens that end inside a UTF-8 character are grouped
  the same way;
* any callable ``f(text) -> list[str]`` of pieces; ids are then ``None``. Pieces written
  the sentencepiece way (``▁the``, ``<0xE4>``) or the GPT-2 byte-level way (``Ġthe``) are
  turned back into text.

A text with a lone surrogate (``"a\\ud800b"``, not valid Unicode) is refused with a
ValueError; pieces that do not spell the text (a normalising tokenizer) give a warning.
"""

from __future__ import annotations

import warnings
from typing import Any

from llmwidgets.text.pieces import Token, fit_to_text, from_pieces, group_bytes, group_empty
from llmwidgets.text.tokenizers import SentencePieceTokenizer, SurfaceTokenizer

__all__ = ["TokenSpan", "check_text", "token_spans", "tokens_of"]

#: One span: the piece of text and its id (an int; a tuple of ints for a group of
#: byte pieces; None when the tokenizer gives no ids).
TokenSpan = tuple[str, "int | tuple[int, ...] | None"]


def check_text(text: Any) -> str:
    """Check that ``text`` is a str that can be encoded (no lone surrogates).

    Args:
        text: what the caller passed.

    Returns:
        The text.

    Raises:
        ValueError: for a non-str, or a lone surrogate (named, with its position).
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        ch = text[err.start]
        raise ValueError(
            f"text has a lone surrogate U+{ord(ch):04X} at position {err.start}: it is not "
            "valid Unicode and no tokenizer can encode it; join surrogate pairs with "
            "text.encode('utf-16', 'surrogatepass').decode('utf-16'), or drop it"
        ) from None
    return text


def _is_sentencepiece_processor(tokenizer: Any) -> bool:
    try:
        import sentencepiece as spm
    except ImportError:
        return False
    return isinstance(tokenizer, spm.SentencePieceProcessor)


def _kind(tokenizer: Any) -> str:
    if isinstance(tokenizer, SurfaceTokenizer):
        return "surfaces"
    if _is_sentencepiece_processor(tokenizer):
        return "sentencepiece"
    if callable(getattr(tokenizer, "encode", None)) and callable(
        getattr(tokenizer, "decode", None)
    ):
        return "encode/decode"
    if callable(tokenizer):
        return "callable"
    raise ValueError(
        "tokenizer must be a tokenizer with token_surfaces() (CharTokenizer, "
        "SentencePieceTokenizer), a sentencepiece SentencePieceProcessor, an object with "
        f"encode/decode, or a callable text -> list[str]; got {type(tokenizer).__name__}"
    )


def _surface_tokens(text: str, tokenizer: Any) -> list[Token]:
    unk_id = getattr(tokenizer, "unk_id", None)
    unk = unk_id() if callable(unk_id) else None
    raw = [(surface, i, piece) for i, piece, surface in tokenizer.token_surfaces(text)]
    return fit_to_text(group_empty(raw, unk), text)


def _callable_tokens(text: str, tokenizer: Any) -> list[Token]:
    pieces = tokenizer(text)
    if isinstance(pieces, (str, bytes)) or not isinstance(pieces, (list, tuple)):
        raise ValueError(
            f"a callable tokenizer must return a list of str pieces, got {type(pieces).__name__}"
        )
    for k, p in enumerate(pieces):
        if not isinstance(p, str):
            raise ValueError(
                f"a callable tokenizer must return str pieces, got {p!r} at position {k} "
                "(for ids, pass an object with encode/decode)"
            )
    return from_pieces(text, list(pieces), None)


def _decode_tokens(text: str, tokenizer: Any) -> list[Token]:
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
        return fit_to_text(group_bytes(items), text)
    # Decode growing prefixes: the new text of token k is decode(ids[:k+1]) minus
    # decode(ids[:k]); while it ends in U+FFFD the token cut a character, so the
    # next token joins it. Quadratic in the length: fine for the short texts shown.
    tokens: list[Token] = []
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
        tokens.append(Token(piece, tuple(group), (piece,), is_bytes=len(group) > 1))
        done = now
        group = []
    return fit_to_text(tokens, text)


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


def tokens_of(text: Any, tokenizer: Any) -> list[Token]:
    """The tokens of ``text``, each with the characters it covers (see :func:`token_spans`).

    Args:
        text: the text.
        tokenizer: see :func:`token_spans`.

    Returns:
        The :class:`~llmwidgets.text.pieces.Token` list.
    """
    text = check_text(text)
    kind = _kind(tokenizer)
    if text == "":
        return []
    if kind == "sentencepiece":
        tokenizer, kind = SentencePieceTokenizer(tokenizer), "surfaces"
    if kind == "surfaces":
        tokens = _surface_tokens(text, tokenizer)
    elif kind == "encode/decode":
        tokens = _decode_tokens(text, tokenizer)
    else:
        tokens = _callable_tokens(text, tokenizer)
    if not tokens:
        raise ValueError(
            f"the tokenizer ({kind}) returned no tokens for a non-empty text of "
            f"{len(text)} characters"
        )
    spelled = "".join(t.text for t in tokens)
    if spelled != text:
        warnings.warn(
            f"the tokenizer's pieces do not spell the text: they give {spelled!r:.80} for "
            f"{text!r:.80}; the pieces are shown as the tokenizer wrote them",
            stacklevel=3,
        )
    return tokens


def token_spans(text: str, tokenizer: Any) -> list[TokenSpan]:
    """Cut ``text`` into the pieces ``tokenizer`` produces.

    Args:
        text: the text.
        tokenizer: a tokenizer with ``token_surfaces`` (``CharTokenizer``,
            ``SentencePieceTokenizer``), a ``SentencePieceProcessor``, an object with
            ``encode``/``decode``, or a callable ``text -> list[str]``.

    Returns:
        ``[(piece_text, id), ...]`` in order. ``piece_text`` is the part of ``text`` the
        token covers; ``id`` is an int, a tuple of ints for byte pieces grouped into one
        character, or ``None`` for a callable tokenizer. An empty text gives ``[]``.

    Raises:
        ValueError: if ``text`` is not a str or has a lone surrogate, the tokenizer is of
            no known kind, or it returns nothing (or something other than pieces/ids)
            for a non-empty text.

    Example:
        >>> token_spans("low lower", lambda t: ["low", " ", "low", "er"])
        [('low', None), (' ', None), ('low', None), ('er', None)]
    """
    return [(t.text, t.id) for t in tokens_of(text, tokenizer)]
