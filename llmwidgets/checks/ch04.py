"""Checks of notebook 04 (the mathematics): the spread of attention scores, the perplexity
of a mixed model, a sliding-window mask and the gradient of the cross-entropy.

The references are formulas derived in the notebook's exercises and, for the gradient,
autograd through :func:`llmwidgets.nn.functional.cross_entropy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import (
    Hint,
    bool_mask,
    call,
    exercise,
    expect_close,
    mask_hint,
    one_number,
)
from llmwidgets.nn.functional import cross_entropy, softmax

__all__ = [
    "check_ce_grad",
    "check_mixed_perplexity",
    "check_scaled_score_spread",
    "check_window_mask",
]


@exercise("exercise 1 (the spread of the scaled scores)")
def check_scaled_score_spread(scaled_score_std: Callable[..., Any]) -> str:
    """Check ``scaled_score_std(d_k, sigma)``: the standard deviation of ``q·k / √d_k``.

    ``q`` and ``k`` have ``d_k`` independent entries with mean 0 and standard deviation
    ``sigma``. The answer is derived, not simulated.
    """
    cases = [(64, 1.0), (64, 0.5), (16, 2.0), (1024, 0.1), (3, 1.5)]
    for d, s in cases:
        what = f"d_k = {d}, sigma = {s}"
        got = one_number(call(scaled_score_std, d, s), what)
        expected = torch.tensor(s**2, dtype=torch.float64)
        wrong = [
            (
                torch.tensor(s, dtype=torch.float64),
                "each term q_i·k_i is a product of two numbers of standard deviation sigma: "
                "what is the variance of such a product?",
            ),
            (torch.tensor(s**4, dtype=torch.float64), "that is a variance; return the std"),
            (
                torch.tensor(s**2 * math.sqrt(d), dtype=torch.float64),
                "that is the spread of the raw score q·k; divide by √d_k",
            ),
            (
                torch.tensor(d * s**4, dtype=torch.float64),
                "that is the variance of the raw score q·k; the question is about q·k / √d_k",
            ),
            (
                torch.tensor(1.0, dtype=torch.float64),
                "dividing by √d_k gives 1 only when the entries have variance 1; redo the "
                "derivation with variance sigma²",
            ),
        ]
        expect_close(
            got,
            expected,
            what,
            wrong,
            next_step="write Var(q·k) as a sum over the d_k terms, then divide by d_k",
        )
    return f"{len(cases)} cases: the scaling removes d_k but not sigma"


@exercise("exercise 2 (perplexity of a mixed model)")
def check_mixed_perplexity(mixed_perplexity: Callable[..., Any]) -> str:
    """Check ``mixed_perplexity(fraction, p_right, vocab_size)``.

    On a ``fraction`` of the positions the model gives the right token probability
    ``p_right``; on the others it is uniform over ``vocab_size`` tokens. The answer is
    the perplexity over all positions.
    """
    cases = [(0.0, 0.9, 65), (1.0, 0.9, 65), (0.5, 0.9, 65), (0.8, 0.5, 50257), (0.25, 0.99, 10)]
    for f, p, V in cases:
        what = f"fraction = {f}, p_right = {p}, vocab_size = {V}"
        got = one_number(call(mixed_perplexity, f, p, V), what)
        loss = -(f * math.log(p) + (1 - f) * math.log(1 / V))

        def t(value: float) -> torch.Tensor:
            return torch.tensor(value, dtype=torch.float64)

        wrong = [
            (t(loss), "that is the cross-entropy (the mean of -log p); perplexity is exp of it"),
            (
                t(1 / (f * p + (1 - f) / V)),
                "that is 1 / the arithmetic mean of the probabilities; perplexity is 1 / "
                "their geometric mean (average the log-probabilities)",
            ),
            (
                t(f / p + (1 - f) * V),
                "perplexities do not average: the losses do. Average the losses, then exponentiate",
            ),
            (t(math.exp(-loss)), "check the sign: perplexity is at least 1"),
        ]
        expect_close(got, t(math.exp(loss)), what, wrong)
    return f"{len(cases)} cases, from the uniform model (perplexity V) to a sure one"


def _window_mask(n: int, window: int) -> torch.Tensor:
    """True where key j is one of the ``window`` latest positions up to query i."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return (j <= i) & (j > i - window)


