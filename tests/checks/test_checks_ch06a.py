"""Notebook 06a's checks (generation and automated writing): right answers pass, typical
slips get their hint."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from _helpers import contract_tests, expect_hint

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def all_true_ok(claim_rate, n_claims):
    rate = 1.0
    for _ in range(n_claims):
        rate *= claim_rate
    return rate


def swap_ok():
    return 100, 1


def rouge1_ok(prediction, reference):
    pred = Counter(re.findall(r"[a-z0-9]+", prediction.lower()))
    ref = Counter(re.findall(r"[a-z0-9]+", reference.lower()))
    shared = sum((pred & ref).values())
    if not shared:
        return 0.0
    return 2 * shared / (sum(pred.values()) + sum(ref.values()))  # 2PR/(P+R), simplified


def score_ok(score, home_goals, away_goals):
    return score == f"{max(home_goals, away_goals)}-{min(home_goals, away_goals)}"


CHECKS = {
    "all_true": (checks.check_all_true_rate, all_true_ok),
    "swap": (checks.check_swap_scores, swap_ok),
    "rouge1": (checks.check_rouge1, rouge1_ok),
    "score": (checks.check_score_claim, score_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ typical slips


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda p, n: p * n, ["AND"]),
        (lambda p, n: 1 - (1 - p) ** n, ["at least one"]),
        (lambda p, n: p, ["number of claims"]),
        (lambda p, n: [p, n], ["one number"]),
    ],
    ids=["sum", "at least one", "n ignored", "not a number"],
)
def test_all_true_hints(answer, words, capsys):
    expect_hint(checks.check_all_true_rate, answer, words, capsys)


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda: (1.0, 1), ["0..100"]),
        (lambda: (80.0, 1), ["whatever their order"]),
        (lambda: (100.0, 0), ["who the report says"]),
        (lambda: (100.0, 3), ["recount"]),
        (lambda: 100.0, ["two numbers"]),
    ],
    ids=["0..1 scale", "order counted", "result missed", "too many", "one value"],
)
def test_swap_hints(answer, words, capsys):
    expect_hint(checks.check_swap_scores, answer, words, capsys)


def _f1(pred, ref, clip=True):
    shared = sum((Counter(pred) & Counter(ref)).values()) if clip else sum(w in ref for w in pred)
    return 0.0 if not shared else 2 * shared / (len(pred) + len(ref))


@pytest.mark.parametrize(
    "answer, words",
    [
        (
            lambda p, r: _f1(
                re.findall("[a-z0-9]+", p.lower()), re.findall("[a-z0-9]+", r.lower()), False
            ),
            ["clip"],
        ),
        (
            lambda p, r: _f1(re.findall("[A-Za-z0-9]+", p), re.findall("[A-Za-z0-9]+", r)),
            ["lower-case"],
        ),
        (lambda p, r: _f1(p.lower().split(), r.lower().split()), ["runs of letters"]),
        (lambda p, r: 100 * rouge1_ok(p, r), ["0..1"]),
        (lambda p, r: 0.5, ["wrong values"]),
    ],
    ids=["unclipped", "case kept", "split on spaces", "percent", "constant"],
)
def test_rouge1_hints(answer, words, capsys):
    expect_hint(checks.check_rouge1, answer, words, capsys)


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda s, h, a: s == f"{h}-{a}", ["winner's goals first"]),
        (lambda s, h, a: h != a and score_ok(s, h, a), ["a draw"]),
        (lambda s, h, a: "yes", ["True or False"]),
    ],
    ids=["home first", "draws refused", "not a bool"],
)
def test_score_hints(answer, words, capsys):
    expect_hint(checks.check_score_claim, answer, words, capsys)
