"""Chapter 5's translation task: numbers as English words <-> Chinese numerals.

A small, real translation task whose every pair is known to be right, so accuracy is
exact. The number words are :mod:`~llmwidgets.seq2seq.number_words` (0..10^8) and their
grammar :mod:`~llmwidgets.seq2seq.number_parser`; this module turns them into data:

* :class:`NumberTask` is one direction over a range: 0..9999 by default (every number,
  as the notebook's CPU runs need), or up to 10^8 with ``max_number`` for a harder task
  whose long inputs tell the models apart. Its splits hold out whole ranges of numbers
  (:mod:`~llmwidgets.seq2seq.number_splits`), so the test set measures generalisation;
  a large range trains on a sample of its numbers, spread evenly over digit counts;
* :class:`Vocab` and :meth:`NumberTask.encode_source` turn text into ids. The source is
  refused, with the reason, unless it is a number of the task (unknown words, over-long
  input, anything outside the grammar or the task's range, e.g. "ten thousand" for
  0..9999, or "twenty one"), so a model is never asked to translate what it cannot
  have learned;
* :func:`encode_pairs` pads a batch (``<pad>`` in inputs, ``IGNORE = -100`` in targets)
  and builds the teacher-forcing pair ``tgt_in = <bos> + y``, ``tgt_out = y + <eos>``;
* :class:`Seq2SeqBatcher` gives :class:`llmwidgets.Trainer` batches ``((src, tgt_in),
  tgt_out)``. Translating and scoring: :mod:`~llmwidgets.seq2seq.translation`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmwidgets.core.validate import check_choice, check_index, check_int, check_optional_int
from llmwidgets.seq2seq.number_parser import parse_number
from llmwidgets.seq2seq.number_splits import held_out_blocks, make_splits
from llmwidgets.seq2seq.number_words import (  # noqa: F401 (number_to_*: old import path)
    MAX_NUMBER,
    detokenize,
    number_to_chinese,
    number_to_english,
    render,
    tokenize,
)
from llmwidgets.training.row_batcher import RowBatcher

__all__ = [
    "DEFAULT_TRAIN_SIZE",
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
#: The training sample of a task whose range has more training numbers than this.
DEFAULT_TRAIN_SIZE = 50_000


def make_pairs(numbers: Iterable[int], direction: str = "en-zh") -> list[tuple[str, str]]:
    """``(source text, target text)`` for each number; ``direction`` "en-zh" or "zh-en".

    Args:
        numbers: ints in 0..10^8.
        direction: "en-zh" or "zh-en".

    Returns:
        The pairs, in the order of ``numbers``.
    """
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


def _longest_forms(max_number: int) -> list[int]:
    """Numbers whose words hold every token and every length of 0..max_number.

    The length of a number's words depends only on which digits are 0, 1 or more (a
    digit 2..9 is one word or character, and so is 2), so the numbers of digits 0, 1, 2
    up to ``max_number`` reach the longest form; 0..9999 add every digit word.
    """
    small = range(min(max_number, 9999) + 1)
    digits = len(str(max_number))
    patterns = (p for d in range(1, digits + 1) for p in itertools.product("012", repeat=d))
    forms = {int("".join(p)) for p in patterns}
    return sorted({*small, *(n for n in forms if n <= max_number), max_number})


class NumberTask:
    """The task in one direction over 0..``max_number``: vocabularies, encoding, datasets.

    Args:
        direction: "en-zh" (English words -> Chinese numerals) or "zh-en".
        seed: seed of the held-out ranges and the samples (:func:`make_splits`).
        max_number: the end of the range, 9999 (the default) .. 10^8 (一亿).
        train_size: ``None`` for every training number when there are at most
            :data:`DEFAULT_TRAIN_SIZE` (as for 0..9999), else a sample of that many; an int
            for a sample of that many. Samples are spread evenly over digit counts.
        eval_size: the most val and test numbers per digit count (all when fewer; 0..9999
            has 200 and 300, all of them).

    The vocabularies hold the words of the range only, and ``max_src_len`` /
    ``max_tgt_len`` are its longest forms (8 and 7 tokens for 0..9999, 17 and 15 for
    0..10^8), the width of every dataset.
    """

    def __init__(
        self, direction: str = "en-zh", seed: int = 0, max_number: int = 9999,
        train_size: int | None = None, eval_size: int = 300,
    ) -> None:  # fmt: skip
        self.direction = check_choice("direction", direction, DIRECTIONS)
        self.seed = check_int("seed", seed, 0)
        self.max_number = check_int("max_number", max_number, 9999, MAX_NUMBER)
        train_size = check_optional_int("train_size", train_size, 1)
        self.eval_size = check_int("eval_size", eval_size, 1)
        self.src_lang, self.tgt_lang = direction.split("-")
        self.held_out = held_out_blocks(seed, max_number=self.max_number)
        held = sum(len(r) for ranges in self.held_out.values() for r in ranges)
        if train_size is None and self.max_number + 1 - held > DEFAULT_TRAIN_SIZE:
            train_size = DEFAULT_TRAIN_SIZE
        self.train_size = train_size
        self.splits = make_splits(seed, max_number=self.max_number, train_size=train_size,
                                  eval_size=self.eval_size)  # fmt: skip
        forms = _longest_forms(self.max_number)
        src = [tokenize(render(n, self.src_lang), self.src_lang) for n in forms]
        tgt = [tokenize(render(n, self.tgt_lang), self.tgt_lang) for n in forms]
        self.src_vocab = Vocab(t for tokens in src for t in tokens)
        self.tgt_vocab = Vocab(t for tokens in tgt for t in tokens)
        self.max_src_len = max(map(len, src))
        self.max_tgt_len = max(map(len, tgt))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name} {len(numbers)}" for name, numbers in self.splits.items())
        return f"NumberTask({self.direction!r}, 0..{self.max_number}: {sizes})"

    def encode_source(self, text: str) -> list[int]:
        """Ids of a source text that is a number of the task.

        Args:
            text: a number of the task in the source language.

        Returns:
            Its token ids (without ``<bos>`` / ``<eos>``).

        Raises:
            ValueError: for empty input, unknown characters or words, input longer than
                any number of the task, or input outside the task's grammar or range
                ("ten thousand" for 0..9999, "twenty one", 一千五 ...), each with the reason.
        """
        tokens = tokenize(text, self.src_lang)
        if len(tokens) > self.max_src_len:
            raise ValueError(
                f"the input has {len(tokens)} tokens, more than the {self.max_src_len} of the "
                f"longest number of the task (0..{self.max_number})"
            )
        parse_number(text, self.src_lang, self.max_number)  # refuse what is not a number
        return self.src_vocab.encode(tokens)

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
