"""Which numbers train and which test: held-out ranges, and samples even over digit counts.

* :func:`held_out_blocks` holds out whole *ranges* of numbers that share their two
  leading digits (for 4-digit numbers blocks of 100 such as 2300..2399, for 8-digit ones
  blocks of 10^6 such as 23000000..23999999), a few per digit count from 4 digits on, so
  the test measures generalisation to combinations never seen in training ("two
  thousand three hundred ..." / 二千三百 ...). Numbers below 1000 always train: they are
  the vocabulary of every larger number.
* :func:`make_splits` lists the numbers of each split. By default every number of the
  range (0..9999 gives 9,500 train, 200 val and 300 test numbers, as before); with
  ``train_size`` the training numbers are a sample spread **evenly over digit counts**,
  not over numbers - uniform over 0..10^8 would make nine in ten of them 8-digit numbers
  and leave too few short ones to learn from; a digit count with fewer training numbers
  than its share (0..9, 10..99, ...) gives all of them, and the rest is shared among the
  others. ``eval_size`` caps the val and test numbers of each digit count the same way.

Every draw comes from ``random.Random(seed)``, so the splits are reproducible.
"""

from __future__ import annotations

import bisect
import itertools
import random

from llmwidgets.core.validate import check_int, check_optional_int
from llmwidgets.seq2seq.number_words import MAX_NUMBER

__all__ = ["digit_count", "held_out_blocks", "make_splits"]

#: The most numbers :func:`make_splits` lists without a ``train_size``.
MAX_LISTED = 10**6


def digit_count(n: int) -> int:
    """The number of decimal digits of ``n`` >= 0 (0 has one)."""
    return len(str(check_int("n", n, 0)))


def _buckets(max_number: int) -> dict[int, range]:
    """The numbers 0..max_number by digit count: {1: 0..9, 2: 10..99, ...}."""
    out = {}
    for d in range(1, digit_count(max_number) + 1):
        out[d] = range(0 if d == 1 else 10 ** (d - 1), min(10**d, max_number + 1))
    return out


def held_out_blocks(
    seed: int = 0, n_test_blocks: int = 3, n_val_blocks: int = 2, block: int = 100,
    max_number: int = 9999,
) -> dict[str, list[range]]:  # fmt: skip
    """The held-out ranges of val and test: for every digit count d >= 4, blocks of
    ``block * 10**(d - 4)`` numbers drawn from the full blocks of that digit count.

    Args:
        seed: seed of the ``random.Random`` that draws the blocks (4 digits first, so the
            blocks of 0..9999 do not depend on ``max_number``).
        n_test_blocks: test blocks per digit count (>= 1).
        n_val_blocks: val blocks per digit count (>= 0).
        block: the size of a block of 4-digit numbers (100: the two leading digits).
        max_number: the end of the range, 9999..10^8. A digit count with too few full
            blocks (such as 10^8 alone) holds out nothing.

    Returns:
        ``{"val": [range, ...], "test": [range, ...]}``, in order of digit count.

    Raises:
        ValueError: for bad sizes, or when no digit count has blocks left to train on.
    """
    rng = random.Random(check_int("seed", seed, 0))
    n_test = check_int("n_test_blocks", n_test_blocks, 1)
    n_held = n_test + check_int("n_val_blocks", n_val_blocks, 0)
    block = check_int("block", block, 1)
    max_number = check_int("max_number", max_number, 9999, MAX_NUMBER)
    out: dict[str, list[range]] = {"val": [], "test": []}
    most = 0
    for d, numbers in _buckets(max_number).items():
        if d < 4:
            continue
        size = block * 10 ** (d - 4)
        starts = [s for s in range(numbers.start, numbers.stop, size) if s + size <= numbers.stop]
        most = max(most, len(starts))
        if n_held >= len(starts):
            continue
        chosen = rng.sample(starts, n_held)
        out["test"] += [range(s, s + size) for s in chosen[:n_test]]
        out["val"] += [range(s, s + size) for s in chosen[n_test:]]
    if not out["test"]:
        raise ValueError(f"{n_held} held-out blocks leave none of the {most} to train on")
    return out


