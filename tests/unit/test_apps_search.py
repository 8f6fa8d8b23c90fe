"""llmwidgets.apps: ranking metrics, BM25 / dense / hybrid search, features, recommendation."""

from __future__ import annotations

import math

import pytest
import torch
from _apps_helpers import tiny_gpt

from llmwidgets.apps import recommend as rc
from llmwidgets.apps.features import embed_texts, hidden_states, pool
from llmwidgets.apps.metrics import hit_rate_at_k, mrr, ndcg_at_k, recall_at_k
from llmwidgets.apps.retrieval import (
    BM25Index,
    DenseIndex,
    HybridIndex,
    analyze,
    reciprocal_rank_fusion,
)
from llmwidgets.apps.search_data import LUNYU_QUERIES, lunyu_passages, relevant_passages
from llmwidgets.text.tokenizers import CharTokenizer

# --- metrics, on hand-computed cases ---

RANKED = [[3, 1, 2, 0], [0, 2, 1, 3]]
RELEVANT = [{1, 0}, {3}]


def test_recall_at_k() -> None:
    assert recall_at_k(RANKED, RELEVANT, 1) == 0.0
    assert recall_at_k(RANKED, RELEVANT, 2) == pytest.approx((1 / 2 + 0) / 2)
    assert recall_at_k(RANKED, RELEVANT, 4) == 1.0


def test_mrr() -> None:
    assert mrr(RANKED, RELEVANT) == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert mrr([[5, 6]], [{7}]) == 0.0  # never ranked: reciprocal rank 0


def test_ndcg_at_k() -> None:
    # Query 0: relevant at ranks 2 and 4; ideal: ranks 1 and 2.
    q0 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    q1 = (1 / math.log2(5)) / 1  # one relevant id, at rank 4
    assert ndcg_at_k(RANKED, RELEVANT, 4) == pytest.approx((q0 + q1) / 2)
    assert ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx(
        (1 / math.log2(3) / (1 + 1 / math.log2(3))) / 2
    )


def test_hit_rate_is_recall_with_one_target() -> None:
    assert hit_rate_at_k([[4, 2, 9], [1, 2, 3]], [2, 7], 2) == 0.5
    assert hit_rate_at_k([[4, 2, 9], [1, 2, 3]], [2, 7], 1) == 0.0


# --- retrieval ---


def test_analyze() -> None:
    assert analyze("学而，时习", "char") == ["学", "而", "时", "习"]
    assert analyze("学而，时习", "bigram") == ["学而", "时习"]  # no pair across punctuation
    assert analyze("君子不器", "char+bigram")[4:] == ["君子", "子不", "不器"]
    assert analyze("Ashford beat Carlow", "word") == ["ashford", "beat", "carlow"]


def test_bm25_scores_match_the_formula() -> None:
    docs = ["a b", "a a c", "c d e f"]
    ix = BM25Index(docs, analyzer="word", k1=1.5, b=0.75)
    n, avgdl = 3, (2 + 3 + 4) / 3

    def term(tf: int, df: int, dl: int) -> float:  # Lucene's BM25, as bm25s computes it
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))

    want = [term(1, 2, 2), term(2, 2, 3), 0.0]
    assert ix.scores("a").tolist() == pytest.approx(want, rel=1e-5)
    assert ix.search("a c", k=3) == [1, 0, 2]  # the short doc 0 beats doc 2 (same idf)
    assert ix.search("b", k=3) == [0]  # only documents that contain a query term
    assert ix.search("z", k=3) == [] and ix.scores("z").tolist() == [0.0, 0.0, 0.0]


def test_rrf_on_a_hand_computed_case() -> None:
    # d1: 1/61 + 1/63; d2: 1/62 + 1/61; d3: 1/63 + 1/62 -> d2 > d1 > d3.
    assert reciprocal_rank_fusion([[1, 2, 3], [2, 3, 1]]) == [2, 1, 3]
    assert reciprocal_rank_fusion([[1], [2]]) == [1, 2]  # a tie: the lower id first


def test_dense_and_hybrid_search_find_an_identical_document() -> None:
    docs = ["子曰学而时习之", "有朋自远方来", "人不知而不愠"]
    tok = CharTokenizer("".join(docs))
    dense = DenseIndex(tiny_gpt(tok.vocab_size, block_size=8), tok, docs)
    assert dense.search("有朋自远方来", k=1) == [1]
    assert dense.scores("有朋自远方来")[1] == pytest.approx(1.0, abs=1e-5)
    hybrid = HybridIndex([BM25Index(docs), dense])
    assert hybrid.search("有朋自远方来", k=3)[0] == 1


def test_lunyu_queries_have_relevant_passages() -> None:
    passages = lunyu_passages()
    assert len(passages) == 512 and passages[0].id == "学而篇 1"
    sizes = [len(relevant_passages(passages, q.key)) for q in LUNYU_QUERIES]
    assert len(sizes) == 24 and min(sizes) >= 2
    assert relevant_passages(passages, "问孝") == {i for i, p in enumerate(passages)
                                                  if "问孝" in p.text}  # fmt: skip


