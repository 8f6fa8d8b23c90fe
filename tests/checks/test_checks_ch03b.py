"""Notebook 03b's checks (tokenization): right answers pass, typical slips get their hint."""

from __future__ import annotations

import pytest
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def tokens_per_char_ok(encode, texts):
    return sum(len(encode(t)) for t in texts) / sum(len(t) for t in texts)


def byte_level_count_ok(text):
    parts = text.split("<|endoftext|>")
    return sum(len(p.encode("utf-8")) for p in parts) + len(parts) - 1


def fallback_count_ok(text, known):
    return sum(1 if ch in known else len(ch.encode("utf-8")) for ch in text)


def most_frequent_pair_ok(words):
    counts = {}
    for word, n in words.items():
        for i in range(len(word) - 1):
            pair = (word[i], word[i + 1])
            counts[pair] = counts.get(pair, 0) + n
    return max(counts, key=counts.get)


def merge_pair_ok(words, pair):
    out = {}
    for word, n in words.items():
        new = " ".join(word).replace(" ".join(pair), "".join(pair))
        out[tuple(new.split(" "))] = n
    return out


CHECKS = {
    "tokens_per_char": (checks.check_tokens_per_char, tokens_per_char_ok),
    "byte_level_count": (checks.check_byte_level_count, byte_level_count_ok),
    "fallback_count": (checks.check_fallback_count, fallback_count_ok),
    "most_frequent_pair": (checks.check_most_frequent_pair, most_frequent_pair_ok),
    "merge_pair": (checks.check_merge_pair, merge_pair_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ typical wrong answers


def special_as_bytes(text):
    return len(text.encode("utf-8"))


def special_forgotten(text):
    return len(text.replace("<|endoftext|>", "").encode("utf-8"))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda text: len(text), "does not start from characters"),
        (special_as_bytes, "never cuts it into pieces"),
        (special_forgotten, "the special token is a token of the sequence too"),
        (lambda text: len(text.encode("utf-8")) + 1, "count the tokens of this text by hand"),
        (lambda text: str(len(text)), "whole number"),
    ],
    ids=["characters", "special-as-bytes", "special-forgotten", "one-too-many", "string"],
)
def test_byte_level_count_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_byte_level_count, answer, hint, capsys)


def test_byte_level_count_handles_an_answer_that_counts_characters_around_specials(capsys):
    def chars_and_specials(text):
        return len(text.replace("<|endoftext|>", "")) + text.count("<|endoftext|>")

    assert_fails(checks.check_byte_level_count, chars_and_specials, "base alphabet", capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda text, known: len(text.encode("utf-8")), "byte fallback is a fallback"),
        (lambda text, known: len(text), "how many byte pieces is that"),
        (lambda text, known: sum(ch in known for ch in text), "how many byte pieces is that"),
        (
            lambda text, known: sum(1 if ch in known else 3 for ch in text),
            "character by character",
        ),
    ],
    ids=["all-bytes", "one-per-character", "unknown-dropped", "always-three"],
)
def test_fallback_count_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_fallback_count, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda e, ts: sum(map(len, ts)) / sum(len(e(t)) for t in ts), "divide the other way"),
        (
            lambda e, ts: sum(len(e(t)) for t in ts) / sum(len(t.encode()) for t in ts),
            "not UTF-8 bytes",
        ),
        (lambda e, ts: sum(len(e(t)) / len(t) for t in ts) / len(ts), "mean of the per-text"),
        (lambda e, ts: [len(e(t)) / len(t) for t in ts], "one number"),
        (lambda e, ts: 0.5, "wrong values"),
    ],
    ids=["inverted", "bytes", "mean-of-ratios", "list", "constant"],
)
def test_tokens_per_char_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_tokens_per_char, answer, hint, capsys)


def unweighted(words):
    return most_frequent_pair_ok({w: 1 for w in words})


def last_of_ties(words):
    counts = {}
    for word, n in words.items():
        for pair in zip(word, word[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + n
    top = max(counts.values())
    return [p for p, c in counts.items() if c == top][-1]


@pytest.mark.parametrize(
    "answer, hint",
    [
        (unweighted, "weight each pair"),
        (last_of_ties, "tie with count 9"),
        (lambda words: "es", "tuple of two symbols"),
        (lambda words: ("w", "i"), "('w', 'i') occurs 3 times, and another pair more often"),
    ],
    ids=["unweighted", "last-tie", "string", "constant"],
)
def test_most_frequent_pair_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_most_frequent_pair, answer, hint, capsys)


def merge_overlapping(words, pair):
    """Merges a a a into aa aa: every position that starts the pair."""
    out = {}
    for word, n in words.items():
        new = [
            word[i] + word[i + 1] if (word[i], word[i + 1]) == pair else word[i]
            for i in range(len(word) - 1)
        ]
        if not word[-2:] == pair or len(word) < 2:
            new.append(word[-1])
        out[tuple(new)] = n
    return out


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda words, pair: dict(words), "nothing was merged"),
        (lambda words, pair: {k: 1 for k in merge_pair_ok(words, pair)}, "keep each word's count"),
        (merge_overlapping, "do not overlap"),
        (lambda words, pair: list(merge_pair_ok(words, pair)), "return a new dict"),
    ],
    ids=["unchanged", "counts-lost", "overlapping", "list"],
)
def test_merge_pair_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_merge_pair, answer, hint, capsys)


def test_hints_do_not_show_the_answer(capsys):
    message = assert_fails(checks.check_most_frequent_pair, last_of_ties, "tie", capsys)
    assert "('e', 's')" not in message  # the pair seen first, which the check wants
    message = assert_fails(checks.check_merge_pair, merge_overlapping, "overlap", capsys)
    assert "'es', 't'" not in message  # the merged toy corpus


def test_merge_check_does_not_let_the_answer_spoil_its_cases(capsys):
    def destructive(words, pair):
        result = merge_pair_ok(words, pair)
        words.clear()  # edits the dict it was given
        return result

    checks.check_merge_pair(destructive)
    checks.check_most_frequent_pair(lambda words: most_frequent_pair_ok(words.copy()))
    assert capsys.readouterr().out.count("✓ correct") == 2
