"""Checks of notebook 06b (retrieval, question answering and recommendation): ranking
metrics by hand, what BM25 can match, the popularity baseline's hit rate from the
sessions' structure, and the best answer without the record.

The references are the package's own: :mod:`llmwidgets.apps.metrics` (recall@k, MRR,
NDCG@k), :class:`~llmwidgets.apps.retrieval.BM25Index`,
:class:`~llmwidgets.apps.recommend.SessionGenerator` (its exact next-item distribution)
and the generator of :mod:`llmwidgets.apps.records`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.apps.metrics import mrr, ndcg_at_k, recall_at_k
from llmwidgets.apps.qa import KINDS
from llmwidgets.apps.recommend import SessionConfig, SessionGenerator
from llmwidgets.apps.records import PLAYERS
from llmwidgets.apps.retrieval import BM25Index
from llmwidgets.checks._core import Hint, call, exercise, expect_close, one_number

__all__ = [
    "check_best_guess_accuracy",
    "check_can_match",
    "check_popularity_hit_rate",
    "check_ranking_by_hand",
]

#: Exercise 1's ranking (best first) and its relevant ids (99 is never retrieved).
RANKED = (12, 5, 40, 7, 3)
RELEVANT = frozenset({3, 5, 99})


@exercise("exercise 1 (ranking metrics by hand)")
def check_ranking_by_hand(ranking_by_hand: Callable[[], Any]) -> str:
    """Check ``ranking_by_hand() -> (recall@5, reciprocal rank, NDCG@5)`` for the ranking
    :data:`RANKED` and the relevant ids :data:`RELEVANT`, as three numbers."""
    got = ranking_by_hand()
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise Hint(f"return three numbers: (recall@5, reciprocal rank, NDCG@5), got {got!r:.60}")
    ranked, rel = [list(RANKED)], [set(RELEVANT)]
    found = [i for i in RANKED if i in RELEVANT]
    recall, rr, ndcg = (one_number(g, w) for g, w in zip(got, ("recall@5", "the reciprocal "
                        "rank", "NDCG@5"), strict=True))  # fmt: skip
    expect_close(recall, torch.tensor(recall_at_k(ranked, rel, 5), dtype=torch.float64),
                 "recall@5", wrong=[
        (torch.tensor(len(found) / len(RANKED)), "that is precision@5 (relevant ids among the "
         "5 returned); recall divides by the number of relevant ids"),
        (torch.tensor(1.0), "recall counts every relevant id, also the one the system never "
         "returned"),
    ])  # fmt: skip
    last = 1 / (RANKED.index(found[-1]) + 1)
    expect_close(rr, torch.tensor(mrr(ranked, rel), dtype=torch.float64), "the reciprocal rank",
                 wrong=[(torch.tensor(last), "the reciprocal rank is that of the FIRST "
                         "relevant id in the ranking")])  # fmt: skip
    dcg = sum(1 / math.log2(RANKED.index(i) + 2) for i in found)
    short_ideal = dcg / sum(1 / math.log2(r + 1) for r in range(1, len(found) + 1))
    no_log = sum(1 / (RANKED.index(i) + 1) for i in found) / sum(1 / r for r in (1, 2, 3))
    expect_close(ndcg, torch.tensor(ndcg_at_k(ranked, rel, 5), dtype=torch.float64), "NDCG@5",
                 wrong=[
        (torch.tensor(dcg), "divide the DCG by the DCG of the ideal ranking (NDCG is "
         "normalised to 1 for a perfect ranking)"),
        (torch.tensor(short_ideal), "the ideal ranking puts ALL relevant ids first, also the "
         "one the system never returned"),
        (torch.tensor(no_log), "the discount of rank r is 1 / log2(r + 1), not 1 / r"),
    ])  # fmt: skip
    return "recall@5, reciprocal rank and NDCG@5 as the package computes them"


_MATCH_CASES = (
    ("君子", ["君子不器", "小人", "子曰"], "char"),
    ("君子", ["君子不器", "小人", "子曰"], "bigram"),
    ("学而时习", ["学而时习之", "温故而知新", "习相远"], "bigram"),
    ("请教什么是孝", ["孟懿子问孝", "子游问孝", "父母唯其疾之忧"], "char"),
    ("请教什么是孝", ["孟懿子问孝", "子游问孝", "父母唯其疾之忧"], "bigram"),
    ("love of learning", ["Learning without thought", "love is", "thought"], "word"),
)


@exercise("exercise 2 (what BM25 can match)")
def check_can_match(can_match: Callable[[str, str, str], Any]) -> str:
    """Check ``can_match(query, doc, analyzer) -> bool``: whether BM25 with that analyzer
    gives ``doc`` a score above 0 for ``query`` (so that it can return it at all)."""
    n = 0
    for query, docs, how in _MATCH_CASES:
        scores = BM25Index(docs, how).scores(query)
        for doc, score in zip(docs, scores, strict=True):
            got = call(can_match, query, doc, how)
            if not isinstance(got, bool):
                raise Hint(f"return True or False, got {type(got).__name__}")
            if got != bool(score > 0):
                more = (" The analyzer decides what a term is: with 'bigram' a single shared "
                        "character is not a shared term." if how == "bigram" else "")  # fmt: skip
                raise Hint(
                    f"can_match({query!r}, {doc!r}, {how!r}) returned {got}. Cut both texts "
                    f"into terms with lw.apps.analyze(text, {how!r}) and compare.{more}"
                )
            n += 1
    return f"{n} query-document pairs, char, bigram and word terms"


def _popularity_hit_rate(config: SessionConfig, k: int) -> float:
    """The k largest probabilities of the sessions' item distribution, summed: a session
    starts with it and every next item keeps it (it is the chain's stationary distribution,
    which :meth:`SessionGenerator.next_item_probs` preserves), so it is every position's."""
    w = SessionGenerator(config).category_weights  # (n_categories,)
    items = w.repeat_interleave(config.per_category) / config.per_category  # (n_items,)
    return float(items.sort(descending=True).values[:k].sum())


