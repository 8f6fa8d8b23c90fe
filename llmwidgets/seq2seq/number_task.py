"""Chapter 5's translation task: numbers in English words <-> Chinese numerals.

A small, real translation task whose every pair is known to be right, so accuracy is
exact. ``number_to_english(312) == "three hundred and twelve"`` (British, with "and")
and ``number_to_chinese(312) == "三百一十二"``, for 0..9999, in both directions.

Edge cases of the Chinese numerals (all written with 二, never the colloquial 两):

* 0 is 零; 10..19 drop the leading 一 (10 = 十, 11 = 十一) but inside a larger number
  the tens digit is always spoken (110 = 一百一十, 1010 = 一千零一十);
* a run of zeros *between* non-zero digits is one 零 (105 = 一百零五, 1005 = 一千零五,
  2050 = 二千零五十); trailing zeros are silent (1100 = 一千一百).

English: "and" before the last two digits when a hundred or thousand precedes them
(105 = "one hundred and five", 1005 = "one thousand and five"); 21..99 are hyphenated
("twenty-one"), and the hyphen is a token of its own.

* :func:`make_splits` holds out whole *ranges* of numbers (blocks of 100 above 1000), so
  the test set measures generalisation to combinations never seen in training;
* :class:`Vocab` and :class:`NumberTask` turn text into ids and back, refusing bad input
  with a ``ValueError``;
* :func:`encode_pairs` pads a batch (``<pad>`` in inputs, ``IGNORE = -100`` in targets)
  and builds the teacher-forcing pair ``tgt_in = <bos> + y``, ``tgt_out = y + <eos>``;
* :class:`Seq2SeqBatcher` and :class:`PackedSeq2Seq` let :class:`llmwidgets.Trainer`
  train an encoder-decoder; :func:`translate` and :func:`score_translations` use it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from llmwidgets.core.validate import check_int

__all__ = [
    "IGNORE",
    "NumberTask",
    "Seq2SeqBatcher",
    "Seq2SeqData",
    "Vocab",
    "encode_pairs",
    "make_pairs",
    "make_splits",
    "number_to_chinese",
    "number_to_english",
    "score_translations",
    "translate",
]

#: Target id that the loss skips (``F.cross_entropy``'s default ``ignore_index``).
IGNORE = -100
MAX_NUMBER = 9999
SPECIALS = ("<pad>", "<bos>", "<eos>")  # ids 0, 1, 2 in every vocabulary
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()  # fmt: skip
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
LANGS = ("en", "zh")


def _check_number(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"number must be an int in [0, {MAX_NUMBER}], got {n!r}")
    return n


def number_to_english(n: int) -> str:
    """British English words: 1005 -> "one thousand and five", 21 -> "twenty-one"."""
    n = _check_number(n)
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    hundreds, tail = divmod(rest, 100)
    words = [_ONES[thousands], "thousand"] if thousands else []
    words += [_ONES[hundreds], "hundred"] if hundreds else []
    if tail:
        if words:
            words.append("and")  # British: "and" before the last two digits
        ones = _ONES[tail % 10] if tail % 10 else ""
        words.append(_ONES[tail] if tail < 20 else _TENS[tail // 10] + ("-" + ones) * bool(ones))
    return " ".join(words)


def number_to_chinese(n: int) -> str:
    """Chinese numerals: 10 -> 十, 110 -> 一百一十, 105 -> 一百零五, 1005 -> 一千零五."""
    n = _check_number(n)
    if n == 0:
        return "零"
    if 10 <= n < 20:  # a leading 一十 is shortened to 十
        return "十" + (_ZH_DIGITS[n - 10] if n > 10 else "")
    parts: list[str] = []
    zero_pending = False  # a gap of zeros seen after a non-zero digit
    for value, unit in _ZH_UNITS:
        digit = n // value % 10
        if digit == 0:
            zero_pending = bool(parts)
            continue
        if zero_pending:
            parts.append("零")  # one 零 for the whole run of zeros
            zero_pending = False
        parts.append(_ZH_DIGITS[digit] + unit)
    return "".join(parts)


def tokenize(text: str, lang: str) -> list[str]:
    """English: lower-cased words, with "-" a token; Chinese: one token per character.

    Raises:
        ValueError: for a non-string, empty input, or a character outside the language.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    if not isinstance(text, str):
        raise ValueError(f"the input must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the input is empty: give a number in words, e.g. 'three hundred'")
    text = text.strip().lower() if lang == "en" else "".join(text.split())
    allowed = r"[a-z\s-]" if lang == "en" else "[" + _ZH_DIGITS + "十百千]"
    for i, ch in enumerate(text):
        if not re.fullmatch(allowed, ch):
            kind = "English number words" if lang == "en" else "Chinese numerals"
            raise ValueError(f"unknown character {ch!r} at position {i}: not used in {kind}")
    return re.findall(r"[a-z]+|-", text) if lang == "en" else list(text)


def detokenize(tokens: Sequence[str], lang: str) -> str:
    """The inverse of :func:`tokenize` for well-formed output."""
    return " ".join(tokens).replace(" - ", "-") if lang == "en" else "".join(tokens)


