"""Tokenizers: characters, and subword models learned with sentencepiece.

* :class:`SurfaceTokenizer` - the protocol both tokenizers follow for
  :func:`llmwidgets.text.spans.token_spans`: ``token_surfaces(text)`` says which
  characters of the text each token covers;
* :class:`CharTokenizer` - one id per character, the vocabulary is the sorted set
  of characters of a text;
* :class:`SentencePieceTokenizer` - wraps a sentencepiece model (trained in memory by
  :func:`~llmwidgets.text.sentencepiece_training.train_sentencepiece`, which explains
  how newlines and spaces are kept) with the same methods as :class:`CharTokenizer`
  (``encode``, ``decode``, ``vocab_size``, ``id_to_piece``, ``state_dict``), so a
  training loop can take either;
* :func:`tokens_per_char` - how many tokens a tokenizer spends per character.

``train_sentencepiece`` and ``MAX_SENTENCE_BYTES`` can still be imported from here, as
notebooks of version 0.1 do (``from llmwidgets.tokenizers import train_sentencepiece``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

# MAX_SENTENCE_BYTES is only re-exported, for notebooks of version 0.1.
from llmwidgets.text.sentencepiece_training import MAX_SENTENCE_BYTES, train_sentencepiece

if TYPE_CHECKING:
    from sentencepiece import SentencePieceProcessor

__all__ = [
    "MAX_SENTENCE_BYTES",
    "CharTokenizer",
    "SentencePieceTokenizer",
    "SurfaceTokenizer",
    "tokens_per_char",
    "train_sentencepiece",
]


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
