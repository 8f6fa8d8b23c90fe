"""Checks of notebook 08c (privacy and interpretability): a canary's exposure, the exposure
of a canary the model never saw, the logit lens at one depth, and previous-token scores.

The references are the library's :func:`~llmwidgets.analysis.memorization.exposure` (its
rank rule: ties count against the canary) and :func:`~llmwidgets.analysis.logit_lens`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.analysis.interpret import logit_lens
from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    call,
    exercise,
    expect_close,
    fixed_seed,
    one_number,
    pair,
    tiny_gpt_config,
)
from llmwidgets.nn.gpt import GPT

__all__ = [
    "check_exposure",
    "check_lens_at",
    "check_previous_token_scores",
    "check_unseen_exposure",
]


def _rank(canary: float, others: torch.Tensor) -> int:
    """Carlini et al.'s rank: 1 + the candidates scored at least as likely (ties count)."""
    return int((others >= canary).sum()) + 1


@exercise("exercise 1 (a canary's exposure)")
def check_exposure(my_exposure: Callable[[float, torch.Tensor], Any]) -> str:
    """Check ``my_exposure(canary_score, candidate_scores)``: ``(rank, exposure_bits)``.

    ``canary_score`` is the model's log-likelihood of the canary's secret, and
    ``candidate_scores`` those of the other secrets of R (the candidates; R is them and
    the canary). The rank counts the canary and every candidate scored at least as high
    (1 = the likeliest); the exposure is ``log2 |R| - log2 rank``.
    """
    gen = torch.Generator().manual_seed(4)
    others = torch.randn(999, generator=gen, dtype=torch.float64)
    cases = [(5.0, others), (-5.0, others), (float(others[17]), others), (0.0, others[:15]),
             (1.0, torch.tensor([1.0, 1.0, 0.5, 2.0], dtype=torch.float64))]  # fmt: skip
    for canary, cands in cases:
        what = f"canary score {canary:.3f} among {len(cands)} candidates"
        rank_got, bits_got = pair(call(my_exposure, canary, cands.clone()),
                                  f"return (rank, exposure_bits) for {what}")  # fmt: skip
        rank_got, bits_got = one_number(rank_got, what), one_number(bits_got, what)
        rank, size = _rank(canary, cands), len(cands) + 1
        strict = int((cands > canary).sum()) + 1
        if rank != strict and int(rank_got) == strict:
            raise Hint(f"for {what} some candidates tie with the canary: a tie counts "
                       "against it (scored at least as likely ranks before it)")  # fmt: skip
        expect_close(rank_got, torch.tensor(float(rank)), f"the rank for {what}",
                     [(torch.tensor(rank - 1.0), "rank 1 is the likeliest: count from 1")],
                     atol=0.0)  # fmt: skip
        bits = math.log2(size) - math.log2(rank)
        wrong = [
            (torch.tensor(math.log2(size - 1) - math.log2(rank)), "R holds the candidates "
             "and the canary itself"),
            (torch.tensor(bits * math.log(2)), "exposure is in bits: use log base 2"),
            (torch.tensor(-bits), "exposure is log2 |R| - log2 rank: high for a canary "
             "ranked first"),
        ]  # fmt: skip
        expect_close(bits_got, torch.tensor(bits), f"the exposure for {what}", wrong, atol=1e-9)
    return f"{len(cases)} canaries: first, last, in the middle, with ties"


def _expected_unseen(n_candidates: int) -> float:
    """The mean exposure when the canary's rank is uniform over 1..|R|."""
    size = n_candidates + 1
    return math.log2(size) - math.lgamma(size + 1) / math.log(2) / size


@exercise("exercise 2 (the exposure of a canary the model never saw)")
def check_unseen_exposure(my_unseen_exposure: Callable[[int], Any]) -> str:
    """Check ``my_unseen_exposure(n_candidates)``: the expected exposure, in bits, of a
    canary the model never saw (it is no likelier than any of the ``n_candidates`` random
    candidates it is ranked among), exactly, for any number of candidates."""
    sizes = [1, 3, 9, 99, 4096]
    for n in sizes:
        what = f"n_candidates={n}"
        got = one_number(call(my_unseen_exposure, n), what)
        expected = _expected_unseen(n)
        wrong = [
            (torch.tensor(0.0), "an unseen canary is not always ranked last: its rank is "
             "equally likely to be any of 1 .. |R|"),
            (torch.tensor(1.0), "the exposure of the middle rank is not the mean exposure: "
             "average the exposure over the ranks"),
            (torch.tensor(1 / math.log(2)), "that is the limit for very many candidates; the "
             "mean over a finite number of ranks differs"),
            (torch.tensor(math.log2(n + 1) - math.log2((n + 2) / 2)), "average the exposure "
             "(log2 |R| - log2 rank) over the ranks, not the rank itself"),
        ]  # fmt: skip
        expect_close(got, torch.tensor(expected), what, wrong, atol=1e-6)
    return f"{len(sizes)} sizes of R, from 2 to 4,097 secrets"


