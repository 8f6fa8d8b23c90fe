"""Checks of notebook 03b (tokenization): tokens per character, what a byte-level BPE and
sentencepiece's byte fallback spend before any merge, and the two steps of a BPE merge.

The library trains its subword tokenizers with SentencePiece and has no BPE step of its
own, so the references for the BPE exercises (:func:`_pair_counts`, :func:`_merge`) are
small independent oracles written here; so are the byte counts (:func:`_byte_level`,
:func:`_fallback`), which need no tokenizer library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, call, exercise, expect_close, one_number

__all__ = [
    "check_byte_level_count",
    "check_fallback_count",
    "check_merge_pair",
    "check_most_frequent_pair",
    "check_tokens_per_char",
]

Words = dict[tuple[str, ...], int]


def _pairs(text: str) -> list[int]:  # a toy tokenizer: one token per two characters
    return list(range(0, len(text), 2))


def _words(text: str) -> list[int]:  # a toy tokenizer: one token per word
    return [len(w) for w in text.split()]


@exercise("exercise 1 (tokens per character)")
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


#: GPT-2's special token between documents, one token of its own.
ENDOFTEXT = "<|endoftext|>"


def _count(value: Any, what: str) -> int:
    """A learner's token count as an int, or a :class:`Hint`."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise Hint(f"{what} should be a whole number of tokens, got {value!r:.40}")
    return int(value)


def _byte_level(text: str) -> int:
    """Tokens of a byte-level BPE without merges: one per UTF-8 byte, one per special."""
    parts = text.split(ENDOFTEXT)
    return sum(len(p.encode("utf-8")) for p in parts) + len(parts) - 1


@exercise("exercise 2 (byte-level BPE before any merge)")
def check_byte_level_count(my_byte_level_count: Callable[[str], Any]) -> str:
    """Check ``my_byte_level_count(text)``: the tokens a byte-level BPE spends on ``text``
    before it has learned any merge (its vocabulary: the 256 byte values and the special
    token ``<|endoftext|>``)."""
    texts = [
        "To be, or not",
        "子曰",
        "café",
        "🦜!",
        "a\n\nb",
        f"Speak.{ENDOFTEXT}子曰：学",
        f"{ENDOFTEXT}{ENDOFTEXT}",
        "ÿ",
    ]
    for text in texts:
        what = f"my_byte_level_count({text!r})"
        got = _count(call(my_byte_level_count, text), f"the result of {what}")
        if got == _byte_level(text):
            continue
        n_special = text.count(ENDOFTEXT)
        plain = text.replace(ENDOFTEXT, "")
        if got == len(text) or (n_special and got == len(plain) + n_special):
            raise Hint(
                f"{what}: a byte-level tokenizer does not start from characters. What is "
                "its base alphabet, and how many of its symbols does UTF-8 spend on a "
                "character such as é or 子?"
            )
        if n_special and got == len(text.encode("utf-8")):
            raise Hint(
                f"{what}: {ENDOFTEXT} is a special token, added to the vocabulary whole: "
                "the tokenizer never cuts it into pieces"
            )
        if n_special and got == _byte_level(text) - n_special:
            raise Hint(f"{what}: the special token is a token of the sequence too")
        raise Hint(
            f"{what} is not right: count the tokens of this text by hand, symbol by symbol, "
            "then compare with your function"
        )
    return f"{len(texts)} texts: ASCII, accents, Chinese, an emoji, newlines and {ENDOFTEXT}"


def _fallback(text: str, known: set[str]) -> int:
    """Tokens of a character vocabulary with byte fallback: 1 per known character,
    one per UTF-8 byte of every other character."""
    return sum(1 if ch in known else len(ch.encode("utf-8")) for ch in text)


@exercise("exercise 3 (byte fallback before any merge)")
def check_fallback_count(my_fallback_count: Callable[[str, set], Any]) -> str:
    """Check ``my_fallback_count(text, known)``: the tokens a sentencepiece model with byte
    fallback spends on ``text`` when it has a piece for every character in ``known`` and
    no longer pieces (no merges)."""
    cases = [
        ("子曰：学而时习之", set("子曰：学而时习之")),
        ("子曰：鑫", set("子曰：学")),
        ("café", set("abcdef")),
        ("🦜 ok", set(" ko")),
        ("abc", set()),
        ("Ω≈ç", set("Ω")),
    ]
    for text, known in cases:
        what = f"my_fallback_count({text!r}, known={''.join(sorted(known))!r})"
        got = _count(call(my_fallback_count, text, set(known)), f"the result of {what}")
        if got == _fallback(text, known):
            continue
        if got == len(text.encode("utf-8")):
            raise Hint(
                f"{what}: byte fallback is a fallback. Which characters get a piece of their "
                "own, and which ones need bytes?"
            )
        if got == len(text) or got == sum(ch in known for ch in text):
            raise Hint(
                f"{what}: a character outside the vocabulary has no piece of its own, and "
                "byte fallback spells it in its UTF-8 bytes: how many byte pieces is that?"
            )
        raise Hint(
            f"{what} is not right: go through the text character by character, and count "
            "what each one costs"
        )
    return f"{len(cases)} texts with known and unknown characters of 1 to 4 UTF-8 bytes"


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


@exercise("exercise 4 (most frequent pair)")
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


@exercise("exercise 5 (one BPE merge)")
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
