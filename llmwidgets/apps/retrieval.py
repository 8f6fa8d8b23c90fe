"""Search: BM25 (a library), dense vectors from the book's GPT, and their fusion.

* :class:`BM25Index` - lexical search with ``bm25s`` (Lù 2024; its default "lucene"
  variant of Robertson's BM25, k1 = 1.5, b = 0.75). ``bm25s`` was chosen over
  ``rank-bm25`` because it is maintained (releases through 2026, ``rank-bm25``'s last
  is from 2022), needs only NumPy, and computes the same BM25 scores eagerly. Chinese has
  no spaces, so the text is cut into terms by :func:`analyze`: single characters
  (``"char"``, Classical Chinese is mostly one word per character), overlapping
  character pairs (``"bigram"``, the classic choice for Chinese IR, which keeps 君子
  apart from 君 and 子), both (``"char+bigram"``), or lower-cased words for English
  (``"word"``).
* :class:`DenseIndex` - cosine similarity of :func:`~llmwidgets.apps.features.embed_texts`
  vectors (mean-pooled final hidden states of a GPT trained on the corpus).
* :func:`reciprocal_rank_fusion` - a hybrid that needs no score calibration:
  ``score(d) = Σ_systems 1 / (k + rank_s(d))`` with k = 60 (Cormack, Clarke & Büttcher,
  SIGIR 2009); :class:`HybridIndex` fuses the rankings of several indexes.

Every index has ``scores(query) -> (N,) array`` and ``search(query, k) -> ids`` and
refuses an empty query clearly. BM25 returns only documents that share a term with the
query (possibly none); a dense index ranks every document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from llmwidgets.apps.features import embed_texts
from llmwidgets.core.validate import check_choice, check_int, check_real, check_str

__all__ = ["ANALYZERS", "BM25Index", "DenseIndex", "HybridIndex", "analyze",
           "reciprocal_rank_fusion"]  # fmt: skip

ANALYZERS = ("char", "bigram", "char+bigram", "word")
_WORD = re.compile(r"\w+")
_KEEP = re.compile(r"\w")  # letters, digits and Han characters; punctuation is dropped


def analyze(text: str, how: str = "char") -> list[str]:
    """Cut a text into search terms.

    Args:
        text: the text.
        how: one of :data:`ANALYZERS`: ``"char"`` (each letter / Han character),
            ``"bigram"`` (each pair of neighbouring characters within a run without
            punctuation), ``"char+bigram"`` (both), ``"word"`` (lower-cased ``\\w+`` runs).

    Returns:
        The terms, in text order (punctuation and spaces never are terms).
    """
    check_str("text", text, allow_empty=True)
    check_choice("how", how, ANALYZERS)
    if how == "word":
        return [w.lower() for w in _WORD.findall(text)]
    runs = re.split(r"\W+", text)  # punctuation ends a run: no bigram across it
    chars = [c for c in text if _KEEP.match(c)]
    bigrams = [run[i : i + 2] for run in runs for i in range(len(run) - 1)]
    return {"char": chars, "bigram": bigrams, "char+bigram": chars + bigrams}[how]


def _check_docs(docs: Sequence[str]) -> list[str]:
    if isinstance(docs, str) or not docs:
        raise ValueError("docs must be a non-empty list of texts")
    return [check_str(f"docs[{i}]", d) for i, d in enumerate(docs)]


def _top(scores: np.ndarray, k: int) -> list[int]:
    """The ids of the k highest scores, ties broken towards the lower id."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[: check_int("k", k, 1)]]


