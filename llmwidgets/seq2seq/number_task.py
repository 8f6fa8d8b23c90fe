"""Chapter 5's translation task: numbers 0..9999 as English words <-> Chinese numerals.

A small, real translation task whose every pair is known to be right, so accuracy is
exact. The number words and their grammar are :mod:`~llmwidgets.seq2seq.number_words`;
this module turns them into data:

* :func:`make_splits` holds out whole *ranges* of numbers (blocks of 100 above 1000), so
  the test set measures generalisation to combinations never seen in training;
* :class:`Vocab` and :class:`NumberTask` turn text into ids and back. ``encode_source``
  refuses, with the reason, any input that is not a number of the task (unknown words,
  over-long input, and anything outside the grammar, e.g. "ten thousand" or "twenty
  one"), so a model is never asked to translate what it cannot have learned;
* :func:`encode_pairs` pads a batch (``<pad>`` in inputs, ``IGNORE = -100`` in targets)
  and builds the teacher-forcing pair ``tgt_in = <bos> + y``, ``tgt_out = y + <eos>``;
* :class:`Seq2SeqBatcher` gives :class:`llmwidgets.Trainer` batches ``((src, tgt_in),
  tgt_out)``. Translating and scoring: :mod:`~llmwidgets.seq2seq.translation`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmwidgets.core.validate import check_choice, check_index, check_int
from llmwidgets.seq2seq.number_words import (  # noqa: F401 (number_to_*: old import path)
    MAX_NUMBER,
    detokenize,
    number_to_chinese,
    number_to_english,
    parse_number,
    render,
    tokenize,
)
from llmwidgets.training.row_batcher import RowBatcher

__all__ = [
    "IGNORE",
    "NumberTask",
    "Seq2SeqBatcher",
    "Seq2SeqData",
    "Vocab",
    "encode_pairs",
    "make_pairs",
    "make_splits",
]

#: Target id that the loss skips (``F.cross_entropy``'s default ``ignore_index``).
IGNORE = -100
SPECIALS = ("<pad>", "<bos>", "<eos>")  # ids 0, 1, 2 in every vocabulary
DIRECTIONS = ("en-zh", "zh-en")


def make_splits(
    seed: int = 0, n_test_blocks: int = 3, n_val_blocks: int = 2, block: int = 100
) -> dict[str, list[int]]:
    """Train / val / test numbers, holding out whole blocks of ``block`` numbers >= 1000.

    Numbers below 1000 always train (they are the vocabulary of the task); the blocks are
    drawn from 1000..9999 by ``random.Random(seed)``, so a held-out block such as
    2300..2399 means "two thousand three hundred ..." / 二千三百 is never seen in training.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, sorted lists of ints.
    """
    check_int("seed", seed, 0)
    block = check_int("block", block, 1)
    starts = list(range(1000, MAX_NUMBER + 1, block))
    n_held = check_int("n_test_blocks", n_test_blocks, 1) + check_int(
        "n_val_blocks", n_val_blocks, 0
    )
    if n_held >= len(starts):
        raise ValueError(f"{n_held} held-out blocks leave none of the {len(starts)} to train on")
    chosen = random.Random(seed).sample(starts, n_held)
    blocks = {"test": chosen[:n_test_blocks], "val": chosen[n_test_blocks:]}
    split = {n: name for name, s in blocks.items() for b in s for n in range(b, b + block)}
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for n in range(MAX_NUMBER + 1):
        out[split.get(n, "train")].append(n)
    return out


def make_pairs(numbers: Iterable[int], direction: str = "en-zh") -> list[tuple[str, str]]:
    """``(source text, target text)`` for each number; ``direction`` "en-zh" or "zh-en"."""
    src, tgt = check_choice("direction", direction, DIRECTIONS).split("-")
    return [(render(n, src), render(n, tgt)) for n in numbers]


class Vocab:
    """Token <-> id, with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2 first."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos = list(SPECIALS) + sorted(set(tokens) - set(SPECIALS))
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad, self.bos, self.eos = 0, 1, 2

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``; an unknown token raises ``ValueError`` naming it."""
        for i, tok in enumerate(tokens):
            if tok not in self.stoi or tok in SPECIALS:
                known = ", ".join(t for t in self.itos if t not in SPECIALS)
                raise ValueError(f"unknown word {tok!r} at position {i}; known words: {known}")
        return [self.stoi[t] for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``, stopping at ``<eos>`` and skipping ``<pad>`` / ``<bos>``.

        Raises:
            ValueError: for an id that is not an int in ``0..len(self) - 1`` (a negative
                id is not read from the end), naming its position.
        """
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        out = []
        for pos, i in enumerate(ids):
            i = check_index(f"ids[{pos}]", i, len(self), "tokens", owner="the vocabulary")
            if i == self.eos:
                break
            if i not in (self.pad, self.bos):
                out.append(self.itos[i])
        return out


@dataclass
class Seq2SeqData:
    """A padded dataset: ``src`` (N, S) with ``<pad>``, and the teacher-forcing pair
    ``tgt_in`` (N, T) = ``<bos>`` + y padded with ``<pad>``, ``tgt_out`` (N, T) =
    y + ``<eos>`` padded with :data:`IGNORE`."""

    src: Tensor
    tgt_in: Tensor
    tgt_out: Tensor

    def __len__(self) -> int:
        return self.src.shape[0]