@exercise("exercise 3 (the popularity baseline's hit rate)")
def check_popularity_hit_rate(popularity_hit_rate: Callable[[SessionConfig, int], Any]) -> str:
    """Check ``popularity_hit_rate(config, k)``: the expected hit rate@k of recommending the
    k items that are most viewed in the long run, for sessions made by
    ``SessionGenerator(config)``."""
    cases = [(SessionConfig(), 10), (SessionConfig(), 25), (SessionConfig(), 1),
             (SessionConfig(n_items=60, n_categories=3, p_next=0.2, p_same=0.2), 5),
             (SessionConfig(n_items=40, n_categories=8, p_next=0.0, p_same=0.0), 12)]  # fmt: skip
    for config, k in cases:
        w = torch.tensor([1 / (c + 1) for c in range(config.n_categories)], dtype=torch.float64)
        w = w / w.sum()
        jump_only = (1 - config.p_next - config.p_same) * _popularity_hit_rate(config, k)
        what = (f"n_items={config.n_items}, n_categories={config.n_categories}, "
                f"p_next={config.p_next}, p_same={config.p_same}, k={k}")  # fmt: skip
        expect_close(
            one_number(call(popularity_hit_rate, config, k), what),
            torch.tensor(_popularity_hit_rate(config, k), dtype=torch.float64),
            what,
            wrong=[
                (torch.tensor(min(k, config.per_category) * float(w[0])), "a category's "
                 "popularity is shared by its items: one item of category c is viewed with "
                 "1 / per_category of the category's probability"),
                (torch.tensor(jump_only), "not only the jumps: after a move within a category, "
                 "the next item is as likely to be a popular one as at a session's start. "
                 "What is the share of each category among all the items viewed?"),
            ],
        )  # fmt: skip
    return f"{len(cases)} configurations, k within one category and across several"


def _best_guesses() -> dict[str, float]:
    from llmwidgets.apps.records import _GOALS

    p = [_GOALS.count(g) / len(_GOALS) for g in range(6)]
    return {"crowd": 1 / (39999 - 1000 + 1), "venue": 1.0, "star": 1 / len(PLAYERS),
            "score": max(p) ** 2}  # fmt: skip


@exercise("exercise 4 (answering without the record)")
def check_best_guess_accuracy(best_guess_accuracy: Callable[[], Any]) -> str:
    """Check ``best_guess_accuracy() -> {kind: accuracy}``: for each kind of question, the
    highest expected exact-match accuracy of an answer given the question alone (the teams
    and the date) but not the record."""
    got = best_guess_accuracy()
    if not isinstance(got, dict) or set(got) != set(KINDS):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise Hint(f"return a dict with the keys {sorted(KINDS)}, got {keys}")
    ref = _best_guesses()
    hints = {
        "crowd": [(1 / 39999, "count the values random.randint(1000, 39999) can draw: both "
                   "ends are included"), (0.0, "tiny, but not 0: one crowd is the best guess")],
        "venue": [(1 / 16, "look at how make_matches chooses the venue: is it drawn at random?")],
        "star": [(1 / 16, "the player of the match is drawn from PLAYERS, not from the teams")],
        "score": [(1 / 36, "the goals are not uniform over 0..5: some counts are more likely"),
                  (3 / 12, "the score is two numbers: both must be right")],
    }  # fmt: skip
    for kind in KINDS:
        expect_close(
            one_number(got[kind], f"the {kind!r} questions"),
            torch.tensor(ref[kind], dtype=torch.float64),
            f"the {kind!r} questions",
            wrong=[(torch.tensor(v, dtype=torch.float64), h) for v, h in hints[kind]],
            atol=1e-9,
        )
    return "the four kinds: what the question alone can tell"