@exercise("exercise 3 (the logit lens at one depth)")
def check_lens_at(my_lens_at: Callable[[GPT, torch.Tensor, int], Any]) -> str:
    """Check ``my_lens_at(model, idx, layer)``: the next-token logits ``(B, T, V)`` read
    from the residual stream after ``layer`` blocks (0: the embeddings alone), through the
    final LayerNorm and the output head, as :func:`llmwidgets.analysis.logit_lens` reads
    them."""
    cases = [(0, tiny_gpt_config(n_layer=3)), (1, tiny_gpt_config(n_layer=2, n_embd=24))]
    checked = 0
    for seed, config in cases:
        with fixed_seed(seed):
            model = GPT(config).eval()
            idx = torch.randint(config.vocab_size, (2, config.block_size))
        lens = logit_lens(model, idx)  # (L + 1, B, T, V)
        for layer in range(config.n_layer + 1):
            what = f"a {config.n_layer}-layer GPT, layer={layer}"
            got = call(my_lens_at, model, idx.clone(), layer)
            with torch.no_grad():
                raw = model.lm_head(_stream(model, idx, layer))
            wrong = [(raw, "read the stream through the final LayerNorm (ln_f) before the head")]
            if layer < config.n_layer:
                wrong.append((lens[layer + 1], "layer counts the blocks run: 0 is the "
                              "embeddings alone, before any block"))  # fmt: skip
            expect_close(as_tensor(got, what), lens[layer], what, wrong, atol=1e-5)
            checked += 1
    return f"{checked} depths of two GPTs, the last equal to the model's output"


def _stream(model: GPT, idx: torch.Tensor, layer: int) -> torch.Tensor:
    """The residual stream after ``layer`` blocks, by hand."""
    tr = model.transformer
    with torch.no_grad():
        x = tr.wte(idx) + tr.wpe(torch.arange(idx.shape[1]))
        for block in tr.h[:layer]:
            x = block(x)
    return x


def _previous_scores(attentions: list[torch.Tensor]) -> torch.Tensor:
    """Mean weight from query i to key i - 1, over queries 1..T-1 and the batch: (L, H)."""
    return torch.stack([a.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, 2))
                        for a in attentions])  # fmt: skip


@exercise("exercise 4 (previous-token scores)")
def check_previous_token_scores(my_scores: Callable[[list], Any]) -> str:
    """Check ``my_scores(attentions)``: for a list of L attention tensors ``(B, H, T, T)``
    (queries in rows), each head's mean weight on the key just before the query, over the
    queries that have one and the batch, as an ``(L, H)`` tensor."""
    gen = torch.Generator().manual_seed(11)

    def weights(b: int, h: int, t: int) -> torch.Tensor:
        scores = torch.randn(b, h, t, t, generator=gen, dtype=torch.float64)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        return scores.masked_fill(~causal, float("-inf")).softmax(-1)

    cases = [[weights(2, 3, 6), weights(2, 3, 6)], [weights(1, 1, 2)], [weights(4, 2, 9)] * 3]
    for attentions in cases:
        L, (B, H, T, _) = len(attentions), attentions[0].shape
        what = f"{L} layer(s) of (B, H, T, T) = {(B, H, T, T)}"
        got = call(my_scores, [a.clone() for a in attentions])
        wrong = [
            (torch.stack([a.diagonal(dim1=-2, dim2=-1).mean(dim=(0, 2)) for a in attentions]),
             "that is the weight on the query's own position: take the key one before it"),
            (torch.stack([a.diagonal(offset=1, dim1=-2, dim2=-1).mean(dim=(0, 2))
                          for a in attentions]),
             "rows are queries and columns keys: the previous key of query i is column i - 1"),
            (torch.stack([torch.cat([a[..., :1, -1], a.diagonal(offset=-1, dim1=-2, dim2=-1)],
                                    -1).mean(dim=(0, 2)) for a in attentions]),
             "query 0 has no previous token: average over queries 1 .. T-1 only"),
        ]  # fmt: skip
        expect_close(got, _previous_scores(attentions), what, wrong, atol=1e-9)
    return f"{len(cases)} sets of attention maps, from 1 to 3 layers"