class BM25Index:
    """BM25 over a list of documents (``bm25s``).

    Args:
        docs: the documents (non-empty texts).
        analyzer: how texts become terms (:func:`analyze`).
        k1, b: BM25's term-frequency saturation and length normalisation.
    """

    def __init__(self, docs: Sequence[str], analyzer: str = "char", k1: float = 1.5,
                 b: float = 0.75) -> None:  # fmt: skip
        import bm25s

        self.docs = _check_docs(docs)
        self.analyzer = check_choice("analyzer", analyzer, ANALYZERS)
        self.bm25 = bm25s.BM25(k1=check_real("k1", k1, 0), b=check_real("b", b, 0, 1))
        self.bm25.index([analyze(d, analyzer) for d in self.docs], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every document for ``query``: shape (N,); 0 where no term
        of the query occurs.

        Raises:
            ValueError: for a query with no term at all (empty, or only punctuation).
        """
        terms = analyze(check_str("query", query), self.analyzer)
        if not terms:
            raise ValueError(f"the query {query!r:.40} has no search term ({self.analyzer!r})")
        known = [t for t in terms if t in self.bm25.vocab_dict]
        if not known:  # no document contains any term: every score is 0
            return np.zeros(len(self.docs))
        return np.asarray(self.bm25.get_scores(known), dtype=np.float64)

    def search(self, query: str, k: int = 10) -> list[int]:
        """The ids (positions in ``docs``) of the ``k`` best documents, best first.

        Only documents that contain a term of the query are returned, so the list may be
        shorter than ``k`` (empty when no document matches), as a search engine's is.
        """
        scores = self.scores(query)
        return [i for i in _top(scores, k) if scores[i] > 0]


class DenseIndex:
    """Cosine similarity of embeddings from the book's GPT.

    Args:
        model: a GPT trained on text like the documents'.
        tokenizer: its tokenizer; characters it does not know are skipped.
        docs: the documents.
        pooling: ``"mean"`` or ``"last"`` (:func:`~llmwidgets.apps.features.pool`).
    """

    def __init__(self, model: Any, tokenizer: Any, docs: Sequence[str], pooling: str = "mean"):
        self.docs = _check_docs(docs)
        self.model, self.tokenizer, self.pooling = model, tokenizer, pooling
        vectors = embed_texts(model, tokenizer, self.docs, pooling)
        self.vectors = torch.nn.functional.normalize(vectors, dim=1)  # (N, C), unit length

    def scores(self, query: str) -> np.ndarray:
        """Cosine similarity of the query with every document: shape (N,)."""
        check_str("query", query)
        q = embed_texts(self.model, self.tokenizer, [query], self.pooling)
        q = torch.nn.functional.normalize(q, dim=1)[0]  # (C,)
        return (self.vectors @ q).double().numpy()

    def search(self, query: str, k: int = 10) -> list[int]:
        """The ids of the ``k`` most similar documents, best first."""
        return _top(self.scores(query), k)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[int]:
    """Fuse rankings: ``score(d) = Σ 1 / (k + rank(d))`` over the rankings that hold d.

    Args:
        rankings: ranked lists of ids, best first (ranks start at 1).
        k: the smoothing constant (60, from Cormack et al. 2009).

    Returns:
        Every id of any ranking, by fused score (ties: the lower id first).
    """
    k = check_int("k", k, 0)
    if isinstance(rankings, str) or not rankings:
        raise ValueError("rankings must be a non-empty list of ranked lists")
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda d: (-fused[d], d))


class HybridIndex:
    """Reciprocal rank fusion of several indexes over the same documents.

    Args:
        indexes: e.g. ``[BM25Index(docs), DenseIndex(model, tok, docs)]``.
        k: RRF's constant.
        depth: how many results of each index are fused (all documents by default).
    """

    def __init__(self, indexes: Sequence[Any], k: int = 60, depth: int | None = None) -> None:
        if not indexes or len({len(ix.docs) for ix in indexes}) != 1:
            raise ValueError("indexes must be a non-empty list of indexes over the same documents")
        self.indexes, self.k = list(indexes), check_int("k", k, 0)
        self.docs = self.indexes[0].docs
        self.depth = len(self.docs) if depth is None else check_int("depth", depth, 1)

    def search(self, query: str, k: int = 10) -> list[int]:
        """The ids of the ``k`` best documents by fused rank."""
        check_int("k", k, 1)
        rankings = [ix.search(query, min(self.depth, len(self.docs))) for ix in self.indexes]
        return reciprocal_rank_fusion(rankings, self.k)[:k]