@exercise("exercise 3 (sliding-window mask)")
def check_window_mask(my_window_mask: Callable[..., Any]) -> str:
    """Check ``my_window_mask(n, window)``: an ``(n, n)`` bool tensor.

    Entry ``(i, j)`` is True when query ``i`` may attend to key ``j``: the key is not in
    the future (``j <= i``) and is one of the ``window`` latest positions
    (``j > i - window``), so each query sees at most ``window`` keys, itself included.
    """
    cases = [(6, 3), (5, 2), (4, 1), (3, 5), (8, 4)]
    for n, w in cases:
        what = f"my_window_mask({n}, {w})"
        got = bool_mask(call(my_window_mask, n, w), what, (n, n))
        expected = _window_mask(n, w)
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.T):
            raise Hint(
                "the mask is transposed: row i is query i, and its True entries are key i "
                "and the keys just before it"
            )
        if torch.equal(got, ~expected):
            raise Hint("True means 'may attend' (torch's convention); your mask is inverted")
        band = (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() < w
        if torch.equal(got, band) or torch.equal(got, expected | expected.T):
            raise Hint("a language model may not look ahead: no key after the query (j <= i)")
        if w < n and torch.equal(got, _window_mask(n, w + 1)):
            raise Hint(f"each query should see {w} keys, itself included; yours sees one more")
        if w > 1 and torch.equal(got, _window_mask(n, w - 1)):
            raise Hint(f"each query should see {w} keys, itself included; yours sees one fewer")
        if torch.equal(got, _window_mask(n, w) & ~torch.eye(n, dtype=torch.bool)):
            raise Hint("a token may attend to itself: keep the diagonal True")
        raise mask_hint(got, expected, f"mask for n={n}, window={w}")
    return f"{len(cases)} masks, windows of 1 key to wider than the text"


@exercise("exercise 4 (the gradient of the cross-entropy)")
def check_ce_grad(my_ce_grad: Callable[..., Any]) -> str:
    """Check ``my_ce_grad(logits, targets, temperature)`` against autograd.

    ``logits`` is ``(N, V)``, ``targets`` ``(N,)`` integer ids. The loss is the mean over
    the ``N`` positions of ``-log softmax(z / T)[y]``; the answer is its gradient with
    respect to ``logits``, shape ``(N, V)``, computed by formula (without autograd).
    """
    gen = torch.Generator().manual_seed(0)
    cases = [
        (torch.randn(3, 4, generator=gen, dtype=torch.float64), torch.tensor([0, 3, 1]), 1.0),
        (torch.randn(5, 7, generator=gen, dtype=torch.float64), torch.tensor([6, 0, 2, 2, 5]), 0.5),
        (torch.randn(2, 3, generator=gen, dtype=torch.float64), torch.tensor([1, 1]), 2.0),
        (torch.tensor([[50.0, 0.0, -50.0]], dtype=torch.float64), torch.tensor([2]), 1.0),
    ]
    for logits, targets, T in cases:
        what = f"logits {tuple(logits.shape)}, targets {targets.tolist()}, temperature {T}"
        leaf = logits.clone().requires_grad_(True)
        cross_entropy(leaf / T, targets).backward()
        expected = leaf.grad.detach()
        n = logits.shape[0]
        p = softmax(logits, T)
        onehot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(p.dtype)
        got = call(my_ce_grad, logits, targets, T)
        wrong = [
            (
                -expected,
                "check the sign: the gradient pushes the target's logit up when it "
                "is followed downhill, so its entry is negative",
            ),
            ((p - onehot) / T, "the loss is a mean over the N positions: divide by N"),
            ((p - onehot) / n, "the logits are divided by T first: the chain rule adds 1/T"),
            ((p - onehot) * T / n, "the inner derivative of z / T is 1/T, not T"),
            (p / (T * n), "the target's own term, -z_y / T, contributes too"),
        ]
        expect_close(got, expected, what, wrong, atol=1e-6)
    return f"{len(cases)} cases, temperatures 0.5 to 2, compared with autograd"
