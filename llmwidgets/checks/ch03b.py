"""Checks of notebook 03b (tokenization): a character tokenizer, tokens per character,
and the two steps of a BPE merge.

The library trains its subword tokenizers with SentencePiece and has no BPE step of its
own, so the references for the BPE exercises (:func:`_pair_counts`, :func:`_merge`) are
small independent oracles written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, call, exercise, expect_close, one_number, pair

__all__ = [
    "check_char_tokenizer",
    "check_merge_pair",
    "check_most_frequent_pair",
    "check_tokens_per_char",
]

Words = dict[tuple[str, ...], int]


@exercise("exercise 1 (character tokenizer)")
def check_char_tokenizer(my_char_tokenizer: Callable[[str], Any]) -> str:
    """Check ``my_char_tokenizer(text) -> (encode, decode)`` over the sorted characters.

    ``encode(s)`` gives the list of ids (the index of each character in
    ``sorted(set(text))``) and ``decode(ids)`` gives the string back.
    """
    texts = ["hello world", "子曰：学而时习之，不亦说乎？", "ba\nab ba"]
    for text in texts:
        encode, decode = pair(my_char_tokenizer(text), "return a pair (encode, decode)")
        chars = sorted(set(text))
        sample = text[::-1]  # other text made of the same characters
        expected = [chars.index(c) for c in sample]
        got = encode(sample)
        got = got.tolist() if hasattr(got, "tolist") else got
        if isinstance(got, str) or (got and all(isinstance(g, str) for g in got)):
            raise Hint("encode should return ids (ints), not characters")
        got = list(got)
        first_seen = list(dict.fromkeys(text))
        if got == [first_seen.index(c) for c in sample] and got != expected:
            raise Hint(
                f"for text {text!r} the ids follow the order in which characters first "
                "appear; sort the characters (sorted(set(text))) so ids do not depend on it"
            )
        if got == [i + 1 for i in expected]:
            raise Hint("ids start at 1; the first character of the vocabulary has id 0")
        if got != expected:
            raise Hint(
                f"for text {text!r}, encode({sample!r}) gave {got}: print your vocabulary "
                "and check a few ids by hand (a character's id is its place in the sorted "
                "vocabulary)"
            )
        back = decode(expected)
        if isinstance(back, list):
            raise Hint("decode should return one string: ''.join(...) the characters")
        if back != sample:
            raise Hint(f"decode(encode(s)) should give s back: for s = {sample!r} got {back!r}")
    return f"{len(texts)} texts (English, Chinese, newlines), ids in sorted order"


def _pairs(text: str) -> list[int]:  # a toy tokenizer: one token per two characters
    return list(range(0, len(text), 2))


def _words(text: str) -> list[int]:  # a toy tokenizer: one token per word
    return [len(w) for w in text.split()]


@exercise("exercise 2 (tokens per character)")
def check_tokens_per_char(my_tokens_per_char: Callable[..., Any]) -> str:
    """Check ``my_tokens_per_char(encode, texts)`` = total tokens / total characters."""
    cases = [
        (_pairs, ["abcdef"]),
        (_pairs, ["子曰学而时习之乎"]),
        (_words, ["to be or not to be", "a b", "question"]),
        (_pairs, ["abc", "子曰学而时习之乎", "x"]),
    ]
    for encode, texts in cases:
        what = f"{encode.__name__.lstrip('_')} on {texts}"
        got = one_number(call(my_tokens_per_char, encode, list(texts)), what)
        n_tok = sum(len(encode(t)) for t in texts)
        n_chr = sum(len(t) for t in texts)
        n_byt = sum(len(t.encode("utf-8")) for t in texts)
        mean_ratio = sum(len(encode(t)) / len(t) for t in texts) / len(texts)
        wrong = [
            (torch.tensor(n_chr / n_tok), "that is characters per token; divide the other way"),
            (
                torch.tensor(n_tok / n_byt),
                "count characters with len(text), not UTF-8 bytes: a Chinese character is 3 bytes",
            ),
            (
                torch.tensor(mean_ratio),
                "that is the mean of the per-text ratios, which gives a short text as much "
                "weight as a long one; divide the total tokens by the total characters",
            ),
        ]
        expect_close(got, torch.tensor(n_tok / n_chr), what, wrong)
    return f"{len(cases)} cases, several texts of different lengths"


def _pair_counts(words: Words) -> dict[tuple[str, str], int]:
    """Adjacent-pair counts, weighted by word counts, in first-seen order."""
    counts: dict[tuple[str, str], int] = {}
    for word, n in words.items():
        for adjacent in zip(word, word[1:], strict=False):
            counts[adjacent] = counts.get(adjacent, 0) + n
    return counts


def _merge(words: Words, merged_pair: tuple[str, str]) -> Words:
    """Replace each occurrence of ``merged_pair`` (left to right) by one merged symbol."""
    out: Words = {}
    for word, n in words.items():
        merged, i = [], 0
        while i < len(word):
            if tuple(word[i : i + 2]) == merged_pair:
                merged.append(merged_pair[0] + merged_pair[1])
                i += 2
            else:
                merged.append(word[i])
                i += 1
        out[tuple(merged)] = out.get(tuple(merged), 0) + n
    return out


_TOY_WORDS = {  # the classic example of Sennrich et al. (2016), one symbol per letter
    ("l", "o", "w"): 5,
    ("l", "o", "w", "e", "r"): 2,
    ("n", "e", "w", "e", "s", "t"): 6,
    ("w", "i", "d", "e", "s", "t"): 3,
}


@exercise("exercise 3 (most frequent pair)")
def check_most_frequent_pair(my_most_frequent_pair: Callable[[dict], Any]) -> str:
    """Check ``my_most_frequent_pair(words)``: the adjacent pair with the highest count.

    ``words`` maps a word, as a tuple of symbols, to how often it occurs. Each pair
    counts once per position and word occurrence; a tie goes to the pair seen first
    (words in order, each read left to right).
    """
    cases = [
        _TOY_WORDS,
        {("a", "b", "c"): 1, ("b", "c"): 1, ("a", "b"): 3},
        {("x", "y"): 2, ("a", "a", "a"): 1},  # "a a" at two positions: 2, a tie
        {("子", "曰"): 4, ("君", "子"): 3, ("曰", "君"): 5},
    ]
    for words in cases:
        counts = _pair_counts(words)
        best = max(counts, key=counts.__getitem__)
        got = my_most_frequent_pair(dict(words))
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Hint(f"return the pair as a tuple of two symbols, got {got!r}")
        got = tuple(got)
        if got == best:
            continue
        unweighted = _pair_counts({w: 1 for w in words})
        if got == max(unweighted, key=unweighted.__getitem__):
            raise Hint("weight each pair by how often its word occurs (the dict's values)")
        if counts.get(got) == counts[best]:
            raise Hint(
                f"{got} is one of several pairs that tie with count {counts[best]}: return "
                "the one seen first (words in order, each read left to right)"
            )
        raise Hint(
            f"for {words}, {got} occurs {counts.get(got, 0)} times, and another pair more "
            "often. Count every adjacent pair of every word, weighted by the word's count, "
            "and print the counts"
        )
    return f"{len(cases)} corpora, with ties and repeated symbols"


@exercise("exercise 4 (one BPE merge)")
def check_merge_pair(my_merge_pair: Callable[[dict, tuple], Any]) -> str:
    """Check ``my_merge_pair(words, pair)``: every occurrence of ``pair`` becomes one symbol.

    Occurrences are merged left to right without overlap (``a a a`` with the pair
    ``(a, a)`` gives ``aa a``); the counts stay with their words.
    """
    cases = [
        (_TOY_WORDS, ("e", "s")),
        (_merge(_TOY_WORDS, ("e", "s")), ("es", "t")),
        ({("a", "a", "a"): 2, ("b", "a", "a"): 1}, ("a", "a")),
        ({("子", "曰"): 4, ("子",): 2}, ("子", "曰")),
    ]
    for words, merged_pair in cases:
        got = my_merge_pair(dict(words), merged_pair)
        if not isinstance(got, dict):
            raise Hint(f"return a new dict word -> count, got {type(got).__name__}")
        got = {tuple(w): n for w, n in got.items()}
        if got == _merge(words, merged_pair):
            continue
        if got == words:
            raise Hint(f"nothing was merged for the pair {merged_pair}")
        if sum(got.values()) != sum(words.values()):
            raise Hint("keep each word's count: the total number of words must not change")
        raise Hint(
            f"merging {merged_pair} in {words} gave {got}, which is not right: merge left "
            "to right, and skip past a merged pair so occurrences do not overlap"
        )
    return f"{len(cases)} merges, including overlapping occurrences"
