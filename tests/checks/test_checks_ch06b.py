"""Notebook 06b's checks (retrieval, QA and recommendation): right answers pass, typical
slips get their hint."""

from __future__ import annotations

import math
import random

import pytest
import torch
from _helpers import contract_tests, expect_hint

from llmwidgets import apps, checks
from llmwidgets.apps.recommend import SessionConfig, SessionGenerator
from llmwidgets.apps.records import make_matches
from llmwidgets.checks import ch06b

# ------------------------------------------------------------------ correct answers


def ranking_ok():
    dcg = 1 / math.log2(3) + 1 / math.log2(6)  # relevant ids at ranks 2 and 5
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three relevant ids
    return 2 / 3, 1 / 2, dcg / ideal


def can_match_ok(query, doc, analyzer):
    return bool(set(apps.analyze(query, analyzer)) & set(apps.analyze(doc, analyzer)))


def popularity_ok(config, k):
    n, c = config.n_items, config.n_categories
    h = sum(1 / (i + 1) for i in range(c))
    item_p = sorted((1 / (i // (n // c) + 1) / h / (n // c) for i in range(n)), reverse=True)
    return sum(item_p[:k])


def best_guess_ok():
    return {"crowd": 1 / 39000, "venue": 1.0, "star": 1 / 22, "score": (3 / 12) ** 2}


CHECKS = {
    "ranking": (checks.check_ranking_by_hand, ranking_ok),
    "can_match": (checks.check_can_match, can_match_ok),
    "popularity": (checks.check_popularity_hit_rate, popularity_ok),
    "best_guess": (checks.check_best_guess_accuracy, best_guess_ok),
}

TestContract = contract_tests(CHECKS)


def test_ranking_reference_is_the_package_metric():
    ranked, rel = [[12, 5, 40, 7, 3]], [{3, 5, 99}]
    expected = (
        apps.recall_at_k(ranked, rel, 5),
        apps.mrr(ranked, rel),
        apps.ndcg_at_k(ranked, rel, 5),
    )
    assert ranking_ok() == pytest.approx(expected)


def test_popularity_reference_is_every_positions_distribution():
    """The check's formula (the jump distribution) is what sessions really show: it is
    preserved by the next-item distribution and matches a long run of sessions."""
    config = SessionConfig(n_items=40, n_categories=4)
    gen = SessionGenerator(config)
    jump = torch.tensor([ch06b._popularity_hit_rate(config, i + 1) for i in range(40)])
    probs = torch.diff(jump, prepend=torch.zeros(1))  # the sorted item probabilities
    stationary = gen.category_weights.repeat_interleave(10) / 10
    assert torch.allclose(probs.double(), stationary.sort(descending=True).values, atol=1e-6)
    moved = sum(stationary[i] * gen.next_item_probs(i) for i in range(40))
    assert torch.allclose(moved, stationary, atol=1e-12)
    seen = [i for s in gen.sessions(3000, seed=5) for i in s[1:]]
    top = set(torch.argsort(stationary, descending=True, stable=True)[:10].tolist())
    assert sum(i in top for i in seen) / len(seen) == pytest.approx(
        popularity_ok(config, 10), abs=0.01
    )


def test_best_guess_reference_matches_the_generator():
    matches = make_matches(20000, seed=3)
    assert all(m.venue == apps.records.GROUNDS[apps.records.TEAMS.index(m.home)] for m in matches)
    one_one = sum(m.home_goals == 1 and m.away_goals == 2 for m in matches) / len(matches)
    assert one_one == pytest.approx(1 / 16, abs=0.005)
    assert random.Random(0).randint(1000, 1000) == 1000  # randint includes both ends


# ------------------------------------------------------------------ typical slips


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda: (2 / 5, 1 / 2, ranking_ok()[2]), ["precision@5"]),
        (lambda: (1.0, 1 / 2, ranking_ok()[2]), ["never"]),
        (lambda: (2 / 3, 1 / 5, ranking_ok()[2]), ["FIRST"]),
        (lambda: (2 / 3, 1 / 2, 1 / math.log2(3) + 1 / math.log2(6)), ["ideal ranking"]),
        (lambda: (2 / 3, 1 / 2, (1 / math.log2(3) + 1 / math.log2(6)) / (1 + 1 / math.log2(3))),
         ["ALL relevant"]),
        (lambda: (2 / 3, 1 / 2, (1 / 2 + 1 / 5) / (1 + 1 / 2 + 1 / 3)), ["log2(r + 1)"]),
        (lambda: (2 / 3, 1 / 2), ["three numbers"]),
    ],
    ids=["precision", "recall 1", "last relevant", "dcg", "short ideal", "no log", "two"],
)  # fmt: skip
def test_ranking_hints(answer, words, capsys):
    expect_hint(checks.check_ranking_by_hand, answer, words, capsys)


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda q, d, a: bool(set(q) & set(d)), ["bigram"]),
        (lambda q, d, a: q in d, ["lw.apps.analyze"]),
        (lambda q, d, a: len(set(q) & set(d)), ["True or False"]),
    ],
    ids=["characters always", "substring", "a count"],
)
def test_can_match_hints(answer, words, capsys):
    expect_hint(checks.check_can_match, answer, words, capsys)


def _per_category_ignored(config, k):
    h = sum(1 / (i + 1) for i in range(config.n_categories))
    return min(k, config.per_category) / h


def _jumps_only(config, k):
    return (1 - config.p_next - config.p_same) * popularity_ok(config, k)


@pytest.mark.parametrize(
    "answer, words",
    [(_per_category_ignored, ["per_category"]), (_jumps_only, ["not only the jumps"]),
     (lambda c, k: k / c.n_items, ["wrong values"])],
    ids=["per category ignored", "jumps only", "uniform"],
)  # fmt: skip
def test_popularity_hints(answer, words, capsys):
    expect_hint(checks.check_popularity_hit_rate, answer, words, capsys)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"crowd": 1 / 39999}, ["both ends"]),
        ({"venue": 1 / 16}, ["chooses the venue"]),
        ({"star": 1 / 16}, ["PLAYERS"]),
        ({"score": 1 / 36}, ["not uniform"]),
        ({"score": 3 / 12}, ["two numbers"]),
    ],
    ids=["crowd", "venue", "star", "score uniform", "score one side"],
)
def test_best_guess_hints(change, words, capsys):
    expect_hint(
        checks.check_best_guess_accuracy, lambda: {**best_guess_ok(), **change}, words, capsys
    )


def test_best_guess_wrong_keys(capsys):
    expect_hint(checks.check_best_guess_accuracy, lambda: {"crowd": 0.0}, ["keys"], capsys)
