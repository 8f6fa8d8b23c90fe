"""Training a sentencepiece model in memory: :func:`train_sentencepiece`.

The book trains its subword tokenizers (BPE and unigram) with sentencepiece, from a
text or a list of lines, with no files: the lines are fed through an iterator and the
model is written to bytes. :class:`~llmwidgets.text.tokenizers.SentencePieceTokenizer`
wraps the result (``SentencePieceTokenizer.train`` calls this function).

Newlines: sentencepiece's default normalisation (``nmt_nfkc``) turns ``"\\n"`` into a
space, squeezes runs of spaces and maps full-width punctuation such as ``，`` to ASCII.
With ``keep_newlines=True`` (the default here) ``"\\n"`` is a user-defined piece that
is never normalised or merged, spaces are kept as they are and no dummy ``▁`` is
added at the start; with ``normalization="identity"`` (also the default) every other
character is kept too, so ``decode(encode(text)) == text`` for any text once
``byte_fallback=True`` spells unseen characters as UTF-8 byte pieces.

Long lines: sentencepiece quietly drops a training sentence longer than
:data:`MAX_SENTENCE_BYTES` (its only warning goes to C++ stderr, which notebooks do not
show); such lines are split here (at a space if possible), with a Python warning.
Vocabulary sizes that are too small or too large for the corpus raise a ValueError that
says what to change.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentencepiece import SentencePieceProcessor

__all__ = ["MAX_SENTENCE_BYTES", "MODEL_TYPES", "train_sentencepiece"]

#: sentencepiece quietly drops training sentences longer than this (in UTF-8 bytes).
MAX_SENTENCE_BYTES = 4192
#: The sentencepiece model types :func:`train_sentencepiece` trains.
MODEL_TYPES = ("bpe", "unigram")


def _split_long(line: str, max_bytes: int) -> list[str]:
    """Cut a line into chunks of at most ``max_bytes`` UTF-8 bytes, at a space if possible."""
    chunks = []
    while len(line.encode("utf-8")) > max_bytes:
        cut = len(line.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore"))
        space = line.rfind(" ", 1, cut)
        cut = space if space > cut // 2 else cut
        chunks.append(line[:cut])
        line = line[cut:]
    return [*chunks, line]


def _training_lines(text_or_lines: str | Iterable[str], max_bytes: int) -> list[str]:
    """The training sentences: the non-empty lines, long ones split (with a warning)."""
    if isinstance(text_or_lines, str):
        text_or_lines = [text_or_lines]
    lines, split = [], 0
    for k, item in enumerate(text_or_lines):
        if not isinstance(item, str):
            raise ValueError(f"lines must be str, got {type(item).__name__} at position {k}")
        for line in item.split("\n"):
            if len(line.encode("utf-8")) > max_bytes:
                split += 1
                lines.extend(_split_long(line, max_bytes))
            elif line:
                lines.append(line)
    if split:
        warnings.warn(
            f"{split} line(s) longer than {max_bytes} UTF-8 bytes were split: sentencepiece "
            "would quietly drop them",
            stacklevel=3,
        )
    if not lines:
        raise ValueError("no text to train on: every line is empty")
    return lines


def train_sentencepiece(
    text_or_lines: str | Iterable[str],
    vocab_size: int,
    model_type: str = "bpe",
    *,
    byte_fallback: bool = True,
    character_coverage: float = 0.9995,
    keep_newlines: bool = True,
    normalization: str = "identity",
    num_threads: int = 2,
    **options: Any,
) -> SentencePieceProcessor:
    """Train a sentencepiece model in memory, one sentence per line.

    Args:
        text_or_lines: a text (split at ``"\\n"``) or an iterable of lines. Empty lines
            are skipped; lines over 4192 UTF-8 bytes are split (with a warning).
        vocab_size: the number of pieces, including ``<unk>``, ``<s>``, ``</s>``, the
            256 byte pieces (with ``byte_fallback``) and ``"\\n"`` (with ``keep_newlines``).
        model_type: ``"bpe"`` or ``"unigram"``.
        byte_fallback: spell characters outside the vocabulary as UTF-8 byte pieces
            (``<0xE9>``) instead of ``<unk>``.
        character_coverage: the share of character occurrences whose characters get a
            piece of their own; the rarest characters beyond it use bytes (or ``<unk>``).
        keep_newlines: make ``"\\n"`` a piece and keep spaces exactly (no dummy ``▁``
            prefix, no squeezing); ``False`` keeps sentencepiece's defaults, where a
            newline becomes a space.
        normalization: ``"identity"`` keeps every character; ``"nmt_nfkc"``
            (sentencepiece's default) maps e.g. ``，`` to ``,``.
        num_threads: training threads. Unigram results depend on it (float sums in
            another order), so it is fixed rather than taken from the machine.
        **options: further ``SentencePieceTrainer`` options (e.g. ``split_digits=True``).

    Returns:
        A loaded ``SentencePieceProcessor``; ``.serialized_model_proto()`` gives its bytes.

    Raises:
        ValueError: for a bad argument, or a ``vocab_size`` too small for the
            characters or too large for the corpus (with the limit sentencepiece gave).
    """
    import sentencepiece as spm

    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 4:
        raise ValueError(f"vocab_size must be an int >= 4, got {vocab_size!r}")
    if not 0 < character_coverage <= 1:
        raise ValueError(f"character_coverage must be in (0, 1], got {character_coverage!r}")
    fixed = {"sentence_iterator", "model_writer", "input", "model_prefix"} & set(options)
    if fixed:
        raise ValueError(f"{sorted(fixed)} cannot be set: training is in memory")
    lines = _training_lines(text_or_lines, MAX_SENTENCE_BYTES)
    settings: dict[str, Any] = {
        "vocab_size": vocab_size,
        "model_type": model_type,
        "byte_fallback": byte_fallback,
        "character_coverage": character_coverage,
        "normalization_rule_name": normalization,
        "num_threads": num_threads,
        "minloglevel": 2,  # errors only; the progress log is long
    }
    if keep_newlines:
        symbols = options.pop("user_defined_symbols", [])
        symbols = symbols.split(",") if isinstance(symbols, str) else list(symbols)
        settings |= {
            "user_defined_symbols": ["\n", *(s for s in symbols if s != "\n")],
            "add_dummy_prefix": False,
            "remove_extra_whitespaces": False,
        }
    settings |= options
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, **settings
        )
    except RuntimeError as err:
        raise _friendly(err, vocab_size, model_type, character_coverage) from err
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def _friendly(err: RuntimeError, vocab_size: int, model_type: str, coverage: float) -> Exception:
    """Turn sentencepiece's vocabulary-size errors into ValueErrors that say what to do."""
    message = str(err)
    small = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", message)
    if small:
        return ValueError(
            f"vocab_size={vocab_size} is too small: the characters kept by "
            f"character_coverage={coverage} plus the special and byte pieces need "
            f"{small.group(2)}; raise vocab_size or lower character_coverage"
        )
    large = re.search(r"Vocabulary size too high \((\d+)\).*<= (\d+)", message)
    if large:
        return ValueError(
            f"vocab_size={vocab_size} is too large for this corpus with "
            f"model_type={model_type!r}: at most {large.group(2)}; use more text"
        )
    return err