def _without(numbers: range, holes: list[range]) -> list[range]:
    """``numbers`` minus the ranges ``holes``, as sorted disjoint ranges."""
    out, start = [], numbers.start
    for hole in _within(numbers, holes):
        if hole.start > start:
            out.append(range(start, hole.start))
        start = max(start, hole.stop)
    if start < numbers.stop:
        out.append(range(start, numbers.stop))
    return out


def _within(numbers: range, ranges: list[range]) -> list[range]:
    """The parts of ``ranges`` inside ``numbers``."""
    parts = (range(max(r.start, numbers.start), min(r.stop, numbers.stop)) for r in ranges)
    return sorted((r for r in parts if len(r)), key=lambda r: r.start)


def _pick(rng: random.Random, ranges: list[range], k: int | None) -> list[int]:
    """``k`` distinct numbers drawn uniformly from disjoint ``ranges`` (all of them when
    ``k`` is None or not smaller than their total), sorted."""
    ends = list(itertools.accumulate(len(r) for r in ranges))
    total = ends[-1] if ends else 0
    if k is None or k >= total:
        return [n for r in ranges for n in r]
    out = []
    for index in rng.sample(range(total), k):  # indices into the concatenated ranges
        j = bisect.bisect_right(ends, index)
        out.append(ranges[j][index - (ends[j - 1] if j else 0)])
    return sorted(out)


def _even_shares(sizes: list[int], total: int) -> list[int]:
    """``total`` split as evenly as possible over buckets of ``sizes``, none above its size."""
    shares, left = [0] * len(sizes), total
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])  # the smallest fill first
    for j, i in enumerate(order):
        open_ = len(order) - j
        shares[i] = min(sizes[i], left // open_ + (left % open_ > 0))
        left -= shares[i]
    return shares


def make_splits(
    seed: int = 0, n_test_blocks: int = 3, n_val_blocks: int = 2, block: int = 100,
    max_number: int = 9999, train_size: int | None = None, eval_size: int | None = None,
) -> dict[str, list[int]]:  # fmt: skip
    """Train / val / test numbers, holding out the ranges of :func:`held_out_blocks`.

    Args:
        seed, n_test_blocks, n_val_blocks, block, max_number: see :func:`held_out_blocks`.
        train_size: ``None`` for every training number (at most 10^6 of them), or that
            many, spread evenly over digit counts (see the module's docstring).
        eval_size: ``None`` for every held-out number, or at most that many val and test
            numbers per digit count, drawn uniformly from its held-out blocks.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, sorted lists of ints.

    Raises:
        ValueError: for bad sizes, a ``train_size`` above the number of training
            numbers, or a range too large to list without ``train_size``.
    """
    held = held_out_blocks(seed, n_test_blocks, n_val_blocks, block, max_number)
    train_size = check_optional_int("train_size", train_size, 1)
    eval_size = check_optional_int("eval_size", eval_size, 1)
    buckets = _buckets(max_number)
    train = [_without(numbers, held["val"] + held["test"]) for numbers in buckets.values()]
    sizes = [sum(map(len, ranges)) for ranges in train]
    if train_size is None and sum(sizes) > MAX_LISTED:
        raise ValueError(
            f"0..{max_number} has {sum(sizes)} training numbers, too many to list: give "
            "train_size, e.g. 50_000"
        )
    if train_size is not None and train_size > sum(sizes):
        raise ValueError(f"train_size={train_size} but 0..{max_number} has {sum(sizes)} "
                         "training numbers")  # fmt: skip
    rng = random.Random(seed + 1)  # the blocks' own generator is left to held_out_blocks
    shares = [None] * len(sizes) if train_size is None else _even_shares(sizes, train_size)
    out: dict[str, list[int]] = {
        "train": [n for ranges, k in zip(train, shares, strict=True) for n in _pick(rng, ranges, k)]
    }
    for name in ("val", "test"):
        ranges = [_within(numbers, held[name]) for numbers in buckets.values()]
        out[name] = [n for r in ranges for n in _pick(rng, r, eval_size)]
    return out
