"""Tokenizers: characters, and subword models learned with sentencepiece.

* :class:`CharTokenizer` - one id per character, the vocabulary is the sorted set
  of characters of a text;
* :func:`train_sentencepiece` - trains a BPE or unigram model **in memory** (no
  files) and returns a ``SentencePieceProcessor``;
* :class:`SentencePieceTokenizer` - wraps such a model with the same methods as
  :class:`CharTokenizer` (``encode``, ``decode``, ``vocab_size``, ``id_to_piece``,
  ``state_dict``), so a training loop can take either;
* :func:`tokens_per_char` - how many tokens a tokenizer spends per character;
* :class:`SurfaceTokenizer` - the protocol both tokenizers follow for
  :func:`llmwidgets.text.spans.token_spans`: ``token_surfaces(text)`` says which
  characters of the text each token covers.

Newlines: sentencepiece's default normalisation (``nmt_nfkc``) turns ``"\\n"`` into a
space, squeezes runs of spaces and maps full-width punctuation such as ``，`` to ASCII.
With ``keep_newlines=True`` (the default here) ``"\\n"`` is a user-defined piece that
is never normalised or merged, spaces are kept as they are and no dummy ``▁`` is
added at the start; with ``normalization="identity"`` (also the default) every other
character is kept too, so ``decode(encode(text)) == text`` for any text once
``byte_fallback=True`` spells unseen characters as UTF-8 byte pieces.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sentencepiece import SentencePieceProcessor

__all__ = [
    "CharTokenizer",
    "SentencePieceTokenizer",
    "SurfaceTokenizer",
    "tokens_per_char",
    "train_sentencepiece",
]

#: sentencepiece silently drops training sentences longer than this (in UTF-8 bytes).
MAX_SENTENCE_BYTES = 4192
MODEL_TYPES = ("bpe", "unigram")


def _checked_ids(ids: Any, vocab_size: int) -> list[int]:
    """Ids from a list, tuple, tensor or array; each an int in ``0 .. vocab_size-1``."""
    ids = ids.tolist() if hasattr(ids, "tolist") else ids
    for pos, i in enumerate([ids] if isinstance(ids, int) else ids):
        if isinstance(i, bool) or not isinstance(i, int):
            raise ValueError(f"token ids must be ints, got {i!r} at position {pos}")
        if not 0 <= i < vocab_size:
            raise ValueError(
                f"id {i} at position {pos} is outside the vocabulary 0..{vocab_size - 1}"
            )
    return [ids] if isinstance(ids, int) else list(ids)


@runtime_checkable
class SurfaceTokenizer(Protocol):
    """A tokenizer that says which characters of the text each token covers.

    ``token_spans`` and the ``TokenViewer`` use this method when a tokenizer has it,
    instead of guessing from ``encode``/``decode``.
    """

    def token_surfaces(self, text: str) -> list[tuple[int, str, str]]:
        """``[(id, piece, surface), ...]`` in order; the surfaces joined give the text.

        ``piece`` is the tokenizer's own spelling (``"▁the"``, ``"<0xE4>"``);
        ``surface`` is the part of ``text`` the token covers, ``""`` for the leading
        byte pieces of a character spelled in bytes (the last one carries it).
        """
        ...


def _check_state(state: Any, kind: str, cls: str) -> None:
    if not isinstance(state, dict) or state.get("type") != kind:
        got = state.get("type") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"not a {cls} state: type={got!r}")


class CharTokenizer:
    """One token per character; ids follow the sorted characters of a text.

    Args:
        text: the text whose distinct characters form the vocabulary.

    Raises:
        ValueError: if ``text`` is not a non-empty str.

    Example:
        >>> tok = CharTokenizer("hello")
        >>> tok.encode("hole"), tok.decode([1, 2])
        ([1, 3, 2, 0], 'hl')
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharTokenizer needs a non-empty str, got {text!r:.40}")
        self.chars: list[str] = sorted(set(text))
        self._ids = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        """The number of distinct characters."""
        return len(self.chars)

    def encode(self, text: str, out_type: type = int) -> list[int] | list[str]:
        """Turn a text into ids (``out_type=int``) or pieces (``out_type=str``).

        Raises:
            ValueError: for a character outside the vocabulary (named, with its
                position), or an ``out_type`` other than ``int``/``str``.
        """
        if out_type not in (int, str):
            raise ValueError(f"out_type must be int or str, got {out_type!r}")
        ids = []
        for pos, ch in enumerate(text):
            if ch not in self._ids:
                raise ValueError(
                    f"character {ch!r} (U+{ord(ch):04X}) at position {pos} is not in the "
                    f"vocabulary of {self.vocab_size} characters"
                )
            ids.append(self._ids[ch])
        return ids if out_type is int else [self.chars[i] for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids (a list, tensor or array) back into text.

        Raises:
            ValueError: for an id outside ``0 .. vocab_size-1`` (named, with its position).
        """
        return "".join(self.chars[i] for i in _checked_ids(ids, self.vocab_size))

    def token_surfaces(self, text: str) -> list[tuple[int, str, str]]:
        """``[(id, char, char), ...]``: each token covers one character (see
        :class:`SurfaceTokenizer`).

        Raises:
            ValueError: as :meth:`encode`, for a character outside the vocabulary.
        """
        return [(i, ch, ch) for i, ch in zip(self.encode(text), text, strict=True)]

    def id_to_piece(self, id: int) -> str:
        """The character with id ``id``."""
        return self.decode([id])

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs: ``{"type": "char", "chars": [...]}``."""
        return {"type": "char", "chars": list(self.chars)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> CharTokenizer:
        """Rebuild a tokenizer saved with :meth:`state_dict`.

        Raises:
            ValueError: if ``state`` is not a char tokenizer's state.
        """
        _check_state(state, "char", "CharTokenizer")
        chars = state.get("chars")
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError(f"chars must be a list of single characters, got {chars!r:.60}")
        if list(chars) != sorted(set(chars)):
            raise ValueError("chars must be sorted and distinct, as CharTokenizer stores them")
        return cls("".join(chars))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


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
            "would silently drop them",
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


def _has_offset_mapping() -> bool:
    """Whether the installed sentencepiece encodes with ``out_type="offset_mapping"``."""
    import sentencepiece as spm

    version = tuple(int(part) for part in re.findall(r"\d+", spm.__version__)[:3])
    return version >= (0, 2, 1)


class SentencePieceTokenizer:
    """A sentencepiece model with :class:`CharTokenizer`'s methods.

    Args:
        model: a ``SentencePieceProcessor`` or the bytes of a model.
    """

    def __init__(self, model: SentencePieceProcessor | bytes) -> None:
        import sentencepiece as spm

        if isinstance(model, (bytes, bytearray)):
            model = spm.SentencePieceProcessor(model_proto=bytes(model))
        if not isinstance(model, spm.SentencePieceProcessor):
            raise ValueError(
                f"model must be a SentencePieceProcessor or model bytes, got {type(model).__name__}"
            )
        self.processor = model

    @classmethod
    def train(
        cls, text_or_lines: str | Iterable[str], vocab_size: int, **kwargs: Any
    ) -> SentencePieceTokenizer:
        """Train with :func:`train_sentencepiece` (same arguments) and wrap the model."""
        return cls(train_sentencepiece(text_or_lines, vocab_size, **kwargs))

    @property
    def vocab_size(self) -> int:
        """The number of pieces, special and byte pieces included."""
        return int(self.processor.vocab_size())

    def encode(self, text: str, out_type: Any = int) -> Any:
        """Ids (``out_type=int``), pieces (``str``) or any sentencepiece ``out_type``."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        return self.processor.encode(text, out_type=out_type)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids (a list, tensor or array) back to text.

        Raises:
            ValueError: for an id outside ``0 .. vocab_size-1`` (named, with its position).
        """
        return self.processor.decode(_checked_ids(ids, self.vocab_size))

    def token_surfaces(self, text: str) -> list[tuple[int, str, str]]:
        """``[(id, piece, surface), ...]`` from sentencepiece's own offsets (see
        :class:`SurfaceTokenizer`): normalisation (``，`` read as ``,``, a dummy ``▁``)
        never changes the text a piece covers.
        """
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        if _has_offset_mapping():  # sentencepiece >= 0.2.1: character offsets
            out = self.processor.encode(text, out_type="offset_mapping")
            return [
                (int(i), p, text[b:e])
                for i, p, (b, e) in zip(out["ids"], out["pieces"], out["offsets"], strict=True)
            ]
        proto = self.processor.encode(text, out_type="immutable_proto")  # 0.2.0
        return [(int(p.id), p.piece, p.surface) for p in proto.pieces]

    def id_to_piece(self, id: int) -> str:
        """The piece with id ``id`` (``▁`` stands for a space, ``<0xE9>`` for a byte)."""
        return self.processor.id_to_piece(_checked_ids(id, self.vocab_size)[0])

    def unk_id(self) -> int:
        """The id of ``<unk>`` (the token viewer marks it)."""
        return int(self.processor.unk_id())

    @property
    def model_bytes(self) -> bytes:
        """The serialised model (what ``SentencePieceProcessor(model_proto=...)`` loads)."""
        return self.processor.serialized_model_proto()

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs: ``{"type": "sentencepiece", "model": bytes}``."""
        return {"type": "sentencepiece", "model": self.model_bytes}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> SentencePieceTokenizer:
        """Rebuild a tokenizer saved with :meth:`state_dict`.

        Raises:
            ValueError: if ``state`` is not a sentencepiece tokenizer's state.
        """
        _check_state(state, "sentencepiece", "SentencePieceTokenizer")
        return cls(state["model"])

    def __repr__(self) -> str:
        return f"SentencePieceTokenizer(vocab_size={self.vocab_size})"


def tokens_per_char(tokenizer: Any, text: str) -> float:
    """Tokens a tokenizer spends per character of ``text`` (lower = longer pieces).

    Args:
        tokenizer: anything whose ``encode(text)`` returns a list of ids.
        text: a non-empty text.

    Returns:
        ``len(tokenizer.encode(text)) / len(text)``, characters counted as code points.

    Raises:
        ValueError: for an empty text.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty str, got {text!r:.40}")
    return len(tokenizer.encode(text)) / len(text)
