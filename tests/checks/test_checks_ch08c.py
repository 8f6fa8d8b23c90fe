"""Notebook 08c's checks (privacy, interpretability): right answers pass, slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.analysis import exposure
from llmwidgets.text.tokenizers import CharTokenizer

# ------------------------------------------------------------------ correct answers


def exposure_ok(canary, candidates, *, ties_count=True, with_canary=True, log=math.log2):
    others = torch.as_tensor(candidates)
    rank = int((others >= canary).sum() if ties_count else (others > canary).sum()) + 1
    size = len(others) + (1 if with_canary else 0)
    return rank, (log(size) - log(rank)) / (math.log(2) if log is math.log else 1) * (
        math.log(2) if log is math.log else 1)  # fmt: skip


def unseen_ok(n_candidates):
    size = n_candidates + 1
    return math.log2(size) - sum(math.log2(r) for r in range(1, size + 1)) / size


def lens_ok(model, idx, layer, *, ln_f=True, offset=0):
    tr = model.transformer
    with torch.no_grad():
        x = tr.wte(idx) + tr.wpe(torch.arange(idx.shape[1]))
        for block in tr.h[: layer + offset]:
            x = block(x)
        return model.lm_head(tr.ln_f(x) if ln_f else x)


def previous_ok(attentions, offset=-1, first=False):
    out = []
    for a in attentions:
        d = a.diagonal(offset=offset, dim1=-2, dim2=-1)  # (B, H, T - 1)
        if first:
            d = torch.cat([torch.zeros_like(d[..., :1]), d], -1)
        out.append(d.mean(dim=(0, 2)))
    return torch.stack(out)


CHECKS = {
    "exposure": (checks.check_exposure, exposure_ok),
    "unseen_exposure": (checks.check_unseen_exposure, unseen_ok),
    "lens_at": (checks.check_lens_at, lens_ok),
    "previous_token_scores": (checks.check_previous_token_scores, previous_ok),
}

TestContract = contract_tests(CHECKS)


def test_the_exposure_rule_is_the_librarys():
    """A bigram table that knows nothing: every candidate ties, the canary ranks last."""

    class Uniform(torch.nn.Module):
        def forward(self, idx):
            return torch.zeros(*idx.shape, 11)

    tok = CharTokenizer("0123456789 ")
    rank, bits, size = exposure(Uniform(), tok, "1 2345", 4, candidates=99)
    assert exposure_ok(0.0, torch.zeros(99)) == (rank, bits) and size == 100


def test_unseen_exposure_is_the_mean_over_uniform_ranks():
    gen = torch.Generator().manual_seed(0)
    n, trials = 20, 20_000
    ranks = torch.randint(1, n + 2, (trials,), generator=gen).double()
    simulated = (math.log2(n + 1) - ranks.log2()).mean().item()
    assert abs(simulated - unseen_ok(n)) < 0.02
    assert abs(unseen_ok(100_000) - 1 / math.log(2)) < 1e-3  # the limit


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda c, o: exposure_ok(c, o, ties_count=False), "a tie counts against it"),
        (lambda c, o: exposure_ok(c, o, with_canary=False), "and the canary itself"),
        (lambda c, o: (exposure_ok(c, o)[0], exposure_ok(c, o)[1] * math.log(2)), "use log base 2"),
        (lambda c, o: (exposure_ok(c, o)[0] - 1, exposure_ok(c, o)[1]), "count from 1"),
        (lambda c, o: exposure_ok(c, o)[1], "return (rank, exposure_bits)"),
    ],
    ids=["ties", "size", "nats", "zero-based", "one-value"],
)
def test_exposure_hints(answer, hint, capsys):
    assert_fails(checks.check_exposure, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda n: 0.0, "not always ranked last"),
        (lambda n: 1 / math.log(2), "the limit for very many candidates"),
        (lambda n: math.log2(n + 1) - math.log2((n + 2) / 2), "not the rank itself"),
        (lambda n: unseen_ok(n) + 0.01, "wrong values"),
    ],
    ids=["last", "limit", "mean-rank", "off"],
)
def test_unseen_hints(answer, hint, capsys):
    assert_fails(checks.check_unseen_exposure, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda m, idx, layer: lens_ok(m, idx, layer, ln_f=False), "final LayerNorm"),
        (lambda m, idx, layer: lens_ok(m, idx, layer, offset=1), "0 is the embeddings alone"),
        (lambda m, idx, layer: m(idx), "wrong values"),
    ],
    ids=["no-ln_f", "off-by-one", "output"],
)
def test_lens_hints(answer, hint, capsys):
    assert_fails(checks.check_lens_at, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda att: previous_ok(att, offset=0), "the query's own position"),
        (lambda att: previous_ok(att, offset=1), "rows are queries"),
        (lambda att: previous_ok(att, first=True), "query 0 has no previous token"),
        (lambda att: previous_ok(att)[:, :1], "should have shape"),
    ],
    ids=["diagonal", "transposed", "query-0", "shape"],
)
def test_previous_token_hints(answer, hint, capsys):
    assert_fails(checks.check_previous_token_scores, answer, hint, capsys)