def encode_pairs(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    pad: int = 0,
    bos: int = 1,
    eos: int = 2,
    min_lengths: tuple[int, int] = (0, 0),
) -> Seq2SeqData:
    """Pad id sequences into a :class:`Seq2SeqData` (every source must be non-empty).

    The widths are the longest source and the longest target + 1 (for ``<bos>`` /
    ``<eos>``), or at least ``min_lengths`` = (S, T).
    """
    if not pairs:
        raise ValueError("encode_pairs needs at least one (source ids, target ids) pair")
    S = max(min_lengths[0], *(len(s) for s, _ in pairs))
    T = max(min_lengths[1], *(len(t) + 1 for _, t in pairs))
    src = torch.full((len(pairs), S), pad, dtype=torch.long)
    tgt_in = torch.full((len(pairs), T), pad, dtype=torch.long)
    tgt_out = torch.full((len(pairs), T), IGNORE, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        if len(s) == 0:
            raise ValueError(f"pair {i} has an empty source")
        src[i, : len(s)] = torch.tensor(s)
        tgt_in[i, : len(t) + 1] = torch.tensor([bos, *t])  # shifted right: <bos> first
        tgt_out[i, : len(t) + 1] = torch.tensor([*t, eos])  # what each position predicts
    return Seq2SeqData(src, tgt_in, tgt_out)


class NumberTask:
    """The task in one direction: vocabularies, encoding and the datasets of a split.

    Args:
        direction: "en-zh" (English words -> Chinese numerals) or "zh-en".
        seed: seed of :func:`make_splits`.
    """

    def __init__(self, direction: str = "en-zh", seed: int = 0) -> None:
        self.direction = check_choice("direction", direction, DIRECTIONS)
        self.seed = check_int("seed", seed, 0)
        self.src_lang, self.tgt_lang = direction.split("-")
        self.splits = make_splits(seed)
        src = [tokenize(render(n, self.src_lang), self.src_lang) for n in range(MAX_NUMBER + 1)]
        tgt = [tokenize(render(n, self.tgt_lang), self.tgt_lang) for n in range(MAX_NUMBER + 1)]
        self.src_vocab = Vocab(t for tokens in src for t in tokens)
        self.tgt_vocab = Vocab(t for tokens in tgt for t in tokens)
        self.max_src_len = max(map(len, src))
        self.max_tgt_len = max(map(len, tgt))

    def encode_source(self, text: str) -> list[int]:
        """Ids of a source text that is a number of the task.

        Raises:
            ValueError: for empty input, unknown characters or words, input longer than
                any number of the task, or input outside the task's grammar or range
                ("ten thousand", "twenty one", 一千五 ...), each with the reason.
        """
        tokens = tokenize(text, self.src_lang)
        if len(tokens) > self.max_src_len:
            raise ValueError(
                f"the input has {len(tokens)} tokens, more than the {self.max_src_len} of the "
                f"longest number the model was trained on ({MAX_NUMBER})"
            )
        ids = self.src_vocab.encode(tokens)
        parse_number(text, self.src_lang)  # the grammar: refuse what is not a number
        return ids

    def decode_target(self, ids: Iterable[int]) -> str:
        """The target text of ``ids`` (see :meth:`Vocab.decode`; bad ids raise)."""
        return detokenize(self.tgt_vocab.decode(ids), self.tgt_lang)

    def pairs(self, split: str) -> list[tuple[str, str]]:
        """``(source text, target text)`` of every number of a split."""
        return make_pairs(self.splits[check_choice("split", split, sorted(self.splits))],
                          self.direction)  # fmt: skip

    def dataset(self, split: str) -> Seq2SeqData:
        """The padded tensors of a split (padded to the task's longest sequences)."""
        ids = [
            (self.src_vocab.encode(tokenize(s, self.src_lang)),
             self.tgt_vocab.encode(tokenize(t, self.tgt_lang)))
            for s, t in self.pairs(split)
        ]  # fmt: skip
        return encode_pairs(ids, min_lengths=(self.max_src_len, self.max_tgt_len + 1))


class Seq2SeqBatcher(RowBatcher):
    """Random batches of a :class:`Seq2SeqData`, in the form :class:`llmwidgets.Trainer` takes.

    ``get_batch()`` returns ``x = (src, tgt_in)`` ((B, S) and (B, T)) and ``y = tgt_out``
    (B, T); the Trainer calls ``model(src, tgt_in)``. Rows are drawn with the batcher's own
    generator, whose state goes into checkpoints (exact resume); ``fixed_batches(n)`` gives
    consecutive rows, wrapping around (:class:`~llmwidgets.training.row_batcher.RowBatcher`).
    """

    def __init__(self, data: Seq2SeqData, batch_size: int, seed: int = 0) -> None:
        super().__init__((data.src, data.tgt_in), data.tgt_out, batch_size, seed)
        self.data = data
        self.src_len = data.src.shape[1]