# --- features ---


def test_hidden_states_are_what_the_head_reads() -> None:
    model = tiny_gpt(11, block_size=8).eval()
    idx = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model.lm_head(hidden_states(model, idx)), model(idx), atol=1e-6)


def test_pool_ignores_padding() -> None:
    h = torch.arange(12.0).view(2, 3, 2)  # rows: [[0,1],[2,3],[4,5]], [[6,7],[8,9],[10,11]]
    lengths = torch.tensor([2, 3])
    assert pool(h, lengths, "mean").tolist() == [[1.0, 2.0], [8.0, 9.0]]
    assert pool(h, lengths, "last").tolist() == [[2.0, 3.0], [10.0, 11.0]]


def test_embed_texts_averages_windows_of_a_long_text() -> None:
    tok = CharTokenizer("abcdefgh")
    model = tiny_gpt(tok.vocab_size, block_size=4).eval()
    got = embed_texts(model, tok, ["abcdefg", "zab"])  # z is unknown: skipped
    h1 = hidden_states(model, torch.tensor([tok.encode("abcd")]))[0]
    h2 = hidden_states(model, torch.tensor([tok.encode("efg")]))[0]
    assert torch.allclose(got[0], torch.cat([h1, h2]).mean(dim=0), atol=1e-5)
    h3 = hidden_states(model, torch.tensor([tok.encode("ab")]))[0]
    assert torch.allclose(got[1], h3.mean(dim=0), atol=1e-5)


# --- recommendation ---

SMALL = rc.SessionConfig(n_items=6, n_categories=2, p_next=0.5, p_same=0.3, min_len=3, max_len=5)


def test_next_item_probs_by_hand() -> None:
    probs = rc.SessionGenerator(SMALL).next_item_probs(2)  # item 2: last of category 0
    # Jump (0.2): category 0 with weight 2/3, 1 with 1/3, then 1/3 per item.
    jump0, jump1 = 0.2 * (2 / 3) / 3, 0.2 * (1 / 3) / 3
    want = [jump0 + 0.1 + 0.5, jump0 + 0.1, jump0 + 0.1, jump1, jump1, jump1]  # 2 -> 0 wraps
    assert probs.tolist() == pytest.approx(want)
    assert probs.sum().item() == pytest.approx(1.0)


def test_sessions_are_seeded_and_within_bounds() -> None:
    gen = rc.SessionGenerator(SMALL)
    a = gen.sessions(20, seed=1)
    assert a == gen.sessions(20, seed=1) and a != gen.sessions(20, seed=2)
    assert all(3 <= len(s) <= 5 and all(0 <= i < 6 for i in s) for s in a)


def test_session_examples_predict_every_next_item() -> None:
    x, y = rc.session_examples([[1, 2, 3], [4, 5]], n_items=6)
    assert x.tolist() == [[6, 1, 2], [6, 4, 6]]
    assert y.tolist() == [[1, 2, 3], [4, 5, -100]]


def test_scores_and_rankings() -> None:
    pop = rc.popularity_scores([[1, 1, 2], [2, 2]], n_items=4)
    assert pop.tolist() == [0, 2, 3, 0]
    assert rc.top_items(pop.expand(2, -1), 3) == [[2, 1, 0], [2, 1, 0]]  # tie 0/3: 0 first
    gen = rc.SessionGenerator(SMALL)
    oracle = rc.oracle_scores(gen, [[0, 2, 1]])
    assert torch.allclose(oracle[0], gen.next_item_probs(2).float())
    assert rc.top_items(oracle, 1) == [[0]]


def test_next_item_scores_read_the_last_position() -> None:
    model = tiny_gpt(7, block_size=8).eval()
    sessions = [[1, 2, 3], [4, 5]]
    scores = rc.next_item_scores(model, sessions, n_items=6)
    direct = model(torch.tensor([[6, 4]]))[0, -1, :6]
    assert scores.shape == (2, 6) and torch.allclose(scores[1], direct, atol=1e-5)


# --- the layer ---


def test_apps_imports_only_the_layers_below_and_only_the_facade_imports_it() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "llmwidgets"
    allowed = {"apps", "core", "nn", "text", "training"}
    for path in (root / "apps").glob("*.py"):
        used = set(re.findall(r"^\s*from llmwidgets\.(\w+)", path.read_text(), re.M))
        assert used <= allowed, (path.name, used - allowed)
    # import statements only (a docstring may name llmwidgets.apps)
    imports_apps = re.compile(
        r"^\s*(from llmwidgets\.apps\b|from llmwidgets import .*\bapps\b|import llmwidgets\.apps)",
        re.M,
    )
    importers = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if p.parent.name != "apps" and imports_apps.search(p.read_text())
    }
    assert importers <= {"__init__.py"} | {p for p in importers if p.startswith("checks/")}


def test_every_public_name_of_apps_exists() -> None:
    from llmwidgets import apps

    assert [n for n in apps.__all__ if not hasattr(apps, n)] == []
    assert len(set(apps.__all__)) == len(apps.__all__)
