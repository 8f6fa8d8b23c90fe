"""The data chain of every language-model notebook, in one call.

Corpus -> tokenizer -> token ids -> train / validation split -> two batchers::

    data = lw.text_data("tinyshakespeare", block_size=64, batch_size=32)
    model = lw.GPT(lw.GPTConfig.preset("shakespeare-char-cpu"))  # vocabulary 65
    trainer = lw.Trainer(model, config, data.train_batcher, data.val_batcher)
    print(data.tokenizer.decode(data.val_ids[:40]))

The conventions, so that every notebook gets the same batches:

* the character tokenizer learns its vocabulary from the whole text, *before* ``limit``
  cuts it, so quick mode (a short text) keeps the full mode's vocabulary and model;
* the split is contiguous: the last ``val_fraction`` of the ids is held out
  (:func:`~llmwidgets.training.batches.split_tokens`);
* the training batcher draws random windows with seed 1, the validation batcher with
  seed 2 (its evaluation batches are fixed: ``fixed_batches``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from llmwidgets.core.data import CORPORA, load_text
from llmwidgets.core.validate import check_int, check_optional_int, check_real, check_str
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training.batches import TokenBatcher, split_tokens

__all__ = ["TextData", "text_data"]

#: The seeds of the two batchers (the book's convention).
TRAIN_SEED, VAL_SEED = 1, 2

_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")  # what a corpus name looks like


@dataclass(frozen=True)
class TextData:
    """A text, its tokenizer, its ids split in two, and a batcher for each part."""

    name: str | None  # the corpus name ("lunyu"), or None for a text passed directly
    text: str  # the text that was encoded (after `limit`)
    tokenizer: Any  # a CharTokenizer, or the tokenizer object that was passed
    train_ids: Tensor  # (N_train,) int64 ids: the first 1 - val_fraction of the text
    val_ids: Tensor  # (N_val,) int64 ids: the last val_fraction of the text
    train_batcher: TokenBatcher  # random (x, y) windows of train_ids, seed 1
    val_batcher: TokenBatcher | None  # windows of val_ids, seed 2; None if val_fraction = 0

    @property
    def vocab_size(self) -> int:
        """The tokenizer's vocabulary size (the model's ``vocab_size``)."""
        return int(self.tokenizer.vocab_size)

    def __repr__(self) -> str:
        source = repr(self.name) if self.name else f"a text of {len(self.text):,} characters"
        return (
            f"TextData({source}, vocab_size={self.vocab_size}, train={len(self.train_ids):,} "
            f"tokens, val={len(self.val_ids):,} tokens, block_size="
            f"{self.train_batcher.block_size}, batch_size={self.train_batcher.batch_size})"
        )


def _source_text(source: Any) -> tuple[str | None, str]:
    """(corpus name or None, the whole text) for a corpus name or a text."""
    source = check_str("source", source)
    if source in CORPORA:
        return source, load_text(source)
    if _NAME.fullmatch(source):
        raise ValueError(
            f"{source!r} is not a known corpus ({sorted(CORPORA)}); a text to train on "
            "must hold at least one other character (a space, a line break, any non-ASCII)"
        )
    return None, source


def text_data(
    source: str,
    tokenizer: Any = "char",
    *,
    block_size: int,
    batch_size: int,
    val_fraction: float = 0.1,
    limit: int | None = None,
) -> TextData:
    """Load (or take) a text, tokenize it, split it and make the two batchers.

    Args:
        source: a corpus name (``"tinyshakespeare"``, ``"lunyu"``, ``"songci300"``; see
            :func:`llmwidgets.load_text`) or the text itself.
        tokenizer: ``"char"`` (a :class:`~llmwidgets.text.tokenizers.CharTokenizer` of the
            whole text) or any object with ``encode(text) -> list[int]`` and
            ``vocab_size`` (a trained ``SentencePieceTokenizer``).
        block_size: tokens per input row ``T`` (the model's context or less).
        batch_size: rows per batch ``B``.
        val_fraction: the share held out for validation, in ``[0, 1)``; 0: no
            validation batcher.
        limit: keep only the first ``limit`` characters (quick mode); ``None``: all.

    Returns:
        A :class:`TextData`.

    Raises:
        ValueError: for an unknown corpus name, a bad tokenizer or size, or a part of the
            text too short for one window of ``block_size + 1`` tokens.
        CorpusError: when a corpus cannot be found or downloaded.
    """
    block_size = check_int("block_size", block_size, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    val_fraction = check_real("val_fraction", val_fraction, 0, 1, max_open=True)
    limit = check_optional_int("limit", limit, 1)
    name, full_text = _source_text(source)
    if isinstance(tokenizer, str):
        if tokenizer != "char":
            raise ValueError(f"tokenizer must be 'char' or a tokenizer object, got {tokenizer!r}")
        tokenizer = CharTokenizer(full_text)  # the whole text's vocabulary, before `limit`
    elif not callable(getattr(tokenizer, "encode", None)) or not hasattr(tokenizer, "vocab_size"):
        raise ValueError(
            f"tokenizer must be 'char' or have encode(text) and vocab_size, got {tokenizer!r:.60}"
        )
    text = full_text[:limit]
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)  # (N,)
    train_ids, val_ids = split_tokens(ids, val_fraction)
    parts = [("training", train_ids)] + ([("validation", val_ids)] if val_fraction else [])
    for part, part_ids in parts:
        if len(part_ids) < block_size + 1:
            raise ValueError(
                f"the {part} part has {len(part_ids):,} tokens (of {len(ids):,}), fewer than "
                f"block_size + 1 = {block_size + 1}; use more text (limit={limit}), a smaller "
                f"block_size or another val_fraction (now {val_fraction})"
            )
    train = TokenBatcher(train_ids, block_size, batch_size, seed=TRAIN_SEED)
    val = TokenBatcher(val_ids, block_size, batch_size, seed=VAL_SEED) if val_fraction else None
    return TextData(name, text, tokenizer, train_ids, val_ids, train, val)