def render(n: int, lang: str) -> str:
    """The number ``n`` written in ``lang`` ("en" or "zh")."""
    return number_to_english(n) if lang == "en" else number_to_chinese(n)


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
    if direction not in ("en-zh", "zh-en"):
        raise ValueError(f"direction must be 'en-zh' or 'zh-en', got {direction!r}")
    src, tgt = direction.split("-")
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
        """Tokens of ``ids``, stopping at ``<eos>`` and skipping ``<pad>`` / ``<bos>``."""
        out = []
        for i in ids:
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
        make_pairs([0], direction)  # checks the direction
        self.direction, self.seed = direction, seed
        self.src_lang, self.tgt_lang = direction.split("-")
        self.splits = make_splits(seed)
        src = [tokenize(render(n, self.src_lang), self.src_lang) for n in range(MAX_NUMBER + 1)]
        tgt = [tokenize(render(n, self.tgt_lang), self.tgt_lang) for n in range(MAX_NUMBER + 1)]
        self.src_vocab = Vocab(t for tokens in src for t in tokens)
        self.tgt_vocab = Vocab(t for tokens in tgt for t in tokens)
        self.max_src_len = max(map(len, src))
        self.max_tgt_len = max(map(len, tgt))

    def encode_source(self, text: str) -> list[int]:
        """Ids of a source text; ``ValueError`` for empty, unknown or over-long input."""
        tokens = tokenize(text, self.src_lang)
        if len(tokens) > self.max_src_len:
            raise ValueError(
                f"the input has {len(tokens)} tokens, more than the {self.max_src_len} of the "
                f"longest number the model was trained on ({MAX_NUMBER})"
            )
        return self.src_vocab.encode(tokens)

    def decode_target(self, ids: Iterable[int]) -> str:
        return detokenize(self.tgt_vocab.decode(ids), self.tgt_lang)

    def pairs(self, split: str) -> list[tuple[str, str]]:
        if split not in self.splits:
            raise ValueError(f"split must be one of {sorted(self.splits)}, got {split!r}")
        return make_pairs(self.splits[split], self.direction)

    def dataset(self, split: str) -> Seq2SeqData:
        """The padded tensors of a split (padded to the task's longest sequences)."""
        ids = [
            (self.encode_source(s), self.tgt_vocab.encode(tokenize(t, self.tgt_lang)))
            for s, t in self.pairs(split)
        ]
        return encode_pairs(ids, min_lengths=(self.max_src_len, self.max_tgt_len + 1))


class Seq2SeqBatcher:
    """Random batches of a :class:`Seq2SeqData`, in the form :class:`llmwidgets.Trainer` takes.

    ``get_batch()`` returns ``x = (src, tgt_in)`` ((B, S) and (B, T)) and ``y = tgt_out``
    (B, T); the Trainer calls ``model(src, tgt_in)``. Rows are drawn with the batcher's own
    generator, whose state goes into checkpoints (exact resume).
    """

    def __init__(self, data: Seq2SeqData, batch_size: int, seed: int = 0) -> None:
        self.data = data
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.seed = check_int("seed", seed, 0)
        self.src_len = data.src.shape[1]
        self.generator = torch.Generator().manual_seed(self.seed)

    def _rows(self, rows: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor]:
        d = self.data
        return (d.src[rows], d.tgt_in[rows]), d.tgt_out[rows]

    def get_batch(self) -> tuple[tuple[Tensor, Tensor], Tensor]:
        rows = torch.randint(len(self.data), (self.batch_size,), generator=self.generator)
        return self._rows(rows)

    def fixed_batches(self, n: int):
        """The same ``n`` batches every call: consecutive rows, wrapping around."""
        for i in range(check_int("n", n, 1)):
            start = i * self.batch_size
            yield self._rows(torch.arange(start, start + self.batch_size) % len(self.data))

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "batch_size": self.batch_size,
                "seed": self.seed}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("batch_size") != self.batch_size:
            raise ValueError(
                f"batcher state has batch_size={state.get('batch_size')!r}, this batcher "
                f"{self.batch_size}"
            )
        self.seed = int(state["seed"])
        self.generator.set_state(state["generator"])


def translate(
    model: nn.Module, task: NumberTask, text: str, beam_width: int = 1, max_len: int | None = None
) -> str:
    """Translate one text: greedy decoding for ``beam_width=1``, else beam search.

    Raises:
        ValueError: for empty input, unknown characters or words, or input longer than
            any number of the task (see :meth:`NumberTask.encode_source`).
    """
    from llmwidgets.seq2seq.rnn import beam_search, greedy_decode

    src = torch.tensor([task.encode_source(text)])
    max_len = max_len or task.max_tgt_len + 1
    v = task.tgt_vocab
    if beam_width == 1:
        ids = greedy_decode(model, src, v.bos, v.eos, max_len)[0]
    else:
        ids = beam_search(model, src[0], v.bos, v.eos, beam_width, max_len)[0][0]
    return task.decode_target(ids)


def score_translations(hypotheses: Sequence[str], references: Sequence[str], tgt_lang: str):
    """Exact match (%), chrF and BLEU (sacrebleu; BLEU with its "zh" tokenizer for Chinese).

    Returns:
        ``{"exact_match": float, "chrF": float, "BLEU": float}``, all in 0..100.
    """
    import sacrebleu

    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    exact = (
        100.0 * sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(references)
    )
    tok = "zh" if tgt_lang == "zh" else "13a"
    bleu = sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize=tok)
    chrf = sacrebleu.corpus_chrf(list(hypotheses), [list(references)])
    return {"exact_match": exact, "chrF": chrf.score, "BLEU": bleu.score}
