"""Checks of notebook 04 (the mathematics): softmax, the causal mask, attention, perplexity.

The references are the library's own functions in :mod:`llmwidgets.nn.functional`, which
these exercises rebuild from scratch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    bool_mask,
    call,
    exercise,
    expect_close,
    mask_hint,
    one_number,
    short,
)
from llmwidgets.nn.functional import causal_mask, scaled_dot_product_attention, softmax

__all__ = ["check_attention", "check_causal_mask", "check_perplexity", "check_softmax_temperature"]


@exercise("exercise 1 (softmax with temperature)")
def check_softmax_temperature(my_softmax: Callable[..., Any]) -> str:
    """Check ``my_softmax(logits, temperature)``: softmax of ``logits / T`` over the last dim."""
    gen = torch.Generator().manual_seed(0)
    cases = [
        (torch.tensor([2.0, 1.0, 0.1]), 1.0),
        (torch.tensor([2.0, 1.0, 0.1]), 0.5),
        (torch.tensor([2.0, 1.0, 0.1]), 4.0),
        (torch.randn(3, 5, generator=gen), 0.7),
        (torch.tensor([1000.0, 1001.0, 1002.0]), 1.0),
    ]
    for logits, t in cases:
        what = f"logits={short(logits)}, temperature={t}"
        got = as_tensor(call(my_softmax, logits, t), f"the result for {what}")
        if got.shape == logits.shape and not torch.isfinite(got).all():
            raise Hint(
                f"NaN/inf for {what}: exp overflowed. Subtract each row's maximum "
                "before exponentiating (softmax does not change under that shift)"
            )
        if got.shape == logits.shape and not torch.allclose(
            got.double().sum(-1), torch.ones(logits.shape[:-1], dtype=torch.float64)
        ):
            raise Hint(
                f"for {what} the probabilities do not sum to 1 along the last dimension: "
                "divide by the sum over dim=-1 (keepdim=True)"
            )
        wrong = [
            (softmax(logits * t), "you multiplied the logits by the temperature; divide"),
            (softmax(logits), "the temperature has no effect: use exp(logits / temperature)"),
        ]
        expect_close(got, softmax(logits, t), what, wrong)
    return f"{len(cases)} cases, including large logits"


@exercise("exercise 2 (causal mask)")
def check_causal_mask(my_causal_mask: Callable[[int], Any]) -> str:
    """Check ``my_causal_mask(n)``: an ``(n, n)`` bool tensor, True where query i may see key j."""
    sizes = (3, 6, 1)
    for n in sizes:
        got = bool_mask(call(my_causal_mask, n), f"my_causal_mask({n})", (n, n))
        expected = causal_mask(n)
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.T) and n > 1:
            raise Hint(
                "the mask is transposed: row i is query i, which may see keys 0..i, "
                "so True belongs on and below the diagonal"
            )
        if torch.equal(got, expected.tril(-1)):
            raise Hint("a token may attend to itself: keep the diagonal True")
        if torch.equal(got, ~expected) or torch.equal(got, ~expected.T):
            raise Hint("True means 'may attend' (torch's convention); your mask is inverted")
        raise mask_hint(got, expected, f"mask for n={n}")
    return f"masks of size {', '.join(str(n) for n in sorted(sizes))}"


def _softmax_over_queries(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The classic slip: softmax over the query dimension instead of the keys."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-2) @ v


@exercise("exercise 3 (attention)")
def check_attention(my_attention: Callable[..., Any]) -> str:
    """Check ``my_attention(q, k, v, causal=False)`` = ``softmax(QKᵀ/√d_k) V``."""
    gen = torch.Generator().manual_seed(0)
    shapes = [((5, 8), (5, 8), (5, 3)), ((2, 3, 4, 16), (2, 3, 4, 16), (2, 3, 4, 6))]
    cases = [(s, causal) for s in shapes for causal in (False, True)]
    cases.append((((3, 4), (6, 4), (6, 2)), False))  # 3 queries, 6 keys
    for (sq, sk, sv), causal in cases:
        q, k, v = (torch.randn(s, generator=gen) for s in (sq, sk, sv))
        what = f"q {sq}, k {sk}, v {sv}, causal={causal}"
        d = sq[-1]
        mask = causal_mask(sq[-2], sk[-2]) if causal else None
        wrong = [
            (
                scaled_dot_product_attention(q * math.sqrt(d), k, v, mask),
                "scale the scores: divide Q Kᵀ by √d_k (d_k = q.shape[-1])",
            ),
            (
                scaled_dot_product_attention(q / math.sqrt(d), k, v, mask),
                "divide the scores by √d_k, not by d_k",
            ),
            (
                _softmax_over_queries(q, k, v),
                "normalise over the keys: softmax(scores, dim=-1), so each query's weights "
                "sum to 1",
            ),
        ]
        if causal:
            wrong.append(
                (
                    scaled_dot_product_attention(q, k, v),
                    "with causal=True query i may only see keys 0..i: set the scores of "
                    "later keys to -inf before the softmax (see exercise 2)",
                )
            )
        got = call(my_attention, q, k, v, causal=causal)
        expect_close(got, scaled_dot_product_attention(q, k, v, mask), what, wrong)
    return f"{len(cases)} cases (batched, causal, 3 queries × 6 keys)"


@exercise("exercise 4 (perplexity)")
def check_perplexity(my_perplexity: Callable[[torch.Tensor], Any]) -> str:
    """Check ``my_perplexity(probs)`` = ``exp(-mean(log probs))``.

    ``probs`` are the probabilities a model gave to the tokens that actually came next.
    (:func:`llmwidgets.nn.perplexity` starts from logits; from probabilities the
    reference is one line.)
    """
    cases = [
        torch.full((4,), 0.25, dtype=torch.float64),
        torch.tensor([0.5, 0.25, 0.125, 0.5], dtype=torch.float64),
        torch.tensor([0.9, 0.1], dtype=torch.float64),
        torch.tensor([0.01, 0.2, 0.7, 0.05, 0.3], dtype=torch.float64),
    ]
    for p in cases:
        what = f"probs={short(p)}"
        got = one_number(call(my_perplexity, p), what)
        nll = -torch.log(p)
        wrong = [
            (
                nll.mean(),
                "that is the cross-entropy, the mean of -log p; perplexity turns it back "
                "into a number of equally likely choices (four tokens at 0.25 give 4)",
            ),
            (
                torch.exp(nll.sum()),
                "average the log-probabilities (mean, not sum): perplexity must not grow "
                "with the length of the text",
            ),
            (
                1 / p.mean(),
                "that is 1 / the arithmetic mean of the probabilities; perplexity is "
                "1 / their geometric mean, an average taken in log space",
            ),
            (
                torch.exp(-nll.mean()),
                "check the sign: perplexity is at least 1 (four tokens at 0.25 give 4)",
            ),
        ]
        expect_close(got, torch.exp(nll.mean()), what, wrong)
    return f"{len(cases)} cases (uniform over 4 tokens gives 4)"
