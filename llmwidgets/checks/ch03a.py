"""Checks of notebook 03a (neural networks): a numerical gradient, the bigram loss,
context windows and the parameters of the MLP language model.

The library has no counted bigram model, context-window function or MLP language model
(the notebook builds them), so the references here are small independent oracles: the
numerical gradient is compared with autograd, the bigram loss with counts made by
``index_put_``, the context windows with ``unfold`` (the exercise asks for another way).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, one_number, short

__all__ = [
    "check_bigram_loss",
    "check_context_windows",
    "check_mlp_lm_params",
    "check_numerical_gradient",
]


def _difference_slips(f: Callable[[torch.Tensor], Any], x: torch.Tensor, eps: float):
    """Two typical wrong numerical gradients: one-sided, and central divided by ε."""
    forward, half = torch.zeros_like(x), torch.zeros_like(x)
    base = float(f(x))
    for i in range(x.numel()):
        plus, minus = x.clone(), x.clone()
        plus.view(-1)[i] += eps
        minus.view(-1)[i] -= eps
        f_plus, f_minus = float(f(plus)), float(f(minus))
        forward.view(-1)[i] = (f_plus - base) / eps
        half.view(-1)[i] = (f_plus - f_minus) / eps
    return forward, half


@exercise("exercise 1 (numerical gradient)")
def check_numerical_gradient(my_numerical_grad: Callable[..., Any]) -> str:
    """Check ``my_numerical_grad(f, x, eps)``: the gradient of ``f`` at ``x``, numerically.

    ``f`` maps a tensor to a number; the answer has the shape of ``x`` and entry ``i`` is
    ``(f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps)``. It is compared with autograd.
    """
    gen = torch.Generator().manual_seed(0)
    cases = [
        ("sum(x³)", lambda t: (t**3).sum(), torch.tensor([1.0, -2.0, 0.5])),
        ("sum(x · sin x)", lambda t: (t * torch.sin(t)).sum(), torch.randn(2, 3, generator=gen)),
        ("logsumexp(x)", lambda t: torch.logsumexp(t, dim=0), torch.randn(4, generator=gen)),
        ("x₀ · x₁²", lambda t: t[0] * t[1] ** 2, torch.tensor([3.0, -1.5])),
    ]
    eps = 1e-3
    for name, f, x in cases:
        x = x.to(torch.float64)
        what = f"f(x) = {name} at x = {short(x)}"
        leaf = x.clone().requires_grad_(True)
        f(leaf).backward()
        exact = leaf.grad.detach()
        forward, half = _difference_slips(f, x, eps)
        given = x.clone()
        got = as_tensor(my_numerical_grad(f, given, eps), f"the result for {what}")
        if not torch.equal(given, x) and tuple(got.shape) == tuple(x.shape):
            raise Hint(
                "your function changed x: put every entry back after nudging it "
                "(or nudge a copy, x.clone())"
            )
        wrong = [
            (
                forward,
                "that is the one-sided difference (f(x + ε) - f(x)) / ε, whose error "
                "shrinks only like ε; use the central difference "
                "(f(x + ε) - f(x - ε)) / (2ε), whose error shrinks like ε²",
            ),
            (half, "divide f(x + ε) - f(x - ε) by 2ε: the two points are 2ε apart"),
            (-exact, "check the sign: f(x + ε) - f(x - ε), not the other way round"),
        ]
        expect_close(got, exact, what, wrong, atol=1e-5)
    return f"{len(cases)} functions, compared with autograd (ε = {eps})"


def _bigram_probs(train: torch.Tensor, vocab: int, alpha: float, how: str = "rows"):
    """Add-alpha bigram probabilities P[a, b] (and typical slips, for hints)."""
    counts = torch.zeros(vocab, vocab, dtype=torch.float64)
    prev, nxt = (train[1:], train[:-1]) if how == "reversed" else (train[:-1], train[1:])
    counts.index_put_((prev, nxt), torch.ones(len(prev), dtype=counts.dtype), accumulate=True)
    smoothed = counts + alpha
    if how == "columns":
        return smoothed / smoothed.sum(0, keepdim=True)
    if how == "no_alpha_total":
        return smoothed / counts.sum(1, keepdim=True).clamp_min(1)
    return smoothed / smoothed.sum(1, keepdim=True)


@exercise("exercise 2 (bigram loss)")
def check_bigram_loss(my_bigram_loss: Callable[..., Any]) -> str:
    """Check ``my_bigram_loss(train_ids, eval_ids, vocab_size, alpha)``.

    The answer is the mean negative log-likelihood (in nats) of the pairs of ``eval_ids``
    under the add-alpha bigram model counted on ``train_ids``:
    ``P(b | a) = (N[a, b] + α) / (Σ_c N[a, c] + α·V)``.
    """
    gen = torch.Generator().manual_seed(1)
    cases = [
        (torch.tensor([0, 1, 2, 0, 1, 1, 2, 0]), torch.tensor([0, 1, 2, 2, 0]), 3, 1.0),
        (torch.tensor([0, 1, 0, 1, 0, 2]), torch.tensor([1, 0, 2, 1]), 4, 0.5),
        (
            torch.randint(0, 6, (200,), generator=gen),
            torch.randint(0, 6, (50,), generator=gen),
            6,
            0.1,
        ),
    ]
    for train, held, vocab, alpha in cases:
        what = f"train {short(train)}, eval {short(held)}, V = {vocab}, α = {alpha}"
        got = one_number(call(my_bigram_loss, train, held, vocab, alpha), what)
        if not torch.isfinite(got):
            raise Hint(
                f"the loss is {got.item()} for {what}: a pair never seen in training has "
                "probability 0 unless you add α to every count (and α·V to every row total)"
            )

        def loss(probs: torch.Tensor, held: torch.Tensor = held) -> torch.Tensor:
            return -torch.log(probs[held[:-1], held[1:]]).mean()

        nll = -torch.log(_bigram_probs(train, vocab, alpha)[held[:-1], held[1:]])
        wrong = [
            (
                loss(_bigram_probs(train, vocab, alpha, "columns")),
                "normalise each ROW: P(b | a) divides N[a, b] by the number of pairs that "
                "start with a, N[a, :].sum()",
            ),
            (
                loss(_bigram_probs(train, vocab, alpha, "reversed")),
                "count the pairs in reading order: (train[t], train[t + 1]) is (previous, next)",
            ),
            (
                loss(_bigram_probs(train, vocab, alpha, "no_alpha_total")),
                "after adding α to every count, add α·V to each row total as well, so every "
                "row sums to 1",
            ),
            (nll.sum(), "average over the pairs (mean), do not sum"),
            (nll.mean() / math.log(2), "use the natural logarithm (nats), not log2"),
            (
                -torch.log(_bigram_probs(train, vocab, alpha)[held[1:], held[:-1]]).mean(),
                "look up P[previous, next]: row = held[t], column = held[t + 1]",
            ),
        ]
        expect_close(got, nll.mean(), what, wrong)
    return f"{len(cases)} cases, with unseen pairs and α from 0.1 to 1"


def _windows(ids: torch.Tensor, k: int, start_id: int) -> torch.Tensor:
    """Row t = the k ids ending at position t, padded on the left with start_id."""
    padded = torch.cat([torch.full((k - 1,), start_id, dtype=torch.long), ids.long()])
    return padded.unfold(0, k, 1)


@exercise("exercise 3 (context windows)")
def check_context_windows(my_context_windows: Callable[..., Any]) -> str:
    """Check ``my_context_windows(ids, k, start_id)``: a ``(T, k)`` tensor of contexts.

    Row ``t`` holds ``ids[t - k + 1], ..., ids[t]`` (oldest first); positions before the
    start of the text hold ``start_id``.
    """
    cases = [
        (torch.tensor([5, 6, 7, 8, 9]), 3, 0),
        (torch.tensor([1, 2, 3, 4]), 1, 10),
        (torch.tensor([4, 3]), 4, 65),
        (torch.arange(20, 32), 5, 99),
    ]
    for ids, k, start in cases:
        what = f"ids={ids.tolist()}, k={k}, start_id={start}"
        got = as_tensor(call(my_context_windows, ids, k, start), f"the result for {what}")
        T = len(ids)
        if tuple(got.shape) == (T - k + 1, k) and k > 1:
            raise Hint(
                f"one row per position: {T} rows for {what}. Pad the first k - 1 positions "
                "with start_id so that the first tokens get a (partly empty) context too"
            )
        if tuple(got.shape) != (T, k):
            raise Hint(
                f"the result for {what} should have shape ({T}, {k}), got {tuple(got.shape)}"
            )
        if got.is_floating_point():
            raise Hint("return integer ids (dtype torch.long), not floats")
        got, expected = got.long(), _windows(ids, k, start)
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.flip(1)):
            raise Hint("put the oldest token first: row t ends with ids[t]")
        if torch.equal(got, _windows(torch.cat([torch.tensor([start]), ids[:-1]]), k, start)):
            raise Hint(
                "row t must end with ids[t] itself: the model reads tokens up to t and "
                "predicts token t + 1"
            )
        if start != 0 and torch.equal(got, _windows(ids, k, 0)):
            raise Hint("pad with start_id, not with 0 (0 is an ordinary character)")
        rows = [t for t in range(T) if not torch.equal(got[t], expected[t])]
        raise Hint(
            f"for {what} rows {rows} are wrong. Write out row t = {rows[0]} by hand: the k ids "
            "that end at position t, oldest first, with start_id before the start of ids"
        )
    return f"{len(cases)} cases, k from 1 to 5, contexts longer than the text"


@exercise("exercise 4 (parameters of the MLP language model)")
def check_mlp_lm_params(my_mlp_lm_params: Callable[..., Any]) -> str:
    """Check ``my_mlp_lm_params(vocab_size, context, n_embd, n_hidden)``.

    The chapter's MLP language model: an embedding table with ``vocab_size + 1`` rows (the
    extra row is the start marker), a hidden ``nn.Linear(context · n_embd, n_hidden)`` and an
    output ``nn.Linear(n_hidden, vocab_size)``, both with biases.
    """
    cases = [(65, 8, 16, 256), (27, 3, 10, 200), (1000, 4, 32, 64), (5, 1, 2, 3)]
    for V, k, d, h in cases:
        what = f"vocab_size={V}, context={k}, n_embd={d}, n_hidden={h}"
        got = my_mlp_lm_params(V, k, d, h)
        got = got.item() if isinstance(got, torch.Tensor) and got.numel() == 1 else got
        if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
            raise Hint(f"return a whole number of parameters for {what}, got {got!r}")
        got = int(got)
        expected = (V + 1) * d + (k * d * h + h) + (h * V + V)
        if got == expected:
            continue
        hints = {
            V * d + k * d * h + h + h * V + V: "the embedding table has vocab_size + 1 rows: "
            "the extra row is the start marker",
            (V + 1) * d + k * d * h + h * V: "count the biases: n_hidden for the hidden "
            "layer and vocab_size for the output layer",
            (V + 1) * d + d * h + h + h * V + V: "the hidden layer reads the k embeddings "
            "side by side: context · n_embd inputs",
            k * (V + 1) * d + k * d * h + h + h * V + V: "there is one embedding table, "
            "shared by all context positions",
        }
        if got in hints:
            raise Hint(hints[got])
        raise Hint(
            f"{got} is not the count for {what}. Add up the three layers one at a time "
            "(weights, then biases) and compare each term with the numel() of the "
            "matching parameters of the model you trained"
        )
    return f"{len(cases)} sizes"
