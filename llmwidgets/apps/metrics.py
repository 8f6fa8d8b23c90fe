"""Ranking metrics for search and recommendation, on ranked lists of ids.

A system returns, for each query, a ranked list of document (or item) ids, best first;
the labels say which ids are relevant. With ``ranked[q]`` the list for query ``q`` and
``relevant[q]`` its set of relevant ids (one id for next-item recommendation):

* :func:`recall_at_k` - the share of a query's relevant ids found in its top k, averaged
  over queries; with one relevant id it is the **hit rate@k** (:func:`hit_rate_at_k`);
* :func:`mrr` - the mean reciprocal rank: ``1 / rank`` of the first relevant id
  (0 when none is ranked at all), averaged over queries;
* :func:`ndcg_at_k` - normalised discounted cumulative gain with binary relevance:
  ``DCG = Σ_{r ≤ k, id_r relevant} 1 / log2(r + 1)``, divided by the DCG of a perfect
  ranking (all relevant ids first), averaged over queries (Järvelin & Kekäläinen 2002).

Ranks start at 1. A query with no relevant id, or a ranked list with repeats, is an error
(it would make the average silently mean something else).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence

from llmwidgets.core.validate import check_int

__all__ = ["hit_rate_at_k", "mrr", "ndcg_at_k", "recall_at_k"]


def _check(ranked: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]]):
    if isinstance(ranked, str) or not isinstance(ranked, Sequence) or not ranked:
        raise ValueError("ranked must be a non-empty list of ranked lists, one per query")
    if len(ranked) != len(relevant):
        raise ValueError(f"{len(ranked)} ranked lists but {len(relevant)} sets of relevant ids")
    rels = []
    for q, (r, rel) in enumerate(zip(ranked, relevant, strict=True)):
        if len(set(r)) != len(r):
            raise ValueError(f"the ranked list of query {q} repeats an id")
        rel = set(rel) if isinstance(rel, Collection) and not isinstance(rel, str) else {rel}
        if not rel:
            raise ValueError(f"query {q} has no relevant id: every query needs at least one")
        rels.append(rel)
    return rels


def recall_at_k(
    ranked: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> float:
    """Mean over queries of |top-k ∩ relevant| / |relevant|.

    Args:
        ranked: one ranked list of ids per query, best first.
        relevant: one set of relevant ids per query (a single id is accepted too).
        k: the cut-off, >= 1.

    Returns:
        A number in [0, 1].
    """
    k = check_int("k", k, 1)
    rels = _check(ranked, relevant)
    return sum(len(set(r[:k]) & rel) / len(rel) for r, rel in zip(ranked, rels, strict=True)) / len(
        rels
    )


def hit_rate_at_k(
    ranked: Sequence[Sequence[Hashable]], targets: Sequence[Hashable], k: int
) -> float:
    """The share of queries whose one target is in the top k (recall@k with one relevant id).

    Args:
        ranked: one ranked list per query.
        targets: the one right id of each query (the next item).
        k: the cut-off, >= 1.
    """
    return recall_at_k(ranked, [[t] for t in targets], k)


def mrr(ranked: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]]) -> float:
    """Mean reciprocal rank of the first relevant id (0 for a query where none is ranked)."""
    rels = _check(ranked, relevant)
    total = 0.0
    for r, rel in zip(ranked, rels, strict=True):
        first = next((i for i, d in enumerate(r, start=1) if d in rel), None)
        total += 0.0 if first is None else 1.0 / first
    return total / len(rels)


def ndcg_at_k(
    ranked: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> float:
    """Mean NDCG@k with binary relevance (see the module's docstring).

    Args:
        ranked: one ranked list per query.
        relevant: one set of relevant ids per query (a single id is accepted too).
        k: the cut-off, >= 1.

    Returns:
        A number in [0, 1]; with one relevant id, ``1 / log2(rank + 1)`` if rank <= k.
    """
    k = check_int("k", k, 1)
    rels = _check(ranked, relevant)
    total = 0.0
    for r, rel in zip(ranked, rels, strict=True):
        dcg = sum(1.0 / math.log2(i + 1) for i, d in enumerate(r[:k], start=1) if d in rel)
        ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, len(rel)) + 1))
        total += dcg / ideal
    return total / len(rels)
